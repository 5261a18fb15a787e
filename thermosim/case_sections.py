"""The sections of a case file, each a pydantic model: the domain, grid controls,
materials, blocks and their boundary conditions, solver settings and the flow section
(faces, porous blocks, fans, coolers, cold plates, chips).  :class:`thermosim.case.Case`
puts them together and checks what needs the whole case; import them from there.

All quantities are SI: metres, watts, kelvin, W/(m^2 K), W/m^2, seconds.  A temperature
may also be written with its unit, ``"27 degC"`` (see :mod:`thermosim.inputs`); a plain
number is kelvin and must be at least 200 K.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal, Optional, Union

from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field,
                      field_validator, model_validator)

from .inputs import (MAX_ACCELERATION, MAX_HEAT_FLUX, MAX_POWER, MAX_VELOCITY, bounded,
                     kelvin)

FACES = ("x-", "x+", "y-", "y+", "z-", "z+")
#: the largest |coordinate| of a domain, m (10,000 km: beyond any hall or device, small
#: enough that the grid's arithmetic cannot overflow; a merely huge domain is refused by
#: its cell count and memory instead)
MAX_COORDINATE = 1.0e7
Vec3 = tuple[float, float, float]

# A temperature (K): a number of kelvin of at least 200 K, or a string with units
# ("27 degC"), converted to kelvin (thermosim.inputs.kelvin).
Kelvin = Annotated[float, BeforeValidator(kelvin)]
# Figures beyond these bounds are typing slips (thermosim.inputs gives the reasons).
Watts = Annotated[float, AfterValidator(lambda v: bounded(v, MAX_POWER, "power", "W"))]
FluxDensity = Annotated[float, AfterValidator(
    lambda v: bounded(v, MAX_HEAT_FLUX, "heat flux", "W/m^2"))]
Velocity = Annotated[Vec3, AfterValidator(
    lambda v: tuple(bounded(c, MAX_VELOCITY, "velocity", "m/s") for c in v))]
Acceleration = Annotated[Vec3, AfterValidator(
    lambda v: tuple(bounded(c, MAX_ACCELERATION, "acceleration", "m/s^2") for c in v))]


class CaseSection(BaseModel):
    """The base of every section: unknown keys refused (a misspelling is an error, not a
    default silently kept)."""

    # allow_inf_nan: a NaN or infinity is refused at input, not found by the solver
    model_config = ConfigDict(extra="forbid", populate_by_name=True, allow_inf_nan=False)


class Region(CaseSection):
    """An axis-aligned box (m) that limits a boundary condition to part of a face."""

    min: Vec3
    max: Vec3


class Boundary(CaseSection):
    """One thermal boundary condition.

    - ``temperature``: fixed surface temperature ``T`` (K)
    - ``heat_flux``: heat flux ``q`` (W/m^2) *into* the body
    - ``convective``: heat transfer coefficient ``h`` (W/(m^2 K)) to ``T_ambient`` (K)
    - ``adiabatic``: no heat flow
    """

    type: Literal["temperature", "heat_flux", "convective", "adiabatic"]
    T: Optional[Kelvin] = None
    q: Optional[FluxDensity] = None
    h: Optional[float] = None
    T_ambient: Optional[Kelvin] = None
    region: Optional[Region] = None

    @model_validator(mode="after")
    def _check(self):
        need = {"temperature": ("T",), "heat_flux": ("q",), "convective": ("h", "T_ambient"),
                "adiabatic": ()}[self.type]
        for key in need:
            v = getattr(self, key)
            if v is None:
                raise ValueError(f"a {self.type} boundary needs '{key}'")
            if not math.isfinite(v):
                raise ValueError(f"'{key}' must be finite")
        if self.type == "temperature" and self.T <= 0:
            raise ValueError("T is in kelvin and must be positive")
        if self.type == "convective":
            if self.h <= 0:
                raise ValueError(f"h must be positive, got {self.h}")
            if self.T_ambient <= 0:
                raise ValueError("T_ambient is in kelvin and must be positive")
        return self


class Temperature(Boundary):
    type: Literal["temperature"] = "temperature"


class HeatFlux(Boundary):
    type: Literal["heat_flux"] = "heat_flux"


class Convective(Boundary):
    type: Literal["convective"] = "convective"


class Adiabatic(Boundary):
    type: Literal["adiabatic"] = "adiabatic"


BoundaryMap = dict[Literal["x-", "x+", "y-", "y+", "z-", "z+"], Union[Boundary, list[Boundary]]]


class MaterialSpec(CaseSection):
    """A user-defined material: either a solid with k (W/(m K), one value or kx, ky, kz),
    rho (kg/m^3) and cp (J/(kg K)), or a still fluid from CoolProp (``fluid``: air, water,
    nitrogen, propylene_glycol_25) at temperature ``T`` (K) and pressure ``p`` (Pa)."""

    k: Optional[Union[float, tuple[float, float, float]]] = None
    rho: Optional[float] = None
    cp: Optional[float] = None
    fluid: Optional[str] = None
    T: Optional[Kelvin] = None
    p: float = 101325.0

    @model_validator(mode="after")
    def _check(self):
        solid = [v is not None for v in (self.k, self.rho, self.cp)]
        if self.fluid is None and not all(solid):
            raise ValueError("a solid needs k, rho and cp (or give 'fluid' and 'T')")
        if self.fluid is not None and any(solid):
            raise ValueError("give either a fluid or k, rho and cp, not both")
        if self.fluid is not None and self.T is not None and not self.T > 0:
            raise ValueError("T is in kelvin and must be positive")
        return self


class Block(CaseSection):
    """An axis-aligned solid block with a material and a power (W) spread over its volume."""

    name: str
    material: str
    min: Vec3
    max: Vec3
    power: Watts = 0.0
    contact_resistance: float = 0.0   # m^2 K / W, on faces shared with other blocks
    boundaries: BoundaryMap = Field(default_factory=dict)


class Domain(CaseSection):
    """The box that is meshed (m) and the material filling the space no block occupies."""

    min: Vec3 = (0.0, 0.0, 0.0)
    max: Vec3
    background: str = "void"


class GridSpec(CaseSection):
    """Grid controls.  ``cells`` gives a uniform grid and ``faces`` lists the face coordinates
    of an axis explicitly; otherwise the grid is graded: block faces lie on grid lines, the
    spacing is at most ``max_cell`` (m), neighbouring cells differ by at most the ``growth``
    ratio, and every layer between block faces has at least ``min_cells_per_layer`` cells.
    Each of these three is one value or a value per axis (x, y, z)."""

    cells: Optional[tuple[int, int, int]] = None
    faces: Optional[dict[Literal["x", "y", "z"], list[float]]] = None
    max_cell: Union[float, tuple[float, float, float]] = 1e-3
    growth: Union[float, tuple[float, float, float]] = 1.2
    min_cells_per_layer: Union[int, tuple[int, int, int]] = 1

    @field_validator("growth")
    @classmethod
    def _growth(cls, v):
        for g in (v if isinstance(v, tuple) else (v,)):
            if not 1.0 <= g <= 3.0:
                raise ValueError("growth must lie between 1 and 3")
        return v

    @field_validator("min_cells_per_layer")
    @classmethod
    def _min_cells(cls, v):
        for n in (v if isinstance(v, tuple) else (v,)):
            if n < 1:
                raise ValueError("min_cells_per_layer must be at least 1")
        return v


class Transient(CaseSection):
    """Time stepping.  ``dt`` in seconds or ``auto`` (explicit: the stability limit times 0.9;
    implicit: end_time / 100).  Snapshots are written at the listed times (s)."""

    method: Literal["implicit_euler", "crank_nicolson", "explicit"] = "implicit_euler"
    end_time: float
    dt: Union[float, Literal["auto"]] = "auto"
    snapshots: list[float] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self):
        if not self.end_time > 0:
            raise ValueError("end_time must be positive")
        if self.dt != "auto" and not self.dt > 0:
            raise ValueError("dt must be positive")
        for t in self.snapshots:
            if not 0 <= t <= self.end_time:
                raise ValueError(f"snapshot time {t} lies outside [0, end_time]")
        return self


class SolverSpec(CaseSection):
    mode: Literal["steady", "transient"] = "steady"
    precision: Literal["float64", "float32"] = "float64"
    tolerance: Optional[float] = None     # relative residual; default 1e-8 (float64), 1e-6
    #                                       (float32, whose rounding floor is near 1e-7)
    max_iterations: int = 500
    transient: Optional[Transient] = None

    @model_validator(mode="after")
    def _check(self):
        if self.tolerance is None:
            self.tolerance = 1e-8 if self.precision == "float64" else 1e-6
        if self.mode == "transient" and self.transient is None:
            raise ValueError("mode 'transient' needs a 'transient' section (end_time, dt)")
        if not 0 < self.tolerance < 1:
            raise ValueError("tolerance must lie in (0, 1)")
        return self


class FlowFace(CaseSection):
    """A domain face of a flow case: ``wall`` (no-slip; ``velocity`` its own tangential
    velocity, m/s), ``slip``, ``inflow`` (``velocity`` m/s, ``T`` K, ``profile``),
    ``outflow`` or ``periodic`` (both faces of an axis; what leaves one enters the other);
    heat: ``T`` (K) or ``heat_flux`` (W/m^2 into the domain), else adiabatic."""

    type: Literal["wall", "slip", "inflow", "outflow", "periodic"] = "wall"
    velocity: Velocity = (0.0, 0.0, 0.0)
    T: Optional[Kelvin] = None
    heat_flux: Optional[FluxDensity] = None
    profile: Literal["uniform", "parabolic"] = "uniform"

    @model_validator(mode="after")
    def _check(self):
        if self.T is not None and not self.T > 0:
            raise ValueError("T is in kelvin and must be positive")
        if self.T is not None and self.heat_flux is not None:
            raise ValueError("give either T or heat_flux, not both")
        if self.type == "inflow" and self.T is None:
            raise ValueError("an inflow needs its temperature T")
        if self.type == "periodic" and (any(self.velocity) or self.T is not None
                                        or self.heat_flux is not None):
            raise ValueError("a periodic face takes no velocity, T or heat_flux")
        return self


AXES = Literal["x", "y", "z"]


class PorousSpec(CaseSection):
    """A porous block in the flow (a server, heat sink, tile, coil): the box ``min``..``max``
    (m) with flow along ``axis``; its resistance from one or more of ``loss_coefficient``
    K (dp = K rho u^2 / 2 across the block, u the superficial velocity), ``pressure_drop``
    [c1, c2] (dp = c1 Q + c2 Q^2, Pa with Q in m^3/s through its frontal area) and
    ``free_area`` (a perforated plate's open-area ratio, Idelchik's loss); ``transverse``
    ``blocked`` (case walls, the default) or ``open`` (the same resistance across);
    ``power`` W into the air passing through."""

    name: str
    min: Vec3
    max: Vec3
    axis: AXES
    loss_coefficient: float = 0.0
    pressure_drop: Optional[tuple[float, float]] = None
    free_area: Optional[float] = None
    transverse: Literal["blocked", "open"] = "blocked"
    power: Watts = 0.0

    @model_validator(mode="after")
    def _check(self):
        if self.loss_coefficient < 0 or not math.isfinite(self.loss_coefficient):
            raise ValueError("loss_coefficient must be a non-negative number")
        if self.free_area is not None and not 0 < self.free_area <= 1:
            raise ValueError("free_area is a ratio in (0, 1]")
        if self.pressure_drop is not None and any(c < 0 for c in self.pressure_drop):
            raise ValueError("pressure_drop coefficients must be non-negative")
        if not math.isfinite(self.power) or self.power < 0:
            raise ValueError("power must be a non-negative number of watts")
        return self


class FanSpec(CaseSection):
    """A fan plane normal to ``axis`` at ``position`` (m) over the rectangle ``min``..``max``
    (the axis entries ignored), blowing along ``direction`` (+1 or -1); ``curve`` [[Q m^3/s,
    dp Pa], ...] with Q increasing, or a fixed ``flow`` (m^3/s)."""

    name: str
    axis: AXES
    position: float
    min: Vec3
    max: Vec3
    direction: Literal[1, -1] = 1
    curve: Optional[list[tuple[float, float]]] = None
    flow: Optional[float] = None

    @model_validator(mode="after")
    def _check(self):
        if (self.curve is None) == (self.flow is None):
            raise ValueError("give either a curve or a flow")
        if self.curve is not None:
            q = [c[0] for c in self.curve]
            if len(q) < 2 or any(b <= a for a, b in zip(q, q[1:])):
                raise ValueError("the curve needs two or more [Q, dp] points with Q increasing")
        if self.flow is not None and not self.flow > 0:
            raise ValueError("flow must be positive (m^3/s); reverse with direction")
        return self


class CoolerSpec(CaseSection):
    """A cooling coil: the air in the box ``min``..``max`` leaves at ``temperature`` (K)."""

    name: str
    min: Vec3
    max: Vec3
    temperature: Kelvin

    @field_validator("temperature")
    @classmethod
    def _t(cls, v):
        if not v > 0:
            raise ValueError("temperature is in kelvin and must be positive")
        return v


class ColdPlateSpec(CaseSection):
    """A liquid cold plate on a chip (compact model): ``resistance`` (K/W) case to coolant
    at the rated ``flow`` (m^3/s) of ``coolant`` entering at ``inlet_temperature`` (K);
    ``pressure_drop`` (Pa) across the plate at that flow; ``axial_conductance`` (W/K, k A / L
    of its metal along the flow; omitted: the case follows the coolant)."""

    resistance: float
    flow: float
    inlet_temperature: Kelvin
    coolant: str = "water"
    pressure_drop: float = 0.0
    axial_conductance: Optional[float] = None

    @model_validator(mode="after")
    def _check(self):
        if self.axial_conductance is not None and not (math.isfinite(self.axial_conductance)
                                                       and self.axial_conductance >= 0):
            raise ValueError("axial_conductance must be a non-negative number (W/K)")
        for k in ("resistance", "flow", "inlet_temperature"):
            v = getattr(self, k)
            if not (math.isfinite(v) and v > 0):
                raise ValueError(f"{k} must be positive")
        if not (math.isfinite(self.pressure_drop) and self.pressure_drop >= 0):
            raise ValueError("pressure_drop must be a non-negative number (Pa)")
        return self


class ChipSpec(CaseSection):
    """A chip under a heat sink, as a compact model: ``power`` (W) into the air in the box
    ``min``..``max``; case temperature = that air's mean + power x ``resistance`` (K/W,
    case to local air); junction = case + power x ``junction_resistance`` (K/W); ``limit``
    the largest junction temperature allowed (K); ``kind`` a label (GPU, CPU, ...).  With a
    ``cold_plate`` most of the power goes to the coolant and ``resistance`` is the case's
    remaining path to the air."""

    name: str
    min: Vec3
    max: Vec3
    power: Watts
    resistance: float
    junction_resistance: float = 0.0
    limit: Optional[Kelvin] = None
    kind: str = "chip"
    cold_plate: Optional[ColdPlateSpec] = None

    @model_validator(mode="after")
    def _check(self):
        for k in ("power", "resistance", "junction_resistance"):
            v = getattr(self, k)
            if not math.isfinite(v) or v < 0:
                raise ValueError(f"{k} must be a non-negative number")
        if self.limit is not None and not self.limit > 0:
            raise ValueError("limit is in kelvin and must be positive")
        return self


class FlowSpec(CaseSection):
    """Flow of the domain's background fluid around the (solid) blocks.

    ``fluid``: a CoolProp fluid evaluated at ``reference_temperature`` (K), which is also the
    Boussinesq reference; ``gravity`` m/s^2; ``body_force`` m/s^2, a uniform driving
    acceleration (a mean pressure gradient over density, for periodic channels);
    ``boundaries`` per domain face (missing faces are adiabatic no-slip walls); steady
    (march until the scaled rates of change fall below ``tolerance``) or up to ``end_time``
    (s); ``cfl`` scales the stable step; ``diffusion`` ``auto`` treats viscosity and
    conduction implicitly in a steady march wherever they limit the explicit step (the
    step then set by advection alone), explicitly otherwise and in a transient (second
    order in time), or forces ``implicit`` or ``explicit``.  ``method`` of a steady run:
    ``march`` in time to the steady state, or ``simplec`` outer iterations
    (:mod:`thermosim.flow.outer`: implicit momentum and energy, the pressure increment of
    the pressure-convection-diffusion approximation, Anderson-accelerated), which count
    against ``max_steps``; ``start`` of the outer iterations: ``rest``, or ``coarse`` (from
    the answer on coarser meshes, :mod:`thermosim.flow.sequence`); ``multigrid`` of the
    outer iterations: ``on`` (in multigrid cycles over those meshes, from their answers,
    :mod:`thermosim.flow.fas`), ``off``, or ``auto`` (on where no fans, porous blocks,
    coolers, chips or eddy viscosity lag the flow and no solid blocks conduct).
    ``unsteady``: what a steady run that finds no steady state does: ``stop`` (written,
    marked unconverged, exit status 3) or ``average`` (it continues in implicit time steps
    and its result is the time mean over ``average_window`` s, by default four turnover
    times after a settling time of half the window; :mod:`thermosim.flow.unsteady`).  A
    transient (``end_time``) with ``method: simplec`` and a ``time_step`` (s) or an
    ``average_from`` (s) takes implicit steps, longer than the march's stable one, and
    with ``average_from`` its result is the mean over [average_from, end_time]."""

    fluid: str = "air"
    reference_temperature: Kelvin = 300.0
    gravity: Acceleration = (0.0, 0.0, -9.81)
    body_force: Acceleration = (0.0, 0.0, 0.0)
    boundaries: dict[Literal["x-", "x+", "y-", "y+", "z-", "z+"], FlowFace] = Field(
        default_factory=dict)
    end_time: Optional[float] = None
    tolerance: float = 1e-5
    cfl: float = 0.5
    max_steps: int = Field(200_000, ge=1)     # a run takes at least one step
    diffusion: Literal["auto", "implicit", "explicit"] = "auto"
    turbulence: Literal["none", "lvel", "smagorinsky"] = "none"
    advection: Literal["central", "upwind"] = "central"
    method: Literal["march", "simplec"] = "march"
    start: Literal["rest", "coarse"] = "rest"
    multigrid: Literal["auto", "on", "off"] = "auto"
    unsteady: Literal["stop", "average"] = "stop"
    average_window: Optional[float] = None      # s; None: four turnover times
    time_step: Optional[float] = None           # s, implicit steps (method simplec)
    average_from: Optional[float] = None        # s, a transient's mean from this time
    energy_tolerance: Optional[float] = None   # steady: stored heat / power, instead of the
    #                                            temperature residual
    porous: list[PorousSpec] = Field(default_factory=list)
    fans: list[FanSpec] = Field(default_factory=list)
    coolers: list[CoolerSpec] = Field(default_factory=list)
    chips: list[ChipSpec] = Field(default_factory=list)

    def solver_options(self) -> dict:
        """The steady solver's choices, as :meth:`thermosim.flow.FlowSolver.run`'s
        keywords."""
        return {"method": self.method, "sequence": self.start == "coarse",
                "multigrid": {"auto": None, "on": True, "off": False}[self.multigrid],
                "unsteady": self.unsteady, "average_window": self.average_window,
                "time_step": self.time_step, "average_from": self.average_from}

    @field_validator("reference_temperature")
    @classmethod
    def _tref(cls, v):
        if not v > 0:
            raise ValueError("reference_temperature is in kelvin and must be positive")
        return v

    @field_validator("cfl")
    @classmethod
    def _cfl(cls, v):
        if not 0 < v <= 1:
            raise ValueError("cfl must lie in (0, 1]")
        return v

    @field_validator("end_time", "average_window", "time_step")
    @classmethod
    def _end(cls, v, info):
        if v is not None and not (v > 0 and math.isfinite(v)):
            raise ValueError(f"{info.field_name} must be positive (s)")
        return v

    @field_validator("average_from")
    @classmethod
    def _from(cls, v):
        if v is not None and not (v >= 0 and math.isfinite(v)):
            raise ValueError("average_from must be a time from 0 s on")
        return v

    @model_validator(mode="after")
    def _implicit_transient(self):
        if self.average_from is not None:
            if self.end_time is None or self.average_from >= self.end_time:
                raise ValueError("average_from needs an end_time after it (a transient's "
                                 "mean over [average_from, end_time])")
            if self.method != "simplec":
                raise ValueError("average_from needs method: simplec (the mean is taken over "
                                 "implicit steps)")
        return self

    @field_validator("tolerance")
    @classmethod
    def _tol(cls, v):
        if not 0 < v < 1:
            raise ValueError("tolerance must lie in (0, 1)")
        return v
