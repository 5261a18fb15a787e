"""Incompressible flow with heat transfer: staggered (MAC) grid, projection method.

Velocities live on cell faces, pressure and temperature at cell centres, on the same
non-uniform tensor grid as the conduction solver.  One time step is Heun's method (the
two-stage strong-stability-preserving Runge-Kutta scheme); each stage

1. predicts the face velocities with central, conservative advection, viscous diffusion and
   Boussinesq buoyancy ``-beta (T - T_ref) g`` (m/s^2),
2. projects them onto divergence-free fields: a pressure equation in conductance form,
   ``sum_f (A_f / d_f) (phi_P - phi_N) = -(net outflow of P) / dt``, solved by conjugate
   gradients preconditioned with the geometric multigrid of the conduction solver,
3. advances the temperature: bounded second-order (van Leer) advection in the fluid and
   conduction through harmonic-mean face conductances everywhere, solids included
   (conjugate heat transfer).

Steady states are reached by marching until the scaled rates of change of velocity and
temperature fall below a tolerance.  Where diffusion on the smallest cells limits the
explicit step, a steady march treats diffusion (viscous and conductive) implicitly, so that
its step is set by advection alone: each stage solves
``(C / dt + L) delta = R`` for the increment, with ``R`` the whole explicit right-hand side
(advection, diffusion, sources and, for momentum, minus the last pressure gradient) and
``L`` the diffusion operator in conductance form, by multigrid-preconditioned CG; the
pressure is then corrected incrementally.  A converged state has ``R = 0`` whatever the
step, so the steady answer is the explicit scheme's; the march is first order in time,
so transients (``end_time``) stay explicit and second order.  Units: SI throughout;
``phi`` is the kinematic pressure p / rho (m^2/s^2).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from .errors import CaseError, SolverError, names_case_file
from .grid import Grid
from .model import LinearSystem
from .solvers.krylov import pcg
from .solvers.multigrid import Multigrid, wrap_halos

FACES = ("x-", "x+", "y-", "y+", "z-", "z+")
KINDS = ("wall", "slip", "inflow", "outflow", "periodic")


@dataclass(frozen=True)
class Fluid:
    """A Newtonian fluid with constant properties (Boussinesq).

    density kg/m^3, viscosity Pa s (dynamic), conductivity W/(m K), specific_heat J/(kg K),
    expansion 1/K (volumetric thermal expansion coefficient beta).
    """

    name: str
    density: float
    viscosity: float
    conductivity: float
    specific_heat: float
    expansion: float = 0.0
    source: str = ""

    @property
    def kinematic_viscosity(self) -> float:
        """nu in m^2/s."""
        return self.viscosity / self.density

    @property
    def diffusivity(self) -> float:
        """Thermal diffusivity alpha in m^2/s."""
        return self.conductivity / (self.density * self.specific_heat)

    @property
    def prandtl(self) -> float:
        return self.kinematic_viscosity / self.diffusivity

    @property
    def volumetric_heat_capacity(self) -> float:
        return self.density * self.specific_heat

    @classmethod
    def from_coolprop(cls, name: str, temperature: float = 300.0,
                      pressure: float = 101325.0) -> "Fluid":
        """Properties of a library fluid (``air``, ``water``, ...) from CoolProp at the
        reference ``temperature`` (K) and ``pressure`` (Pa)."""
        from CoolProp.CoolProp import PropsSI

        from .materials import FLUIDS, LIQUIDS, fluid_names

        if name in LIQUIDS:
            d = LIQUIDS[name]
            return cls(name, d["density"], d["kinematic_viscosity"] * d["density"],
                       d["conductivity"], d["specific_heat"], d["expansion"], d["source"])
        if name not in FLUIDS:
            raise CaseError(f"unknown fluid '{name}' (known: {', '.join(fluid_names())})")
        cp_name = FLUIDS[name]
        get = lambda key: PropsSI(key, "T", temperature, "P", pressure, cp_name)  # noqa: E731
        try:
            rho = get("D")
            try:
                beta = get("isobaric_expansion_coefficient")
            except ValueError:           # incompressible mixtures: from the density slope
                dT = 0.5
                r1 = PropsSI("D", "T", temperature + dT, "P", pressure, cp_name)
                r0 = PropsSI("D", "T", temperature - dT, "P", pressure, cp_name)
                beta = -(r1 - r0) / (2 * dT) / rho
            return cls(name, rho, get("V"), get("L"), get("C"), beta,
                       f"CoolProp {cp_name} at {temperature:g} K, {pressure:g} Pa")
        except ValueError as e:          # CoolProp: a state outside its data
            from .materials import no_properties

            raise CaseError(no_properties(name, temperature, pressure, e)) from None


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
        from .turbulence import MODELS

        if self.turbulence not in MODELS:
            raise CaseError(f"unknown turbulence model '{self.turbulence}' (choose from "
                            f"{', '.join(MODELS)})", "turbulence")


@dataclass
class FlowStats:
    steps: int = 0
    time: float = 0.0                       # simulated time, s
    wall_time: float = 0.0
    converged: bool = False
    residual_velocity: float = math.inf     # max |du/dt| L / U^2
    residual_temperature: float = math.inf  # max |dT/dt| L / (U dT)
    pressure_iterations: int = 0            # CG iterations, all solves together
    pressure_solves: int = 0
    pressure_reduction: float = 0.0         # mean residual reduction per CG iteration
    history: list = field(default_factory=list)
    dt: float = 0.0
    implicit_iterations: int = 0            # CG iterations of the implicit diffusion solves
    implicit_solves: int = 0
    diffusion: str = "explicit"             # how the last step treated diffusion
    stored_fraction: float = math.nan       # heat being stored / power (energy criterion)
    stopped: str = ""                       # why a transient ended before its end time


@dataclass
class FlowResult:
    """Fields on the interior cells: face velocities (m/s, staggered arrays with one more
    entry along their own axis), cell-centred kinematic pressure phi (m^2/s^2) and
    temperature (K); ``fluid`` marks fluid cells."""

    problem: FlowProblem
    u: np.ndarray
    v: np.ndarray
    w: np.ndarray
    phi: np.ndarray
    T: np.ndarray
    fluid: np.ndarray
    stats: FlowStats
    backend: str = "cpu"
    device: str = ""
    heat_flows: dict = field(default_factory=dict)     # W leaving, per boundary
    total_power: float = 0.0                           # W put in (blocks, heat-flux faces)
    block_index: Optional[np.ndarray] = None           # block of each cell, -1 in the fluid
    components: dict = field(default_factory=dict)     # fans, coolers, porous blocks

    @property
    def grid(self) -> Grid:
        return self.problem.grid

    @property
    def energy_balance_error(self) -> float:
        """|heat in - heat out| / heat in (relative; steady runs)."""
        out = sum(self.heat_flows.values())
        scale = max(abs(self.total_power), sum(abs(v) for v in self.heat_flows.values()),
                    1e-300)
        return abs(self.total_power - out) / scale

    def hotspot(self) -> dict:
        idx = np.unravel_index(int(np.argmax(self.T)), self.T.shape)
        blk = -1 if self.block_index is None else int(self.block_index[idx])
        name = self.problem.blocks[blk].name if blk >= 0 else self.problem.fluid.name
        return {"T": float(self.T[idx]), "index": [int(i) for i in idx], "block": name,
                "position": [float(self.grid.centres(a)[idx[a]]) for a in range(3)]}

    def metrics(self) -> dict:
        """Rack-cooling metrics of the components (see :mod:`thermosim.metrics`)."""
        from .metrics import rack_metrics

        return rack_metrics(self)

    def pressure_drop(self) -> float | None:
        """Mean static pressure on the inflow faces minus that on the outflow faces (Pa)."""
        means = {"inflow": [], "outflow": []}
        for f, b in self.problem.boundaries.items():
            if b.kind in means:
                axis, side = FACES.index(f) // 2, FACES.index(f) % 2
                sl = [slice(None)] * 3
                sl[axis] = -1 if side else 0
                means[b.kind].append(float(self.pressure[tuple(sl)].mean()))
        if not means["inflow"] or not means["outflow"]:
            return None
        return float(np.mean(means["inflow"]) - np.mean(means["outflow"]))

    def summary(self) -> str:
        st, hs = self.stats, self.hotspot()
        speed = np.sqrt((self.cell_velocity() ** 2).sum(axis=0))
        stored = "" if math.isnan(st.stored_fraction) else \
            f", heat still stored {st.stored_fraction:.1e} of the power"
        state = (f"steady after {st.steps} steps (residuals {st.residual_velocity:.1e} "
                 f"velocity, {st.residual_temperature:.1e} temperature{stored})" if st.converged
                 else f"{st.steps} steps to t = {st.time:.4g} s"
                 + (f" ({st.stopped})" if st.stopped else ""))
        lines = [
            f"case          {self.problem.name}  (flow, {self.T.size:,} cells, "
            f"{self.problem.fluid.name})",
            f"state         {state}",
            f"max T         {hs['T']:.3f} K ({hs['T'] - 273.15:.2f} degC) in '{hs['block']}' "
            f"at ({', '.join(f'{v * 1e3:.2f}' for v in hs['position'])}) mm",
            f"max speed     {float(speed.max()):.4g} m/s",
        ]
        dp = self.pressure_drop()
        if dp is not None:
            lines.append(f"pressure drop {dp:.5g} Pa (inflow minus outflow)")
        lines.append(f"power in      {self.total_power:.6g} W")
        for label, q in self.heat_flows.items():
            lines.append(f"  out via {label:<28s} {q:.6g} W")
        if self.stats.converged and self.total_power:
            lines.append(f"energy balance {self.energy_balance_error:.2e} (relative error)")
        elif self.total_power:
            stored = self.total_power - sum(self.heat_flows.values())
            lines.append(f"  still being stored (not steady)  {stored:.6g} W")
        lines.append(f"pressure      {st.pressure_iterations / max(st.pressure_solves, 1):.1f} "
                     f"CG iterations per solve, residual x{st.pressure_reduction:.3f} per "
                     "iteration")
        if st.implicit_solves:
            lines.append(f"diffusion     implicit (steady march), "
                         f"{st.implicit_iterations / st.implicit_solves:.1f} CG iterations "
                         "per solve")
        lines.append(f"wall time     {st.wall_time:.3f} s")
        lines.append(f"backend       {self.backend}: {self.device}")
        if self.components:
            from .metrics import format_metrics

            lines.append(format_metrics(self.metrics()))
        return "\n".join(lines)

    def save(self, path, **kw):
        from .output import write_flow_result

        return write_flow_result(self, path, **kw)

    @property
    def pressure(self) -> np.ndarray:
        """Static pressure relative to the reference (Pa), cell-centred."""
        return self.phi * self.problem.fluid.density

    def cell_velocity(self) -> np.ndarray:
        """Velocity at the cell centres (m/s), shape (3, nx, ny, nz)."""
        return np.stack([0.5 * (self.u[1:] + self.u[:-1]),
                         0.5 * (self.v[:, 1:] + self.v[:, :-1]),
                         0.5 * (self.w[:, :, 1:] + self.w[:, :, :-1])])

    @property
    def velocity(self) -> np.ndarray:
        """Velocity at the cell centres (m/s), shape (nx, ny, nz, 3): ``velocity[i, j, k]``
        is the (u, v, w) vector of cell (i, j, k), as ``/fields/velocity`` in the saved
        file."""
        return np.moveaxis(self.cell_velocity(), 0, -1)


def _halo_widths(faces: np.ndarray, periodic: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Widths with halo (a halo cell as wide as its neighbour, or along a periodic axis as
    its image across the wrap) and centre distances d[i] between cells i-1 and i (d[0]
    repeats d[1])."""
    h = np.diff(faces)
    hh = np.concatenate([[h[-1]], h, [h[0]]]) if periodic else \
        np.concatenate([[h[0]], h, [h[-1]]])
    d = np.empty_like(hh)
    d[1:] = 0.5 * (hh[1:] + hh[:-1])
    d[0] = d[1]
    return hh, d


def _inflow_profile(problem: FlowProblem, face: str) -> np.ndarray:
    """Dimensionless profile over an inflow face (mean 1), shape of the face's cells."""
    g = problem.grid
    axis = FACES.index(face) // 2
    others = [a for a in range(3) if a != axis]
    shape = [g.shape[a] for a in others]
    prof = np.ones(shape)
    b = problem.boundaries[face]
    if b.profile == "parabolic":
        for n, a in enumerate(others):
            lo, hi = problem.boundaries[FACES[2 * a]], problem.boundaries[FACES[2 * a + 1]]
            if lo.kind == "wall" and hi.kind == "wall":
                f = g.faces[a]
                s = (g.centres(a) - f[0]) / (f[-1] - f[0])
                p1 = 6.0 * s * (1.0 - s)
                prof = prof * (p1[:, None] if n == 0 else p1[None, :])
        area = np.outer(g.spacing(others[0]), g.spacing(others[1]))
        prof = prof * area.sum() / (prof * area).sum()
    return prof


class FlowSolver:
    """A flow-and-heat run on one backend.  Build it, then :meth:`run` or :meth:`step`."""

    # (a mistake found while the solver is set up, such as a block that covers no cell
    # centre, names the case file it came from)
    @names_case_file(lambda self, problem, *a, **k: getattr(getattr(problem, "case", None),
                                                            "source_file", None))
    def __init__(self, problem: FlowProblem, backend="cpu", dtype=np.float64,
                 cfl: float = 0.5, pressure_tolerance: float | None = None,
                 diffusion: str = "auto", advection: str = "central"):
        """``diffusion``: ``implicit`` (the step limited by advection only; first order in
        time), ``explicit`` (second order in time, the step also limited by viscosity and
        conduction on the smallest cell) or ``auto``: in a steady run, step by step whichever
        covers more time per unit of work (implicit once its step is 4x the explicit one);
        explicit for transients and for :meth:`step` called directly.  ``advection`` of
        momentum: ``central`` (second order; stable while viscosity damps it, which bounds
        the step at high cell Reynolds numbers) or ``upwind`` (first order, bounded: the
        step is the CFL one whatever the viscosity; for room-scale airflow on coarse
        cells)."""
        from .backends import backend_for

        if advection not in ("central", "upwind"):
            raise CaseError(f"unknown advection scheme '{advection}' (central or upwind)",
                            "flow.advection")
        self.advection = advection
        self._upwind = 1.0 if advection == "upwind" else 0.0
        if diffusion not in ("auto", "implicit", "explicit"):
            raise CaseError(f"unknown diffusion treatment '{diffusion}' (auto, implicit or "
                            "explicit)", "flow.diffusion")
        # the implicit operators hold a constant viscosity and no momentum sinks: with an
        # eddy viscosity or components the steps stay explicit (room-scale cells make the
        # explicit diffusion limit rarely the binding one)
        explicit_only = problem.turbulence != "none" or bool(problem.porous or problem.fans
                                                               or problem.coolers
                                                               or problem.chips)
        if explicit_only:
            if diffusion == "implicit":
                raise CaseError("implicit diffusion is not available with a turbulence model "
                                "or components (porous blocks, fans, coolers): use auto or "
                                "explicit", "flow.diffusion")
            diffusion = "explicit"
        self.diffusion = diffusion
        self.implicit = diffusion == "implicit"
        self._implicit_ops = None
        self.problem = problem
        self.be = backend_for(backend, problem.grid.ncells) if isinstance(backend, str) \
            else backend
        self.dtype = np.dtype(dtype)
        if hasattr(self.be, "prepare_flow"):        # the CPU's first-run compile notice
            self.be.prepare_flow(self.dtype)
        self.cfl = cfl
        self.pressure_tolerance = pressure_tolerance or (1e-9 if self.dtype == np.float64
                                                         else 1e-5)
        g = problem.grid
        self.shape = g.shape
        nx, ny, nz = self.shape
        pad = (nx + 2, ny + 2, nz + 2)
        be, dt_ = self.be, self.dtype
        self.periodic = tuple(problem.boundaries[FACES[2 * a]].kind == "periodic"
                              for a in range(3))
        hd = [_halo_widths(f, per) for f, per in zip(g.faces, self.periodic)]
        self._h_host = [x[0] for x in hd]
        self._d_host = [x[1] for x in hd]
        self.h = [be.asarray(x, dt_) for x in self._h_host]
        self.d = [be.asarray(x, dt_) for x in self._d_host]
        self._inflow_cache = {}
        self._components_fresh = False
        self._stored_weight = None
        self._local_energy = False
        self._lc = None
        self._build_masks()
        self._build_components()
        self._build_energy()
        self._build_pressure()
        self._build_force_masks()
        self.fluid = be.asarray(self._fluid_host, np.uint8)
        self._finish_components()
        T0 = np.full(pad, problem.initial_temperature, float)
        self.T = be.asarray(T0, dt_)
        self.vel = [be.asarray(self._initial_velocity(a), dt_) for a in range(3)]
        # work arrays
        self._vel1 = [be.zeros(pad, dt_) for _ in range(3)]
        self._velw = [be.zeros(pad, dt_) for _ in range(3)]
        self._rhs = be.zeros(pad, dt_)
        self._T1 = be.zeros(pad, dt_)
        self._Tw = be.zeros(pad, dt_)
        self._Q = be.zeros(pad, dt_)
        self.phi = be.zeros(pad, dt_)
        self._psi = be.zeros(pad, dt_)            # pressure increment (implicit steps)
        self._pb = be.zeros(pad, dt_)
        self._pwork = [be.zeros(pad, dt_) for _ in range(5)]
        self.stats = FlowStats()
        self._log_reduction = 0.0
        self._log_iters = 0
        self._apply_bc(self.vel, self.T)
        # the initial field (inflow faces set, zero inside) is made divergence-free, so
        # that the Runge-Kutta average of two projected fields stays divergence-free
        self._project(self.vel, 1.0)
        self._apply_bc(self.vel, self.T)
        self.phi.fill(0)

    # -- set-up -----------------------------------------------------------------------
    def _build_masks(self):
        p, g = self.problem, self.problem.grid
        nx, ny, nz = self.shape
        fl = np.zeros((nx + 2, ny + 2, nz + 2), np.uint8)
        fl[1:-1, 1:-1, 1:-1] = 1
        solid = np.zeros(self.shape, bool)
        self._block_index = np.full(self.shape, -1, np.int32)
        for n, b in enumerate(p.blocks):
            sl = []
            for a in range(3):
                i0, i1 = g.index_range(a, b.lower[a], b.upper[a])
                if i1 <= i0:
                    raise CaseError(f"block '{b.name}' covers no cell centre along "
                                    f"{'xyz'[a]}: refine the grid or enlarge the block",
                                    f"blocks.{b.name}")
                sl.append(slice(i0, i1))
            solid[tuple(sl)] = True
            self._block_index[tuple(sl)] = n
        fl[1:-1, 1:-1, 1:-1][solid] = 0
        for f, b in p.boundaries.items():
            axis, side = FACES.index(f) // 2, FACES.index(f) % 2
            sl = [slice(None)] * 3
            sl[axis] = -1 if side else 0
            fl[tuple(sl)] = 1 if b.kind == "outflow" else 0
        wrap_halos(fl, self.periodic)
        self._solid = solid
        self._fluid_host = fl

    def _build_components(self):
        """Host arrays of the components: porous sinks per cell, porous heat, cooler
        cells, fan planes (faces held at a fixed flow, or driven by a curve)."""
        from .components import box_slices, fan_faces

        p, g = self.problem, self.problem.grid
        n = self.shape
        vol = g.cell_volumes()
        lin = np.zeros((3, *n))
        quad = np.zeros((3, *n))
        heat = np.zeros(n)
        self._porous_slices = []
        for b in p.porous:
            sl = box_slices(g, b.lower, b.upper, b.name, "porous block")
            if self._solid[sl].any():
                raise CaseError(f"porous block '{b.name}' overlaps a solid block",
                                f"porous.{b.name}")
            for a in range(3):
                # faces take the mean of the cells either side, so the block resists over
                # its cells' centre distances, the end faces at half weight; scaled to
                # resist over its own depth whatever the cells it was snapped to
                d = self._d_host[a]
                i0, i1 = sl[a].start, sl[a].stop
                depth = float(d[i0 + 2:i1 + 1].sum() + 0.5 * (d[i0 + 1] + d[i1 + 1]))
                scale = (b.upper[a] - b.lower[a]) / depth if depth > 0 else 1.0
                lin[a][sl] = b.linear[a] * scale
                quad[a][sl] = b.quadratic[a] * scale
            if b.power:
                heat[sl] += b.power * vol[sl] / vol[sl].sum()
            self._porous_slices.append(sl)
        self._chip_slices = []
        plate_G, plate_GT = np.zeros(n), np.zeros(n)
        for c in p.chips:
            try:
                sl = box_slices(g, c.lower, c.upper, c.name, "chip")
            except CaseError:
                # smaller than a cell: the compact model heats the cell holding its centre
                i = g.locate([0.5 * (c.lower[a] + c.upper[a]) for a in range(3)])
                sl = tuple(slice(int(x), int(x) + 1) for x in i)
            if self._solid[sl].any():
                raise CaseError(f"chip '{c.name}' overlaps a solid block: a compact chip "
                                "heats the air in its box", f"chips.{c.name}")
            w = vol[sl] / vol[sl].sum()
            if c.cold_plate is not None:
                # the air's share is linear in each cell's temperature (see
                # cold_plate_split): a conductance per cell to the temperature the case
                # would take with no air path, T_in + P R_e, summing to 1 / (R_e + R_a)
                Re = c.cold_plate.effective_resistance
                g_cell = w / (Re + c.resistance)
                plate_G[sl] += g_cell
                plate_GT[sl] += g_cell * (c.cold_plate.inlet_temperature + c.power * Re)
            elif c.power:
                heat[sl] += c.power * w
            self._chip_slices.append(sl)
        self._porous_power_host = heat
        self._plate_host = (plate_G, plate_GT) if plate_G.any() else None
        self._drag_cells = (lin, quad) if p.porous else None
        cool = np.zeros(n, bool)
        cool_T = np.zeros(n)
        self._cooler_slices = []
        for c in p.coolers:
            sl = box_slices(g, c.lower, c.upper, c.name, "cooler")
            if self._solid[sl].any():
                raise CaseError(f"cooler '{c.name}' overlaps a solid block", f"coolers.{c.name}")
            cool[sl] = True
            cool_T[sl] = c.temperature
            self._cooler_slices.append(sl)
        self._cooler_host = (cool, cool_T) if p.coolers else None
        fl = self._fluid_host != 0
        self._fan_faces = []
        held = [np.zeros((n[0] + 2, n[1] + 2, n[2] + 2), bool) for _ in range(3)]
        for f in p.fans:
            i, sl = fan_faces(g, f)
            a = f.axis
            idx = [slice(s_.start + 1, s_.stop + 1) if s_ is not None else i for s_ in sl]
            lo = list(idx)
            lo[a] = i - 1
            open_ = fl[tuple(idx)] & fl[tuple(lo)]
            if not open_.any():
                raise CaseError(f"fan '{f.name}' has no fluid on both sides of its plane",
                                f"fans.{f.name}")
            m = np.zeros_like(held[a])
            m[tuple(idx)] = open_
            if f.flow is not None:
                if (held[a] & m).any():
                    raise CaseError(f"fan '{f.name}' overlaps another fan", f"fans.{f.name}")
                held[a] |= m
            self._fan_faces.append(m)
        self._held_host = held if any(h.any() for h in held) else None

    def _face_area(self, a: int) -> np.ndarray:
        """Areas (m^2) of the faces normal to axis a, padded like a velocity array."""
        g = self.problem.grid
        o = [b for b in range(3) if b != a]
        area = np.multiply.outer(np.concatenate([[0], g.spacing(o[0]), [0]]),
                                 np.concatenate([[0], g.spacing(o[1]), [0]]))
        return np.broadcast_to(np.expand_dims(area, a),
                               tuple(s + 2 for s in self.shape)).copy()

    def _finish_components(self):
        """Device arrays of the components, and the eddy viscosity."""
        be, dt_, p = self.be, self.dtype, self.problem
        n = self.shape
        fl = self._fluid_host != 0
        self._drag = None
        if self._drag_cells is not None:
            lin, quad = self._drag_cells
            self._drag = []
            for c in range(3):
                if n[c] < 2:
                    self._drag.append(None)
                    continue
                # a face takes the mean of the cells either side: a block of N cells along
                # c then resists over exactly its depth
                fa, fb = np.zeros((2, *[s + 2 for s in n]))
                for src, dst in ((lin[c], fa), (quad[c], fb)):
                    cell = np.pad(src, 1)
                    lo = [slice(1, -1)] * 3
                    lo[c] = slice(0, n[c] + 1)
                    hi = [slice(1, -1)] * 3
                    hi[c] = slice(1, n[c] + 2)
                    out = [slice(1, -1)] * 3
                    out[c] = slice(1, n[c] + 2)
                    dst[tuple(out)] = 0.5 * (cell[tuple(lo)] + cell[tuple(hi)])
                self._drag.append((be.asarray(fa, dt_), be.asarray(fb, dt_)))
        # cold plates: the cells they couple to their coolant, as flat indices of the padded
        # arrays (a few per chip: gathered, not a full-grid array)
        self._plate = None
        if self._plate_host is not None:
            pG, pGT = (np.pad(x, 1) for x in self._plate_host)
            idx = np.flatnonzero(pG)
            self._plate = (be.asarray(idx, np.int64), be.asarray(pG.reshape(-1)[idx], dt_),
                           be.asarray(pGT.reshape(-1)[idx], dt_))
        self._cooler = None
        if self._cooler_host is not None:
            cool, cool_T = self._cooler_host
            keep = np.ones([s + 2 for s in n])
            add = np.zeros_like(keep)
            keep[1:-1, 1:-1, 1:-1] = np.where(cool, 0.0, 1.0)
            add[1:-1, 1:-1, 1:-1] = np.where(cool, cool_T, 0.0)
            self._cooler = (be.asarray(keep, dt_), be.asarray(add, dt_))
        # fans, per axis: the fan (1-based, 0 none) of each face, direction x area (for the
        # flow through each fan, one weighted bincount) and direction / (rho d) (the source
        # per pascal of a curve fan)
        nf = len(p.fans)
        self._fan_dp = np.zeros(nf)
        self._fan_Q = np.zeros(nf)
        self._fans_by_axis = []
        src = [None, None, None]
        rho = p.fluid.density
        for c in range(3):
            ks = [k for k, f in enumerate(p.fans) if f.axis == c]
            if not ks:
                continue
            ids = np.zeros([s + 2 for s in n], np.int32)
            aw = np.zeros(ids.shape)
            geo = np.zeros(ids.shape)
            area = self._face_area(c)
            shp = [1, 1, 1]
            shp[c] = -1
            inv_d = 1.0 / self._d_host[c].reshape(shp)
            for k in ks:
                f, m = p.fans[k], self._fan_faces[k]
                ids[m] = k + 1
                aw[m] = (f.direction * area)[m]
                if f.curve is not None:
                    geo[m] = np.broadcast_to(f.direction / rho * inv_d, m.shape)[m]
            curve = any(p.fans[k].curve is not None for k in ks)
            self._fans_by_axis.append((c, be.asarray(ids, np.int32), be.asarray(aw, dt_),
                                       be.asarray(geo, dt_) if curve else None))
            if curve:
                src[c] = be.zeros(ids.shape, dt_)
        self._fan_source = src
        self._held = None
        if self._held_host is not None:
            self._held = []
            for c in range(3):
                h = self._held_host[c]
                if not h.any():
                    self._held.append(None)
                    continue
                value = np.zeros(h.shape)
                area = self._face_area(c)
                for f, m in zip(p.fans, self._fan_faces):
                    if f.axis == c and f.flow is not None:
                        value[m] = f.direction * f.flow / area[m].sum()
                self._held.append((be.asarray(np.where(h, 0.0, 1.0), dt_),
                                   be.asarray(value, dt_)))
        # the faces whose momentum is computed (fluid both sides; not a wall-bounded axis's
        # first face), for the eddy viscosity's and fans' terms
        self._computed = [None, None, None]
        if p.turbulence != "none" or any(x is not None for x in src):
            for c in range(3):
                if n[c] < 2:
                    continue
                m = np.zeros(fl.shape)
                first = 1 if self.periodic[c] else 2
                face, before = [slice(1, -1)] * 3, [slice(1, -1)] * 3
                face[c], before[c] = slice(first, n[c] + 1), slice(first - 1, n[c])
                m[tuple(face)] = fl[tuple(face)] & fl[tuple(before)]
                self._computed[c] = be.asarray(m, dt_)
        self.turbulence = None
        if p.turbulence != "none":
            from .turbulence import EddyViscosity

            self.turbulence = EddyViscosity(self, p.turbulence)
        self._incremental = self._drag is not None

    def _update_components(self) -> None:
        """Once per step: the eddy viscosity, and each curve fan's pressure rise at the flow
        now through it (the source dp / (rho d) on its faces)."""
        if self.turbulence is not None:
            self.turbulence.update(self.vel)
        p = self.problem
        if not p.fans:
            return
        xp = self.be.xp
        nf = len(p.fans)
        Q = np.zeros(nf + 1)
        for c, ids, aw, _ in self._fans_by_axis:
            Q += np.asarray(self.be.to_host(xp.bincount(
                ids.ravel(), weights=(self.vel[c] * aw).ravel(), minlength=nf + 1)), float)
        self._fan_Q = Q[1:]
        for k, f in enumerate(p.fans):
            if f.curve is not None:
                self._fan_dp[k] = f.pressure_rise(float(self._fan_Q[k]))
        table = xp.asarray(np.concatenate([[0.0], self._fan_dp]).astype(self.dtype))
        for c, ids, _, geo in self._fans_by_axis:
            if geo is not None:
                self._fan_source[c][...] = geo * table[ids]

    def fan_operating_points(self) -> list[dict]:
        """Per fan: flow (m^3/s) and pressure rise (Pa): the curve's at that flow, or for a
        fixed-flow fan the static pressure jump across its plane."""
        out = []
        host = self.be.to_host
        phi = np.asarray(host(self.phi), float)
        rho = self.problem.fluid.density
        for k, f in enumerate(self.problem.fans):
            m = self._fan_faces[k]
            area = self._face_area(f.axis)
            Q = f.direction * float((np.asarray(host(self.vel[f.axis]), float) * m * area).sum())
            shift = [0, 0, 0]
            shift[f.axis] = 1
            down = phi if f.direction > 0 else np.roll(phi, 1, axis=f.axis)
            up = np.roll(phi, 1, axis=f.axis) if f.direction > 0 else phi
            jump = float(((down - up) * m * area).sum() / (m * area).sum()) * rho
            dp = f.pressure_rise(Q) if f.curve is not None else jump
            out.append({"name": f.name, "flow": Q, "pressure_rise": dp, "static_jump": jump,
                        "mode": "curve" if f.curve is not None else "fixed flow"})
        return out

    def _build_force_masks(self):
        """Per velocity component with a body force: 1 on the faces whose momentum is
        computed (fluid on both sides), else 0."""
        fl = self._fluid_host != 0
        self._force_mask = [None, None, None]
        for c in range(3):
            if not self.problem.body_force[c] or self.shape[c] < 2:
                continue
            m = np.zeros(fl.shape)
            n = self.shape[c]
            first = 1 if self.periodic[c] else 2
            face, before = [slice(1, -1)] * 3, [slice(1, -1)] * 3
            face[c], before[c] = slice(first, n + 1), slice(first - 1, n)
            m[tuple(face)] = fl[tuple(face)] & fl[tuple(before)]
            self._force_mask[c] = self.be.asarray(m, self.dtype)

    def _build_energy(self):
        """Conductances (W/K), capacities (J/K) and sources (W) of the energy equation."""
        p, g = self.problem, self.problem.grid
        fl = p.fluid
        k = np.full((3, *self.shape), fl.conductivity)
        rhoc = np.full(self.shape, fl.volumetric_heat_capacity)
        power = np.zeros(self.shape)
        vol = g.cell_volumes()
        for n, b in enumerate(p.blocks):
            m = self._block_index == n
            kb = np.broadcast_to(np.asarray(b.conductivity, float), (3,))
            for a in range(3):
                k[a][m] = kb[a]
            rhoc[m] = b.density * b.specific_heat
            if b.power:
                power[m] = b.power * vol[m] / vol[m].sum()
        power += self._porous_power_host
        h = [g.spacing(a) for a in range(3)]
        G = []
        for a in range(3):
            others = [b for b in range(3) if b != a]
            area = np.multiply.outer(h[others[0]], h[others[1]])
            shp = [1, 1, 1]
            shp[a] = -1
            half = (0.5 * h[a]).reshape(shp) / k[a]     # half-cell resistance x area
            n = self.shape[a]
            lo = [slice(None)] * 3
            hi = [slice(None)] * 3
            lo[a], hi[a] = slice(0, n - 1), slice(1, n)
            Gi = 1.0 / (half[tuple(lo)] + half[tuple(hi)])
            first = [slice(None)] * 3
            last = [slice(None)] * 3
            first[a], last[a] = slice(0, 1), slice(n - 1, n)
            gb = []
            for side, sl in ((0, first), (1, last)):
                b = p.boundaries[FACES[2 * a + side]]
                dirichlet = b.temperature is not None and b.kind != "outflow"
                if b.kind == "periodic":      # the wrap face: last cell's half + first's
                    gb.append(1.0 / (half[tuple(first)] + half[tuple(last)]))
                    continue
                gb.append(1.0 / half[tuple(sl)] if dirichlet else np.zeros_like(half[tuple(sl)]))
                if b.heat_flux is not None:
                    power[tuple(sl)] += b.heat_flux * np.expand_dims(area, a)
            Gf = np.concatenate([gb[0], Gi, gb[1]], axis=a)
            Gf = Gf * np.expand_dims(area, a)
            G.append(Gf)
        self._G_host = G
        self._C_host = rhoc * vol
        self._k_host = k
        self._power_host = power
        be, dt_ = self.be, self.dtype
        self.G = [be.asarray(x, dt_) for x in G]
        self.q = be.asarray(power, dt_)
        # the stable explicit step of pure conduction, per cell: C / sum G (a cold plate's
        # coupling to its coolant counts as a conductance)
        sumG = np.zeros(self.shape) if self._plate_host is None else self._plate_host[0].copy()
        for a in range(3):
            lo = [slice(None)] * 3
            hi = [slice(None)] * 3
            lo[a], hi[a] = slice(0, -1), slice(1, None)
            sumG += G[a][tuple(lo)] + G[a][tuple(hi)]
        # A steady state does not depend on the capacities, and a solid's (aluminium: 2,000
        # times air's per volume) would make a steady march in air take its thermal time
        # constant, hours of pseudo-time at the flow's step.  Steady marches give solids at
        # most the fluid's volumetric heat capacity, so they settle as fast as the fluid.
        C_steady = np.where(self._solid, np.minimum(self._C_host, fl.volumetric_heat_capacity
                                                    * vol), self._C_host)
        self._capacities = {}
        for steady, C in ((False, self._C_host), (True, C_steady)):
            inv_c = np.zeros((self.shape[0] + 2, self.shape[1] + 2, self.shape[2] + 2))
            inv_c[1:-1, 1:-1, 1:-1] = 1.0 / C
            with np.errstate(divide="ignore"):
                dtc = float(np.min(np.where(sumG > 0, C / sumG, np.inf)))
            self._capacities[steady] = (C, be.asarray(inv_c, dt_), dtc)
        self._use_capacities(steady=False)

    def _use_capacities(self, steady: bool) -> None:
        """The heat capacities the energy equation steps with: physical, or those of a
        steady march (solids capped at the fluid's)."""
        C, self.inv_C, self._dt_conduction = self._capacities[steady]
        self._C_energy = C
        ops = self._implicit_ops
        if ops is not None and ops["T"]["C"] is not C:
            ops["T"]["C"] = C
            self._implicit_dt = None            # refresh the capacity term on the next step

    def _build_pressure(self):
        """Pressure equation in conductance form (m^3 per m^2/s^2 of phi)."""
        g = self.problem.grid
        fl = self._fluid_host
        h = [g.spacing(a) for a in range(3)]
        G = []
        for a in range(3):
            others = [b for b in range(3) if b != a]
            area = np.expand_dims(np.multiply.outer(h[others[0]], h[others[1]]), a)
            d = self._d_host[a][1:].copy()              # centre distances of faces 0..n
            shp = [1, 1, 1]
            shp[a] = -1
            inner = [slice(1, -1)] * 3
            lo = list(inner)
            hi = list(inner)
            n = self.shape[a]
            lo[a] = slice(0, n + 1)
            hi[a] = slice(1, n + 2)
            both = (fl[tuple(lo)] != 0) & (fl[tuple(hi)] != 0)
            if self._held_host is not None:
                # a fixed-flow fan's faces keep their velocity: no pressure coupling there
                held = self._held_host[a][tuple(slice(1, n + 2) if b == a else slice(1, -1)
                                                for b in range(3))]
                both &= ~held
            Ga = np.where(both, area / d.reshape(shp), 0.0)
            # an outflow face holds phi = 0 half a cell away, not a cell away
            for side, idx in ((0, 0), (1, n)):
                if self.problem.boundaries[FACES[2 * a + side]].kind == "outflow":
                    sl = [slice(None)] * 3
                    sl[a] = idx
                    Ga[tuple(sl)] *= 2.0
            G.append(Ga)
        D = np.where(self._solid, 1.0, 0.0)
        self._singular = not any(b.kind == "outflow" for b in self.problem.boundaries.values())
        system = LinearSystem(G[0], G[1], G[2], D, np.zeros(self.shape))
        # Near-cubic cells (aspect ratio <= 2 everywhere): the pressure equation is nearly
        # isotropic and red-black Gauss-Seidel smooths it as well as line relaxation (same
        # CG iterations at 256^3), at a ninth of the cost per sweep on a GPU (0.15 against
        # 1.4 ms on an H200, where a line is a sequential recurrence).  Stretched grids keep
        # the line smoother, which stays robust where the coupling is anisotropic.
        spans = [h[a] for a in range(3) if self.shape[a] >= 2]
        aspect = max(float(np.max(x)) / float(np.min(y)) for x in spans for y in spans) \
            if spans else 1.0
        self.pressure_smoother = "rbgs" if aspect <= 2.0 else "zline"
        self._pmg = Multigrid(system, g.faces, self.be, self.dtype, solved=~self._solid,
                              singular=self._singular, smoother=self.pressure_smoother,
                              periodic=self.periodic)
        self._pop = tuple(self.be.asarray(a, self.dtype) for a in (G[0], G[1], G[2], D))
        self._fluid_cells = int((~self._solid).sum())
        w = np.zeros(self._fluid_host.shape)
        w[1:-1, 1:-1, 1:-1] = self._fluid_host[1:-1, 1:-1, 1:-1]
        self.fluid_weight = self.be.asarray(w, self.dtype)   # 1 in fluid cells, 0 elsewhere
        # round-off scale of the volume flow through a typical cell face, for the pressure
        # solve's absolute floor
        U = max([abs(v) for b in self.problem.boundaries.values() for v in b.velocity]
                + [1e-30])
        volume = float(np.prod(g.upper - g.lower))
        self._flux_scale = U * (volume / g.ncells) ** (2.0 / 3.0) * math.sqrt(g.ncells)
        self._flux_U = U
        self._speed = 0.0                   # largest face speed at the last stable_dt (m/s)
        self._steady_tolerance = None       # the steady criterion while marching to one
        # the length scale of the residuals (m): the domain's smallest extent
        self._length = min((float(f[-1] - f[0]) for f, n in zip(g.faces, self.shape)
                            if n >= 2), default=float(max(f[-1] - f[0] for f in g.faces)))

    def _initial_velocity(self, axis: int) -> np.ndarray:
        nx, ny, nz = self.shape
        a = np.zeros((nx + 2, ny + 2, nz + 2))
        v0 = self.problem.initial_velocity[axis]
        if v0:
            fl = self._fluid_host
            sl = [slice(1, -1)] * 3
            lo = list(sl)
            lo[axis] = slice(0, -2)
            a[tuple(sl)] = np.where((fl[tuple(sl)] != 0) & (fl[tuple(lo)] != 0), v0, 0.0)
        return a

    # -- boundary conditions -------------------------------------------------------------
    def _apply_bc(self, vel, T):
        """Fill the halos: wall and inflow velocities, zero-gradient copies at outflows and
        slip walls, wall and inflow temperatures."""
        p = self.problem
        n = self.shape
        for f, b in p.boundaries.items():
            axis, side = FACES.index(f) // 2, FACES.index(f) % 2
            halo = n[axis] + 1 if side else 0
            inner = n[axis] if side else 1
            bface = n[axis] + 1 if side else 1          # boundary face of the normal array

            def at(i, ax=axis):
                sl = [slice(None)] * 3
                sl[ax] = i
                return tuple(sl)
            if b.kind == "periodic":                       # filled below, after the rest
                continue
            for c in range(3):
                if c == axis:
                    continue
                if b.kind in ("wall", "inflow"):
                    vel[c][at(halo)] = b.velocity[c]
                else:                                      # slip, outflow: zero gradient
                    vel[c][at(halo)] = vel[c][at(inner)]
            if b.kind in ("wall", "slip"):
                vel[axis][at(bface)] = 0.0
            elif b.kind == "inflow":
                vel[axis][at(bface)] = self._inflow_value(f)
            # temperature halo
            if b.kind == "periodic":
                continue
            if b.kind == "outflow" or b.temperature is None:
                T[at(halo)] = T[at(inner)]
            else:
                T[at(halo)] = b.temperature
        # last, so that edges and corners shared with other faces wrap too
        if any(self.periodic):
            for a in (*vel, T):
                wrap_halos(a, self.periodic)
        if getattr(self, "_held", None) is not None:
            for c in range(3):                      # fixed-flow fans' faces
                if self._held[c] is not None:
                    keep, value = self._held[c]
                    vel[c] *= keep
                    vel[c] += value

    def _inflow_value(self, face: str):
        if face not in self._inflow_cache:
            b = self.problem.boundaries[face]
            axis = FACES.index(face) // 2
            prof = _inflow_profile(self.problem, face) * b.velocity[axis]
            # solids at the face take no flow (an inflow over part of a face)
            side = FACES.index(face) % 2
            fl = self._fluid_host[1:-1, 1:-1, 1:-1]
            prof = prof * (fl.take(self.shape[axis] - 1 if side else 0, axis=axis) != 0)
            pad = np.zeros(tuple(s + 2 for i, s in enumerate(self.shape) if i != axis))
            pad[1:-1, 1:-1] = prof
            self._inflow_cache[face] = self.be.asarray(pad, self.dtype)
        return self._inflow_cache[face]

    def _outflow_extrapolate(self, vel):
        """Predicted normal velocity on outflow faces: zero gradient from the face behind."""
        for f, b in self.problem.boundaries.items():
            if b.kind != "outflow":
                continue
            axis, side = FACES.index(f) // 2, FACES.index(f) % 2
            n = self.shape[axis]
            sl = [slice(None)] * 3
            sl2 = [slice(None)] * 3
            sl[axis], sl2[axis] = (n + 1, n) if side else (1, 2)
            vel[axis][tuple(sl)] = vel[axis][tuple(sl2)]

    # -- the step ---------------------------------------------------------------------------
    def _momentum_source(self, c: int, vel, T) -> None:
        """self._rhs = the explicit momentum right-hand side of component ``c`` (m/s^2):
        advection, viscous diffusion, buoyancy and the body force."""
        be, p, fl = self.be, self.problem, self.problem.fluid
        be.momentum_rhs(c, vel, self.fluid, T, self.h, self.d, fl.kinematic_viscosity,
                        fl.expansion * p.gravity[c], p.reference_temperature, self._rhs,
                        periodic=self.periodic[c], upwind=self._upwind)
        if self._force_mask[c] is not None:
            be.axpy(self._rhs, p.body_force[c], self._force_mask[c])
        if self._fan_source[c] is not None:
            be.axpy(self._rhs, 1.0, self._fan_source[c])
        if self.turbulence is not None:
            self.turbulence.add_momentum(c, vel, self._rhs, self._computed[c])

    def _momentum(self, vel, T, dt, out):
        """out = vel + dt * (momentum right-hand side), components in turn."""
        be = self.be
        for c in range(3):
            if self.shape[c] < 2:
                be.lincomb(out[c], 1.0, vel[c], 0.0, vel[c])
                continue
            self._momentum_source(c, vel, T)
            if self._incremental:
                # the last pressure gradient goes into the predictor, so that a porous
                # sink (below) sees the whole force and the steady state does not depend
                # on the step; the projection then solves for the increment
                be.correct(c, self._rhs, self.phi, self.fluid, self.d, 1.0)
            be.lincomb(out[c], 1.0, vel[c], dt, self._rhs)
            if self._drag is not None and self._drag[c] is not None:
                # Darcy-Forchheimer sink, point-implicit with the stage's |u| (stable for
                # any resistance; steady state: rhs = (a + b |u|) u exactly)
                a, b = self._drag[c]
                out[c] /= 1.0 + dt * (a + b * be.xp.abs(vel[c]))
        # boundary-normal faces keep their prescribed values
        self._apply_bc(out, T)
        self._outflow_extrapolate(out)

    def _project(self, vel, dt, incremental: bool = False):
        """Make ``vel`` divergence-free.  ``incremental``: the predictor already carried the
        last pressure gradient, so the solve is for the increment, added to phi."""
        be = self.be
        be.divergence_rhs(vel, self.fluid, self.h, dt, self._pb)
        if self._singular:
            # a closed domain: the discrete divergence sums to zero up to round-off;
            # remove that round-off so the system stays consistent
            s = be.dot(self._pb, self.fluid_weight)
            be.axpy(self._pb, -s / self._fluid_cells, self.fluid_weight)
        phi = self._psi if incremental else self.phi
        if incremental:
            phi.fill(0)
        self._fill_phi_halo(phi, mirror=False)     # the solver's halo is zero
        try:
            st = pcg(be, self._pop, self._pb, phi, self._pmg.apply,
                     self.pressure_tolerance, 500, work=self._pwork,
                     atol=self._pressure_atol(dt, incremental),
                     fill_halo=self._pmg.fill_halo if any(self.periodic) else None)
        except SolverError:
            # the pressure equation itself is fine; its right-hand side is not (NaN or inf
            # velocities): the step was unstable
            raise self._diverged("the pressure solve met non-finite velocities") from None
        if not st.converged:
            raise SolverError(f"the pressure solve did not converge (residual "
                              f"{st.residual:.1e} after {st.iterations} iterations): reduce "
                              "the time step (cfl) or check the flow boundaries")
        self.stats.pressure_iterations += st.iterations
        self.stats.pressure_solves += 1
        if st.iterations and st.history[0] > 0:
            self._log_reduction += math.log(max(st.residual, 1e-300) / st.history[0])
            self._log_iters += st.iterations
        self._fill_phi_halo(phi, mirror=True)
        for c in range(3):
            if self.shape[c] >= 1:
                be.correct(c, vel[c], phi, self.fluid, self.d, dt)
        if incremental:
            be.axpy(self.phi, 1.0, phi)            # halos too: they stay consistent

    def _diverged(self, where: str) -> SolverError:
        """The error for a step that blew up inside a linear solve (``where`` says which)."""
        return SolverError(f"the flow diverged at step {self.stats.steps + 1} (t = "
                           f"{self.stats.time:.4g} s; {where}): lower cfl (now {self.cfl}) "
                           "or refine the grid where the velocity is largest")

    def _pressure_atol(self, dt: float, incremental: bool = False) -> float:
        """Absolute floor of the pressure residual (m^3/s^2): round-off of the volume
        flows at the velocity scale, so that re-projecting a divergence-free field stops.
        An increment's right-hand side is only what the last pressure gradient left
        undone, so a tolerance relative to it alone would ask far more than a whole solve
        does: there the floor is the pressure tolerance times the volume flows at the
        current speed (cells left with that fraction of a typical face's flow)."""
        eps = 1e-13 if self.dtype == np.float64 else 1e-6
        floor = eps * self._flux_scale / dt
        if incremental:
            U = max(self._speed, 1e-30)
            tol = self.pressure_tolerance
            if self._steady_tolerance:
                # what the solve leaves undone shows up in every step's velocity change, so
                # in the steady residual max|du/dt| L/U^2 as ~10 tol L/(U dt) (measured, de
                # Vahl Davis Ra 1e4 on 64^2: a plateau at 1.5e-6 with tol 1e-9); keep it
                # a tenth of the steady criterion, however small the step
                tol = min(tol, 0.01 * self._steady_tolerance * U * dt / self._length)
            floor = max(floor, tol * self._flux_scale / self._flux_U * U / dt)
        return floor

    def _fill_phi_halo(self, phi, mirror: bool):
        """Mirror phi into outflow halos (zero pressure on the face) for the correction, or
        zero them for the solver; elsewhere the halo is never used across a face."""
        n = self.shape
        wrap_halos(phi, self.periodic)
        for f, b in self.problem.boundaries.items():
            if b.kind != "outflow":
                continue
            axis, side = FACES.index(f) // 2, FACES.index(f) % 2
            sl = [slice(None)] * 3
            sl2 = [slice(None)] * 3
            sl[axis], sl2[axis] = (n[axis] + 1, n[axis]) if side else (0, 1)
            if mirror:
                phi[tuple(sl)] = -phi[tuple(sl2)]
            else:
                phi[tuple(sl)] = 0.0

    def _energy(self, T, vel, dt, out):
        """out = T + dt * (net heat into the cell) / C."""
        be = self.be
        be.energy_rhs(T, vel, self.fluid, self.G, self.problem.fluid.volumetric_heat_capacity,
                      self.q, self.h, self.d, self._Q, periodic=self.periodic)
        self._add_cold_plates(self._Q, T)
        self._Q *= self.inv_C                     # in place: no temporary per stage
        be.lincomb(out, 1.0, T, dt, self._Q)

    def _add_cold_plates(self, Q, T) -> None:
        """Q += the heat cold-plated chips put into their cells' air (W), each cell's share
        ``G (T_nl - T)`` (T_nl: the case temperature with no air path)."""
        if self._plate is None:
            return
        idx, g, gt = self._plate
        Qf = Q.reshape(-1)
        Qf[idx] += gt - g * T.reshape(-1)[idx]

    # -- implicit diffusion (steady marches) ---------------------------------------------------
    def _viscous_operator(self, c: int):
        """The viscous operator of velocity component ``c`` in conductance form (m^3/s), the
        linear part of :meth:`momentum_rhs` times the face's control volume: unknowns are
        the faces 1..n along ``c`` (interior index q is face q+1), the computed ones those
        with fluid on both sides (and not a wall-bounded axis's first face).  A neighbour
        whose value is held (a wall, a solid, an inflow, a boundary-normal face) moves its
        conductance into the diagonal; one that copies its neighbour (slip and outflow
        halos, outflow faces) drops out; across a periodic wrap the boundary faces couple.
        Returns (G per axis, diagonal D_fix, control volume V, computed mask)."""
        nu = self.problem.fluid.kinematic_viscosity
        n = self.shape
        fl = self._fluid_host != 0
        H, Dd = self._h_host, self._d_host
        kinds = [(self.problem.boundaries[FACES[2 * a]].kind,
                  self.problem.boundaries[FACES[2 * a + 1]].kind) for a in range(3)]

        def along(v, a):
            shp = [1, 1, 1]
            shp[a] = -1
            return np.asarray(v, float).reshape(shp)

        def cut(x, a, sl):
            idx = [slice(None)] * 3
            idx[a] = sl
            return tuple(idx)

        lo = [slice(1, -1)] * 3
        hi = [slice(1, -1)] * 3
        lo[c], hi[c] = slice(0, n[c]), slice(1, n[c] + 1)
        comp = fl[tuple(lo)] & fl[tuple(hi)]
        if not self.periodic[c]:
            comp[cut(comp, c, 0)] = False
        width = [along(H[a][1:-1], a) for a in range(3)]
        V = np.broadcast_to(along(Dd[c][1:n[c] + 1], c) * width[(c + 1) % 3]
                            * width[(c + 2) % 3], n).copy()
        Dfix = np.zeros(n)
        G = []
        for a in range(3):
            na = n[a]
            X = nu * np.ones((1, 1, 1))
            for b in range(3):
                if b != a and b != c:
                    X = X * width[b]
            if a == c:
                dist = H[c][0:na + 1]              # box face f: faces f, f+1 through cell f
                Gp = X / along(dist, a)
                fix_up, fix_dn = Gp[cut(Gp, a, slice(1, None))], Gp[cut(Gp, a, slice(0, na))]
            else:
                X = X * along(Dd[c][1:n[c] + 1], c)
                Gp = X / along(Dd[a][1:na + 2], a)
                fix_up = fix_dn = X / along(0.5 * H[a][1:-1], a)
            shape = list(n)
            shape[a] = na + 1
            Gp = np.broadcast_to(Gp, shape)
            fix_up = np.broadcast_to(fix_up, n)
            fix_dn = np.broadcast_to(fix_dn, n)
            Ga = np.zeros(shape)
            cl, ch = comp[cut(comp, a, slice(0, na - 1))], comp[cut(comp, a, slice(1, na))]
            Ga[cut(Ga, a, slice(1, na))] = np.where(cl & ch, Gp[cut(Gp, a, slice(1, na))], 0)
            up = cl & ~ch                           # the neighbour above is held
            dn = ch & ~cl
            if a == c and not self.periodic[c] and kinds[c][0] == "outflow" and na >= 2:
                dn[cut(dn, a, 0)] = False           # face 1 copies face 2
            Dfix[cut(Dfix, a, slice(0, na - 1))] += np.where(
                up, fix_up[cut(fix_up, a, slice(0, na - 1))], 0)
            Dfix[cut(Dfix, a, slice(1, na))] += np.where(
                dn, fix_dn[cut(fix_dn, a, slice(1, na))], 0)
            first, last = comp[cut(comp, a, slice(0, 1))], comp[cut(comp, a, slice(na - 1, na))]
            if self.periodic[a]:
                wrap = np.where(first & last, Gp[cut(Gp, a, slice(na, na + 1))], 0)
                Ga[cut(Ga, a, slice(0, 1))] = wrap
                Ga[cut(Ga, a, slice(na, na + 1))] = wrap
                Dfix[cut(Dfix, a, slice(na - 1, na))] += np.where(
                    last & ~first, fix_up[cut(fix_up, a, slice(na - 1, na))], 0)
                Dfix[cut(Dfix, a, slice(0, 1))] += np.where(
                    first & ~last, fix_dn[cut(fix_dn, a, slice(0, 1))], 0)
            elif a == c:
                if kinds[a][1] != "outflow":
                    Ga[cut(Ga, a, slice(na, na + 1))] = np.where(
                        last, Gp[cut(Gp, a, slice(na, na + 1))], 0)
            else:
                if kinds[a][0] in ("wall", "inflow"):
                    Ga[cut(Ga, a, slice(0, 1))] = np.where(
                        first, fix_dn[cut(fix_dn, a, slice(0, 1))], 0)
                if kinds[a][1] in ("wall", "inflow"):
                    Ga[cut(Ga, a, slice(na, na + 1))] = np.where(
                        last, fix_up[cut(fix_up, a, slice(na - 1, na))], 0)
            G.append(Ga)
        return tuple(G), Dfix, V, comp

    def _build_implicit(self):
        """Operators and multigrid hierarchies of the implicit steps (once, on first use):
        energy ``(C / dt + L_k)``, each velocity component ``(V / dt + nu L)``."""
        be, dt_ = self.be, self.dtype
        faces = self.problem.grid.faces
        pad = tuple(s + 2 for s in self.shape)
        ops = {}
        zero = np.zeros(self.shape)
        sysT = LinearSystem(*self._G_host, self._C_host.copy(), zero)
        ops["T"] = dict(mg=Multigrid(sysT, faces, be, dt_, periodic=self.periodic),
                        C=self._C_energy, fix=np.zeros(self.shape), solved=None)
        for c in range(3):
            if self.shape[c] < 2:
                continue
            G, Dfix, V, comp = self._viscous_operator(c)
            D = np.where(comp, V + Dfix, 1.0)
            mg = Multigrid(LinearSystem(*G, D, zero), faces, be, dt_, solved=comp,
                           smoother=self.pressure_smoother, periodic=self.periodic)
            b = np.zeros(pad)
            b[1:-1, 1:-1, 1:-1] = np.where(comp, V, 0.0)
            ops[c] = dict(mg=mg, C=V, fix=Dfix, solved=comp, weight=be.asarray(b, dt_))
        for op in ops.values():
            lev = op["mg"].levels[0]
            op["op"] = (lev.Gx, lev.Gy, lev.Gz, lev.D)
        self._implicit_ops = ops
        self._implicit_dt = None
        self._dx = be.zeros(pad, dt_)
        self._iwork = [be.zeros(pad, dt_) for _ in range(5)]

    def _prepare_implicit(self, dt: float) -> None:
        if self._implicit_ops is None:
            self._build_implicit()
        if dt == self._implicit_dt:
            return
        for op in self._implicit_ops.values():
            D = op["C"] / dt + op["fix"]
            if op["solved"] is not None:
                D = np.where(op["solved"], D, 1.0)
            op["mg"].set_capacity(D)
        self._implicit_dt = dt

    def _solve_implicit(self, op: dict, b, x) -> None:
        """x = (C / dt + L)^-1 b, from zero (b and x carry zero halos)."""
        x.fill(0)
        # any fixed fraction of the increment leaves the converged state (R = 0) where it
        # is; 1e-6 keeps the march's path that of the exact implicit step
        tol = 1e-6 if self.dtype == np.float64 else 1e-4
        mg = op["mg"]
        try:
            st = pcg(self.be, op["op"], b, x, mg.apply, tol, 200, work=self._iwork,
                     fill_halo=mg.fill_halo if any(self.periodic) else None)
        except SolverError:
            # the operator is positive definite by construction: its right-hand side was not
            # finite, so the step had already blown up
            raise self._diverged("an implicit diffusion solve met non-finite values") from None
        if not st.converged:
            raise SolverError(f"an implicit diffusion solve did not converge (residual "
                              f"{st.residual:.1e} after {st.iterations} iterations) at step "
                              f"{self.stats.steps + 1}: lower cfl (now {self.cfl})")
        self.stats.implicit_iterations += st.iterations
        self.stats.implicit_solves += 1

    def _momentum_implicit(self, vel, T, dt, out):
        """out = vel + delta, (V / dt + nu L) delta = V (momentum right-hand side minus the
        last pressure gradient), components in turn."""
        be = self.be
        for c in range(3):
            if self.shape[c] < 2:
                be.lincomb(out[c], 1.0, vel[c], 0.0, vel[c])
                continue
            self._momentum_source(c, vel, T)
            be.correct(c, self._rhs, self.phi, self.fluid, self.d, 1.0)
            op = self._implicit_ops[c]
            self._rhs *= op["weight"]
            self._solve_implicit(op, self._rhs, self._dx)
            be.lincomb(out[c], 1.0, vel[c], 1.0, self._dx)
        self._apply_bc(out, T)
        self._outflow_extrapolate(out)

    def _energy_implicit(self, T, vel, dt, out):
        """out = T + delta, (C / dt + L_k) delta = net heat into the cell (W)."""
        be = self.be
        be.energy_rhs(T, vel, self.fluid, self.G, self.problem.fluid.volumetric_heat_capacity,
                      self.q, self.h, self.d, self._Q, periodic=self.periodic)
        self._solve_implicit(self._implicit_ops["T"], self._Q, self._dx)
        be.lincomb(out, 1.0, T, 1.0, self._dx)

    def stable_dt(self) -> float:
        """Largest stable step (s): advective CFL, viscous and conductive limits."""
        xp = self.be.xp
        # the eddy viscosity and fan pressure rises of the coming step first: the step's
        # length depends on them
        self._update_components()
        self._components_fresh = True
        inv = 0.0
        rate = usum = hloc = None
        for c in range(3):
            if self.shape[c] < 2 and not xp.any(self.vel[c]):
                continue
            hmin = self.h[c][1:-1]
            shp = [1, 1, 1]
            shp[c] = -1
            hc = hmin.reshape(shp)
            u = xp.abs(self.vel[c][1:-1, 1:-1, 1:-1])
            speed = u / hc
            rate = speed if rate is None else rate + speed
            usum = u if usum is None else usum + u
            hloc = hc if hloc is None else xp.minimum(hloc, hc)
        umax2 = 0.0
        central = 0.0
        nu_lam = self.problem.fluid.kinematic_viscosity
        if rate is not None:
            inv = float(rate.max())
            umax = [float(xp.abs(self.vel[c]).max()) for c in range(3)]
            umax2 = sum(u * u for u in umax)
            # the cell where central advection is least damped: largest |u|^4 / h^2
            # (squared on the host: |u|^4 overflows float32 long before the run diverges)
            with np.errstate(over="ignore"):
                x = usum * usum / hloc
                if self.turbulence is not None:
                    # the eddy viscosity damps central advection as the laminar one does
                    x = x / xp.sqrt((nu_lam + self.turbulence.nut[1:-1, 1:-1, 1:-1]) / nu_lam)
                central = float(x.max()) ** 2
            if not (math.isfinite(central) and math.isfinite(inv)):
                raise self._diverged("the velocities overflowed")
        self._speed = math.sqrt(umax2)
        nu = self.problem.fluid.kinematic_viscosity
        visc = sum(1.0 / float(np.min(h[1:-1])) ** 2 for h, n in zip(self._h_host, self.shape)
                   if n >= 2)
        # one combined explicit limit: advection, viscous and conductive rates add up
        total = inv + 2.0 * nu * visc + 1.0 / self._dt_conduction
        if self.turbulence is not None:
            total += self.turbulence.rate + self.turbulence.wall_rate
        dt_explicit = self.cfl / total if total > 0 else math.inf
        dt_implicit = self.cfl / inv if inv > 0 else math.inf
        # the fluid at rest starts to move under buoyancy or a body force: an implicit step
        # may not carry it further than cfl cells of the smallest size in one step
        choose = self.diffusion == "auto" and self._steady_tolerance is not None
        acc = self._acceleration_scale() if self.implicit or choose else 0.0
        if acc > 0:
            hmin = min(float(np.min(h[1:-1])) for h, n in zip(self._h_host, self.shape)
                       if n >= 2)
            dt_implicit = min(dt_implicit, math.sqrt(self.cfl * hmin / acc))
        # central advection is stable only while viscosity damps it.  For Heun's two
        # stages the von Neumann bound (worst mode k h = pi/2) is a Courant number
        # C <= (16 / Re_h)^(1/3) at cell Reynolds numbers Re_h = |u| h / nu above ~4, i.e.
        # dt <= (16 nu h^2 / |u|^4)^(1/3), with diffusion explicit or implicit alike
        # (forward Euler's dt <= 2 nu / |u|^2 would be ten times smaller at Re_h = 30).
        # Taken cell by cell with the sum of the local speeds and the cell's smallest width
        # (conservative in 2D and 3D, checked on diagonal modes), then times cfl.  Local,
        # not the largest speed with the smallest cell: on a wall-clustered grid those two
        # sit in different cells, and their product bound Ra 1e4 at half its CFL step.
        if central > 0 and nu > 0 and not self._upwind:
            bound = self.cfl * (16.0 * nu / central) ** (1.0 / 3.0)
            dt_explicit, dt_implicit = min(dt_explicit, bound), min(dt_implicit, bound)
        if not math.isfinite(dt_explicit):
            L = min(float(np.sum(h[1:-1])) for h in self._h_host)
            U = max(abs(v) for b in self.problem.boundaries.values() for v in b.velocity) or 1.0
            dt_explicit = self.cfl * L / U
        if not math.isfinite(dt_implicit):
            dt_implicit = dt_explicit
        # steps on a ladder of 2^(1/4): the implicit operators change only when the step
        # moves to another rung (a zero step, from velocities overflowing, is left to the
        # step's divergence check)
        if dt_implicit > 0:
            dt_implicit = 2.0 ** (math.floor(4.0 * math.log2(dt_implicit)) / 4.0)
        if choose:
            # a steady march takes whichever step covers more time per unit of work.  An
            # implicit step costs about three explicit ones (eight diffusion solves; the
            # 16^3 air channel of benchmarks/flow_step.py: 9.5 against 3.0 ms), so it is
            # taken once its step is 4x longer, and left below 2x (no flapping)
            gain = dt_implicit / dt_explicit
            self.implicit = gain > (2.0 if self.implicit else 4.0)
        return dt_implicit if self.implicit else dt_explicit

    def _acceleration_scale(self) -> float:
        """Largest acceleration the sources can give the fluid (m/s^2): buoyancy over the
        case's temperature range, plus the body force."""
        p = self.problem
        temps = [b.temperature for b in p.boundaries.values() if b.temperature is not None]
        temps += [p.initial_temperature, p.reference_temperature]
        xp = self.be.xp
        Ti = self.T[1:-1, 1:-1, 1:-1]
        span = max(max(temps) - min(temps), float(xp.max(Ti) - xp.min(Ti)))
        g = math.sqrt(sum(x * x for x in p.gravity))
        f = math.sqrt(sum(x * x for x in p.body_force))
        return abs(p.fluid.expansion) * g * span + f

    def step(self, dt: float | None = None) -> float:
        """Advance one Heun step; returns the step used (s)."""
        be = self.be
        dt = self.stable_dt() if dt is None else dt
        v0, T0 = self.vel, self.T
        v1, T1, vw = self._vel1, self._T1, self._velw
        imp = self.implicit
        self.stats.diffusion = "implicit" if imp else "explicit"
        if imp:
            self._prepare_implicit(dt)
        if not self._components_fresh:
            self._update_components()
        self._components_fresh = False
        if self._local_energy:
            self._local_capacities(dt)
        energy = self._energy_implicit if imp else self._energy
        momentum = self._momentum_implicit if imp else self._momentum
        incremental = imp or self._incremental
        # stage 1
        energy(T0, v0, dt, T1)
        self._hold_coolers(T1)
        momentum(v0, T0, dt, v1)
        self._project(v1, dt, incremental)
        self._apply_bc(v1, T1)
        # stage 2: w = v1 + dt F(v1), projected; v_new = (v0 + w) / 2
        energy(T1, v1, dt, self._Tw)
        self._hold_coolers(self._Tw)
        momentum(v1, T1, dt, vw)
        self._project(vw, dt, incremental)
        self._apply_bc(vw, self._Tw)
        du = max(be.max_abs_diff(vw[c], v0[c]) for c in range(3)) * 0.5
        dT = be.max_abs_diff(self._Tw, T0) * 0.5
        for c in range(3):
            be.lincomb(v0[c], 0.5, v0[c], 0.5, vw[c])
        be.lincomb(T0, 0.5, T0, 0.5, self._Tw)
        self._apply_bc(v0, T0)
        self.stats.steps += 1
        self.stats.time += dt
        self.stats.dt = dt
        self._last = (du / dt, dT / dt)
        return dt

    def _local_capacities(self, dt: float) -> None:
        """Local time steps for the energy equation of a steady march: each cell's heat
        capacity lowered to twice what its conductances and advective flows allow at this
        step (never above the steady march's own), so that every cell relaxes at its own
        stability limit.  The steady state does not depend on capacities; recirculation
        zones, which exchange heat with the through-flow by diffusion only, then settle in
        hundreds of steps instead of tens of thousands (a hall: 30,000 steps left 0.12 % of
        the power still being stored)."""
        be, xp = self.be, self.be.xp
        if self._lc is None:
            n = self.shape
            sumG = np.zeros([x + 2 for x in n])
            if self._plate_host is not None:
                sumG[1:-1, 1:-1, 1:-1] = self._plate_host[0]
            for a in range(3):
                lo = [slice(None)] * 3
                hi = [slice(None)] * 3
                lo[a], hi[a] = slice(0, -1), slice(1, None)
                sumG[1:-1, 1:-1, 1:-1] += self._G_host[a][tuple(lo)] + self._G_host[a][tuple(hi)]
            rhoc = self.problem.fluid.volumetric_heat_capacity
            area = [be.asarray(rhoc * self._face_area(a) * (self._fluid_host != 0), self.dtype)
                    for a in range(3)]
            inner = np.zeros(sumG.shape)
            inner[1:-1, 1:-1, 1:-1] = 1.0
            self._lc = (be.asarray(sumG, self.dtype), area, be.asarray(inner, self.dtype),
                        self.inv_C)
        sumG, area, inner, inv_steady = self._lc
        rate = sumG.copy()
        if self.turbulence is not None:           # eddy conductances change every step
            rate.fill(0)
            if self._plate is not None:
                rate.reshape(-1)[self._plate[0]] = self._plate[1]
            for a in range(3):
                lo = [slice(None)] * 3
                hi = [slice(None)] * 3
                lo[a], hi[a] = slice(0, -1), slice(1, None)
                rate[1:-1, 1:-1, 1:-1] += self.G[a][tuple(lo)] + self.G[a][tuple(hi)]
        n = self.shape
        for a in range(3):
            f = xp.abs(self.vel[a]) * area[a]
            lo = [slice(1, -1)] * 3
            hi = [slice(1, -1)] * 3
            lo[a], hi[a] = slice(1, n[a] + 1), slice(2, n[a] + 2)
            rate[1:-1, 1:-1, 1:-1] += f[tuple(lo)] + f[tuple(hi)]
        # (cells with no conductance or flow, and the halo, keep the steady march's own)
        with np.errstate(divide="ignore"):
            inv = xp.where(rate > 0, 0.5 / (dt * rate), inv_steady)
        self.inv_C = xp.maximum(inv, inv_steady) * inner

    def _hold_coolers(self, T) -> None:
        """Cooler cells take their supply temperature."""
        if self._cooler is not None:
            keep, add = self._cooler
            T *= keep
            T += add

    def scales(self) -> tuple[float, float, float]:
        """Velocity (m/s), length (m) and temperature difference (K) scales of the run."""
        p = self.problem
        L = self._length
        U = max([abs(v) for b in p.boundaries.values() for v in b.velocity] + [0.0])
        umax = max(float(self.be.xp.abs(v).max()) for v in self.vel)
        U = max(U, umax, 1e-30)
        temps = [b.temperature for b in p.boundaries.values() if b.temperature is not None]
        temps.append(p.initial_temperature)
        dT = max(temps) - min(temps)
        xp = self.be.xp
        Ti = self.T[1:-1, 1:-1, 1:-1]
        dT = max(dT, float(xp.max(Ti) - xp.min(Ti)))
        return U, L, dT

    # -- checkpoints -----------------------------------------------------------------------
    _STATE_ATTRS = ("steps", "time", "dt", "pressure_iterations", "pressure_solves",
                    "residual_velocity", "residual_temperature", "wall_time",
                    "implicit_iterations", "implicit_solves", "stored_fraction")

    def state(self) -> tuple[dict, dict]:
        """Everything the rest of the run depends on, on the host: the face velocities,
        temperature and pressure with their halos (arrays), and the counters (attributes)."""
        host = self.be.to_host
        arrays = {"u": host(self.vel[0]), "v": host(self.vel[1]), "w": host(self.vel[2]),
                  "T": host(self.T), "phi": host(self.phi),
                  "history": np.asarray(self.stats.history, float).reshape(-1, 4)}
        attrs = {k: getattr(self.stats, k) for k in self._STATE_ATTRS}
        attrs.update(log_reduction=self._log_reduction, log_iters=self._log_iters,
                     last=np.asarray(getattr(self, "_last", (math.inf, math.inf))),
                     implicit=int(self.implicit), dtype=self.dtype.name)
        return arrays, attrs

    def load_state(self, arrays: dict, attrs: dict, file: str | None = None) -> None:
        """Continue from :meth:`state` (a checkpoint of this same problem)."""
        if str(attrs.get("dtype")) != self.dtype.name or arrays["T"].shape != self.T.shape:
            raise CaseError("the checkpoint was written with another precision or grid; "
                            "delete it to start afresh", None, file)
        for c, k in enumerate("uvw"):
            self.vel[c][...] = self.be.asarray(arrays[k], self.dtype)
        self.T[...] = self.be.asarray(arrays["T"], self.dtype)
        self.phi[...] = self.be.asarray(arrays["phi"], self.dtype)
        for k in self._STATE_ATTRS:
            if k in attrs:                  # (counters added since may be missing)
                setattr(self.stats, k, type(getattr(self.stats, k))(attrs[k]))
        self.stats.history = [tuple(r) for r in np.asarray(arrays["history"]).tolist()]
        self._log_reduction = float(attrs["log_reduction"])
        self._log_iters = int(attrs["log_iters"])
        self._last = tuple(float(x) for x in attrs["last"])
        if self.diffusion == "auto" and "implicit" in attrs:
            self.implicit = bool(attrs["implicit"])     # the step treatment "auto" had

    def run(self, steady: bool = True, end_time: float | None = None,
            tolerance: float = 1e-6, max_steps: int = 1_000_000,
            progress: Callable | None = None, check_every: int = 10,
            checkpoint=None, energy_tolerance: float | None = None) -> FlowResult:
        """March to a steady state (``steady``) or to ``end_time`` (s).  ``progress`` is
        called as progress(step, time, residual_velocity, residual_temperature).
        ``checkpoint`` (a :class:`thermosim.checkpoint.Checkpointer`): the state is saved
        whenever it is due and on Ctrl-C, which then raises :class:`Interrupted`.
        ``energy_tolerance``: a steady march is converged once the velocity residual is
        below ``tolerance`` and the heat still being stored is below this fraction of the
        power (instead of the temperature residual, a largest-cell measure that recirculation
        zones, exchanging heat with the rest only by diffusion, hold up for a long time)."""
        # with diffusion "auto", steady marches choose per step (stable_dt), starting from
        # the treatment of the last step (kept in checkpoints); transients stay explicit
        self._steady_tolerance = tolerance if steady and end_time is None else None
        if self.diffusion == "auto" and self._steady_tolerance is None:
            self.implicit = False
        self._use_capacities(steady=self._steady_tolerance is not None)
        # components (porous blocks, fans, coolers) mark room-scale cases: their steady
        # marches take local time steps in the energy equation
        p = self.problem
        self._local_energy = self._steady_tolerance is not None and not self.implicit and \
            bool(p.porous or p.fans or p.coolers)
        self._lc = None
        try:
            self._energy_tolerance = energy_tolerance
            self.stats.converged = False
            self.stats.stored_fraction = math.nan
            self.stats.stopped = ""
            return self._march(steady, end_time, tolerance, max_steps, progress, check_every,
                               checkpoint)
        except KeyboardInterrupt:
            if checkpoint is None:
                raise
            from .errors import Interrupted

            path = checkpoint.save_state(*self.state())
            raise Interrupted(f"interrupted at step {self.stats.steps} (t = "
                              f"{self.stats.time:.4g} s); the state is saved in {path}: run "
                              "again with --resume to continue from it") from None
        finally:
            # step() called directly afterwards is explicit again (with "auto"), with the
            # physical capacities
            self._energy_tolerance = None
            self._steady_tolerance = None
            self._local_energy = False
            self._use_capacities(steady=False)
            if self.diffusion == "auto":
                self.implicit = False

    def _march(self, steady, end_time, tolerance, max_steps, progress, check_every,
               checkpoint) -> FlowResult:
        t0 = time.perf_counter()
        st = self.stats
        while st.steps < max_steps:
            dt = self.stable_dt()
            if end_time is not None:
                if st.time >= end_time * (1 - 1e-12):
                    break
                dt = min(dt, end_time - st.time)
            self.step(dt)
            if st.steps % check_every == 0 or st.steps == 1:
                U, L, dT = self.scales()
                ru = self._last[0] * L / (U * U)
                # no temperature differences anywhere: the energy equation is idle
                rt = self._last[1] * L / (U * dT) if dT > 1e-9 else 0.0
                st.residual_velocity, st.residual_temperature = ru, rt
                st.history.append((st.steps, st.time, ru, rt))
                self._check_divergence(U, dt)
                if progress is not None:
                    progress(st.steps, st.time, ru, rt)
                if steady and end_time is None and st.steps > 2 and (
                        self._energy_settled(ru, tolerance) if self._energy_tolerance
                        else max(ru, rt) < tolerance):
                    st.converged = True
                    break
            if checkpoint is not None and checkpoint.due():
                st.wall_time += time.perf_counter() - t0
                t0 = time.perf_counter()
                checkpoint.save_state(*self.state())
        if self._log_iters:
            st.pressure_reduction = math.exp(self._log_reduction / self._log_iters)
        st.wall_time += time.perf_counter() - t0
        if steady and end_time is None and not st.converged:
            # the state reached is kept, so that a larger max_steps continues from it
            # (max_steps is not part of the checkpoint's fingerprint)
            more = "raise flow.max_steps"
            if checkpoint is not None:
                path = checkpoint.save_state(*self.state())
                more = (f"raise flow.max_steps and rerun with --resume to continue from step "
                        f"{st.steps} (saved in {path})")
            raise SolverError(f"no steady state after {st.steps} steps (velocity residual "
                              f"{st.residual_velocity:.1e}, temperature "
                              f"{st.residual_temperature:.1e}, tolerance {tolerance:.0e}): "
                              f"{more}, or, if the flow is unsteady, run it as a transient "
                              "(flow.end_time)")
        if end_time is not None and st.time < end_time * (1 - 1e-12):
            st.stopped = (f"stopped by max_steps ({max_steps:,}) at t = {st.time:.3g} s of "
                          f"{end_time:g} s")
        return self.result()

    def stored_fraction(self) -> float:
        """Heat being stored now over the power put into the fluid: the absolute net heat
        into every cell but the coolers' (whose heat they remove), summed, over the power
        (absolute values: zones warming and zones cooling do not cancel; cold-plated chips
        count with what they give the air, not what their coolant takes)."""
        be = self.be
        p = self.problem
        be.energy_rhs(self.T, self.vel, self.fluid, self.G, p.fluid.volumetric_heat_capacity,
                      self.q, self.h, self.d, self._Q, periodic=self.periodic)
        self._add_cold_plates(self._Q, self.T)
        if self._stored_weight is None:
            w = np.zeros([s + 2 for s in self.shape])
            w[1:-1, 1:-1, 1:-1] = 1.0
            if self._cooler is not None:
                w *= np.asarray(be.to_host(self._cooler[0]), float)
            self._stored_weight = be.asarray(w, self.dtype)
            self._power_in = float(self._power_host.sum())
        power = self._power_in
        if self._plate is not None:
            # the power put into the fluid: cold-plated chips give it only their air share
            # (all of the power if that is none: plates alone, in a fluid they cool)
            idx, g, gt = self._plate
            power += abs(float(be.xp.sum(gt - g * self.T.reshape(-1)[idx])))
            if power <= 0.0:
                power = sum(c.power for c in p.chips)
        return float(be.xp.sum(be.xp.abs(self._Q) * self._stored_weight)) / max(power, 1e-300)

    def _energy_settled(self, ru: float, tolerance: float) -> bool:
        tol = getattr(self, "_energy_tolerance", None)
        if tol is None or ru >= tolerance:
            return False
        self.stats.stored_fraction = self.stored_fraction()
        return self.stats.stored_fraction < tol

    def _check_divergence(self, U, dt):
        xp = self.be.xp
        bad = not math.isfinite(U) or not all(bool(xp.isfinite(v).all()) for v in self.vel) \
            or not bool(xp.isfinite(self.T).all())
        if bad:
            raise SolverError(f"the flow diverged (NaN) at step {self.stats.steps}, t = "
                              f"{self.stats.time:.4g} s: lower cfl (now {self.cfl}) or refine "
                              "the grid where the velocity is largest")
        ref = max([abs(v) for b in self.problem.boundaries.values() for v in b.velocity]
                  + [1e-30])
        if ref > 1e-20 and U > 1e3 * ref:
            raise SolverError(f"the velocity ran away to {U:.3g} m/s (1000 x the largest "
                              f"boundary velocity) at step {self.stats.steps}: lower cfl "
                              f"(now {self.cfl}) or check the boundary conditions")

    def result(self) -> FlowResult:
        be = self.be
        host = lambda a: np.asarray(be.to_host(a), dtype=np.float64)  # noqa: E731
        nx, ny, nz = self.shape
        u = host(self.vel[0])[1:nx + 2, 1:-1, 1:-1]
        v = host(self.vel[1])[1:-1, 1:ny + 2, 1:-1]
        w = host(self.vel[2])[1:-1, 1:-1, 1:nz + 2]
        phi = host(self.phi)[1:-1, 1:-1, 1:-1]
        if self._singular:
            phi = phi - phi[~self._solid].mean()
        Tpad = host(self.T)
        T = Tpad[1:-1, 1:-1, 1:-1]
        flows, power = self._heat_flows(Tpad, (u, v, w))
        comps = {}
        p = self.problem
        if p.coolers or p.porous:
            # net heat into each cell (W): sources plus advection and conduction from the
            # cells around
            be.energy_rhs(self.T, self.vel, self.fluid, self.G, p.fluid.volumetric_heat_capacity,
                          self.q, self.h, self.d, self._Q, periodic=self.periodic)
            self._add_cold_plates(self._Q, self.T)
            Q = host(self._Q)[1:-1, 1:-1, 1:-1]
            sources = np.asarray(self._power_host, float)
            if self._plate_host is not None:     # what cold-plated chips give their air
                sources = sources + self._plate_host[1] - self._plate_host[0] * T
        if p.coolers:
            # the heat a cooler removes: the net heat flow into its cells (it holds them at
            # the supply temperature)
            comps["coolers"] = []
            for c, sl in zip(p.coolers, self._cooler_slices):
                q = float(Q[sl].sum())
                flows[f"cooler {c.name}"] = q
                comps["coolers"].append({"name": c.name, "heat_removed": q,
                                         "supply_temperature": c.temperature})
        if p.fans:
            comps["fans"] = self.fan_operating_points()
        if p.chips:
            vol = p.grid.cell_volumes()
            comps["chips"] = []
            from .components import cold_plate_split

            liquid = 0.0
            for c, sl in zip(p.chips, self._chip_slices):
                air = float((T[sl] * vol[sl]).sum() / vol[sl].sum())
                row = {"heat_to_air": c.power, "heat_to_liquid": 0.0}
                if c.cold_plate is not None:
                    cp = c.cold_plate
                    row = cold_plate_split(c.power, cp, c.resistance, air)
                    row.update(coolant=cp.coolant, coolant_flow=cp.flow,
                               coolant_inlet_temperature=cp.inlet_temperature,
                               plate_pressure_drop=cp.pressure_drop,
                               plate_resistance=cp.effective_resistance)
                    case_T = row["case_temperature"]
                    liquid += row["heat_to_liquid"]
                else:
                    case_T = air + c.power * c.resistance
                j = case_T + c.power * c.junction_resistance
                centre = [0.5 * (c.lower[a] + c.upper[a]) for a in range(3)]
                comps["chips"].append({**row, "name": c.name, "kind": c.kind, "power": c.power,
                                       "air_temperature": air, "case_temperature": case_T,
                                       "junction_temperature": j, "limit": c.limit,
                                       "over_limit": bool(c.limit is not None and j > c.limit),
                                       "position": centre})
            if any(c.cold_plate is not None for c in p.chips):
                flows["cold plates (to liquid)"] = liquid
        if p.porous:
            from .components import porous_metrics

            comps["porous"] = [porous_metrics(b, sl, (u, v, w), phi * p.fluid.density, T,
                                              p.grid, p.fluid)
                               for b, sl in zip(p.porous, self._porous_slices)]
            # each block's own energy balance: the heat its sources put in (its power and
            # the chips inside it) against the heat advection and conduction carry out of
            # its faces, power minus the net heat into its cells (equal once steady)
            for m, sl in zip(comps["porous"], self._porous_slices):
                heat_in = float(sources[sl].sum())
                m["heat_in"] = heat_in
                m["heat_out"] = heat_in - float(Q[sl].sum())
            # a fan on a block's face or inside it (a server's fans, a CRAH's) raises the
            # pressure between the two points the block's drop is measured at: add its rise
            for m, b in zip(comps["porous"], p.porous):
                for f, op in zip(p.fans, comps.get("fans", [])):
                    a = "xyz".index(m["axis"])
                    o = [x for x in range(3) if x != a]
                    across = f.axis == a and b.lower[a] - 1e-9 <= f.position <= b.upper[a] + 1e-9
                    inside = all(f.lower[x] < b.upper[x] and f.upper[x] > b.lower[x] for x in o)
                    if across and inside:
                        m["pressure_drop"] += op["pressure_rise"]
        r = FlowResult(self.problem, u, v, w, phi, T, ~self._solid, self.stats,
                       getattr(be, "name", "cpu"), getattr(be, "device_name", ""), flows,
                       power, self._block_index)
        r.components = comps
        return r

    def _heat_flows(self, Tpad, vel) -> tuple[dict, float]:
        """Heat leaving through each domain face (W): carried by the flow (inflow and outflow
        faces, relative to no datum: their sum is what the flow takes away) and conducted
        through fixed-temperature faces; and the power put in (blocks, heat-flux faces)."""
        p = self.problem
        n = self.shape
        rhoc = p.fluid.volumetric_heat_capacity
        flows = {}
        power = float(sum(b.power for b in p.blocks) + sum(b.power for b in p.porous)
                      + sum(c.power for c in p.chips))
        g = p.grid
        for f, b in p.boundaries.items():
            if b.kind == "periodic":          # what leaves one face enters the other
                continue
            axis, side = FACES.index(f) // 2, FACES.index(f) % 2
            others = [a for a in range(3) if a != axis]
            area = np.multiply.outer(g.spacing(others[0]), g.spacing(others[1]))

            def at(a, i):
                sl = [slice(1, -1)] * 3
                sl[axis] = i
                return a[tuple(sl)]
            inner = at(Tpad, n[axis] if side else 1)
            halo = at(Tpad, n[axis] + 1 if side else 0)
            vn = vel[axis].take(-1 if side else 0, axis=axis)
            sign = 1.0 if side else -1.0                 # outward normal
            q = 0.0
            if b.kind in ("inflow", "outflow"):
                out = sign * vn
                Tf = np.where(out > 0, inner, halo)
                # enthalpy relative to the reference temperature: the faces' sum does not
                # depend on that datum (the flow conserves mass)
                q += float((rhoc * out * (Tf - p.reference_temperature) * area).sum())
            Gb = self._G_host[axis].take(-1 if side else 0, axis=axis)
            q += float((Gb * (inner - halo)).sum())
            if b.heat_flux is not None:
                power += float(b.heat_flux * area.sum())
            if q != 0.0 or b.kind in ("inflow", "outflow") or b.temperature is not None:
                flows[f"{f} ({b.kind})"] = q
        return flows, power


def problem_from_case(case) -> FlowProblem:
    """The :class:`FlowProblem` of a case with a ``flow`` section: the domain's background is
    the flowing fluid, every block a conducting solid."""
    from .materials import fluid_names, lookup, make_material
    from .model import make_grid

    spec = case.flow
    file = case.source_file
    if spec.fluid not in fluid_names():
        raise CaseError(f"unknown fluid '{spec.fluid}' (known: {', '.join(fluid_names())})",
                        "flow.fluid", file)
    if case.domain.background != spec.fluid:
        raise CaseError(f"the space around the blocks is the flowing fluid: set "
                        f"domain.background to '{spec.fluid}'", "domain.background", file)
    try:
        fluid = Fluid.from_coolprop(spec.fluid, spec.reference_temperature)
    except CaseError as e:
        raise CaseError(e.reason, "flow.reference_temperature", file) from None
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
    from .components import (BLOCKED, Chip, ColdPlate, Cooler, Fan, PorousBlock,
                             perforated_plate_loss)

    porous, fans, coolers = [], [], []
    names = {b.name for b in case.blocks}
    chips = []
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
                if kind == "porous":
                    ax = "xyz".index(it.axis)
                    K = it.loss_coefficient + (perforated_plate_loss(it.free_area)
                                               if it.free_area is not None else 0.0)
                    porous.append(PorousBlock.with_loss(
                        it.name, tuple(it.min), tuple(it.max), ax, K, it.pressure_drop,
                        fluid.density, None if it.transverse == "open" else BLOCKED,
                        it.power))
                elif kind == "fans":
                    fans.append(Fan(it.name, "xyz".index(it.axis), it.position,
                                    tuple(it.min), tuple(it.max), it.direction,
                                    tuple(map(tuple, it.curve)) if it.curve else None,
                                    it.flow))
                elif kind == "coolers":
                    coolers.append(Cooler(it.name, tuple(it.min), tuple(it.max),
                                          it.temperature))
                else:
                    plate = None
                    if it.cold_plate is not None:
                        cp = it.cold_plate
                        try:
                            liquid = Fluid.from_coolprop(cp.coolant, cp.inlet_temperature)
                        except CaseError as e:
                            raise CaseError(f"cold_plate.coolant: {e.reason}") from None
                        except ValueError as e:            # CoolProp: out of its range
                            raise CaseError(f"cold_plate: no properties of '{cp.coolant}' at "
                                            f"{cp.inlet_temperature:g} K (kelvin?): "
                                            f"{str(e).splitlines()[0]}") from None
                        if liquid.density < 100.0:
                            raise CaseError(f"cold_plate.coolant: '{cp.coolant}' is not a "
                                            f"liquid at {cp.inlet_temperature:g} K")
                        plate = ColdPlate(cp.resistance, cp.flow, cp.inlet_temperature,
                                          cp.coolant, cp.pressure_drop, liquid.density,
                                          liquid.specific_heat, cp.axial_conductance)
                    chips.append(Chip(it.name, tuple(it.min), tuple(it.max), it.power,
                                      it.resistance, it.junction_resistance, it.limit,
                                      it.kind, plate))
            except CaseError as e:
                raise CaseError(e.reason, key, file) from None
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
