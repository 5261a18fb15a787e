"""Where a flow step's time goes, kernel by kernel, and what the pressure multigrid costs.

    python benchmarks/profile_flow.py --backend gpu --size 256 --precision float32

1. Runs a few Heun steps of benchmarks/flow_step.py's channel with every backend call and the
   solver's halo fills timed on their own (synchronised before and after; exclusive times,
   a call inside another counts once), and prints calls, total and per-call time, sorted.
2. Times the pressure multigrid's pieces on the finest level (each smoother, residual,
   restriction, prolongation, the coarsest solve, one whole V-cycle) and the pressure
   equation solved to 1e-6 from zero with the line smoother and with red-black Gauss-Seidel
   (iterations and time), so that the smoother can be chosen by measurement.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from flow_step import BACKEND_CALLS, SOLVER_CALLS, Profiler, channel, instrument
from thermosim.backends import get_backend
from thermosim.bench import timeit
from thermosim.flow import FlowSolver
from thermosim.solvers.krylov import pcg
from thermosim.solvers.multigrid import Multigrid

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--precision", default="float64", choices=("float32", "float64"))
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--json")
    a = ap.parse_args(argv)
    be = get_backend(a.backend)
    dtype = np.dtype(a.precision)
    n = a.size
    s = FlowSolver(channel(n), be, dtype)
    for _ in range(2):
        s.step()
    dt = s.stable_dt()
    t_plain = timeit(lambda: s.step(dt), be, a.steps, warmup=False)
    prof = instrument(s)
    it0 = s.stats.pressure_iterations
    t_prof = timeit(lambda: s.step(dt), be, a.steps, warmup=False)
    iters = (s.stats.pressure_iterations - it0) / a.steps
    print(f"flow step {n}^3 {a.precision} on {be.device_name}: {t_plain * 1e3:.1f} ms per "
          f"step unprofiled, {t_prof * 1e3:.1f} ms profiled; {iters:.1f} pressure CG "
          f"iterations per step; levels {s.model.pressure.multigrid.describe()}; "
          f"smoother {s.pressure_smoother}")
    rows = sorted(((k, prof.calls[k] / a.steps, prof.total[k] / a.steps) for k in prof.total),
                  key=lambda r: -r[2])
    accounted = sum(r[2] for r in rows)
    print(f"  {'call':<18s} {'calls/step':>10s} {'ms/step':>9s} {'ms/call':>9s} {'share':>6s}")
    for k, c, t in rows:
        print(f"  {k:<18s} {c:10.1f} {t * 1e3:9.2f} {t / c * 1e3:9.3f} "
              f"{100 * t / t_prof:5.1f}%")
    print(f"  {'python / other':<18s} {'':10s} {(t_prof - accounted) * 1e3:9.2f}")
    report = dict(device=be.device_name, size=n, precision=a.precision,
                  step_ms=t_plain * 1e3, profiled_step_ms=t_prof * 1e3,
                  pressure_iterations_per_step=iters,
                  calls={k: dict(per_step=c, ms_per_step=t * 1e3) for k, c, t in rows})

    # 2. the pressure multigrid, piece by piece, on a fresh copy of its operator
    mg = s.model.pressure.multigrid
    lev = mg.levels[0]
    rng = np.random.default_rng(1)
    b = np.zeros(s.phi.shape)
    b[1:-1, 1:-1, 1:-1] = rng.standard_normal(s.shape) * (~s.model.mesh.solid)
    bb = be.asarray(b, dtype)
    x = be.zeros(b.shape, dtype)
    op = (lev.Gx, lev.Gy, lev.Gz, lev.D)
    pieces = {
        "smoother sweep (one colour)": lambda: mg._smooth(x, *op, bb, 0),
        "rbgs sweep (one colour)": lambda: be.rbgs(x, *op, bb, 0),
        "residual": lambda: be.residual(bb, x, *op, lev.r),
        "V-cycle": lambda: mg.apply(bb, x),
    }
    if mg.nlevels > 1:
        pieces["restrict"] = lambda: be.restrict(lev.r, mg.levels[1].b, *lev.offsets)
        pieces["prolong_add"] = lambda: be.prolong_add(mg.levels[1].x, x, *lev.maps)
    for ax in range(3):
        if hasattr(be, "line_gs"):
            pieces[f"line_gs axis {ax} (one colour)"] = \
                lambda ax=ax: be.line_gs(x, *op, bb, 0, ax)
    mgt = {}
    for k, fn in pieces.items():
        mgt[k] = timeit(fn, be, 5) * 1e3
        print(f"  multigrid {k:<32s} {mgt[k]:8.3f} ms")
    solves = {}
    for smoother in ("zline", "rbgs"):
        m = mg if smoother == s.pressure_smoother else Multigrid(
            _system(s), s.problem.grid.faces, be, dtype, solved=~s.model.mesh.solid,
            singular=s.model.pressure.singular, smoother=smoother)
        xx = be.zeros(b.shape, dtype)
        m.apply(bb, xx)                     # warm-up (compilation) outside the timing
        best = None
        for _ in range(3):                  # best of three: the machine may be shared
            xx.fill(0)
            be.synchronize()
            t0 = time.perf_counter()
            st = pcg(be, s.model.pressure.operator, bb, xx, m.apply, 1e-6, 500)
            be.synchronize()
            t = time.perf_counter() - t0
            best = t if best is None else min(best, t)
        solves[smoother] = dict(iterations=st.iterations, s=best, converged=st.converged)
        print(f"  pressure to 1e-6 with {smoother:5s} smoothing: {st.iterations} iterations, "
              f"{solves[smoother]['s']:.3f} s")
    report.update(multigrid_ms=mgt, pressure_solves=solves)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(report, f, indent=2)


def _system(s):
    from thermosim.linear_system import LinearSystem

    G = [s.be.to_host(g).astype(np.float64) for g in s.model.pressure.operator[:3]]
    D = s.be.to_host(s.model.pressure.operator[3]).astype(np.float64)
    return LinearSystem(G[0], G[1], G[2], D, np.zeros(s.shape))


if __name__ == "__main__":
    main()
