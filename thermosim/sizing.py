"""Sizes checked before they are spent: the cells of a case (counted from the case, without
building its grid), the memory they need on a backend, the points of a sweep, the parts of
a layout and the time steps of a run, each refused in one line when it cannot fit.

Cells are counted by :mod:`thermosim.cell_counts`; output paths checked by :mod:`.output_paths`.

Limits (each can be raised, see :func:`memory_limit`):

- memory: the estimate must stay below 90 % of the memory available now (host RAM, or the
  GPU's free memory for the gpu backend); ``THERMOSIM_MEMORY_LIMIT`` (for example ``64GB``)
  replaces the available figure;
- sweeps: at most :data:`MAX_SWEEP_POINTS` points (``THERMOSIM_MAX_SWEEP_POINTS``);
- layouts: at most :data:`MAX_LAYOUT_PARTS` servers, chips, fans and blocks together;
- time steps: at most :data:`MAX_TIME_STEPS` in one run (``THERMOSIM_MAX_TIME_STEPS``).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .cell_counts import axis_count, breakpoints
from .errors import CaseError

# Peak resident memory per cell, bytes (ru_maxrss around one run in a fresh process, less the
# resident size before it, after a warm-up run so that Numba's kernels sit in the baseline),
# NUMBA_NUM_THREADS=1, 2-core x86 machine, 2026-12-05:
#   conduction, steady, float64, uniform 40^3: 217 B/cell; 80^3: 213 (240 at 160^3 before)
#   conduction, steady, float32, 80^3: 141 B/cell (the model is assembled in float64)
#   flow, laminar, inflow/outflow, 12 steps, float64, 40^3: 440 B/cell; 72^3: 451 B/cell
# float32 flow (not measured): its fields halve, the float64 set-up stays: three quarters.
HOST_BYTES_PER_CELL = {("conduction", "float64"): 240, ("conduction", "float32"): 170,
                       ("flow", "float64"): 500, ("flow", "float32"): 380}
# A GPU run keeps on the host what the model build needs, on the device the fields.  Not
# measured (no device at hand when this was written): counted from the arrays the code
# allocates.  Host: conduction's build_model and linear_system (ids, owner and code arrays,
# three conductance arrays, D, b: about 16 float64 values a cell); flow: masks, component
# maps and the host copies made for the device (about 25 values).  Device: conduction's
# CG vectors, operator and multigrid hierarchy (about 12 fields, x 8/7 for the coarse
# levels); flow: 24 padded fields, the pressure multigrid, masks (about 30 fields); a
# quarter added for the memory pool's rounding.
HOST_BYTES_PER_CELL_GPU_RUN = {"conduction": 140, "flow": 250}
DEVICE_BYTES_PER_CELL = {("conduction", "float64"): 130, ("conduction", "float32"): 70,
                         ("flow", "float64"): 300, ("flow", "float32"): 160}
# The steady solver (flow.method: simplec) adds Anderson's history, two vectors per iterate
# of the last 30 of the interior unknowns (3 velocities, temperature, pressure), and 7
# coefficient arrays: measured as above, laminar 40^3, 40 outer iterations, float64: 3,670
# B/cell against the march's 490.  Float32 and the GPU counted (half the bytes a value).
# A hall's history (lagged terms) is 100 deep in float32 (flow/anderson.history), 5
# unknowns (a tank's too, since stop 45): 4,000 B/cell for the 2,400 (1,200) above (0.1 m air
# hall, 400 iterations: 3,978 B/cell with 4; the temperature 817 more, 2026-12-07).
SIMPLEC_EXTRA_BYTES_PER_CELL = {"float64": 3300, "float32": 1650}
HALL_SIMPLEC_EXTRA_BYTES_PER_CELL = {"float64": 4900, "float32": 4450}
# In multigrid cycles (flow.multigrid, thermosim.flow.fas) Anderson keeps 10 iterates, not
# 30, and each coarser mesh holds a solver of its own (an eighth of the cells in 3D):
# measured as above (40^3, 10 cycles), 2,204 B/cell; added, rounded up.
MULTIGRID_EXTRA_BYTES_PER_CELL = {"float64": 1800, "float32": 900}
# A steady run with ``flow.unsteady: average`` that finds no steady state goes on to a time
# mean (flow/unsteady.py): its parts' sums, each step's result and old state, on the host.
# Measured as above, B a cell, steady / with the mean (the steady arrays freed at the stall):
# 0.1 m air hall 3,622 / 3,569, 20-rack hall 0.13 m 3,669 / 3,634: on a CPU it takes the
# steady arrays' place; it adds to a march's arrays or a GPU run's host arrays.  Then the
# process: Python, NumPy, thermosim, the loaded kernels (222-246 MB).
TIME_MEAN_EXTRA_BYTES_PER_CELL = {"float64": 700, "float32": 350}
PROCESS_BYTES = 250e6
MEMORY_FRACTION = 0.9        # of the available memory a run may plan to use
MAX_SWEEP_POINTS = 10_000    # a sweep beyond this is a mistake or wants splitting
MAX_LAYOUT_PARTS = 200_000   # blocks + servers + fans + chips of one layout
MAX_TIME_STEPS = 10_000_000  # time steps of one run (flow or conduction)
# time per cell and step on one CPU core (s), for the wall-time estimate of a long run:
# the 48^3 laminar flow above, 12 steps (explicit Heun + pressure CG); conduction implicit
# Euler steps with multigrid CG
SECONDS_PER_CELL_STEP = {"flow": 2.0e-6, "conduction": 1.0e-6}
# time per cell and outer iteration of the steady solver (flow.method: simplec) on one CPU
# core (s), measured one thread, 2-core x86 machine, 2026-12-06: the 1e6 air hall 3.2 s
# an iteration on 1,216,880 cells (2.6e-6), the 20-rack hall on 0.13 m cells 0.154 s on
# 113,088 (1.4e-6), the 0.154 m cold-plate hall 45 ms on 33,600 (1.3e-6); the largest,
# whose fields no longer sit in the cache, is taken
SECONDS_PER_CELL_OUTER_ITERATION = 2.6e-6
# outer iterations the halls' steady states took (issue 19: 121 to 600, 2026-12-06)
HALL_OUTER_ITERATIONS = (100, 600)


def _env_float(name: str, default: float) -> float:
    v = os.environ.get(name)
    if not v:
        return default
    try:
        return parse_bytes(v) if "MEMORY" in name else float(v)
    except ValueError:
        raise CaseError(f"environment variable {name}={v!r} is not a number") from None


def parse_bytes(text: str) -> float:
    """``"64GB"``, ``"1.5 TB"``, ``"512MiB"`` or a plain number of bytes."""
    t = text.strip().upper().replace(" ", "").removesuffix("B").removesuffix("I")
    scale = {"K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15}
    if t and t[-1] in scale:
        return float(t[:-1]) * scale[t[-1]]
    return float(t)


def human_bytes(n: float) -> str:
    """1.8e14 -> '180 TB' (decimal units, two or three significant figures)."""
    if not math.isfinite(n):
        return "an unbounded amount of memory"
    if n >= 1e18:
        return f"{n:.2g} bytes"
    for unit, s in (("PB", 1e15), ("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= s:
            return f"{n / s:.3g} {unit}"
    return f"{n:.0f} B"


def _cells_text(n: float) -> str:
    if not math.isfinite(n):
        return "more than 1e308"
    return f"{n:,.0f}" if n < 1e7 else f"{n:.3g}"


# ---------------------------------------------------------------------------------------
# host and device memory
def available_host_memory() -> float:
    """Bytes of RAM that a new allocation may take now: MemAvailable (free plus
    reclaimable cache), capped by a cgroup (container) limit less its usage."""
    have = math.inf
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    have = float(line.split()[1]) * 1024
                    break
    except OSError:
        pass
    if not math.isfinite(have):
        try:
            have = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            pass
    for limit_file, usage_file in (("/sys/fs/cgroup/memory.max",
                                    "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            limit = Path(limit_file).read_text().strip()
            if limit != "max" and float(limit) < 1e18:
                used = float(Path(usage_file).read_text().strip())
                have = min(have, float(limit) - used)
        except (OSError, ValueError):
            continue
    return have


def available_device_memory() -> float:
    """Free bytes on the current GPU (CuPy), or infinity when that cannot be asked."""
    try:
        import cupy

        free, _total = cupy.cuda.runtime.memGetInfo()
        pool = cupy.get_default_memory_pool()
        return float(free + pool.free_bytes())
    except Exception:        # noqa: BLE001 (no CuPy, no device: the run fails later anyway)
        return math.inf


def memory_limit(where: str = "host") -> tuple[float, str]:
    """(bytes a run may use, how to say it).  ``THERMOSIM_MEMORY_LIMIT`` (for example
    ``64GB``, host) or ``THERMOSIM_GPU_MEMORY_LIMIT`` (device) replaces the measured
    figure, used whole."""
    env = "THERMOSIM_MEMORY_LIMIT" if where == "host" else "THERMOSIM_GPU_MEMORY_LIMIT"
    override = _env_float(env, math.nan)
    if math.isfinite(override):
        return override, f"{env} allows {human_bytes(override)}"
    have = available_host_memory() if where == "host" else available_device_memory()
    what = "this machine has" if where == "host" else "the GPU has"
    return MEMORY_FRACTION * have, f"{what} {human_bytes(have)} available"


# ---------------------------------------------------------------------------------------
# a case's cells and memory
@dataclass
class Estimate:
    """What a case will take: cells per axis (floats: an unbuildable grid counts as
    infinity), the smallest spacing per axis (m), and bytes."""

    kind: str                         # "conduction" or "flow"
    precision: str
    axis_cells: tuple
    min_spacing: tuple
    backend: str = "cpu"
    host_bytes: float = 0.0
    device_bytes: float = 0.0
    warnings: list = field(default_factory=list)   # a run that will end far too early
    notes: list = field(default_factory=list)      # one that max_steps may stop short

    @property
    def cells(self) -> float:
        with np.errstate(over="ignore"):
            n = float(np.prod(np.asarray(self.axis_cells, dtype=float)))
        return n if math.isfinite(n) else math.inf

    @property
    def host_need(self) -> float:
        """The host memory the run's process takes (bytes): its arrays and the process."""
        return self.host_bytes + PROCESS_BYTES

    def describe(self) -> str:
        """One line for the console before a run."""
        nx, ny, nz = (_cells_text(n) for n in self.axis_cells)
        mem = f"about {human_bytes(self.host_need)}"
        if self.backend == "gpu":
            mem += f" on the host and {human_bytes(self.device_bytes)} on the GPU"
        else:
            mem += " of memory"
        return f"grid          {nx} x {ny} x {nz} = {_cells_text(self.cells)} cells, {mem}"


def _per_axis(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * 3


def in_cycles(case) -> bool:
    """Whether a steady ``simplec`` run of this case runs in multigrid cycles
    (``flow.multigrid``; ``auto``: :func:`thermosim.flow.fas.suits`, the flow section
    naming the terms as the problem does)."""
    from .flow.fas import suits

    flow = case.flow
    if flow.multigrid != "auto":
        return flow.multigrid == "on"
    return suits(flow, case.blocks)


def estimate(case, backend: str = "cpu") -> Estimate:
    """The cells and memory of ``case`` on ``backend`` (``cpu`` or ``gpu``), from the case
    alone."""
    g = case.grid
    lo, hi = case.domain.min, case.domain.max
    counts, hmin = [], []
    if g.cells is not None:
        for ax in range(3):
            n = float(g.cells[ax])
            counts.append(n)
            length = float(hi[ax]) - float(lo[ax])
            hmin.append(length / n if n > 0 and math.isfinite(length) else 0.0)
    else:
        bps = breakpoints(case)
        mc, gr, mn = (_per_axis(v) for v in (g.max_cell, g.growth, g.min_cells_per_layer))
        for ax in range(3):
            name = "xyz"[ax]
            if g.faces is not None and name in g.faces:
                f = np.asarray(g.faces[name], float)
                counts.append(float(max(f.size - 1, 0)))
                hmin.append(float(np.min(np.diff(f))) if f.size > 1 else 0.0)
                continue
            if not mc[ax] > 0:
                raise CaseError("max_cell must be positive", "grid.max_cell", case.source_file)
            n, h = axis_count(lo[ax], hi[ax], bps[ax], mc[ax], gr[ax], mn[ax])
            counts.append(n)
            hmin.append(h)
    kind = "flow" if case.flow is not None else "conduction"
    est = Estimate(kind, case.solver.precision, tuple(counts), tuple(hmin), backend)
    cells = est.cells
    extra = 0.0
    if kind == "flow" and case.flow.method == "simplec" and case.flow.end_time is None:
        from .flow.problem import lagged
        extra = (MULTIGRID_EXTRA_BYTES_PER_CELL if in_cycles(case) else
                 HALL_SIMPLEC_EXTRA_BYTES_PER_CELL if lagged(case.flow) else
                 SIMPLEC_EXTRA_BYTES_PER_CELL)[est.precision]
    if backend == "gpu":
        est.host_bytes = cells * HOST_BYTES_PER_CELL_GPU_RUN[kind]
        est.device_bytes = cells * (DEVICE_BYTES_PER_CELL[(kind, est.precision)] + extra)
    else:
        est.host_bytes = cells * (HOST_BYTES_PER_CELL[(kind, est.precision)] + extra)
    if kind == "flow" and case.flow.end_time is None and case.flow.unsteady == "average" \
            and (backend == "gpu" or not extra):
        est.host_bytes += cells * TIME_MEAN_EXTRA_BYTES_PER_CELL[est.precision]
    return est


def resolve_backend(backend, cells: float) -> str:
    """``cpu`` or ``gpu``: what ``backend`` (a name or a backend object) will run on for a
    problem of ``cells`` cells (``auto``: as :func:`thermosim.backends.backend_for` picks,
    without importing CuPy for a small problem)."""
    name = getattr(backend, "name", backend) or "cpu"
    if name == "auto":
        from .backends import AUTO_GPU_MIN_CELLS, gpu_available

        return "gpu" if cells >= AUTO_GPU_MIN_CELLS and gpu_available() else "cpu"
    return "gpu" if str(name).startswith("gpu") else "cpu"


def check_case(case, backend="cpu") -> Estimate:
    """Refuse (:class:`CaseError`, one line) a case whose grid cannot fit in memory on
    ``backend`` (a name, ``auto`` included, or a backend object; None: the host memory
    that building the model takes on any backend), or whose time steps run away; returns
    the estimate, with warnings (strings) for a run that max_steps will stop early."""
    file = case.source_file
    est = estimate(case, "cpu")
    be = None if backend is None else resolve_backend(backend, est.cells)
    if be != "cpu":
        est = estimate(case, "gpu")
    cells = est.cells
    key = "grid"
    # backend None: only what building the model takes on the host, whatever the backend
    on = f"on the {be} backend" if be else "to build the model"
    fix = "lower grid.cells" if case.grid.cells is not None else "raise grid.max_cell"
    if est.kind == "flow" and case.flow.method == "simplec" and case.flow.end_time is None:
        part = "a quarter" if in_cycles(case) else "an eighth"
        fix += f", use flow.method: march ({part} of the memory, many more steps)"
    if not math.isfinite(cells):
        raise CaseError(f"{_cells_text(cells)} cells: the grid cannot be built (domain "
                        f"{_extent(case)} with cells of {_spacing(case)}): {fix} or check the "
                        "domain's size (metres)", key, file)
    limit, said = memory_limit("host")
    if est.host_need > limit:
        raise CaseError(f"{_cells_text(cells)} cells need about {human_bytes(est.host_need)} "
                        f"{on}; {said} ({fix}, or set THERMOSIM_MEMORY_LIMIT)", key, file)
    if be == "gpu":
        dlimit, dsaid = memory_limit("device")
        if est.device_bytes > dlimit:
            raise CaseError(f"{_cells_text(cells)} cells need about "
                            f"{human_bytes(est.device_bytes)} of GPU memory; {dsaid} ({fix}, "
                            "use --backend cpu, or set THERMOSIM_GPU_MEMORY_LIMIT)", key, file)
    est.backend = be or "host"
    for severe, text in check_steps(case, est):
        (est.warnings if severe else est.notes).append(text)
    return est


def _extent(case) -> str:
    lo, hi = case.domain.min, case.domain.max
    with np.errstate(over="ignore"):
        return " x ".join(f"{float(h) - float(low):.3g}" for low, h in zip(lo, hi)) + " m"


def _spacing(case) -> str:
    g = case.grid
    if g.cells is not None:
        return f"{tuple(g.cells)} cells"
    mc = g.max_cell
    return f"at most {mc if not isinstance(mc, (tuple, list)) else tuple(mc)} m"


# ---------------------------------------------------------------------------------------
# time steps
def _max_time_steps() -> float:
    return _env_float("THERMOSIM_MAX_TIME_STEPS", MAX_TIME_STEPS)


def duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "forever"
    if seconds < 1.0:
        return "under a second"
    for unit, s in (("years", 3.15e7), ("days", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if seconds >= 2 * s:
            return f"{seconds / s:.3g} {unit}"
    return f"{seconds:.0f} s"


def step_count_check(steps: float, cells: float, kind: str, what: str, key: str, file,
                     fix: str) -> None:
    """Refuse a run of more than :data:`MAX_TIME_STEPS` steps (``steps`` may be inf)."""
    bound = _max_time_steps()
    if steps > bound or not math.isfinite(steps):
        t = steps * cells * SECONDS_PER_CELL_STEP[kind]
        n = "more than 1e308" if not math.isfinite(steps) else f"{steps:.3g}"
        raise CaseError(f"{what} makes {n} time steps (about {duration(t)} on one core), "
                        f"more than the {bound:,.0f} a run may take: {fix} (or set "
                        "THERMOSIM_MAX_TIME_STEPS)", key, file)


def check_steps(case, est: Estimate) -> list[tuple[bool, str]]:
    """Refuse runaway step counts; (severe, text) for a flow transient that ``max_steps``
    will stop before its end time, with the estimated step and time (severe: it would not
    reach 1 % of its end time; the estimate is rough, a few times optimistic, as the
    velocities a flow develops are not known before it runs)."""
    file = case.source_file
    cells = est.cells
    sol = case.solver
    if case.flow is None:
        tr = sol.transient
        if sol.mode == "transient" and tr is not None and tr.dt != "auto":
            with np.errstate(over="ignore", divide="ignore"):
                steps = float(np.float64(tr.end_time) / np.float64(tr.dt))
            step_count_check(steps, cells, "conduction",
                             f"end_time / dt = {tr.end_time:g} s / {tr.dt:g} s",
                             "solver.transient", file, "raise dt or lower end_time")
        return []
    spec = case.flow
    warnings = []
    bound = _max_time_steps()
    if spec.max_steps > bound:
        raise CaseError(f"{spec.max_steps:,} steps are more than the {bound:,.0f} a run may "
                        "take (set THERMOSIM_MAX_TIME_STEPS to allow more)",
                        "flow.max_steps", file)
    if spec.end_time is None and spec.method == "simplec":
        warnings.append((False, steady_time_text(est.cells, spec.max_steps, est.backend)))
    dt, why = flow_step_estimate(case, est)
    if spec.end_time is not None and dt is not None:
        with np.errstate(over="ignore", divide="ignore"):
            steps = float(np.float64(spec.end_time) / np.float64(dt))
        if steps > spec.max_steps:
            t = min(steps, spec.max_steps) * cells * SECONDS_PER_CELL_STEP["flow"]
            warnings.append((steps > 100 * spec.max_steps,
                f"flow.end_time: {spec.end_time:g} s takes about {steps:.3g} steps of "
                f"{dt:.2g} s ({why}); max_steps {spec.max_steps:,} will stop the run near "
                f"t = {spec.max_steps * dt:.3g} s (about {duration(t)} on one core)"))
    return warnings


def steady_time_text(cells: float, limit: int, backend: str = "cpu") -> str:
    """What a steady solve of ``cells`` cells will take before it starts: the time of an
    outer iteration on one CPU core (:data:`SECONDS_PER_CELL_OUTER_ITERATION`), of the few
    hundred iterations a hall takes, and of ``limit`` iterations at most.  The GPU's
    figure is not known before the run (no device measured it yet): the run prints its
    measured rate after its first iterations."""
    each = cells * SECONDS_PER_CELL_OUTER_ITERATION
    lo, hi = HALL_OUTER_ITERATIONS
    on = "on one CPU core" + (" (the GPU's rate is measured once it runs)"
                              if backend == "gpu" else "")
    return (f"a steady solve: about {short_duration(each)} an outer iteration {on}; "
            f"{lo}-{hi} iterations (what the halls take) about {duration(lo * each)} to "
            f"{duration(hi * each)}, the limit of {limit:,} at most "
            f"{duration(limit * each)}")


def short_duration(seconds: float) -> str:
    """Like :func:`duration`, with milliseconds for an iteration."""
    if seconds >= 10.0:
        return duration(seconds)
    if seconds >= 1.0:
        return f"{seconds:.2g} s"
    return f"{seconds * 1e3:.2g} ms" if seconds < 0.01 else f"{seconds * 1e3:.0f} ms"


def flow_step_estimate(case, est: Estimate) -> tuple[float | None, str]:
    """The stable step of a flow case before it runs (s), from the fastest boundary or
    fan velocity on the smallest cell (advection), the fluid's viscosity (explicit
    diffusion) and, for central advection, the cell-Reynolds bound; and what sets it."""
    spec = case.flow
    speeds = [abs(float(v)) for f in spec.boundaries.values() for v in f.velocity]
    for fan in spec.fans:
        ax = "xyz".index(fan.axis)
        area = 1.0
        for a in range(3):
            if a != ax:
                area *= float(fan.max[a]) - float(fan.min[a])
        q = fan.flow if fan.flow is not None else max(c[0] for c in fan.curve)
        if area > 0:
            speeds.append(abs(float(q)) / area)
    U = max(speeds, default=0.0)
    h = [x for x, n in zip(est.min_spacing, est.axis_cells) if n >= 2 and x > 0]
    if not h or not math.isfinite(U) or not all(math.isfinite(x) for x in h):
        return None, ""
    hmin = min(h)
    nu = None
    try:
        from .fluid import Fluid

        nu = Fluid.from_coolprop(spec.fluid, spec.reference_temperature).kinematic_viscosity
    except Exception:             # noqa: BLE001 (a bad fluid is reported by the run itself)
        pass
    rate = U / hmin
    why = f"{U:.3g} m/s on cells of {hmin:.2g} m" if U > 0 else f"cells of {hmin:.2g} m"
    if nu and spec.end_time is not None:
        # x * x, not x ** 2: a float product overflows to inf (a domain of 1e308 m),
        # where ** raises OverflowError
        rate += 2.0 * nu * sum(1.0 / (x * x) for x in h)
    if rate <= 0:
        return None, ""
    dt = spec.cfl / rate
    if nu and U > 0 and spec.advection == "central":
        # (16 nu h^2 / U^4)^(1/3), written so that neither a tiny U (U^4 underflowing to 0)
        # nor a huge cell (h^2 overflowing) raises: such a bound is no bound
        den = U ** (4.0 / 3.0)
        if den > 0:
            dt = min(dt, spec.cfl * (16.0 * nu * hmin * hmin) ** (1.0 / 3.0) / den)
    return dt, why


# ---------------------------------------------------------------------------------------
# sweeps and layouts
def check_sweep_points(counts: list[int], key: str, file) -> int:
    """The number of points of a grid (the product of its lists' lengths) or a list,
    refused above :data:`MAX_SWEEP_POINTS` before any point is made."""
    total = 1
    for n in counts:
        total *= int(n)
    bound = int(_env_float("THERMOSIM_MAX_SWEEP_POINTS", MAX_SWEEP_POINTS))
    if total > bound:
        shape = " x ".join(f"{n:,}" for n in counts) if len(counts) > 1 else ""
        raise CaseError(f"{total:,} points{f' ({shape} values)' if shape else ''} are more "
                        f"than the {bound:,} a sweep may have: split it into smaller sweeps "
                        "(or set THERMOSIM_MAX_SWEEP_POINTS)", key, file)
    return total


def _num(params: dict, defaults: dict, name: str) -> float | None:
    v = params.get(name, defaults.get(name))
    if isinstance(v, bool):
        return None
    try:
        v = float(v)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def layout_size(kind: str, params: dict) -> tuple[float, float, float] | None:
    """(parts, cells, cell size in m) of a layout from its parameters, before it is built:
    parts are blocks, servers, fans and chips (the Python objects the builder makes), cells
    the hall's volume over the cell size cubed (a lower bound: grading adds cells at thin
    parts).  None when a parameter is not a finite number (the builder's checks say so)."""
    from .layout_cold_plate import COLD_PLATE_DEFAULTS
    from .layout_hall import AIR_DEFAULTS, LIQUID_DEFAULTS
    from .layout_immersion import IMMERSION_DEFAULTS
    from .layout_parts import U

    if kind in ("air_cooled", "liquid_cooled"):
        d = AIR_DEFAULTS if kind == "air_cooled" else LIQUID_DEFAULTS
        v = {k: _num(params, d, k) for k in (
            "racks_per_row", "servers_per_rack", "gpus_per_server", "cpus_per_server",
            "crah_units", "rack_width", "rack_depth", "hot_aisle_width", "cold_aisle_width",
            "end_space", "plenum_height", "room_height", "cell")}
        if any(x is None for x in v.values()):
            return None
        n, ns = max(v["racks_per_row"], 0), max(v["servers_per_rack"], 0)
        per_server = 3 + max(v["gpus_per_server"], 0) + max(v["cpus_per_server"], 0)
        parts = 2 * n * (2 + ns * per_server) + 4 * max(v["crah_units"], 0)
        ext = (2 * v["end_space"] + n * v["rack_width"],
               2 * v["hot_aisle_width"] + 2 * v["rack_depth"] + v["cold_aisle_width"],
               v["plenum_height"] + v["room_height"] + v["cell"])
        cell = v["cell"]
    elif kind == "immersion":
        d = IMMERSION_DEFAULTS
        v = {k: _num(params, d, k) for k in (
            "tanks", "servers_per_tank", "gpus_per_server", "cpus_per_server", "server_units",
            "server_width", "server_depth", "margin", "floor_space", "headspace", "cell")}
        if any(x is None for x in v.values()):
            return None
        nt, ns = max(v["tanks"], 0), max(v["servers_per_tank"], 0)
        parts = nt * (5 + ns * (1 + max(v["gpus_per_server"], 0)
                                + max(v["cpus_per_server"], 0)))
        tank = 2 * v["margin"] + ns * v["server_units"] * U
        ext = (nt * tank + max(nt - 1, 0) * v["cell"], v["server_width"] + 2 * v["margin"],
               v["floor_space"] + v["server_depth"] + v["headspace"])
        cell = v["cell"]
    elif kind == "cold_plate":
        d = COLD_PLATE_DEFAULTS
        v = {k: _num(params, d, k) for k in (
            "channels", "channel_width", "fin_thickness", "channel_height", "base_thickness",
            "lid_thickness", "length", "manifold_length", "cells_across", "cell_along")}
        if any(x is None for x in v.values()) or not v["cells_across"] or v["cells_across"] < 1:
            return None
        nch = max(v["channels"], 0)
        parts = 8 + nch
        dx = v["channel_width"] / v["cells_across"]
        along = v["cell_along"]
        if not (dx > 0 and along > 0):
            return None
        with np.errstate(over="ignore"):
            cells = (float(np.float64(v["length"] + 2 * v["manifold_length"]) / along)
                     * float(np.float64(nch * (v["channel_width"] + v["fin_thickness"])) / dx)
                     * float(np.float64(v["base_thickness"] + v["channel_height"]
                                        + v["lid_thickness"]) / dx))
        return parts, cells, dx
    else:
        return None
    if not cell > 0:
        return None
    with np.errstate(over="ignore", invalid="ignore"):
        cells = float(np.prod([max(float(np.float64(e) / cell), 1.0) for e in ext]))
    return parts, cells, cell


def check_layout(kind: str, params: dict, file) -> None:
    """Refuse a layout whose parts or cells cannot fit, from its parameters alone (called
    at the top of :func:`thermosim.layouts.expand`, before the builder makes anything)."""
    size = layout_size(kind, params)
    if size is None:
        return
    parts, cells, cell = size
    if parts > MAX_LAYOUT_PARTS:
        raise CaseError(f"{_cells_text(parts)} parts (servers, fans, chips, blocks) are more "
                        f"than the {MAX_LAYOUT_PARTS:,} a layout may have: lower the counts of "
                        "racks, servers or chips", "layout", file)
    # what building it takes on the host whatever the backend (the backend's own figure is
    # checked by check_case once the case exists): a necessary condition, never too strict
    need = cells * HOST_BYTES_PER_CELL_GPU_RUN["flow"]
    limit, said = memory_limit("host")
    if not math.isfinite(cells) or need > limit:
        raise CaseError(f"at least {_cells_text(cells)} cells of {cell:g} m need about "
                        f"{human_bytes(need)} to build the model; {said} (raise the layout's "
                        "cell, or set THERMOSIM_MEMORY_LIMIT)", "layout", file)
