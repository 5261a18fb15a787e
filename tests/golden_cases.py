"""The runs whose results tests/golden/*.npz hold: what tests/test_golden.py, the emulated-GPU
check (tests/cuda_emulator/flow_end_to_end.py) and tests/golden/record.py share.

Each case builds a problem, runs a fixed number of steps (or a bounded march) and returns
the solver and its result; :func:`snapshot` flattens what the run produced into named float64
arrays (fields with their halos, counters, heat flows, component and layout metrics) plus a
mapping of the words and flags among them.  The problems are made only through names meant to
outlive restructuring: YAML cases read by ``thermosim.load_case`` with
``thermosim.flow.problem_from_case`` where a case file can say it, else
``thermosim.flow.FlowProblem`` and its value types on a ``thermosim.Grid``; the solver is
touched only through ``vel``, ``T``, ``phi``, ``stats``, ``be``, ``result()``, ``state()``,
``load_state()``, ``step()`` and ``run()``.  Units: SI (m, s, K, W).
"""

from __future__ import annotations

import math
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

import thermosim
from thermosim.flow import FlowBoundary, FlowProblem, FlowSolver, Fluid, SolidBlock

GOLDEN = Path(__file__).resolve().parent / "golden"

#: counters that must come out exactly; the other numbers agree to RTOL
EXACT = ("stats/steps", "stats/pressure_iterations", "stats/pressure_solves",
         "stats/implicit_iterations", "stats/implicit_solves", "conduction/iterations",
         "conduction/steps")
#: float64 runs of the same code agree to round-off only where the order of operations
#: changed; a restructure keeps every field to this (relative to the field's largest value)
RTOL = 1e-12
#: the solver's diagnostics (residuals, the mean reduction per pressure iteration): Krylov
#: iterations amplify round-off, and Numba compiles for the host's CPU, whose vector width
#: and fused multiply-adds change it: on an Emerald Rapids host the quick halls' marches
#: moved them by up to 2e-10 relative, their fields by under 1e-12.  Those agree to this,
#: with a floor of ``DIAGNOSTIC_FLOOR`` (a reduction that is itself round-off, 1e-15,
#: where one iteration solves the system)
DIAGNOSTICS = ("stats/residual_velocity", "stats/residual_temperature",
               "stats/pressure_reduction")
DIAGNOSTIC_RTOL = 1e-9
DIAGNOSTIC_FLOOR = 1e-12
#: counters of FlowStats compared (wall_time is not a result)
STATS = ("steps", "time", "dt", "pressure_iterations", "pressure_solves",
         "implicit_iterations", "implicit_solves", "converged", "stored_fraction",
         "residual_velocity", "residual_temperature", "pressure_reduction")


@dataclass(frozen=True)
class Case:
    """``run(backend)`` returns (solver, result); ``emulated``: also checked on the CUDA
    emulator (tiny grids only: every emulated CUDA thread is an OS thread)."""

    name: str
    run: Callable
    what: str
    emulated: bool = False
    reference: str = ""          # another case whose stored result this one must give

    @property
    def golden(self) -> str:
        return self.reference or self.name


CASES: dict[str, Case] = {}


def case(what: str, emulated: bool = False, reference: str = ""):
    def add(fn):
        CASES[fn.__name__] = Case(fn.__name__, fn, what, emulated, reference)
        return fn
    return add


# -- building blocks ----------------------------------------------------------------------------
def clustered(n: int, stretch: float = 0.0, length: float = 1.0) -> np.ndarray:
    """Faces on [0, length] clustered towards both ends (tanh; ``stretch`` 0 = uniform)."""
    s = np.linspace(0.0, 1.0, n + 1)
    if stretch > 0:
        s = 0.5 * (1.0 + np.tanh(stretch * (2 * s - 1)) / math.tanh(stretch))
    return s * length


SLIP_Z = {"z-": FlowBoundary("slip"), "z+": FlowBoundary("slip")}
WATER_LIKE = Fluid("water-like", 1000.0, 1e-3, 0.6, 4180.0, 2e-4)


def from_yaml(text: str):
    """A case read from YAML ``text`` by thermosim.load_case (through a file: the path that
    users take) and its flow problem."""
    from thermosim.flow import problem_from_case

    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "case.yaml"
        f.write_text(text)
        c = thermosim.load_case(f)
    return c, (problem_from_case(c) if c.flow is not None else None)


def solver_for(c, problem, backend="cpu", **kw) -> FlowSolver:
    """The solver ``thermosim.solve`` builds for a flow case (its cfl, diffusion, advection)."""
    spec = c.flow
    opts = dict(cfl=spec.cfl, diffusion=spec.diffusion, advection=spec.advection)
    opts.update(kw)
    return FlowSolver(problem, backend, **opts)


def march(s: FlowSolver, c=None, **kw):
    """``s.run`` with the case's settings (or ``kw``); a steady march that ends at max_steps
    unconverged keeps its last step as the result, as ``thermosim.solve(unsteady_ok=True)``."""
    if c is not None:
        spec = c.flow
        kw = dict(steady=spec.end_time is None, end_time=spec.end_time,
                  tolerance=spec.tolerance, max_steps=spec.max_steps,
                  energy_tolerance=spec.energy_tolerance, **kw)
    try:
        return s.run(**kw)
    except thermosim.SolverError as e:
        if not str(e).startswith("no steady state"):
            raise
        return s.result()


def steps(s: FlowSolver, n: int, dt: float | None):
    for _ in range(n):
        s.step(dt)
    return s, s.result()


# -- the verification flows of tests/flow_compare_cases.py (n = 8), built here -------------------
def cavity_problem(n: int = 8, Re: float = 100.0, stretch: float = 0.0) -> FlowProblem:
    """Lid-driven cavity, side 1 m, lid 1 m/s, nu = alpha = 1/Re, 2D (slip z)."""
    f = clustered(n, stretch)
    g = thermosim.Grid(f, f.copy(), np.array([0.0, 1.0 / n]))
    return FlowProblem(g, Fluid("f", 1.0, 1.0 / Re, 1.0 / Re, 1.0),
                       {"y+": FlowBoundary("wall", velocity=(1.0, 0, 0)), **SLIP_Z})


def buoyant_problem(n: int = 8, Ra: float = 1e4, stretch: float = 1.2) -> FlowProblem:
    """Differentially heated square cavity (de Vahl Davis): alpha = 1 m^2/s, Pr 0.71, hot
    wall x- at 1 K, cold x+ at 0 K, gravity Ra Pr along -y."""
    pr = 0.71
    f = clustered(n, stretch)
    g = thermosim.Grid(f, f.copy(), np.array([0.0, float(np.diff(f).min())]))
    bc = {"x-": FlowBoundary("wall", temperature=1.0),
          "x+": FlowBoundary("wall", temperature=0.0), **SLIP_Z}
    return FlowProblem(g, Fluid("dvd", 1.0, pr, 1.0, 1.0, 1.0), bc,
                       gravity=(0.0, -Ra * pr, 0.0), reference_temperature=0.5)


def channel_problem(n: int = 8) -> FlowProblem:
    """3D channel: parabolic inflow at 300 K, outflow, a moving wall at 310 K, a slip wall
    with 1 kW/m^2 in, a heated copper block (5 W), buoyancy."""
    g = thermosim.Grid(np.linspace(0, 0.04, n + 1), np.linspace(0, 0.01, n // 2 + 1),
                       clustered(n // 2, 0.5, 0.01))
    blk = SolidBlock("chip", (0.015, 0.0, 0.0), (0.025, 0.005, 0.005), 400.0, 8900.0, 385.0,
                     power=5.0)
    return FlowProblem(
        g, WATER_LIKE,
        {"x-": FlowBoundary("inflow", velocity=(0.05, 0, 0), temperature=300.0,
                            profile="parabolic"),
         "x+": FlowBoundary("outflow"),
         "z+": FlowBoundary("wall", velocity=(0.01, 0.0, 0.0), temperature=310.0),
         "y+": FlowBoundary("slip", heat_flux=1000.0)},
        blocks=[blk], gravity=(0.0, 0.0, -9.81), reference_temperature=300.0)


def periodic_problem(n: int = 8) -> FlowProblem:
    """A heated copper block in water, periodic along x and z, driven by a body force, with
    buoyancy along y."""
    x = np.linspace(0.0, 0.04, 2 * n + 1)
    g = thermosim.Grid(x, clustered(n, 0.5, 0.01), np.linspace(0.0, 0.01, n // 2 + 1))
    blk = SolidBlock("chip", (0.01, 0.0, 0.0), (0.02, 0.004, 0.005), 400.0, 8900.0, 385.0,
                     power=5.0)
    return FlowProblem(g, WATER_LIKE,
                       {"x-": FlowBoundary("periodic"), "x+": FlowBoundary("periodic"),
                        "z-": FlowBoundary("periodic"), "z+": FlowBoundary("periodic")},
                       blocks=[blk], gravity=(0.0, -9.81, 0.0), body_force=(0.05, 0.0, 0.01),
                       reference_temperature=300.0)


def turbulent_channel_problem(model: str, ny: int = 16) -> FlowProblem:
    """Periodic channel of half-height 1 m driven by a body force 1 m/s^2 (u_tau = 1),
    Re_tau 395, starting at 15 m/s."""
    nu = 1.0 / 395.0
    g = thermosim.Grid(np.linspace(0, 1, 5), np.linspace(0, 2, ny + 1), np.array([0.0, 1.0]))
    bc = {"x-": FlowBoundary("periodic"), "x+": FlowBoundary("periodic"), **SLIP_Z}
    return FlowProblem(g, Fluid("channel", 1.0, nu, nu, 1.0), bc, body_force=(1.0, 0.0, 0.0),
                       turbulence=model, initial_velocity=(15.0, 0.0, 0.0))


# -- explicit steps (FlowSolver.step, central advection unless named) --------------------------
@case("lid-driven cavity 8x8x1, 3 explicit steps of 1 ms", emulated=True)
def cavity(backend="cpu"):
    return steps(FlowSolver(cavity_problem(), backend, diffusion="explicit"), 3, 1e-3)


@case("buoyant cavity Ra 1e4 8x8x1 (clustered), 3 explicit steps of 1 ms")
def buoyant(backend="cpu"):
    return steps(FlowSolver(buoyant_problem(), backend, diffusion="explicit"), 3, 1e-3)


@case("3D channel 8x4x4: parabolic inflow, outflow, moving hot wall, slip wall with a heat "
      "flux, heated block; 3 explicit steps of 2 ms")
def channel(backend="cpu"):
    return steps(FlowSolver(channel_problem(), backend, diffusion="explicit"), 3, 2e-3)


@case("the 3D channel with upwind momentum advection, 3 steps at the stable step")
def channel_upwind(backend="cpu"):
    return steps(FlowSolver(channel_problem(), backend, advection="upwind"), 3, None)


@case("periodic (x, z) channel 16x8x4 with a body force, buoyancy and a heated block; "
      "3 explicit steps of 2 ms", emulated=True)
def periodic(backend="cpu"):
    return steps(FlowSolver(periodic_problem(), backend, diffusion="explicit"), 3, 2e-3)


@case("periodic channel Re_tau 395 4x16x1, no turbulence model, 5 steps at the stable step")
def periodic_laminar(backend="cpu"):
    return steps(FlowSolver(turbulent_channel_problem("none"), backend), 5, None)


@case("periodic channel Re_tau 395 4x16x1, LVEL, 5 steps at the stable step")
def periodic_lvel(backend="cpu"):
    return steps(FlowSolver(turbulent_channel_problem("lvel"), backend), 5, None)


@case("periodic channel Re_tau 395 4x16x1, Smagorinsky, 5 steps at the stable step")
def periodic_smagorinsky(backend="cpu"):
    return steps(FlowSolver(turbulent_channel_problem("smagorinsky"), backend), 5, None)


# -- runs: steady marches with implicit / auto diffusion, a transient --------------------------
@case("steady lid-driven cavity Re 100 8x8x1 (clustered), implicit diffusion, tolerance 1e-3")
def cavity_steady_implicit(backend="cpu"):
    s = FlowSolver(cavity_problem(8, 100.0, 1.0), backend, diffusion="implicit")
    return s, march(s, tolerance=1e-3, max_steps=400)


@case("steady buoyant cavity Ra 1e4 8x8x1, diffusion auto, 60 steps at most")
def buoyant_steady_auto(backend="cpu"):
    s = FlowSolver(buoyant_problem(), backend, diffusion="auto")
    return s, march(s, tolerance=1e-3, max_steps=60)


SERVER_CHANNEL = """name: server_channel_golden
domain: {{min: [0, 0, 0], max: [0.10, 0.02, 0.01], background: air}}
grid: {{cells: [20, 8, 1]}}
blocks:
  - {{name: package, material: silicon, min: [0.030, 0.0, 0.0], max: [0.050, 0.0025, 0.01],
     power: 2.0}}
  - {{name: sink_base, material: aluminium, min: [0.030, 0.0025, 0.0], max: [0.050, 0.005, 0.01]}}
  - {{name: fin, material: aluminium, min: [0.0375, 0.005, 0.0], max: [0.0425, 0.0125, 0.01]}}
initial_temperature: 300
flow:
  fluid: air
  reference_temperature: 300
  gravity: [0, -9.81, 0]
  boundaries:
    x-: {{type: inflow, velocity: [0.05, 0, 0], T: 300, profile: parabolic}}
    x+: {{type: outflow}}
    y+: {{type: wall, T: 305}}
    z-: {{type: slip}}
    z+: {{type: slip}}
{extra}
"""


@case("server channel (YAML) 20x8x1: air over a finned 2 W package, transient to 0.05 s")
def server_channel_transient(backend="cpu"):
    c, p = from_yaml(SERVER_CHANNEL.format(extra="  end_time: 0.05"))
    s = solver_for(c, p, backend)
    return s, march(s, c)


@case("server channel (YAML) 20x8x1, steady, diffusion auto, 40 steps at most")
def server_channel_steady_auto(backend="cpu"):
    c, p = from_yaml(SERVER_CHANNEL.format(extra="  tolerance: 1.0e-3\n  max_steps: 40"))
    s = solver_for(c, p, backend)
    return s, march(s, c)


# -- components: a periodic duct with a fan, a server, a coil and chips ------------------------
DUCT = """name: duct_{name}
domain: {{min: [0, 0, 0], max: [2.0, 0.4, 0.4], background: air}}
grid: {{cells: [20, 4, 4]}}
initial_temperature: 300
flow:
  fluid: air
  reference_temperature: 300
  advection: upwind
  tolerance: 0.9
  energy_tolerance: 1.0e-9
  max_steps: {steps}
  boundaries:
    x-: {{type: periodic}}
    x+: {{type: periodic}}
    y-: {{type: slip}}
    y+: {{type: slip}}
    z-: {{type: slip}}
    z+: {{type: wall, T: 305}}
  porous:
    - {{name: rack/server, min: [0.8, 0, 0], max: [1.2, 0.4, 0.4], axis: x,
       loss_coefficient: 10, power: 1000}}
    - {{name: tile, min: [0.2, 0, 0], max: [0.3, 0.4, 0.4], axis: x, free_area: 0.5,
       pressure_drop: [1.0, 20.0], transverse: open}}
  fans:
    - {fan}
  coolers:
    - {{name: coil, min: [1.6, 0, 0], max: [1.8, 0.4, 0.4], temperature: 295}}
  chips:
    - {{name: rack/server/gpu, min: [0.9, 0.1, 0.1], max: [1.1, 0.3, 0.2], power: 300,
       resistance: 0.05, junction_resistance: 0.02, limit: 360, kind: GPU}}
    - {{name: rack/server/cpu, min: [0.9, 0.1, 0.2], max: [1.1, 0.3, 0.3], power: 200,
       resistance: 0.1, junction_resistance: 0.03, kind: CPU,
       cold_plate: {{resistance: 0.02, flow: 2.0e-5, inlet_temperature: 303, coolant: water,
                    pressure_drop: 1.0e+4{axial}}}}}
"""


CURVE_FAN = ("{name: fan, axis: x, position: 0.4, min: [0, 0, 0], max: [2, 0.4, 0.4], "
             "curve: [[0, 200], [0.5, 0]]}")
FIXED_FAN = ("{name: fan, axis: x, position: 0.6, min: [0, 0, 0], max: [2, 0.4, 0.4], "
             "direction: 1, flow: 0.3}")


@case("duct (YAML) 20x4x4: a fan with a curve, a powered server block, a perforated tile, a "
      "coil, a chip and a cold-plated chip; 30 steps of 2 ms")
def duct_fan_curve(backend="cpu"):
    # fixed steps: from rest, the first stable step (0.29 s) lets the fan's 200 Pa drive the
    # air to 16 m/s in one step and a steady march leaves sane numbers (T of 1e6 K)
    c, p = from_yaml(DUCT.format(name="curve", steps=30, axial="", fan=CURVE_FAN))
    return steps(solver_for(c, p, backend), 30, 2e-3)


@case("the duct with a fixed-flow fan (0.3 m^3/s) and a plate with axial conduction: steady "
      "march (local energy steps, stored-heat criterion), 30 steps")
def duct_fixed_flow(backend="cpu"):
    c, p = from_yaml(DUCT.format(name="fixed", steps=30, axial=", axial_conductance: 0.5",
                                 fan=FIXED_FAN))
    s = solver_for(c, p, backend)
    return s, march(s, c)


@case("checkpoint round trip: the fixed-flow duct, 12 steps, state() into a new solver, "
      "load_state, 18 more: the 30 straight steps' result", reference="duct_fixed_flow")
def duct_fixed_flow_resumed(backend="cpu"):
    text = DUCT.format(name="fixed", steps=12, axial=", axial_conductance: 0.5", fan=FIXED_FAN)
    c, p = from_yaml(text)
    first = solver_for(c, p, backend)
    march(first, c)
    arrays, attrs = first.state()
    c, p = from_yaml(text.replace("max_steps: 12", "max_steps: 30"))
    s = solver_for(c, p, backend)
    s.load_state(arrays, attrs)
    return s, march(s, c)


# -- the quick halls of thermosim/cases/ (layouts), a few steps of their steady march ---------
def _hall(layout: str, size: str, steps: int, backend):
    c, p = from_yaml(f"layout: {layout}\n{size}\nmax_steps: {steps}\n")
    s = solver_for(c, p, backend)
    return s, march(s, c)


@case("air_cooled_quick hall (2 racks per row, 0.2 m cells): 4 steps of its steady march")
def hall_air_cooled(backend="cpu"):
    return _hall("air_cooled", "racks_per_row: 2\ncell: 0.2", 4, backend)


@case("liquid_cooled_quick hall (2 racks per row, 0.2 m cells): 4 steps of its steady march")
def hall_liquid_cooled(backend="cpu"):
    return _hall("liquid_cooled", "racks_per_row: 2\ncell: 0.2", 4, backend)


@case("immersion_quick tanks (2 tanks, 0.05 m cells): 4 steps of its steady march")
def hall_immersion(backend="cpu"):
    return _hall("immersion", "tanks: 2\ncell: 0.05", 4, backend)


# -- conduction (thermosim.solve on the shipped package cases) -------------------------------
def _shipped(name: str) -> str:
    from importlib import resources

    return resources.files("thermosim.cases").joinpath(name).read_text(encoding="utf-8")


@case("conduction, steady: the shipped default case (700 W GPU package, coarse grid)")
def conduction_steady(backend="cpu"):
    import yaml

    return None, thermosim.solve(yaml.safe_load(_shipped("default.yaml")), backend)


@case("conduction, transient: the shipped package warm-up, Crank-Nicolson, to 0.2 s")
def conduction_transient(backend="cpu"):
    import yaml

    data = yaml.safe_load(_shipped("gpu_package_warmup.yaml"))
    data["solver"]["transient"].update(end_time=0.2, dt=0.05, snapshots=[0.1])
    return None, thermosim.solve(data, backend)


@case("conduction, transient: the package warm-up, implicit Euler with an automatic step, "
      "to 0.1 s")
def conduction_transient_euler(backend="cpu"):
    import yaml

    data = yaml.safe_load(_shipped("gpu_package_warmup.yaml"))
    data["solver"]["transient"] = {"method": "implicit_euler", "end_time": 0.1}
    return None, thermosim.solve(data, backend)


# -- what is compared ------------------------------------------------------------------------
def _flatten(prefix: str, x, out: dict, text: dict) -> None:
    """Numbers into ``out`` (float64 arrays), words, flags and None into ``text``."""
    if isinstance(x, dict):
        for k, v in x.items():
            _flatten(f"{prefix}/{k}", v, out, text)
    elif isinstance(x, (list, tuple)) and not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in x):
        for i, v in enumerate(x):
            _flatten(f"{prefix}/{i}", v, out, text)
    elif isinstance(x, (bool, np.bool_, str)) or x is None:
        text[prefix] = repr(x if not isinstance(x, np.bool_) else bool(x))
    else:
        out[prefix] = np.asarray(x, dtype=np.float64)


def snapshot(solver, result) -> tuple[dict, dict]:
    """(named float64 arrays, {name: repr of a word, flag or None}) of a finished run."""
    out, text = {}, {}
    if solver is None:                       # conduction: a thermosim.conduction_run.Result
        out["conduction/T"] = np.asarray(result.T, np.float64)
        _flatten("heat", dict(result.heat_flows), out, text)
        st = result.stats
        for k in ("iterations", "steps", "dt", "residual"):
            if k in st:
                out[f"conduction/{k}"] = np.asarray(st[k], np.float64)
        out["conduction/storage_rate"] = np.asarray(result.storage_rate, np.float64)
        for i, (t, T) in enumerate(result.snapshots):
            out[f"snapshot/{i}/time"] = np.asarray(t, np.float64)
            out[f"snapshot/{i}/T"] = np.asarray(T, np.float64)
        return out, text
    host = lambda a: np.array(solver.be.to_host(a), dtype=np.float64)  # noqa: E731
    for c, k in enumerate("uvw"):
        out[f"field/{k}"] = host(solver.vel[c])
    out["field/T"] = host(solver.T)
    out["field/phi"] = host(solver.phi)
    # the result's interior fields are the solver's, phi less its mean where only its
    # gradient is fixed (closed and periodic domains)
    inner = lambda a, ax: a[tuple(slice(1, n + (2 if b == ax else 1))  # noqa: E731
                                  for b, n in enumerate(result.T.shape))]
    for k, got, want in (("u", result.u, inner(out["field/u"], 0)),
                         ("v", result.v, inner(out["field/v"], 1)),
                         ("w", result.w, inner(out["field/w"], 2)),
                         ("T", result.T, inner(out["field/T"], None))):
        out[f"consistency/{k}"] = np.asarray(_relative(got, want))
    phi = inner(out["field/phi"], None)
    offset = float(np.mean(np.asarray(result.phi, np.float64) - phi))
    out["result/phi_offset"] = np.asarray(offset)
    out["consistency/phi"] = np.asarray(_relative(np.asarray(result.phi) - offset, phi))
    st = result.stats
    for k in STATS:
        v = getattr(st, k)
        if isinstance(v, bool):
            text[f"stats/{k}"] = repr(v)
        else:
            out[f"stats/{k}"] = np.asarray(v, np.float64)
    out["stats/history"] = np.asarray(st.history, np.float64).reshape(-1, 4)
    _flatten("heat", dict(result.heat_flows), out, text)
    out["power/total"] = np.asarray(result.total_power, np.float64)
    _flatten("components", result.components, out, text)
    if result.components:
        _flatten("metrics", result.metrics(), out, text)
    return out, text


def _relative(got, want) -> float:
    """max |got - want| over max |want| (field-wide: fields cross zero); inf if the shapes
    differ."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if got.shape != want.shape:
        return math.inf
    return float(np.abs(got - want).max()) / max(float(np.abs(want).max()), 1e-300)


def scale_group(key: str) -> str:
    """The numbers whose largest magnitude sets a number's absolute tolerance: a whole
    field, all heat flows with the power, one quantity across a list's items."""
    if key.startswith(("heat/", "power/")):
        return "heat"
    if key == "result/phi_offset":
        return "field/phi"
    if key in ("field/u", "field/v", "field/w"):
        # one speed scale: a component that is round-off everywhere (v across a 2D
        # channel) is measured against the flow's speed, not its own
        return "field/velocity"
    return re.sub(r"/\d+(?=/|$)", "/*", key)


#: arrays up to this many numbers are stored together in one vector (each entry of an npz
#: costs a few hundred bytes of headers)
SMALL = 64


def save(name: str, out: dict, text: dict, folder: Path = GOLDEN, commit: str = "") -> Path:
    """Write ``tests/golden/<name>.npz``: each large array as its eight byte planes (the
    sign-and-exponent planes then compress to almost nothing: a quarter smaller than the
    plain doubles), the small ones in one vector, their names, shapes and the words in a JSON
    header; bit for bit what :func:`load` returns."""
    import json

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.npz"
    small = [(k, list(v.shape)) for k, v in out.items() if v.size <= SMALL]
    packed = np.concatenate([out[k].ravel() for k, _ in small]) if small else np.zeros(0)
    large = {k: v for k, v in out.items() if v.size > SMALL}
    meta = {"what": CASES[name].what, "commit": commit, "text": text, "small": small,
            "large": [[k, list(v.shape)] for k, v in large.items()]}   # (in field{i} order)
    planes = {f"field{i}": np.ascontiguousarray(
        np.asarray(v, "<f8").view(np.uint8).reshape(-1, 8).T) for i, v in enumerate(large.values())}
    np.savez_compressed(path, small=packed.astype("<f8"), **planes,
                        meta=np.array(json.dumps(meta, sort_keys=True)))
    return path


def load(name: str, folder: Path = GOLDEN) -> tuple[dict, dict, dict]:
    """(arrays, words, header: what, commit) of a stored reference."""
    import json

    with np.load(folder / f"{name}.npz", allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        arrays, at = {}, 0
        packed = z["small"].astype(np.float64)
        for k, shape in meta.pop("small"):
            n = int(np.prod(shape, dtype=int))
            arrays[k] = packed[at:at + n].reshape(shape)
            at += n
        for i, (k, shape) in enumerate(meta.pop("large")):
            arrays[k] = np.ascontiguousarray(z[f"field{i}"].T).view("<f8").reshape(
                shape).astype(np.float64)
    return arrays, meta.pop("text"), meta


def differences(got: tuple[dict, dict], want: tuple[dict, dict], rtol: float = RTOL) -> list[str]:
    """What differs between two snapshots, one line each (empty: they agree).  Every stored
    number must be there (new ones may be added); counters exact; the rest to ``rtol``
    relative, with an absolute floor of ``rtol`` times the largest magnitude of its group
    (fields cross zero)."""
    (g, gt), (w, wt) = got, want
    scale: dict[str, float] = {}
    for k, v in w.items():
        m = float(np.nanmax(np.abs(v))) if v.size and not np.isnan(v).all() else 0.0
        grp = scale_group(k)
        scale[grp] = max(scale.get(grp, 0.0), m)
    bad = []
    for k, v in w.items():
        if k not in g:
            bad.append(f"{k}: missing")
            continue
        x = np.asarray(g[k], np.float64)
        if x.shape != v.shape:
            bad.append(f"{k}: shape {x.shape}, golden {v.shape}")
            continue
        if k == "stats/stored_fraction" and np.isnan(v).all() and g.get("stats/steps") \
                is not None and not gt.get("stats/converged", "True") == "True":
            # a steady run stopped unconverged now measures the heat still stored at the stop
            # (issue 19: it reports which equation stalled); the golden had none to compare
            continue
        if k in EXACT:
            if not np.array_equal(x, v):
                bad.append(f"{k}: {x.tolist()} != golden {v.tolist()} (exact)")
            continue
        # (consistency/ numbers are relative differences already, golden 0)
        atol = rtol * (1.0 if k.startswith("consistency/") else scale[scale_group(k)])
        r = rtol
        if k in DIAGNOSTICS:
            r = max(rtol, DIAGNOSTIC_RTOL)
            atol = max(r * scale[scale_group(k)], DIAGNOSTIC_FLOOR)
        try:
            np.testing.assert_allclose(x, v, rtol=r, atol=atol, equal_nan=True)
        except AssertionError:
            d = np.abs(x - v)
            worst = float(np.nanmax(d)) if d.size else 0.0
            bad.append(f"{k}: max |difference| {worst:.3g} (atol {atol:.3g}, rtol {r:g})")
    for k, v in wt.items():
        if gt.get(k) != v:
            bad.append(f"{k}: {gt.get(k, 'missing')} != golden {v}")
    return bad
