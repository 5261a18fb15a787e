"""A :class:`~thermosim.flow.problem.FlowProblem` from a YAML case with a ``flow`` section:
the domain's background is the flowing fluid, every block a conducting solid, and the
components (porous blocks, fans, coolers, chips) are read item by item, each mistake naming
its key in the case file."""

from __future__ import annotations

from ..components import (BLOCKED, Chip, ColdPlate, Cooler, Fan, PorousBlock,
                          perforated_plate_loss)
from ..errors import CaseError
from ..fluid import Fluid
from ..materials import fluid_names, lookup, make_material
from .problem import FlowBoundary, FlowProblem, SolidBlock


def problem_from_case(case) -> FlowProblem:
    """The :class:`FlowProblem` of a case with a ``flow`` section."""
    from ..meshing import make_grid

    spec = case.flow
    file = case.source_file
    fluid = _fluid(case)
    blocks = _solid_blocks(case)
    porous, fans, coolers, chips = _components(case, fluid)
    bcs = {}
    for face, f in spec.boundaries.items():
        try:
            bcs[face] = FlowBoundary(f.type, tuple(f.velocity), f.T, f.heat_flux, f.profile)
        except CaseError as e:
            raise CaseError(e.reason, f"flow.boundaries.{face}", file) from None
    try:
        return FlowProblem(make_grid(case), fluid, bcs, blocks, tuple(spec.gravity),
                           spec.reference_temperature, case.initial_temperature,
                           name=case.name, body_force=tuple(spec.body_force), case=case,
                           porous=porous, fans=fans, coolers=coolers, chips=chips,
                           turbulence=spec.turbulence)
    except CaseError as e:
        key = e.key if e.key is None or e.key.startswith("flow") else f"flow.{e.key}"
        raise CaseError(e.reason, key, file) from None


def _fluid(case) -> Fluid:
    """The flowing fluid at the reference temperature; it must fill the domain."""
    spec, file = case.flow, case.source_file
    if spec.fluid not in fluid_names():
        raise CaseError(f"unknown fluid '{spec.fluid}' (known: {', '.join(fluid_names())})",
                        "flow.fluid", file)
    if case.domain.background != spec.fluid:
        raise CaseError(f"the space around the blocks is the flowing fluid: set "
                        f"domain.background to '{spec.fluid}'", "domain.background", file)
    try:
        return Fluid.from_coolprop(spec.fluid, spec.reference_temperature)
    except CaseError as e:
        raise CaseError(e.reason, "flow.reference_temperature", file) from None


def _solid_blocks(case) -> list:
    """The case's blocks as conducting solids (a fluid material is refused)."""
    spec, file = case.flow, case.source_file
    user = {}
    for name, m in case.materials.items():
        if m.fluid is not None:
            continue
        try:
            user[name] = make_material(name, m.k, m.rho, m.cp)
        except CaseError as e:
            raise e.with_file(file) from None
    blocks = []
    for i, b in enumerate(case.blocks):
        key = f"blocks[{i}] ({b.name}).material"
        try:
            m = lookup(b.material, user, spec.reference_temperature)
        except CaseError as e:
            raise CaseError(e.reason, key, file) from None
        if m.kind != "solid":
            raise CaseError(f"'{b.material}' is not a solid: blocks inside a flow are solids "
                            "(the fluid fills the rest of the domain)", key, file)
        blocks.append(SolidBlock(b.name, tuple(b.min), tuple(b.max), m.conductivity,
                                 m.density, m.specific_heat, case.block_power(b)))
    return blocks


def _components(case, fluid: Fluid) -> tuple[list, list, list, list]:
    """(porous blocks, fans, coolers, chips) of the flow section, names unique across them
    and the blocks, boxes not empty."""
    spec, file = case.flow, case.source_file
    found = {"porous": [], "fans": [], "coolers": [], "chips": []}
    names = {b.name for b in case.blocks}
    for kind, items in (("porous", spec.porous), ("fans", spec.fans),
                        ("coolers", spec.coolers), ("chips", spec.chips)):
        for i, it in enumerate(items):
            key = f"flow.{kind}[{i}] ({it.name})"
            if it.name in names:
                raise CaseError(f"duplicate name '{it.name}'", key, file)
            names.add(it.name)
            for a in range(3):
                if kind == "fans" and a == "xyz".index(it.axis):
                    continue
                if not it.max[a] > it.min[a]:
                    raise CaseError(f"max must exceed min along {'xyz'[a]}", key, file)
            try:
                found[kind].append(_READERS[kind](it, fluid))
            except CaseError as e:
                raise CaseError(e.reason, key, file) from None
    return found["porous"], found["fans"], found["coolers"], found["chips"]


def _porous(it, fluid: Fluid) -> PorousBlock:
    K = it.loss_coefficient + (perforated_plate_loss(it.free_area)
                               if it.free_area is not None else 0.0)
    return PorousBlock.with_loss(it.name, tuple(it.min), tuple(it.max), "xyz".index(it.axis),
                                 K, it.pressure_drop, fluid.density,
                                 None if it.transverse == "open" else BLOCKED, it.power)


def _fan(it, fluid: Fluid) -> Fan:
    return Fan(it.name, "xyz".index(it.axis), it.position, tuple(it.min), tuple(it.max),
               it.direction, tuple(map(tuple, it.curve)) if it.curve else None, it.flow)


def _cooler(it, fluid: Fluid) -> Cooler:
    return Cooler(it.name, tuple(it.min), tuple(it.max), it.temperature)


def _chip(it, fluid: Fluid) -> Chip:
    plate = None if it.cold_plate is None else _cold_plate(it.cold_plate)
    return Chip(it.name, tuple(it.min), tuple(it.max), it.power, it.resistance,
                it.junction_resistance, it.limit, it.kind, plate)


def _cold_plate(cp) -> ColdPlate:
    """A chip's cold plate; its coolant must be a liquid at the inlet temperature."""
    try:
        liquid = Fluid.from_coolprop(cp.coolant, cp.inlet_temperature)
    except CaseError as e:
        raise CaseError(f"cold_plate.coolant: {e.reason}") from None
    except ValueError as e:            # CoolProp: out of its range
        raise CaseError(f"cold_plate: no properties of '{cp.coolant}' at "
                        f"{cp.inlet_temperature:g} K (kelvin?): "
                        f"{str(e).splitlines()[0]}") from None
    if liquid.density < 100.0:
        raise CaseError(f"cold_plate.coolant: '{cp.coolant}' is not a liquid at "
                        f"{cp.inlet_temperature:g} K")
    return ColdPlate(cp.resistance, cp.flow, cp.inlet_temperature, cp.coolant,
                     cp.pressure_drop, liquid.density, liquid.specific_heat,
                     cp.axial_conductance)


_READERS = {"porous": _porous, "fans": _fan, "coolers": _cooler, "chips": _chip}
