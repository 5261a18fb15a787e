"""Where a flow case's step goes (a rack layout's: turbulence, components, the pressure
solve), every backend call and the solver's component methods timed on their own.

    python benchmarks/profile_case.py meshes/air_cooled_1e6.yaml --backend gpu

Builds the case's solver, takes three steps (compilation, caches), then times ``--steps``
steps plain and profiled (each call synchronised before and after; exclusive times: a call
inside another counts once) and prints calls, total and per-call time per step, sorted.
The component methods' exclusive time is what their array expressions cost (turbulence,
sinks, fans, local energy capacities), the backend calls the kernels'.
"""

from __future__ import annotations

import argparse
import json

from flow_step import instrument
from thermosim.backends import get_backend
from thermosim.bench import timeit

import numpy as np

SOLVER_METHODS = ("_update_components", "_local_capacities", "_hold_coolers",
                  "_add_cold_plates", "stable_dt", "_momentum", "_energy", "_project",
                  "_outflow_extrapolate", "stored_fraction", "_momentum_source")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("case")
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--json")
    a = ap.parse_args(argv)
    from thermosim.case import load_case
    from thermosim.flow import FlowSolver, problem_from_case

    c = load_case(a.case)
    be = get_backend(a.backend)
    dtype = np.float32 if c.solver.precision == "float32" else np.float64
    s = FlowSolver(problem_from_case(c), be, dtype, cfl=c.flow.cfl,
                   advection=c.flow.advection)
    s._local_energy = bool(s.problem.porous or s.problem.coolers)
    for _ in range(3):
        s.step()
    t_plain = timeit(lambda: s.step(), be, a.steps, warmup=False)
    prof = instrument(s)
    for name in SOLVER_METHODS:
        if hasattr(s, name):
            prof.wrap(s, name)
    if s.turbulence is not None:
        prof.wrap(s.turbulence, "update", "turbulence.update")
        prof.wrap(s.turbulence, "add_momentum", "turbulence.add_momentum")
    t_prof = timeit(lambda: s.step(), be, a.steps, warmup=False)
    n = s.problem.grid.ncells
    print(f"{a.case}: {n:,} cells, {dtype.__name__} on {be.device_name}: "
          f"{t_plain * 1e3:.1f} ms per step unprofiled ({n / t_plain:.3g} cell-steps/s), "
          f"{t_prof * 1e3:.1f} ms profiled")
    rows = sorted(((k, prof.calls[k] / a.steps, prof.total[k] / a.steps) for k in prof.total),
                  key=lambda r: -r[2])
    accounted = sum(r[2] for r in rows)
    print(f"  {'call (exclusive)':<26s} {'calls/step':>10s} {'ms/step':>9s} {'share':>6s}")
    for k, cl, t in rows:
        print(f"  {k:<26s} {cl:10.1f} {t * 1e3:9.2f} {100 * t / t_prof:5.1f}%")
    print(f"  {'python / other':<26s} {'':10s} {(t_prof - accounted) * 1e3:9.2f}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(dict(case=a.case, device=be.device_name, cells=n, plain_s=t_plain,
                           profiled_s=t_prof,
                           rows=[dict(call=k, calls=cl, s=t) for k, cl, t in rows]), f,
                      indent=1)


if __name__ == "__main__":
    main()
