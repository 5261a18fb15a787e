"""Where a hall's outer iterations go wrong: each iteration's largest speed and change per
velocity component, where, and the layout's parts beside it.

    python benchmarks/outer_trace.py CASE.yaml [--iterations 10] [--eddy-in-d 1]
                                               [--longest-step 10]

The case runs from rest as ``thermosim run`` would run it to its steady state (the same
outer iterations, Anderson joining by its own rules), for ``--iterations`` only.  After
each one it prints the momentum residual the iteration started from (m/s^2), the pseudo-step
(s), the longest local step over it, and for u, v and w the largest speed (m/s) and the
largest change in that iteration, each with its face's position (the low corner of the
cell it bounds, m) and the parts within 0.1 m.  A blow-up shows as speeds far above the
fans' (a CRAH blows 9-15 m/s) and says where it starts; the solver's own check
(:data:`thermosim.flow.solver.FAN_RUNAWAY`, at the first iteration and every tenth) ends
the trace with its message once the speed passes ten times the fastest the fans can drive
(since stop 46: the 1.2e6-cell hall at its tenth iteration).  ``--eddy-in-d`` sets
:data:`thermosim.flow.local_steps.EDDY_IN_D` (the eddy diffusion's diagonal's share in
SIMPLEC's d), ``--longest-step`` the longest local step over the global one
(:data:`~thermosim.flow.local_steps.FACTOR`).

Measured (issue 19, stop 43, one thread) on the 1.2e6-cell hall (meshes/air_cooled_1e6.yaml,
3.3 s an iteration): with the defaults 398 m/s by the second iteration beside a server's
inlet corner and 3,900 m/s over a CRAH's intake by the ninth; with ``--eddy-in-d 0``
at most 21 m/s over 23.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from outer_spectrum import near  # noqa: E402

from thermosim.backends import get_backend  # noqa: E402
from thermosim.case import load_case  # noqa: E402
from thermosim.errors import SolverError  # noqa: E402
from thermosim.flow import FlowSolver, local_steps, outer, problem_from_case  # noqa: E402
from thermosim.unconverged import NotSteady  # noqa: E402


def trace(case_path: str, iterations: int, out=print) -> list:
    """Run ``iterations`` outer iterations of the case from rest; print (through ``out``)
    a line each and return, per iteration, the largest speed of each component (m/s)."""
    case = load_case(case_path)
    spec = case.flow
    problem = problem_from_case(case)
    g = problem.grid
    solver = FlowSolver(problem, get_backend("cpu"), np.float64, cfl=spec.cfl,
                        diffusion=spec.diffusion, advection=spec.advection)
    shape = solver.model.mesh.shape

    def where(idx) -> str:
        # face entry i along its axis is the low face of interior cell i - 1
        cell = [min(max(i - 1, 0), n - 1) for i, n in zip(idx, shape)]
        point = [f[c] for f, c in zip((g.x, g.y, g.z), cell)]
        parts = ", ".join(near(problem, [p + 0.5 * (f[c + 1] - f[c]) for p, f, c in
                                         zip(point, (g.x, g.y, g.z), cell)])) or "-"
        return f"({point[0]:.2f}, {point[1]:.2f}, {point[2]:.2f}) [{parts}]"

    plain = outer.OuterIteration.iterate
    largest = []

    def iterate(it, state, tolerance):
        before = [np.array(v) for v in state.vel]
        rates = plain(it, state, tolerance)
        k = len(largest) + 1
        factor = it.local.factor if it.local is not None else 1.0
        line = [f"{k:4d}  residual {rates[0]:.2e} m/s^2  step {it.dt:.2e} s  "
                f"longest x{factor:.2f}"]
        top = []
        for c in range(3):
            v = np.asarray(state.vel[c])
            if shape[c] < 2:
                top.append(0.0)
                continue
            a = np.abs(v)
            i = np.unravel_index(int(np.argmax(a)), a.shape)
            d = np.abs(v - before[c])
            j = np.unravel_index(int(np.argmax(d)), d.shape)
            top.append(float(a[i]))
            line.append(f"   {'uvw'[c]}: largest {a[i]:8.2f} m/s at {where(i)}; "
                        f"change {d[j]:8.2f} at {where(j)}")
        largest.append(top)
        out("\n".join(line))
        return rates

    outer.OuterIteration.iterate = iterate
    try:
        solver.run(steady=True, tolerance=spec.tolerance, max_steps=iterations,
                   energy_tolerance=spec.energy_tolerance,
                   **{**spec.solver_options(), "method": "simplec", "unsteady": "stop"})
    except NotSteady:
        pass
    except SolverError as e:
        # the runaway the trace is for: its lines so far, then why the solver stopped
        out(f"stopped: {e}")
    finally:
        outer.OuterIteration.iterate = plain
    return largest


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("case")
    ap.add_argument("--iterations", type=int, default=10)
    ap.add_argument("--eddy-in-d", type=float, default=None,
                    help="the eddy diffusion's diagonal's share in SIMPLEC's d (default 1)")
    ap.add_argument("--longest-step", type=float, default=None,
                    help="the longest local step over the global one (default 10)")
    a = ap.parse_args(argv)
    if a.eddy_in_d is not None:
        local_steps.EDDY_IN_D = a.eddy_in_d
    if a.longest_step is not None:
        local_steps.FACTOR = a.longest_step
    main.largest = trace(a.case, a.iterations)
    return 0


if __name__ == "__main__":
    sys.exit(main())
