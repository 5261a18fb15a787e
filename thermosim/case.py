"""Case description: the domain, grid controls, materials, blocks, boundary conditions and
solver settings, read from YAML or built in Python.

All quantities are SI: metres, watts, kelvin, W/(m^2 K), W/m^2, seconds.  A temperature
may also be written with its unit, ``"27 degC"`` (see :mod:`thermosim.inputs`); a plain
number is kelvin and must be at least 200 K.  The sections of a case are in
:mod:`thermosim.case_sections` and are imported from here (``from thermosim.case import
Block``).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Optional

from pydantic import Field, ValidationError

from .case_sections import (Acceleration, Adiabatic, AXES, Block, Boundary, BoundaryMap,
                            CaseSection, ChipSpec, ColdPlateSpec, Convective, CoolerSpec, Domain,
                            FACES, FanSpec, FlowFace, FlowSpec, FluxDensity, GridSpec, HeatFlux,
                            Kelvin, MaterialSpec, MAX_COORDINATE, PorousSpec, Region, SolverSpec,
                            Temperature, Transient, Vec3, Velocity, Watts)
from .errors import CaseError
from .inputs import read_yaml, value_problems
from .layouts import expand, parameter_problems

# the sections are re-exported: scripts and the documents import them from here
__all__ = ["Case", "load_case", "Acceleration", "Adiabatic", "AXES", "Block", "Boundary",
           "BoundaryMap", "CaseSection", "ChipSpec", "ColdPlateSpec", "Convective",
           "CoolerSpec", "Domain", "FACES", "FanSpec", "FlowFace", "FlowSpec", "FluxDensity",
           "GridSpec", "HeatFlux", "Kelvin", "MaterialSpec", "MAX_COORDINATE", "PorousSpec",
           "Region", "SolverSpec", "Temperature", "Transient", "Vec3", "Velocity", "Watts"]


class Case(CaseSection):
    """A complete thermal case (with ``flow``: a flow and heat-transfer case)."""

    name: str = "case"
    domain: Domain
    grid: GridSpec = Field(default_factory=GridSpec)
    materials: dict[str, MaterialSpec] = Field(default_factory=dict)
    blocks: list[Block] = Field(default_factory=list)
    boundaries: BoundaryMap = Field(default_factory=dict)
    powers: dict[str, Watts] = Field(default_factory=dict)
    initial_temperature: Kelvin = 300.0
    solver: SolverSpec = Field(default_factory=SolverSpec)
    flow: Optional[FlowSpec] = None
    layout: Optional[dict] = None          # what a layout builder made it from (kept as is)
    source_file: Optional[str] = Field(default=None, exclude=True)

    # -- checks that need the whole case; each names the key it is about --------------
    def check(self) -> "Case":
        # every mistake is collected and reported at once, a line each (as the schema's)
        problems: list[CaseError] = []

        def problem(reason, key):
            problems.append(CaseError(reason, key, self.source_file))

        lo, hi = self.domain.min, self.domain.max
        for a in range(3):
            if not hi[a] > lo[a]:
                problem(f"max must exceed min on every axis (axis {'xyz'[a]})", "domain.max")
            # lengths are metres: a hall is well under a kilometre, and coordinates of 1e308
            # overflow the grid's arithmetic (cell centres, spacings squared)
            for key, v in (("domain.min", lo[a]), ("domain.max", hi[a])):
                if abs(v) > MAX_COORDINATE:
                    problem(f"{v:g} m along {'xyz'[a]} is beyond {MAX_COORDINATE:g} m: lengths "
                            "are in metres", key)
        if problems:                    # blocks cannot be placed in a broken domain
            raise CaseError.several(problems)
        names = set()
        for i, b in enumerate(self.blocks):
            key = f"blocks[{i}] ({b.name})"
            if b.name in names:
                problem(f"duplicate block name '{b.name}'", key)
            names.add(b.name)
            for a in range(3):
                if not b.max[a] > b.min[a]:
                    problem(f"zero or negative thickness along {'xyz'[a]} "
                            f"(min {b.min[a]}, max {b.max[a]})", key)
                tol = 1e-12 * (hi[a] - lo[a])
                if b.min[a] < lo[a] - tol or b.max[a] > hi[a] + tol:
                    problem(f"block extends outside the domain along {'xyz'[a]} "
                            f"([{b.min[a]}, {b.max[a]}] not within [{lo[a]}, {hi[a]}])", key)
            if not math.isfinite(b.contact_resistance) or b.contact_resistance < 0:
                problem("contact resistance must be a non-negative number of m^2 K/W, got "
                        f"{b.contact_resistance}", f"{key}.contact_resistance")
            if not math.isfinite(b.power) or b.power < 0:
                problem(f"power must be a non-negative number of watts, got {b.power}",
                        f"{key}.power")
        for name, p in self.powers.items():
            if name not in names:
                problem(f"no block named '{name}' (blocks: {', '.join(sorted(names))})",
                        f"powers.{name}")
            if not math.isfinite(p) or p < 0:
                problem(f"power must be a non-negative number of watts, got {p}",
                        f"powers.{name}")
        if self.initial_temperature <= 0:
            problem("temperatures are in kelvin and must be positive", "initial_temperature")
        if self.flow is not None and self.boundaries:
            problem("a flow case describes its domain faces under flow.boundaries",
                    "boundaries")
        if problems:
            raise CaseError.several(problems)
        return self

    def block_power(self, block: Block) -> float:
        return self.powers.get(block.name, block.power)

    @classmethod
    def from_dict(cls, data: dict, file: str | None = None) -> "Case":
        """A case from its mapping (what a case file holds; a layout's parameters are
        expanded); every mistake found at once is raised as one :class:`CaseError`, a
        line each."""
        if not isinstance(data, dict):
            got = "nothing" if data is None else f"a {type(data).__name__}"
            raise CaseError(f"a case is a mapping of keys (domain, blocks, ...), not {got}",
                            "(top level)", file)
        # non-finite numbers, temperatures' units; a layout's other parameters are
        # checked too, so that every mistake is reported at once
        data, problems = value_problems(data, file)
        if problems:
            seen = {re.split(r"[.\[ ]", p.key or "")[0] for p in problems}
            raise CaseError.several(problems + parameter_problems(data, file, seen))
        data = expand(data, file)
        try:
            case = cls.model_validate(data)
        except ValidationError as e:
            raise CaseError.several(_schema_errors(e.errors(), data, file)) from None
        case.source_file = file
        return case.check()


def _model_names(cls=CaseSection) -> set[str]:
    out = set()
    for sub in cls.__subclasses__():
        out |= {sub.__name__} | _model_names(sub)
    return out


_BRANCH_PREFIXES = ("list[", "tuple[", "dict[", "set[", "function-", "literal[",
                    "nullable[", "union[", "constrained-", "json-or-python[")


def _is_branch(item) -> bool:
    """Whether an item of a pydantic error location names a union's alternative (a type)
    rather than a key."""
    return isinstance(item, str) and (
        item in ("float", "int", "str", "bool", "none", "[key]")
        or item.startswith(_BRANCH_PREFIXES) or item in _model_names())


def _schema_errors(errors: list[dict], data, file) -> list[CaseError]:
    """Every pydantic error as a CaseError with its dotted key.  Where a value may take one
    of several forms (a boundary or a list of them, one number or three), pydantic reports
    a mistake once per form: only the form the input went furthest into is kept (the first
    on a tie), so that one mistake is one line."""
    groups: dict = {}
    for n, err in enumerate(errors):
        loc = tuple(err["loc"])
        i = next((j for j, it in enumerate(loc) if _is_branch(it) and it != "[key]"), None)
        prefix = loc if i is None else loc[:i]
        branch = None if i is None else loc[i]
        groups.setdefault(prefix, {}).setdefault(branch, []).append((n, err))
    kept = []
    for branches in groups.values():
        if None in branches:
            kept.extend(branches[None])
        forms = [v for b, v in branches.items() if b is not None]
        if forms:
            kept.extend(max(forms, key=lambda errs: max(len(e["loc"]) for _, e in errs)))
    out = []
    for _, err in sorted(kept, key=lambda t: t[0]):
        msg = err["msg"].removeprefix("Value error, ")
        kind, given = err.get("type", ""), err.get("input")
        if kind == "extra_forbidden":
            msg = "unknown key (a misspelling, or a key of another section?)"
        elif kind.endswith(("_type", "_parsing")) and (given is None or isinstance(
                given, (str, int, float, bool))):
            shown = repr(given)
            msg += f", got {shown if len(shown) <= 60 else shown[:57] + '...'}"
        out.append(CaseError(msg, _loc_to_key(err["loc"], data) or "(top level)", file))
    return out


def _loc_to_key(loc, data) -> str:
    """Turn a pydantic error location into a dotted key with block names where known."""
    parts: list[str] = []
    node = data
    for item in loc:
        if isinstance(item, int):
            name = node[item].get("name") if isinstance(node, list) and item < len(node) \
                and isinstance(node[item], dict) else None
            if not parts:
                parts.append("")
            parts[-1] = f"{parts[-1]}[{item}]" + (f" ({name})" if isinstance(name, str)
                                                  else "")
        elif _is_branch(item):
            continue
        else:
            parts.append(str(item))
        try:
            node = node[item]
        except (KeyError, IndexError, TypeError):
            node = None
    return ".".join(parts)


def load_case(path: str | Path) -> Case:
    """Read a YAML case file (by the rules of :mod:`thermosim.inputs`); every mistake
    raises a :class:`CaseError` (several mistakes: a line each)."""
    file = str(Path(path))
    return Case.from_dict(read_yaml(path), file)
