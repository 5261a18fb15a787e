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

# (object path from the solver, method): the model's parts of a step
SOLVER_METHODS = (("", "stable_dt"), ("", "stored_fraction"), ("model", "update"),
                  ("model", "hold"), ("model", "momentum_explicit"), ("model", "momentum_rhs"),
                  ("model", "energy_explicit"), ("model", "net_heat"),
                  ("model.heat", "local_inverse_capacities"), ("model.pressure", "project"),
                  ("model.boundaries", "extrapolate"))


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
    # the steps of a steady march (local energy time steps with components)
    from thermosim.flow import RunMode

    mode = RunMode(1e-6, None, bool(s.problem.porous or s.problem.fans or s.problem.coolers))

    def step():
        s.step(s.stable_dt(mode), mode)
    for _ in range(3):
        step()
    t_plain = timeit(step, be, a.steps, warmup=False)
    prof = instrument(s)
    for path, name in SOLVER_METHODS:
        obj = s
        for part in filter(None, path.split(".")):
            obj = getattr(obj, part)
        prof.wrap(obj, name, f"{path}.{name}" if path else name)
    eddy = s.model.terms.eddy
    if eddy is not None:
        prof.wrap(eddy.model, "update", "turbulence.update")
        prof.wrap(eddy.model, "add_momentum", "turbulence.add_momentum")
    t_prof = timeit(step, be, a.steps, warmup=False)
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
