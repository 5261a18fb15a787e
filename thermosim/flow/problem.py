"""What a flow run is asked to solve: the faces, the boundary of each, the solid blocks and
the components, as plain values (no arrays on a backend, no solver state).

Face names: ``x-`` is the face at the grid's lower x end, ``x+`` at its upper end, and so
on; :data:`FACES` lists them in axis order (face ``FACES[2 a + side]`` is on axis ``a``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from ..errors import CaseError
from ..faces import FACES
from ..fluid import Fluid
from ..grid import Grid

KINDS = ("wall", "slip", "inflow", "outflow", "periodic")


@dataclass(frozen=True)
class FlowBoundary:
    """What one domain face does to the flow and to heat.

    kind: ``wall`` (no-slip; ``velocity`` is the wall's own tangential velocity, m/s),
    ``slip`` (no normal flow, no shear), ``inflow`` (``velocity`` in m/s, ``profile``
    ``uniform`` or ``parabolic`` with that mean), ``outflow`` (zero pressure, zero gradient),
    ``periodic`` (on both faces of an axis: what leaves one face enters through the other).
    Heat: ``temperature`` (K) fixes a wall's temperature or gives the inflow temperature;
    ``heat_flux`` (W/m^2, into the domain) on a wall; neither means adiabatic.
    """

    kind: str = "wall"
    velocity: tuple = (0.0, 0.0, 0.0)
    temperature: Optional[float] = None
    heat_flux: Optional[float] = None
    profile: str = "uniform"

    def __post_init__(self):
        if self.kind not in KINDS:
            raise CaseError(f"unknown flow boundary '{self.kind}' (choose from "
                            f"{', '.join(KINDS)})")
        if self.profile not in ("uniform", "parabolic"):
            raise CaseError(f"unknown inflow profile '{self.profile}' (uniform or parabolic)")
        if self.temperature is not None and self.heat_flux is not None:
            raise CaseError("give a face either a temperature or a heat flux, not both")
        if self.kind == "inflow" and self.temperature is None:
            raise CaseError("an inflow needs its temperature")
        object.__setattr__(self, "velocity", tuple(float(v) for v in self.velocity))
        if self.kind == "periodic" and (any(self.velocity) or self.temperature is not None
                                        or self.heat_flux is not None):
            raise CaseError("a periodic face takes no velocity, temperature or heat flux: "
                            "what leaves it enters through the opposite face")


@dataclass(frozen=True)
class SolidBlock:
    """A solid box inside the fluid: no-slip, conducting, optionally heated.

    lower, upper: corners (m); conductivity W/(m K), one value or (kx, ky, kz); density
    kg/m^3; specific_heat J/(kg K); power W spread over its cells."""

    name: str
    lower: tuple
    upper: tuple
    conductivity: float
    density: float
    specific_heat: float
    power: float = 0.0


@dataclass
class FlowProblem:
    """Everything a flow run needs.  ``gravity`` in m/s^2 (a vector); temperatures in K;
    ``body_force`` (m/s^2, a vector) a uniform driving acceleration of the fluid, such as the
    mean pressure gradient over density that drives a periodic channel."""

    grid: Grid
    fluid: Fluid
    boundaries: dict
    blocks: list = field(default_factory=list)
    gravity: tuple = (0.0, 0.0, 0.0)
    reference_temperature: float = 300.0
    initial_temperature: Optional[float] = None
    initial_velocity: tuple = (0.0, 0.0, 0.0)
    name: str = "flow"
    body_force: tuple = (0.0, 0.0, 0.0)
    case: object = field(default=None, repr=False, compare=False)   # the YAML case, if any
    porous: list = field(default_factory=list)     # components.PorousBlock
    fans: list = field(default_factory=list)       # components.Fan
    coolers: list = field(default_factory=list)    # components.Cooler
    chips: list = field(default_factory=list)      # components.Chip
    turbulence: str = "none"                       # none, lvel or smagorinsky

    def describe(self) -> dict:
        """The problem as plain data (stored with results: blocks, fluid, boundaries)."""
        return {"name": self.name,
                "fluid": {"name": self.fluid.name, "density": self.fluid.density,
                          "viscosity": self.fluid.viscosity,
                          "conductivity": self.fluid.conductivity,
                          "specific_heat": self.fluid.specific_heat,
                          "expansion": self.fluid.expansion, "source": self.fluid.source},
                "gravity": list(self.gravity), "body_force": list(self.body_force),
                "reference_temperature": self.reference_temperature,
                "boundaries": {f: {"kind": b.kind, "velocity": list(b.velocity),
                                   "temperature": b.temperature, "heat_flux": b.heat_flux,
                                   "profile": b.profile}
                               for f, b in self.boundaries.items()},
                "blocks": [{"name": b.name, "min": list(b.lower), "max": list(b.upper),
                            "conductivity": b.conductivity, "density": b.density,
                            "specific_heat": b.specific_heat, "power": b.power}
                           for b in self.blocks],
                "porous": [{"name": b.name, "min": list(b.lower), "max": list(b.upper),
                            "linear": list(b.linear), "quadratic": list(b.quadratic),
                            "power": b.power, "axis": b.axis} for b in self.porous],
                "fans": [{"name": f.name, "axis": f.axis, "position": f.position,
                          "min": list(f.lower), "max": list(f.upper),
                          "direction": f.direction, "flow": f.flow,
                          "curve": [list(x) for x in f.curve] if f.curve else None}
                         for f in self.fans],
                "coolers": [{"name": c.name, "min": list(c.lower), "max": list(c.upper),
                             "temperature": c.temperature} for c in self.coolers],
                "chips": [{"name": c.name, "min": list(c.lower), "max": list(c.upper),
                           "power": c.power, "resistance": c.resistance,
                           "junction_resistance": c.junction_resistance, "limit": c.limit,
                           "kind": c.kind,
                           "cold_plate": None if c.cold_plate is None else {
                               "resistance": c.cold_plate.resistance,
                               "flow": c.cold_plate.flow,
                               "inlet_temperature": c.cold_plate.inlet_temperature,
                               "coolant": c.cold_plate.coolant,
                               "pressure_drop": c.cold_plate.pressure_drop,
                               "axial_conductance": c.cold_plate.axial_conductance}}
                          for c in self.chips],
                "turbulence": self.turbulence}

    def __post_init__(self):
        missing = [f for f in FACES if f not in self.boundaries]
        for f in missing:
            self.boundaries[f] = FlowBoundary("wall")
        for f in self.boundaries:
            if f not in FACES:
                raise CaseError(f"unknown face '{f}' (faces: {', '.join(FACES)})",
                                f"boundaries.{f}")
        for a in range(3):
            lo, hi = (self.boundaries[FACES[2 * a + s]].kind == "periodic" for s in (0, 1))
            if lo != hi:
                f = FACES[2 * a + (0 if lo else 1)]
                raise CaseError(f"periodic faces come in pairs: {FACES[2 * a]} and "
                                f"{FACES[2 * a + 1]} must both be periodic",
                                f"boundaries.{f}")
        kinds = {b.kind for b in self.boundaries.values()}
        if "inflow" in kinds and "outflow" not in kinds:
            raise CaseError("an inflow into a closed domain has nowhere to go: give one face "
                            "an outflow boundary", "boundaries")
        for f, b in self.boundaries.items():
            axis = FACES.index(f) // 2
            if b.kind == "wall" and abs(b.velocity[axis]) > 0:
                raise CaseError("a wall's velocity must be tangential to it (the normal "
                                "component must be 0)", f"boundaries.{f}.velocity")
        if self.initial_temperature is None:
            self.initial_temperature = self.reference_temperature
        from ..turbulence import MODELS

        if self.turbulence not in MODELS:
            raise CaseError(f"unknown turbulence model '{self.turbulence}' (choose from "
                            f"{', '.join(MODELS)})", "turbulence")


def lagged(problem) -> bool:
    """Whether terms whose coefficients lag the flow steer it: fans, porous blocks,
    coolers, chips, an eddy viscosity (the halls).  ``problem``: a FlowProblem, or a case's
    flow section (the same names)."""
    p = problem
    return p.turbulence != "none" or bool(p.fans or p.porous or p.coolers or p.chips)


def heat_driven(problem) -> bool:
    """Whether the flow is lifted by its own heat through porous blocks, with no fans to
    drive it (the immersion tanks: servers in oil that rises through them, leaves over the
    top and returns cooled at the floor).  The steady solver treats these apart where
    buoyancy sets the pressure (:mod:`.outer`, :mod:`.anderson`)."""
    p = problem
    return bool(p.porous) and not p.fans
