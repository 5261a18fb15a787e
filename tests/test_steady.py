"""The steady solver (SIMPLEC outer iterations, :mod:`thermosim.flow.outer`): it reaches the
time march's steady state (the same discrete equations, so the same answer to the
tolerance), in far fewer iterations than the march's steps, and says so when it does not."""

import numpy as np
import pytest

from thermosim import flow_verification as fv
from thermosim.flow import FlowBoundary, FlowProblem, FlowSolver, Fluid
from thermosim.flow.anderson import Anderson
from thermosim.unconverged import NotSteady


def _cavity(Re: float, n: int) -> FlowProblem:
    f = fv.clustered(n, 0.0)
    fluid = Fluid("cavity", 1.0, 1.0 / Re, 1.0 / Re, 1.0)
    bc = {"y+": FlowBoundary("wall", velocity=(1.0, 0.0, 0.0)), **fv.SLIP_Z}
    return FlowProblem(fv._grid_2d(f, f), fluid, bc, name=f"cavity Re {Re:g}")


def _both(problem_of, tolerance=1e-8):
    """The march's and the outer iterations' steady states of the same problem."""
    march = FlowSolver(problem_of())
    rm = march.run(tolerance=tolerance)
    outer = FlowSolver(problem_of())
    ro = outer.run(tolerance=tolerance, method="simplec")
    return march, rm, outer, ro


def test_cavity_outer_iterations_reach_the_march_steady_state():
    """Lid-driven cavity Re 100 on 24^2: both converged to 1e-8, the fields agree to 1e-5 of
    the lid speed (the residual bound), and the outer iterations take a tenth of the
    steps or fewer."""
    march, rm, outer, ro = _both(lambda: _cavity(100.0, 24))
    assert rm.stats.converged and ro.stats.converged
    for a, b in ((rm.u, ro.u), (rm.v, ro.v)):
        assert np.abs(a - b).max() < 1e-5
    assert ro.stats.steps * 10 < rm.stats.steps, (ro.stats.steps, rm.stats.steps)


def test_natural_convection_outer_iterations_reach_the_march_nusselt():
    """de Vahl Davis Ra 1e4 on 16^2 (graded): temperatures within 1e-5 K of the march's (1 K
    across the cavity), the same hot-wall heat flow to 1e-5."""
    march, rm, outer, ro = _both(lambda: fv.natural_convection_case(1e4, 16))
    assert ro.stats.converged
    assert np.abs(rm.T - ro.T).max() < 1e-5
    G0 = march.model.heat.G_host[0]
    q_m = float((G0[0] * (1.0 - rm.T[0])).sum())
    q_o = float((G0[0] * (1.0 - ro.T[0])).sum())
    assert abs(q_o - q_m) < 1e-5 * abs(q_m)


@pytest.mark.parametrize("multigrid,steps,rows", [(False, 5, 5), (True, 8, 2)])
def test_outer_iterations_not_converged_are_told(multigrid, steps, rows):
    """An iteration limit too small: NotSteady, counted in outer iterations, with the
    history of the residuals kept for its plot (in multigrid cycles: a row a cycle of four
    outer iterations on the mesh, the one begun below the limit run whole)."""
    s = FlowSolver(_cavity(100.0, 16))
    with pytest.raises(NotSteady, match="outer iterations"):
        s.run(tolerance=1e-8, max_steps=5, method="simplec", check_every=1,
              multigrid=multigrid)
    assert s.stats.steps == steps and not s.stats.converged
    assert len(s.stats.history) == rows


@pytest.mark.parametrize("method,patience,unit", [("simplec", 50, "outer iterations"),
                                                    ("march", 300, "steps")])
def test_a_stalled_run_stops_long_before_its_limit(monkeypatch, method, patience, unit):
    """A tolerance below round-off (1e-15 of the lid speed) cannot be met: once the
    residual stops halving for the stall patience (shortened here) the run stops with the
    stall told, not at its limit of 100,000."""
    import thermosim.flow.march as march
    import thermosim.flow.outer as outer

    monkeypatch.setattr(outer, "STALL_PATIENCE", patience)
    monkeypatch.setattr(march, "STALL_PATIENCE", patience)
    s = FlowSolver(_cavity(100.0, 16))
    with pytest.raises(NotSteady, match=rf"no steady state after [\d,]+ {unit} \(stopped "
                       r"early: .*\): the momentum equation.*or try flow.method"):
        s.run(tolerance=1e-15, max_steps=100_000, method=method)
    assert patience < s.stats.steps < 20_000 and not s.stats.converged
    assert s.stats.residual_velocity < 1e-9           # it got as far as round-off allows


def _linear_map(n: int = 12):
    """x <- M x + b, M symmetric with eigenvalues from -0.5 to 0.99; its fixed point and an
    Anderson as deep as n."""
    from thermosim.backends import backend_for

    rng = np.random.default_rng(1)
    Q = np.linalg.qr(rng.standard_normal((n, n)))[0]
    M = Q @ np.diag(np.linspace(-0.5, 0.99, n)) @ Q.T
    b = rng.standard_normal(n)
    exact = np.linalg.solve(np.eye(n) - M, b)
    return M, b, exact, Anderson(backend_for("cpu", n), n, np.float64, depth=n)


def test_anderson_solves_a_linear_fixed_point_in_at_most_its_dimension():
    """Anderson acceleration with depth >= n on a linear map x <- M x + b (n = 12, spectral
    radius 0.99: plain iteration would need ~3,000 steps to 1e-12) is GMRES in disguise
    (Walker & Ni 2011): exact within n + 2 iterations, up to round-off."""
    M, b, exact, acc = _linear_map()
    n = b.size
    x = np.zeros(n)
    w = np.ones(n)
    for _ in range(n + 2):
        x = acc.step(x, M @ x + b, w)
    assert np.abs(x - exact).max() < 1e-8 * np.abs(exact).max()


def test_anderson_alternating_with_plain_iterations_keeps_every_pair():
    """Mixing one iteration in two (Restarts.mixes after a stagnation) still records the
    plain iterations' pairs, so on the linear map above the history spans the same Krylov
    space and the alternating iteration is exact within n + 2 iterations too; without
    those pairs it takes 23."""
    from thermosim.flow.anderson import PERIOD

    M, b, exact, acc = _linear_map()
    n = b.size
    x = np.zeros(n)
    for k in range(n + 2):
        gx = M @ x + b
        plain = acc.step(x, gx, np.ones(n), mix=k % PERIOD == 0)
        assert k % PERIOD == 0 or plain is gx          # a plain iteration keeps its image
        x = plain
    assert np.abs(x - exact).max() < 1e-8 * np.abs(exact).max()


def test_anderson_alternates_once_it_has_stagnated():
    """Restarts.mixes: Anderson mixes every iteration while the residual falls or jumps
    (a jump restarts the history but is no stagnation), and one in PERIOD from its first
    stagnation on, even once the residual falls again."""
    from thermosim.flow.anderson import PERIOD, QUIET, Restarts

    r = Restarts(QUIET)
    for k in range(200):
        r.due(0.98 ** k)
        assert r.mixes(k)
    assert r.due(1e3)                                  # the jump: a restart
    assert all(r.mixes(k) for k in range(200, 210))
    held = [r.due(1.0) for _ in range(QUIET + 1)]
    assert any(held)                                   # the stagnation's restart
    r.due(1e-3)
    assert [r.mixes(k) for k in range(300, 306)] == [k % PERIOD == 0 for k in range(300, 306)]


class _Hall:
    """What :class:`AndersonStart` reads of a problem: a hall's eddy viscosity and fans."""
    turbulence, fans = "lvel", ("fan",)


def _residuals(start, history, every=10):
    """Feed ``start`` the residuals ``history(step)`` at every check; the step it let
    Anderson join at (None: never)."""
    for s in range(every, 3000, every):
        worst = history(s)
        if start.joins(worst):
            return s
        start.check(s, worst)
    return None


def test_anderson_joins_a_limit_cycle_at_once_and_a_falling_residual_only_near_its_end():
    """A hall's Anderson acceleration starts below a hundred times the tolerance; a
    residual held between 2e-2 and 6e-2 (the 0.154 m air hall's limit cycle, issue 19)
    makes it join within two patiences of the cycle's start, one that halves every two
    thirds of the patience (the 0.1 m air hall falls faster) never before a hundred times
    the tolerance, and the flows with no lagged terms have it from the first iteration;
    a tank (porous servers, no fans) waits as a hall does."""
    from thermosim.flow.anderson_start import CYCLE_PATIENCE, AndersonStart

    tol = 1e-4
    cycle = AndersonStart(_Hall, tol, 0)
    # falls from 1 to 3e-2 by iteration 300, then wanders between 2e-2 and 6e-2
    at = _residuals(cycle, lambda s: max(3e-2, 10.0 ** (-s / 200)) *
                    (1.0 + 0.8 * np.sin(s / 37.0)))
    assert at is not None and 300 < at <= 300 + 2 * CYCLE_PATIENCE, at
    # halving every two thirds of the patience: falling, so Anderson waits for 100 tol
    half = 2 * CYCLE_PATIENCE // 3
    falling = AndersonStart(_Hall, tol, 0)
    at = _residuals(falling, lambda s: 10.0 * 0.5 ** (s / half))
    assert at is not None and 10.0 * 0.5 ** (at / half) < 100 * tol <= \
        10.0 * 0.5 ** ((at - 10) / half)

    class _Cavity:
        turbulence, fans, porous = "none", (), ()
    assert AndersonStart(_Cavity, tol, 0).joins(1e3)

    class _Tank:
        """An immersion tank: porous servers, laminar oil, no fans (issue 19, stop 45)."""
        turbulence, fans, porous = "none", (), ("server",)
    tank = AndersonStart(_Tank, tol, 0)
    assert not tank.joins(1.0) and tank.joins(0.99 * 100 * tol)


def test_anderson_joins_a_hall_whose_plain_iterations_make_it_worse():
    """A residual that rises to RISE times its lowest before Anderson joins (the 20-rack
    hall on 0.08 m cells: from 1.6 at iteration 40 to 20 at 60 and 38 at 80, a flip of
    period two it then held, issue 19) lets Anderson join at the next check; the rises
    of the halls that converge (at most 3.2 times before Anderson joins) do not."""
    from thermosim.flow.anderson_start import CYCLE_PATIENCE, RISE, AndersonStart

    tol = 1e-4
    hall = {10: 8.0, 20: 4.6, 30: 2.6, 40: 1.64, 50: 5.2, 60: 20.3, 70: 34.6, 80: 37.7}
    at = _residuals(AndersonStart(_Hall, tol, 0), lambda s: hall.get(s, 38.0))
    assert at == 70, at
    assert CYCLE_PATIENCE > 70
    # a residual falling tenfold every 150 iterations with a rise of 3.9 times from 100
    # to 130 (more than any converging hall's): Anderson waits for 100 tol
    bump = AndersonStart(_Hall, tol, 0)
    at = _residuals(bump, lambda s: 10.0 ** (-s / 150) * (3.9 if 100 <= s < 130 else 1.0))
    assert at == 310, at
    assert RISE > 3.9


def test_anderson_restarts_when_it_stagnates_or_the_residual_jumps():
    """Anderson's history is thrown away when the residual has not lost a tenth in the
    history's length (stagnation: the 0.154 m cold-plate hall held its residual at 6.3e-4
    for thousands of iterations without this), or in QUIET iterations where the history is
    longer (a hall's 100: the 0.11 m 20-rack hall held its residual to three digits for
    150), or has grown a hundredfold over the least; never while it keeps falling,
    however slowly past the tenth."""
    from thermosim.flow.anderson import HALL_DEPTH, QUIET, Restarts

    depth = 30
    r = Restarts(depth)
    # falling 1 % an iteration: a tenth every 11 iterations, never a restart
    assert not any(r.due(0.99 ** k) for k in range(500))
    # then held: the restart comes depth iterations after the last tenth lost
    held = 0.99 ** 499
    due = [r.due(held * (1.0 + 1e-3 * np.sin(k))) for k in range(3 * depth)]
    first = due.index(True)
    assert depth - 11 <= first < depth, first
    # and again a history's length later, while it stays held
    assert due.index(True, first + 1) == first + depth
    # a jump of a hundredfold over the least: at once
    r = Restarts(depth)
    r.due(1e-3)
    assert not r.due(5e-2) and r.due(2e-1)
    # no history (depth 0): only the jump
    r = Restarts(0)
    assert not any(r.due(1.0) for _ in range(100))
    # a hall's history: the restart after QUIET held iterations, not after its depth
    r = Restarts(HALL_DEPTH)
    assert not any(r.due(0.99 ** k) for k in range(500))
    due = [r.due(held) for _ in range(3 * QUIET)]
    assert QUIET - 11 <= due.index(True) < QUIET < HALL_DEPTH, due.index(True)


def test_an_isothermal_flow_skips_its_energy_update(monkeypatch):
    """No heat moves in the lid-driven cavity (uniform temperature, adiabatic walls): its
    outer iterations build no energy operator and leave the temperature exactly as it
    was; a heated one (de Vahl Davis Ra 1e4, 8^2) builds one every iteration."""
    from thermosim.backends.cpu import CPUBackend

    calls = []
    built = CPUBackend.energy_operator
    monkeypatch.setattr(CPUBackend, "energy_operator",
                        lambda self, *a, **k: calls.append(1) or built(self, *a, **k))

    def run(solver, steps):
        try:
            solver.run(tolerance=1e-12, method="simplec", multigrid=False, max_steps=steps)
        except NotSteady:
            pass

    s = FlowSolver(_cavity(100.0, 8), "cpu")
    T0 = s.T.copy()
    run(s, 30)
    assert s.stats.steps == 30 and not calls
    assert np.array_equal(s.T, T0)
    h = FlowSolver(fv.natural_convection_case(1e4, 8), "cpu")
    run(h, 20)
    assert h.stats.steps == 20 and len(calls) == 20


def test_a_hall_continued_after_a_stop_takes_the_iterations_it_would_have():
    """A run resumed from a checkpoint (or started from coarser meshes' answer) starts
    heated; which unknowns Anderson mixes is the problem's choice, not the state's
    (:func:`thermosim.flow.anderson.temperature_joins`: a hall's temperature always; once
    it joined only where the heated state said so, and the continued run took 283 outer
    iterations against 234).  The quick cold-plate hall stopped after 100 outer iterations
    and continued converges at the count of the run that never stopped."""
    from thermosim.case import load_case
    from thermosim.cases import HERE
    from thermosim.flow import problem_from_case
    from thermosim.flow.anderson import temperature_joins

    case = load_case(HERE / "liquid_cooled_quick.yaml")
    problem = problem_from_case(case)
    assert temperature_joins(problem)
    assert temperature_joins(fv.natural_convection_case(1e4, 16))
    opts = {**case.flow.solver_options(), "method": "simplec", "unsteady": "stop",
            "tolerance": case.flow.tolerance, "energy_tolerance": case.flow.energy_tolerance}
    counts = []
    for stops in ([1000], [100, 1000]):
        s = FlowSolver(problem, "cpu", np.float64, cfl=case.flow.cfl,
                       diffusion=case.flow.diffusion, advection=case.flow.advection)
        for limit in stops:
            try:
                s.run(max_steps=limit, **opts)
            except NotSteady:
                assert limit < 1000
        assert s.stats.converged
        counts.append(s.stats.steps)
    assert counts[0] == counts[1], counts


def _quick_hall_answers(name: str, settings) -> list:
    """The metrics of the quick hall ``name`` (thermosim/cases) run to its steady state
    once per entry of ``settings`` (each called before its run: a monkeypatch), each run
    required steady."""
    from thermosim.case import load_case
    from thermosim.cases import HERE
    from thermosim.flow import problem_from_case

    case = load_case(HERE / name)
    problem = problem_from_case(case)
    opts = {**case.flow.solver_options(), "method": "simplec", "unsteady": "stop",
            "tolerance": case.flow.tolerance, "energy_tolerance": case.flow.energy_tolerance}
    metrics = []
    for setting in settings:
        setting()
        s = FlowSolver(problem, "cpu", np.float64, cfl=case.flow.cfl,
                       diffusion=case.flow.diffusion, advection=case.flow.advection)
        r = s.run(max_steps=1000, **opts)
        assert r.stats.converged
        metrics.append(r.metrics())
    return metrics


def _same_answers(a: dict, b: dict) -> None:
    """The hottest junction within 0.01 K, each cooler's heat within 1e-4 of the coolers'
    total and each fan's flow within 1e-4 of its own (issue 19 asks 0.2 K, 0.2 % and 1 %
    of a changed solver)."""
    hottest = [max(c["junction_temperature"] for c in m["chips"]) for m in (a, b)]
    assert abs(hottest[0] - hottest[1]) < 0.01, hottest
    total = sum(k["heat_removed"] for k in b["coolers"])
    for x, y in zip(a["coolers"], b["coolers"]):
        assert abs(x["heat_removed"] - y["heat_removed"]) < 1e-4 * total, (x, y)
    for x, y in zip(a["fans"], b["fans"]):
        assert abs(x["flow"] - y["flow"]) <= 1e-4 * abs(y["flow"]), (x, y)


def test_a_halls_history_in_single_precision_gives_the_same_answers(monkeypatch):
    """A hall's Anderson history is 100 iterates deep in single precision
    (:func:`thermosim.flow.anderson.history`): only the accelerator's model of the map,
    whose fixed point is the answer.  The quick cold-plate hall run with it and with the
    same history in double precision: both steady, the hottest junction within 0.01 K,
    each cooler's heat and each fan's flow within 1e-4 of the coolers' total and of its
    own (issue 19 asks 0.2 K, 0.2 % and 1 % of a changed solver)."""
    from thermosim.case import load_case
    from thermosim.cases import HERE
    from thermosim.flow import anderson, outer, problem_from_case

    problem = problem_from_case(load_case(HERE / "liquid_cooled_quick.yaml"))
    assert anderson.history(problem) == (100, np.float32)
    assert anderson.history(_cavity(100.0, 8)) == (30, None)
    single, double = _quick_hall_answers("liquid_cooled_quick.yaml", [
        lambda kept=kept: monkeypatch.setattr(outer, "history", lambda p: (100, kept))
        for kept in (np.float32, None)])
    _same_answers(single, double)


def test_simplecs_d_shapes_the_iterations_not_the_answer(monkeypatch):
    """SIMPLEC's d (here the share of the eddy diffusion's diagonal in it,
    local_steps.EDDY_IN_D) sets how a projection moves the faces, so how the outer
    iterations go, not their fixed point.  The quick air hall with the diagonal whole (the
    default) and left out (measured, issue 19, stop 43: 159 and 186 outer iterations, the
    hottest junctions 9e-4 K apart, each cooler's heat within 2e-6 of the total, each
    fan's flow within 2e-7 of its own): both steady, the hottest junction within 0.01 K,
    coolers and fans within 1e-4 (issue 19 asks 0.2 K, 0.2 % and 1 % of a changed
    solver)."""
    from thermosim.flow import local_steps

    whole, consistent = _quick_hall_answers("air_cooled_quick.yaml", [
        lambda share=share: monkeypatch.setattr(local_steps, "EDDY_IN_D", share)
        for share in (1.0, 0.0)])
    _same_answers(whole, consistent)
