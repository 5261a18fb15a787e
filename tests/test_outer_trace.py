"""benchmarks/outer_trace.py: each outer iteration's largest speeds and where.  Its figures
are the run's own (the trace watches the iterations, it does not change them), and on
the quick air hall they stay near the fans' speeds (a blow-up as the 1.2e6-cell hall's,
hundreds of m/s by its second iteration, would not)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import outer_trace  # noqa: E402

from thermosim.case import load_case  # noqa: E402
from thermosim.cases import HERE  # noqa: E402
from thermosim.flow import FlowSolver, problem_from_case  # noqa: E402
from thermosim.unconverged import NotSteady  # noqa: E402


def test_the_trace_reports_the_runs_own_speeds():
    path = HERE / "air_cooled_quick.yaml"
    lines = []
    largest = outer_trace.trace(str(path), 4, out=lines.append)
    assert len(largest) == 4 and len(lines) == 4
    assert all("u: largest" in t and "w: largest" in t and "m/s at (" in t for t in lines)
    case = load_case(path)
    spec = case.flow
    s = FlowSolver(problem_from_case(case), "cpu", np.float64, cfl=spec.cfl,
                   diffusion=spec.diffusion, advection=spec.advection)
    try:
        s.run(steady=True, tolerance=spec.tolerance, max_steps=4,
              energy_tolerance=spec.energy_tolerance,
              **{**spec.solver_options(), "method": "simplec", "unsteady": "stop"})
    except NotSteady:
        pass
    plain = [float(np.abs(np.asarray(s.vel[c])).max()) for c in range(3)]
    assert np.allclose(largest[-1], plain, rtol=1e-12), (largest[-1], plain)
    # the quick hall's jets are about 6 m/s: every iteration stays within 3 times that
    assert 1.0 < max(max(t) for t in largest) < 20.0, largest
