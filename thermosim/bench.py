"""Throughput benchmarks: the conduction step, a steady solver iteration, a flow case's
step, and a flow case run to its steady state (``thermosim bench CASE --to-steady``).

Figures: GLUPS (1e9 cell updates per second) and effective bandwidth, counting the fewest
bytes per cell that each data layout must move, as a share of a device-to-device copy
measured in the same run.  Peers measured in the same run: the same constant-coefficient
step written with array slicing (what a NumPy/CuPy user writes), and the same step as one
compiled kernel.  Published peer figures are quoted from ``anchors.md`` for context.
"""

from __future__ import annotations

import time

import numpy as np

from .backends import get_backend
from .materials import SOLIDS, fluid

# bytes per cell: T read + T written (+ 1-byte material id)
BYTES_UNIFORM = 8
BYTES_ID8 = 9

PEERS = [
    # (what, figure, source)
    ("CuPy slicing step, 512^3, H200", "21.2 GLUPS", "anchors.md 2026-11-26"),
    ("CUDA RawKernel, constant k, 512^3, H200", "403 GLUPS", "anchors.md 2026-11-26"),
    ("CUDA RawKernel, uint8 id + harmonic mean, 512^3, H200", "102-170 GLUPS",
     "anchors.md 2026-11-26"),
    ("FiPy 4.0.3 PCG steady 128^3 (2-core CPU)", "17.1 s", "anchors.md 2026-11-26"),
    ("OpenFOAM v1912 laplacianFoam GAMG 128^3 (2-core CPU)", "18.4 s", "anchors.md"),
]


def timeit(fn, be, repeats: int, warmup: bool = True) -> float:
    """Seconds per call of ``fn`` on backend ``be`` (synchronised), after one warm-up call
    (compilation, caches) unless ``warmup`` is false."""
    if warmup:
        fn()
    be.synchronize()
    t0 = time.perf_counter()
    for _ in range(repeats):
        fn()
    be.synchronize()
    return (time.perf_counter() - t0) / repeats


def material_table(dtype):
    """Per-id table of real materials (copper, aluminium, silicon, FR4, TIM, air) and a
    fixed-temperature halo id, as the model builds it."""
    mats = [SOLIDS[n] for n in ("copper", "aluminium", "silicon", "fr4", "tim", "steel")]
    mats.append(fluid("air", 300.0))
    n = len(mats) + 1
    tab = {k: np.zeros(n) for k in ("rkx", "rky", "rkz", "ra", "inv_rhoc", "qdot", "rc",
                                    "grp")}
    for i, m in enumerate(mats):
        for a, key in enumerate(("rkx", "rky", "rkz")):
            tab[key][i] = 1.0 / m.conductivity[a]
        tab["inv_rhoc"][i] = 1.0 / m.volumetric_heat_capacity
        tab["qdot"][i] = 1e6 if m.name == "silicon" else 0.0
        tab["grp"][i] = i
    return {k: v.astype(dtype) for k, v in tab.items()}, len(mats)


def step_arrays(be, n: int, dtype=np.float32):
    """The benchmark's conduction step inputs on an n^3 grid: (T, Tn, ids, table, h, inv_d,
    dt) as GPUBackend.explicit_step takes them."""
    rng = np.random.default_rng(0)
    shape = (n + 2,) * 3
    T = be.asarray(300.0 + rng.random(shape, dtype=np.float32), dtype)
    Tn = be.zeros(shape, dtype)
    Tn[...] = T
    # materials in 32-cell blocks, random per block (a circuit-board-like patchwork)
    nb = (n + 2 + 31) // 32
    blocks = rng.integers(0, 7, size=(nb, nb, nb)).astype(np.uint8)
    ids_h = np.repeat(np.repeat(np.repeat(blocks, 32, 0), 32, 1), 32, 2)[:n + 2, :n + 2, :n + 2]
    ids_h = np.ascontiguousarray(ids_h)
    ids_h[0], ids_h[-1], ids_h[:, 0], ids_h[:, -1], ids_h[:, :, 0], ids_h[:, :, -1] = (7,) * 6
    ids = be.asarray(ids_h)
    del ids_h
    tab_h, _ = material_table(dtype)
    tab = {k: be.asarray(v, dtype) for k, v in tab_h.items()}
    # a stretched grid: 1 mm cells growing by 0.2 % per cell
    d = 1e-3 * 1.002 ** np.arange(n)
    h = tuple(be.asarray(np.concatenate([[0.0], d / 2, [0.0]]), dtype) for _ in range(3))
    inv_d = tuple(be.asarray(1.0 / d, dtype) for _ in range(3))
    return T, Tn, ids, tab, h, inv_d, 1e-4


def bench_step(be, n: int, repeats: int, dtype=np.float32) -> dict:
    """Explicit conduction step on an n^3 grid: copy bandwidth, material-id kernel,
    constant-coefficient kernel and the slicing version, all in this run."""
    xp = be.xp
    T, Tn, ids, tab, h, inv_d, dt = step_arrays(be, n, dtype)
    shape = T.shape
    out = {"n": n, "cells": n ** 3, "dtype": np.dtype(dtype).name}

    src = be.zeros((n + 2) ** 3, np.float32)
    dst = be.zeros((n + 2) ** 3, np.float32)
    copy = getattr(be, "copy", None) or (lambda d, s: d.__setitem__(Ellipsis, s))
    t = timeit(lambda: copy(dst, src), be, repeats)
    copy_bw = 2 * src.nbytes / t
    out["copy_GBps"] = copy_bw / 1e9
    src = dst = None                        # free the copy buffers before the kernels run

    cells = n ** 3
    t = timeit(lambda: be.explicit_step(T, Tn, ids, tab, h, inv_d, dt, contact=False), be,
                repeats)
    out["material_step_GLUPS"] = cells / t / 1e9
    out["material_step_GBps"] = cells * BYTES_ID8 / t / 1e9
    out["material_step_pct_copy"] = 100 * cells * BYTES_ID8 / t / copy_bw
    t = timeit(lambda: be.explicit_step_uniform(T, Tn, 0.1), be, repeats)
    out["uniform_step_GLUPS"] = cells / t / 1e9
    out["uniform_step_pct_copy"] = 100 * cells * BYTES_UNIFORM / t / copy_bw
    t = timeit(lambda: be.copy_slicing_step(T, Tn, 0.1), be, max(1, repeats // 4))
    out["slicing_step_GLUPS"] = cells / t / 1e9
    # the two kernels must agree with the slicing version where they compute the same thing
    be.explicit_step_uniform(T, Tn, 0.1)
    ref = be.zeros(shape, dtype)
    be.copy_slicing_step(T, ref, 0.1)
    diff = float(xp.max(xp.abs(Tn[1:-1, 1:-1, 1:-1] - ref[1:-1, 1:-1, 1:-1])))
    out["uniform_vs_slicing_max_diff_K"] = diff
    return out


def bench_steady(be, n: int, dtype=np.float64) -> dict:
    """Multigrid-preconditioned CG on the unit-cube, unit-source case of anchors.md:
    time per iteration and the full solve to a relative residual of 1e-8."""
    from .case import Case
    from .conduction import build_model, linear_system
    from .conduction_run import _interior, _pad
    from .solvers.krylov import pcg
    from .solvers.multigrid import Multigrid

    case = Case.from_dict(dict(
        name="cube", domain=dict(max=[1, 1, 1], background="u"),
        materials=dict(u=dict(k=1.0, rho=1, cp=1)), grid=dict(cells=[n, n, n]),
        blocks=[dict(name="all", material="u", min=[0, 0, 0], max=[1, 1, 1], power=1.0)],
        boundaries={"x-": dict(type="temperature", T=300.0),
                    "x+": dict(type="temperature", T=300.0)}))
    t0 = time.perf_counter()
    model = build_model(case)
    system = linear_system(model)
    mg = Multigrid(system, model.grid.faces, be, dtype, solved=model.solved_mask())
    op = tuple(be.asarray(a, dtype) for a in (system.Gx, system.Gy, system.Gz, system.D))
    b = be.asarray(_pad(system.shifted_rhs(300.0)), dtype)
    setup = time.perf_counter() - t0
    x = be.zeros(tuple(s + 2 for s in model.shape), dtype)
    pcg(be, op, b, x, mg.apply, 1e-30, 1)          # warm-up (compilation)
    be.synchronize()
    x = be.zeros(tuple(s + 2 for s in model.shape), dtype)
    full = pcg(be, op, b, x, mg.apply, 1e-8, 200)
    be.synchronize()
    per_it = full.wall_time / max(full.iterations, 1)
    Tmax = float(be.xp.max(_interior(x)))
    return {"n": n, "cells": n ** 3, "dtype": np.dtype(dtype).name, "setup_s": setup,
            "iteration_ms": per_it * 1e3, "iteration_MLUPS": n ** 3 / per_it / 1e6,
            "solve_s": full.wall_time, "solve_iterations": full.iterations,
            "solve_total_s": setup + full.wall_time, "T_max_minus_T_wall": Tmax,
            "T_max_exact": 0.125, "mg_levels": mg.nlevels}


def run_benchmarks(backend="auto", sizes=None, repeats=None) -> dict:
    be = get_backend(backend)
    gpu = be.name == "gpu"
    if sizes is None:
        sizes = [256, 512] if gpu else [64, 128, 256]
        if gpu:
            free = be.xp.cuda.runtime.memGetInfo()[0]
            if free > 14e9:
                sizes.append(1024)
    report = {"backend": be.name, "device": be.device_name, "step": [], "steady": [],
              "peers_published": PEERS}
    for n in sizes:
        reps = repeats or (20 if gpu else max(2, int(2e7 / n ** 3)))
        report["step"].append(bench_step(be, n, reps))
    for n in [s for s in sizes if s <= (256 if gpu else 128)]:
        for dtype in ((np.float32, np.float64) if gpu else (np.float64,)):
            report["steady"].append(bench_steady(be, n, dtype=dtype))
    return report


def print_report(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    import sys

    c = Console() if sys.stdout.isatty() else Console(width=160)
    c.print(f"backend {report['backend']}: {report['device']}")
    t = Table(title="explicit conduction step, float32 (GLUPS = 1e9 cell updates/s)")
    for col in ("N^3", "copy GB/s", "material id GLUPS", "GB/s @9 B/cell", "% of copy",
                "constant k GLUPS", "% of copy", "slicing GLUPS"):
        t.add_column(col, justify="right")
    for r in report["step"]:
        t.add_row(str(r["n"]), f"{r['copy_GBps']:.0f}", f"{r['material_step_GLUPS']:.2f}",
                  f"{r['material_step_GBps']:.0f}", f"{r['material_step_pct_copy']:.0f}",
                  f"{r['uniform_step_GLUPS']:.2f}", f"{r['uniform_step_pct_copy']:.0f}",
                  f"{r['slicing_step_GLUPS']:.3f}")
    c.print(t)
    if report["steady"]:
        t = Table(title="steady solve, unit cube with unit source (multigrid-PCG, tol 1e-8)")
        for col in ("N^3", "dtype", "levels", "ms / iteration", "MLUPS / iteration",
                    "iterations", "solve s", "set-up s", "total s", "T_max (exact 0.125)"):
            t.add_column(col, justify="right")
        for r in report["steady"]:
            t.add_row(str(r["n"]), r["dtype"], str(r["mg_levels"]), f"{r['iteration_ms']:.2f}",
                      f"{r['iteration_MLUPS']:.1f}", str(r["solve_iterations"]),
                      f"{r['solve_s']:.3f}", f"{r['setup_s']:.3f}",
                      f"{r['solve_total_s']:.3f}", f"{r['T_max_minus_T_wall']:.6f}")
        c.print(t)
    t = Table(title="published peer figures (context; see benchmarks/ for same-run peers)")
    for col in ("what", "figure", "source"):
        t.add_column(col)
    for row in report["peers_published"]:
        t.add_row(*row)
    c.print(t)


def bench_case(path, backend="auto", steps: int = 0, precision: str | None = None) -> dict:
    """Time per step and throughput of a flow case (a benchmark mesh): the solver is built,
    warmed up by three steps (compilation, caches), then ``steps`` steps are timed (0:
    enough for about 10 s, at least 5).  Nothing is written."""
    from .case import load_case
    from .flow import FlowSolver, problem_from_case
    from .sizing import check_case

    c = load_case(path)
    if c.flow is None:
        from .errors import CaseError

        raise CaseError("thermosim bench times flow cases (a case with a flow section)",
                        None, str(path))
    be = get_backend(backend)
    # refused in one line before anything is built, on the host and (a GPU) on the
    # device: what the timed steps hold is the march's state, whatever the case's method
    check_case(c.model_copy(update={"flow": c.flow.model_copy(update={"method": "march"})}),
               be)
    t0 = time.perf_counter()
    problem = problem_from_case(c)
    prec = precision or c.solver.precision
    dtype = np.float32 if prec == "float32" else np.float64
    solver = FlowSolver(problem, be, dtype, cfl=c.flow.cfl, diffusion=c.flow.diffusion,
                        advection=c.flow.advection)
    build = time.perf_counter() - t0
    for _ in range(3):
        solver.step()
    be.synchronize()
    t1 = time.perf_counter()
    n = 0
    target = steps or 10**9
    while n < target:
        solver.step()
        n += 1
        if not steps and n >= 5:
            be.synchronize()
            if time.perf_counter() - t1 > 10.0:
                break
    be.synchronize()
    per = (time.perf_counter() - t1) / n
    cells = problem.grid.ncells
    dt = solver.stats.dt
    out = {"case": str(path), "cells": int(cells), "shape": list(problem.grid.shape),
           "backend": be.name, "device": be.device_name, "precision": prec,
           "build_s": build, "steps": n, "s_per_step": per, "cell_steps_per_s": cells / per,
           "dt": dt, "simulated_s_per_wall_s": dt / per}
    if c.flow.end_time:
        out["end_time"] = c.flow.end_time
        out["projected_run_s"] = c.flow.end_time / dt * per
    return out


def print_case_report(rows: list[dict]) -> None:
    for r in rows:
        proj = f", the case's {r['end_time']:.3g} s in about {r['projected_run_s']:.0f} s" \
            if "projected_run_s" in r else ""
        print(f"{r['case']}: {r['cells']:,} cells {tuple(r['shape'])}, {r['backend']} "
              f"({r['device']}), {r['precision']}: {r['s_per_step'] * 1e3:.1f} ms per step "
              f"= {r['cell_steps_per_s']:.3g} cell-steps/s, dt {r['dt']:.3g} s "
              f"({r['simulated_s_per_wall_s']:.3g} simulated s per s{proj}); built in "
              f"{r['build_s']:.1f} s")


def bench_to_steady(path, backend="auto", method: str = "simplec",
                    precision: str | None = None, max_iterations: int = 0,
                    progress_every_s: float = 10.0) -> dict:
    """Run a flow case (a case file or a layout's parameters) to its steady state with
    ``method`` (``simplec`` outer iterations or the ``march`` in time) and return its
    figures: device, cells, iterations (outer iterations or time steps), wall time (s,
    the solve alone, after the set-up ``build_s``), cells x iterations per second, whether
    it converged and the residuals reached against the case's tolerances (velocity and
    temperature residuals dimensionless; ``stored_fraction`` the heat still being stored
    over the power).  ``max_iterations`` (0: the case's ``flow.max_steps``).  A transient
    case is run to its steady state all the same (its ``end_time`` ignored), and a case
    with ``unsteady: average`` stops at the limit (no time mean).  Before anything is
    built, the cells, the memory and the time the solve may take are printed (a case that
    cannot fit is refused, :func:`thermosim.sizing.check_case`); the progress lines give the
    measured time an iteration.  Nothing is written; an unconverged or diverged run
    returns ``converged`` false and ``stalled`` (what did not settle, or why it stopped)
    instead of raising."""
    from .case import load_case
    from .errors import CaseError, SolverError
    from .flow import FlowSolver, problem_from_case
    from .unconverged import NotSteady

    c = load_case(path)
    if c.flow is None:
        raise CaseError("thermosim bench --to-steady runs flow cases (a case with a flow "
                        "section)", None, str(path))
    be = get_backend(backend)
    spec = c.flow
    limit = max_iterations or spec.max_steps
    _announce(c, be, path, method, limit)
    t0 = time.perf_counter()
    problem = problem_from_case(c)
    prec = precision or c.solver.precision
    dtype = np.float32 if prec == "float32" else np.float64
    solver = FlowSolver(problem, be, dtype, cfl=spec.cfl, diffusion=spec.diffusion,
                        advection=spec.advection)
    build = time.perf_counter() - t0
    unit = "outer iterations" if method == "simplec" else "steps"
    progress = _progress_lines(unit, spec.tolerance, progress_every_s, limit)
    be.synchronize()
    t1 = time.perf_counter()
    stall = diverged = None
    try:
        solver.run(steady=True, tolerance=spec.tolerance, max_steps=limit,
                   progress=progress, energy_tolerance=spec.energy_tolerance,
                   # the steady state or nothing: a case's unsteady: average would go on
                   # to a time mean, past the limit
                   **{**spec.solver_options(), "method": method, "unsteady": "stop"})
    except NotSteady as e:
        stall = e.stall
    except SolverError as e:
        # a run that diverged is a row of its own (the cases after it still run)
        diverged = str(e)
    be.synchronize()
    wall = time.perf_counter() - t1
    st = solver.stats
    cells = int(problem.grid.ncells)
    out = {"case": str(path), "cells": cells, "shape": list(problem.grid.shape),
           "backend": be.name, "device": be.device_name, "precision": prec,
           "method": method, "unit": unit, "build_s": build, "iterations": int(st.steps),
           "max_iterations": int(limit), "wall_s": wall,
           "cell_iterations_per_s": cells * st.steps / wall if wall > 0 else 0.0,
           "s_per_iteration": wall / st.steps if st.steps else 0.0,
           "converged": bool(st.converged),
           "residual_velocity": float(st.residual_velocity),
           "residual_temperature": float(st.residual_temperature),
           "tolerance": spec.tolerance, "energy_tolerance": spec.energy_tolerance,
           "stored_fraction": _finite_or_none(getattr(st, "stored_fraction", None)),
           # flow.start: coarse: the coarser meshes solved first, (cells, iterations, CPU s)
           # each, coarsest first; their time is in wall_s, their iterations are not
           "coarse": [list(c) for c in getattr(st, "coarse", [])],
           # flow.multigrid: the V-cycles; the coarse meshes' iterations are in "coarse"
           "cycles": int(getattr(st, "cycles", 0))}
    notes = _notes(spec, st.converged)
    if notes:
        out["note"] = notes
    if st.retried:      # iterations counts both tries (thermosim.flow.retry)
        out["retried"] = st.retried
    out.update(_why_not(st, stall, diverged))
    return out


def _why_not(st, stall, diverged: str | None) -> dict:
    """A row's ``stalled`` (and ``advice``, or ``diverged``) where the run did not
    converge: the SolverError's message of a run that diverged, or the stall's."""
    if diverged is not None:
        return {"stalled": diverged, "diverged": True}
    if stall is not None:
        return {"stalled": stall.describe(), "advice": stall.advice(None)}
    if not st.converged:
        return {"stalled": getattr(st, "stalled", "") or "no steady state within the limit"}
    return {}


def _announce(case, be, path, method: str, limit: int) -> None:
    """Before anything is built: the cells and the memory (a case that cannot fit is
    refused in one line, :func:`thermosim.sizing.check_case`), and what the solve will
    take."""
    from .sizing import check_case, steady_time_text

    est = check_case(case, be)
    print(f"{path}: {est.describe()}", flush=True)
    if method == "simplec":
        print(f"{path}: {steady_time_text(est.cells, limit, est.backend)}", flush=True)


def _notes(spec, converged: bool) -> str:
    """What the bench did not take from the case's flow section ``spec``."""
    notes = []
    if spec.end_time is not None:
        notes.append(f"flow.end_time ({spec.end_time:g} s) ignored: run to the steady state")
    if spec.unsteady == "average" and not converged:
        notes.append("flow.unsteady: average not used: thermosim run goes on to a time mean "
                     "where no steady state is found")
    return "; ".join(notes)


def _progress_lines(unit: str, tolerance: float, every_s: float, limit: int):
    """A progress callback that prints a line on stderr every ``every_s`` of wall time
    (s): long runs show they move, at what measured rate, and how long the rest of the
    ``limit`` iterations would take at most."""
    import sys

    from .sizing import duration, short_duration

    start = time.perf_counter()
    last = [start]

    def progress(step, t, ru, rt):
        now = time.perf_counter()
        if now - last[0] >= every_s and step > 0:
            last[0] = now
            each = (now - start) / step
            print(f"  {step} {unit}: residuals {ru:.2e} (velocity) {rt:.2e} (temperature), "
                  f"target {tolerance:.0e}; {short_duration(each)} an iteration, the "
                  f"limit of {limit:,} in at most {duration(each * max(limit - step, 0))} "
                  "more", file=sys.stderr, flush=True)
    return progress


def _finite_or_none(x):
    """A float for the JSON report, None for NaN/absent (JSON has no NaN)."""
    import math

    return float(x) if x is not None and math.isfinite(x) else None


def print_steady_report(r: dict) -> None:
    """The figures of :func:`bench_to_steady`, one per line (plain text, for logs)."""
    from .flow.result import coarse_phrase

    verdict = "converged" if r["converged"] else \
        f"NOT CONVERGED after {r['iterations']:,} {r['unit']} (limit {r['max_iterations']:,})"
    tol = f"(tolerance {r['tolerance']:.3g})"
    res = f"velocity {r['residual_velocity']:.3g} {tol}, temperature " \
        f"{r['residual_temperature']:.3g}"
    if r["energy_tolerance"] is None:
        res += f" {tol}"
    else:
        # the heat still stored is the energy criterion then, not the temperature residual
        sf = r["stored_fraction"]
        res += (f", stored heat {'n/a' if sf is None else f'{sf:.3g}'} of the power "
                f"(tolerance {r['energy_tolerance']:.3g})")
    lines = [f"{r['case']}: to steady state",
             f"  device       {r['backend']} ({r['device']}), {r['precision']}",
             f"  cells        {r['cells']:,} {tuple(r['shape'])}",
             f"  method       {r['method']}",
             f"  iterations   {r['iterations']:,} {r['unit']}"
             + coarse_phrase(r.get("coarse", []), r.get("cycles", 0)),
             (f"  wall time    {r['wall_s']:.2f} s (set-up {r['build_s']:.2f} s before it; "
              f"{r['s_per_iteration'] * 1e3:.2f} ms per iteration)"),
             f"  throughput   {r['cell_iterations_per_s']:.3g} cells x iterations per s",
             f"  result       {verdict}",
             f"  residuals    {res}"]
    if "stalled" in r:
        lines.append(f"  stalled      {r['stalled']}")
    if "note" in r:
        lines.append(f"  note         {r['note']}")
    if "retried" in r:
        lines.append(f"  retried      {r['retried']}")
    print("\n".join(lines))


def cases_to_steady(cases, backend="auto", method: str = "simplec",
                    precision: str | None = None, max_iterations: int = 0):
    """``thermosim bench CASES --to-steady``: each case run to its steady state and its
    figures printed as it finishes; returns (the rows, one ``FILE: flow.max_steps: ...``
    error line per case that did not converge, ``FILE: flow: diverged ...`` per case
    that diverged)."""
    rows, unconverged = [], []
    for path in cases:
        r = bench_to_steady(path, backend, method, precision, max_iterations)
        print_steady_report(r)
        rows.append(r)
        if r.get("diverged"):
            unconverged.append(f"{path}: flow: diverged: {r['stalled']}")
        elif not r["converged"]:
            how = "; ".join(x for x in (r.get("stalled"), r.get("advice")) if x)
            unconverged.append(f"{path}: flow.max_steps: no steady state after "
                               f"{r['iterations']:,} {r['unit']}: {how} (thermosim bench "
                               "--steps N raises the limit)")
    return rows, unconverged
