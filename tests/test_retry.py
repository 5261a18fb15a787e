"""A steady run whose outer iterations diverge tries once more from its start, with
SIMPLEC's d consistent with the momentum operator (thermosim/flow/retry.py; issue 19: the
1.2e6-cell halls run away from their second iteration with the eddy viscosity's diagonal
in d and stay bounded without it).

The divergence is made here (the checks raise at the tenth iteration of the first try):
the halls that run away by themselves have 1.2e6 cells.  What is checked is what the
retry does with it: the second try is exactly the run with the consistent d from the same
start, both tries' iterations are counted and the result says why."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import thermosim.flow.local_steps as local_steps
import thermosim.flow.solver as solver_module
from thermosim.case import load_case
from thermosim.errors import SolverError
from thermosim.flow import FlowSolver, problem_from_case
from thermosim.unconverged import NotSteady

HALL = Path(__file__).resolve().parents[1] / "meshes" / "air_cooled_quick.yaml"
LIMIT = 40


def _hall():
    case = load_case(HALL)
    return case, FlowSolver(problem_from_case(case), "cpu", np.float64,
                            advection=case.flow.advection)


def _run(solver, case, limit=LIMIT):
    """``limit`` outer iterations (the hall is not steady in 40): the last iterate."""
    with pytest.raises(NotSteady) as e:
        solver.run(tolerance=case.flow.tolerance, max_steps=limit,
                   energy_tolerance=case.flow.energy_tolerance, method="simplec")
    return e.value.result


def _diverge_in_first_try(monkeypatch, always=False):
    """The checks raise at the first try's tenth iteration (or at every check)."""
    check = solver_module.FlowSolver.check_divergence

    def made_to_diverge(self, U):
        if always or (not self.stats.retried and self.stats.steps >= 10):
            raise SolverError(f"made to diverge at outer iteration {self.stats.steps}")
        return check(self, U)
    monkeypatch.setattr(solver_module.FlowSolver, "check_divergence", made_to_diverge)


def test_a_diverged_hall_is_solved_again_from_its_start_with_the_consistent_d(monkeypatch):
    case, s = _hall()
    with monkeypatch.context() as m:
        m.setattr(local_steps, "EDDY_IN_D", 0.0)
        # the run with the consistent d from the start, its count at the first try's 10
        s.stats.steps = 10
        want = _run(s, case)
    case, s = _hall()
    _diverge_in_first_try(monkeypatch)
    got = _run(s, case)
    st = got.stats
    assert st.steps == LIMIT                    # 10 of the first try, 30 of the second
    assert st.retried.startswith("the first 10 outer iterations diverged with SIMPLEC's d "
                                 "taking the eddy viscosity's diagonal (made to diverge at "
                                 "outer iteration 10)")
    assert "from the start again with the d consistent" in st.retried
    assert [h[0] for h in st.history][:3] == [1, 10, 20]     # both tries' checks kept
    # the second try is the consistent d's run from the same start, iterate for iterate
    for a, b in zip((got.u, got.v, got.w, got.T, got.pressure),
                    (want.u, want.v, want.w, want.T, want.pressure)):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-9 * max(np.abs(b).max(), 1.0))
    # without the retry the first try's d would have gone on: another iterate
    with monkeypatch.context() as m:
        m.setattr(local_steps, "EDDY_IN_D", 1.0)
        case, s = _hall()
        s.stats.steps = 10
        other = _run(s, case)
    assert np.abs(other.u - want.u).max() > 1e-6
    assert "retried" in got.summary() and "the first 10 outer iterations" in got.summary()


def test_a_second_divergence_stops_the_run_and_says_both_tries(monkeypatch):
    case, s = _hall()
    _diverge_in_first_try(monkeypatch, always=True)
    with pytest.raises(SolverError) as e:
        s.run(tolerance=case.flow.tolerance, max_steps=LIMIT, method="simplec")
    assert not isinstance(e.value, NotSteady)
    msg = str(e.value)
    assert msg.startswith("made to diverge at outer iteration 10 (the second try, with "
                          "SIMPLEC's d consistent with the momentum operator; the first "
                          "diverged after 1 outer iterations)"), msg


def test_a_flow_without_eddy_viscosity_is_not_tried_again(monkeypatch):
    # a laminar cavity has one d: its divergence is said as it was
    from thermosim.flow import FlowBoundary, FlowProblem, Fluid
    from thermosim.flow_verification import SLIP_Z
    from thermosim.grid import Grid

    f = np.linspace(0.0, 1.0, 9)
    problem = FlowProblem(Grid(f, f, np.array([0.0, 0.125])),
                          Fluid("cavity", 1.0, 0.01, 0.01, 1.0),
                          {"y+": FlowBoundary("wall", velocity=(1.0, 0.0, 0.0)), **SLIP_Z})
    s = FlowSolver(problem, "cpu", np.float64)
    _diverge_in_first_try(monkeypatch, always=True)
    with pytest.raises(SolverError) as e:
        s.run(tolerance=1e-12, max_steps=20, method="simplec", multigrid=False)
    assert str(e.value) == "made to diverge at outer iteration 1"
    assert s.stats.retried == ""
