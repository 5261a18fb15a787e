"""Multigrid cycles over the steady solver's outer iterations (:mod:`thermosim.flow.fas`):
the transfers conserve what they must, the cycles' steady state is the outer iterations'
own, and their count does not grow with the mesh (issue 19, items 1 and 3)."""

import numpy as np
import pytest

from thermosim import flow_verification as fv
from thermosim.backends import backend_for
from thermosim.flow import FlowSolver
from thermosim.flow.fas import Transfer, suits
from thermosim.flow.sequence import coarsen_faces
from thermosim.grid import Grid

from test_steady import _cavity


def _grids():
    """A graded 3D fine grid with a kept face mid-segment (an odd run: one cell stays
    single) and its coarsening."""
    x = np.cumsum(np.r_[0.0, np.linspace(0.5, 1.5, 11)])
    y = np.linspace(0.0, 2.0, 9)
    z = np.r_[0.0, np.cumsum(np.full(6, 0.3))]
    fine = Grid(x, y, z)
    coarse = Grid(coarsen_faces(x, [x[3]]), coarsen_faces(y, []), coarsen_faces(z, []))
    return fine, coarse


def _transfer(fine, coarse):
    be = backend_for("cpu", fine.ncells)
    return Transfer(fine, coarse, be, np.float64)


def _outflows(grid, vel):
    """Net volume flow out of each interior cell (m^3/s) of padded face velocities."""
    out = 0.0
    for a in range(3):
        o = [b for b in range(3) if b != a]
        area = np.multiply.outer(grid.spacing(o[0]), grid.spacing(o[1]))
        area = np.expand_dims(area, a)
        v = vel[a]
        sl_hi, sl_lo = [slice(1, -1)] * 3, [slice(1, -1)] * 3
        n = grid.shape[a]
        sl_hi[a], sl_lo[a] = slice(2, n + 2), slice(1, n + 1)
        out = out + (v[tuple(sl_hi)] - v[tuple(sl_lo)]) * area
    return out


def test_restricted_velocity_keeps_every_coarse_cells_net_flow():
    """The coarse face velocity is the area-weighted mean of its fine faces: each coarse
    cell's net outflow is the sum of its fine cells' (so a divergence-free field restricts
    to a divergence-free one, and continuity needs no forcing)."""
    fine, coarse = _grids()
    tr = _transfer(fine, coarse)
    rng = np.random.default_rng(3)
    pad = tuple(s + 2 for s in fine.shape)
    vel = [rng.standard_normal(pad) for _ in range(3)]
    cvel = [tr.velocity(vel[c], c) for c in range(3)]
    summed = tr.total(np.pad(_outflows(fine, vel), 1))[1:-1, 1:-1, 1:-1]
    assert np.allclose(_outflows(coarse, cvel), summed, rtol=1e-12, atol=1e-12)


def test_restrictions_conserve_heat_and_keep_linear_fields():
    """Heat (W a cell) restricts to the same total; a linear temperature's volume means
    and a linear face field's control-volume means are the linear field at the coarse
    centres and faces; interpolation back is exact for a linear field (away from the
    halos, where it is held constant)."""
    fine, coarse = _grids()
    tr = _transfer(fine, coarse)
    pad = tuple(s + 2 for s in fine.shape)
    q = np.zeros(pad)
    q[1:-1, 1:-1, 1:-1] = np.random.default_rng(4).random(fine.shape)
    assert tr.total(q)[1:-1, 1:-1, 1:-1].sum() == pytest.approx(q.sum(), rel=1e-13)

    def lin(grid, face_axis=None):
        pos = []
        for a, f in enumerate(grid.faces):
            h = np.diff(f)
            if a == face_axis:
                pos.append(np.r_[f[0] - h[0], f])
            else:
                c = 0.5 * (f[1:] + f[:-1])
                pos.append(np.r_[f[0] - 0.5 * h[0], c, f[-1] + 0.5 * h[-1]])
        X, Y, Z = np.meshgrid(*pos, indexing="ij")
        return 1.0 + 2.0 * X - 0.5 * Y + 3.0 * Z

    inner = (slice(1, -1),) * 3
    assert np.allclose(tr.mean(lin(fine))[inner], lin(coarse)[inner])
    assert np.allclose(tr.cells_up(lin(coarse))[2:-2, 2:-2, 2:-2], lin(fine)[2:-2, 2:-2, 2:-2])
    for c in range(3):
        sl = tuple(slice(2, -1) if a == c else slice(1, -1) for a in range(3))
        assert np.allclose(tr.velocity(lin(fine, c), c)[sl], lin(coarse, c)[sl])
        sl = tuple(slice(2, -2) if a == c else slice(2, -2) for a in range(3))
        assert np.allclose(tr.faces_up(lin(coarse, c), c)[sl], lin(fine, c)[sl])


def test_cycles_reach_the_outer_iterations_steady_state():
    """Cavity Re 100 on 32^2 and de Vahl Davis Ra 1e4 on 24^2 (graded): the cycles' steady
    state is the single-mesh outer iterations' (the coarse meshes change the way there,
    not the answer): fields within 1e-6 of the lid speed and 1e-6 K (1 K across) at a
    tolerance of 1e-8."""
    for make in (lambda: _cavity(100.0, 32), lambda: fv.natural_convection_case(1e4, 24)):
        one, mg = FlowSolver(make()), FlowSolver(make())
        r1 = one.run(tolerance=1e-8, method="simplec", multigrid=False)
        r2 = mg.run(tolerance=1e-8, method="simplec", multigrid=True)
        assert r1.stats.converged and r2.stats.converged and mg.stats.cycles > 0
        assert len(mg.stats.coarse) >= 1
        for a, b in ((r1.u, r2.u), (r1.v, r2.v), (r1.T, r2.T)):
            assert np.abs(a - b).max() < 1e-6


def test_cycle_count_is_flat_in_the_mesh():
    """Cavity Re 1000 to 1e-6 on 16^2, 32^2 and 64^2: the V-cycles stay within 30 % of
    each other (measured 29, 31, 29; and 24 on 128^2, 96 outer iterations on that mesh,
    where the single-mesh outer iterations take 1,887) and under 40."""
    cycles = []
    for n in (16, 32, 64):
        s = FlowSolver(_cavity(1000.0, n))
        s.run(tolerance=1e-6, method="simplec")
        assert s.stats.converged
        cycles.append(s.stats.cycles)
    assert max(cycles) < 40 and max(cycles) <= 1.3 * min(cycles), cycles


def test_multigrid_is_the_default_only_without_lagged_terms():
    """``auto``: cycles for the cavities, not where fans, porous blocks or an eddy
    viscosity lag the flow (the quick air hall's cycles diverge), nor with solid blocks
    (a conjugate channel's diverged)."""
    assert suits(_cavity(100.0, 8)) and suits(fv.natural_convection_case(1e4, 8))
    import dataclasses
    assert not suits(dataclasses.replace(_cavity(100.0, 8), turbulence="lvel"))
    assert not suits(_cavity(100.0, 8), blocks=["a solid block"])      # conjugate: no


def test_progress_lines_count_outer_iterations():
    """A steady ``simplec`` run's progress lines count outer iterations, not steps (a
    12 x 12 cavity case through :func:`thermosim.solve`)."""
    import yaml
    from test_bench_steady import CAVITY

    from thermosim import solve

    data = yaml.safe_load(CAVITY)
    data["flow"]["method"] = "simplec"
    lines = []
    r = solve(data, "cpu", log=lines.append, quiet_every=10)
    assert r.stats.converged and r.stats.unit == "outer iterations"
    progress = [x for x in lines if "residuals" in x]
    assert progress and all(": outer iteration " in x for x in progress), lines


def test_progress_lines_come_by_time_as_well(monkeypatch):
    """A run with a log says where it stands at least every LOG_EVERY_SECONDS (at its next
    check), whatever ``quiet_every``: with 0 s, a line at every check; with a day, none."""
    import yaml
    from test_bench_steady import CAVITY

    import thermosim.runner as runner

    data = yaml.safe_load(CAVITY)
    data["flow"]["method"] = "simplec"
    counts, checks = [], []
    for seconds in (0.0, 86400.0):
        monkeypatch.setattr(runner, "LOG_EVERY_SECONDS", seconds)
        lines = []
        runner.solve(data, "cpu", lambda *a: checks.append(a), log=lines.append,
                     quiet_every=10 ** 9)
        counts.append(sum("residuals" in x for x in lines))
    assert counts[1] == 0 and counts[0] == len(checks) // 2 > 1


def test_cycles_converge_a_heated_channel_with_a_parabolic_inflow():
    """Channel at Re_Dh 20, Pr 5, walls at a fixed temperature, parabolic inflow (the
    validation suite's Nusselt case, 96 x 16 cells): the coarse inflow must carry the fine
    profile's flow (its flux-conserving mean, not the profile at the coarse centres), or
    the cycles freeze at a velocity residual of 1e-2.  Converged, and within 1e-6 of the
    one mesh's answer."""
    def make():
        return fv._channel(16, 12.0, 20.0, 5.0, "parabolic", dict(temperature=1.0),
                           nx_per_h=2.0)
    one, mg = FlowSolver(make()), FlowSolver(make())
    r1 = one.run(tolerance=1e-8, method="simplec", multigrid=False)
    r2 = mg.run(tolerance=1e-8, method="simplec", multigrid=True, max_steps=2000)
    assert r2.stats.converged and mg.stats.cycles < 100
    for a, b in ((r1.u, r2.u), (r1.v, r2.v), (r1.T, r2.T)):
        assert np.abs(a - b).max() < 1e-6


def test_cycles_continue_from_where_an_unconverged_run_stopped():
    """A run in cycles stopped by its limit keeps its state; running it again with a larger
    limit continues from there (no fresh start from the coarse meshes) to the answer of an
    uninterrupted run (cavity Re 100, 32^2, within 1e-6)."""
    from thermosim.unconverged import NotSteady

    whole = FlowSolver(_cavity(100.0, 32))
    r0 = whole.run(tolerance=1e-8, method="simplec")
    s = FlowSolver(_cavity(100.0, 32))
    with pytest.raises(NotSteady):
        s.run(tolerance=1e-8, method="simplec", max_steps=12)
    first = s.stats.steps
    r1 = s.run(tolerance=1e-8, method="simplec", max_steps=2000)
    assert r1.stats.converged and s.stats.steps > first
    assert np.abs(r1.u - r0.u).max() < 1e-6 and np.abs(r1.v - r0.v).max() < 1e-6
