"""Discretisation: grids, conductances, boundary conditions, kernels against the assembled
operator, transient energy balance."""

import numpy as np
import pytest

from thermosim.backends.cpu import CPUBackend
from thermosim.case import Case
from thermosim.conduction import build_model, face_conductances, linear_system
from thermosim.conduction_run import explicit_stable_dt
from thermosim.grid import graded_axis
from thermosim.runner import solve


def test_graded_axis_keeps_breakpoints_and_growth():
    f = graded_axis(0.0, 0.1, [0.04, 0.0401, 0.06], 5e-3, growth=1.2)
    for b in (0.0, 0.04, 0.0401, 0.06, 0.1):
        assert np.min(np.abs(f - b)) < 1e-15
    d = np.diff(f)
    assert d.max() <= 5e-3 * (1 + 1e-9)
    ratio = np.maximum(d[1:] / d[:-1], d[:-1] / d[1:])
    assert ratio.max() < 1.2 * 1.15      # growth honoured up to rounding of cell counts


def _wall(boundaries, blocks=None, background="void", cells=(6, 3, 3), **kw):
    return Case.from_dict(dict(
        name="t", domain=dict(max=[0.01, 0.01, 0.01], background=background),
        grid=dict(cells=list(cells)),
        blocks=blocks or [dict(name="b", material="copper", min=[0, 0, 0],
                               max=[0.01, 0.01, 0.01], power=5.0)],
        boundaries=boundaries, solver=dict(tolerance=1e-12), **kw))


def test_harmonic_mean_face_between_materials():
    """Two half cells in series: G = A / (h1/k1 + h2/k2)."""
    case = _wall({"x-": dict(type="temperature", T=300.0)}, blocks=[
        dict(name="cu", material="copper", min=[0, 0, 0], max=[0.005, 0.01, 0.01]),
        dict(name="tim", material="tim", min=[0.005, 0, 0], max=[0.01, 0.01, 0.01])],
        cells=(2, 1, 1))
    m = build_model(case)
    Gx, _, _ = face_conductances(m)
    A = 0.01 * 0.01
    expect = A / (0.0025 / 401.0 + 0.0025 / 5.0)
    assert Gx[1, 0, 0] == pytest.approx(expect, rel=1e-12)
    assert Gx[0, 0, 0] == pytest.approx(A / (0.0025 / 401.0), rel=1e-12)   # Dirichlet face
    assert Gx[2, 0, 0] == 0.0                                                # adiabatic


def test_orthotropic_conductivity():
    case = _wall({"x-": dict(type="temperature", T=300.0)}, blocks=[
        dict(name="pcb", material="fr4", min=[0, 0, 0], max=[0.01, 0.01, 0.01])],
        cells=(2, 2, 2))
    Gx, Gy, Gz = face_conductances(build_model(case))
    # fr4: 20 W/(m K) in plane, 0.35 through the thickness
    assert Gx[1, 0, 0] / Gz[0, 0, 1] == pytest.approx(20.0 / 0.35)
    assert Gx[1, 0, 0] == pytest.approx(Gy[0, 1, 0])


def test_convective_boundary_1d():
    """Uniform generation P in a copper cube, one convective face: T_surface-side cell temp
    follows the series resistance; all P leaves through that face."""
    h, Tinf = 250.0, 310.0
    r = solve(_wall({"x+": dict(type="convective", h=h, T_ambient=Tinf)}), "cpu")
    assert sum(r.heat_flows.values()) == pytest.approx(5.0, rel=1e-9)
    # 1D: T(x) = Tinf + P/(hA) + q (L^2 - x^2) / (2k) with the insulated face at x = 0
    A, L, k = 1e-4, 0.01, 401.0
    q = 5.0 / 1e-6
    x = r.grid.centres(0)
    exact = Tinf + 5.0 / (h * A) + q * (L ** 2 - x ** 2) / (2 * k)
    assert np.allclose(r.T[:, 1, 1], exact, rtol=0, atol=2e-3 * (exact.max() - Tinf))


def test_heat_flux_boundary_and_balance():
    r = solve(_wall({"x-": dict(type="heat_flux", q=2e4), "x+": dict(type="temperature",
                                                                        T=300.0)}), "cpu")
    assert r.model.flux_power == pytest.approx(2e4 * 1e-4)
    assert sum(r.heat_flows.values()) == pytest.approx(5.0 + 2.0, rel=1e-9)


def test_block_face_convective_into_void():
    """A powered block in void loses its heat through a convective block face only."""
    case = _wall({}, blocks=[dict(name="chip", material="silicon", min=[0.002, 0.002, 0.002],
                                  max=[0.008, 0.008, 0.006], power=1.0,
                                  boundaries={"z+": dict(type="convective", h=1000.0,
                                                         T_ambient=300.0)})],
                 cells=(10, 10, 10))
    r = solve(case, "cpu")
    assert list(r.heat_flows) == ["chip z+ (convective)"]
    assert r.heat_flows["chip z+ (convective)"] == pytest.approx(1.0, rel=1e-8)
    # nearly isothermal silicon: T ~ Tinf + P / (h A)
    assert r.max_temperature == pytest.approx(300.0 + 1.0 / (1000.0 * 36e-6), rel=2e-3)
    assert np.isnan(r.T[0, 0, 0])   # void


def test_explicit_kernel_matches_assembled_operator():
    """One forward-Euler step of the id-table kernel equals T + dt/C (b - A T)."""
    case = Case.from_dict(dict(
        name="k", domain=dict(max=[0.02, 0.01, 0.005], background="air"),
        grid=dict(max_cell=1e-3, growth=1.3),
        blocks=[dict(name="cu", material="copper", min=[0.004, 0.002, 0.001],
                     max=[0.012, 0.008, 0.003], power=3.0, contact_resistance=2e-5),
                dict(name="pcb", material="fr4", min=[0, 0, 0], max=[0.02, 0.01, 0.001])],
        boundaries={"z+": dict(type="convective", h=50.0, T_ambient=295.0),
                    "x-": dict(type="temperature", T=290.0),
                    "y+": dict(type="heat_flux", q=100.0)}))
    m = build_model(case)
    be = CPUBackend()
    rng = np.random.default_rng(1)
    T = m.T_fixed.copy()
    T[1:-1, 1:-1, 1:-1] += rng.random(m.shape) * 5
    Tn = T.copy()
    dt = 0.5 * explicit_stable_dt(m)
    h = tuple(m.half_widths(a) for a in range(3))
    inv_d = tuple(1.0 / m.grid.spacing(a) for a in range(3))
    be.explicit_step(T, Tn, m.ids, m.table, h, inv_d, dt)
    s = linear_system(m)
    r = np.zeros_like(T)
    be.residual(np.pad(s.b, 1), np.pad(T[1:-1, 1:-1, 1:-1], 1), s.Gx, s.Gy, s.Gz, s.D, r)
    C = m.grid.cell_volumes() / m.cell_field("inv_rhoc")
    expect = T[1:-1, 1:-1, 1:-1] + dt / C * r[1:-1, 1:-1, 1:-1]
    np.testing.assert_allclose(Tn[1:-1, 1:-1, 1:-1], expect, rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("method", ["implicit_euler", "crank_nicolson", "explicit"])
def test_transient_energy_balance_and_snapshots(method):
    case = _wall({"x+": dict(type="convective", h=500.0, T_ambient=300.0)},
                 initial_temperature=300.0)
    case.solver.mode = "transient"
    from thermosim.case import Transient

    case.solver.transient = Transient(method=method, end_time=20.0,
                                      dt=0.2 if method != "explicit" else "auto",
                                      snapshots=[0.0, 5.0, 20.0])
    r = solve(case, "cpu")
    assert [t for t, _ in r.snapshots] == [0.0, 5.0, 20.0]
    np.testing.assert_allclose(r.snapshots[-1][1], r.T)
    # heat in = heat out + heat stored, in the discrete balance of the last step
    assert r.energy_balance_error < 1e-8
    # lumped check: copper cube 1 cm, 5 W: temperature rises roughly by P t / (rho c V)
    rise = np.nanmean(r.T) - 300.0
    assert 0.5 * 5 * 20 / (8933 * 385 * 1e-6) < rise < 5 * 20 / (8933 * 385 * 1e-6)


def test_steady_needs_an_anchor():
    from thermosim.errors import CaseError

    with pytest.raises(CaseError, match="fixed-temperature or convective"):
        solve(_wall({"x-": dict(type="heat_flux", q=1.0)}), "cpu")


def test_transient_interrupt_and_resume_gives_the_same_answer(tmp_path, monkeypatch):
    """Ctrl-C mid-run saves a checkpoint; resuming finishes with the uninterrupted result."""
    from thermosim.case import Transient
    from thermosim.errors import Interrupted

    def make():
        case = _wall({"x+": dict(type="convective", h=500.0, T_ambient=300.0)})
        case.solver.mode = "transient"
        case.solver.transient = Transient(method="implicit_euler", end_time=10.0, dt=0.5,
                                          snapshots=[2.0, 10.0])
        return case

    full = solve(make(), "cpu")
    ck = tmp_path / "run.checkpoint.h5"
    def interrupt(n, total, t):
        if n == 7:
            raise KeyboardInterrupt
    with pytest.raises(Interrupted, match="after step 7 of 20"):
        solve(make(), "cpu", progress=interrupt, checkpoint=ck)
    assert ck.exists()
    resumed = solve(make(), "cpu", checkpoint=ck, resume=True)
    assert resumed.stats["resumed_from_step"] == 7
    np.testing.assert_allclose(resumed.T, full.T, rtol=0, atol=1e-9)
    assert [t for t, _ in resumed.snapshots] == [2.0, 10.0]
    assert not ck.exists()       # removed once the run completed


def test_checkpoint_of_another_case_is_refused(tmp_path):
    from thermosim.checkpoint import Checkpointer
    from thermosim.errors import CaseError

    a = _wall({"x+": dict(type="temperature", T=300.0)})
    b = _wall({"x+": dict(type="temperature", T=310.0)})
    ck = tmp_path / "c.h5"
    Checkpointer(ck, a).save(np.zeros((6, 3, 3)))
    with pytest.raises(CaseError, match="different case"):
        Checkpointer(ck, b).load()


def test_fluid_material_from_coolprop_at_stated_temperature():
    """Still water at 320 K conducts 0.64 W/(m K) (CoolProp/IAPWS; Incropera Table A.6:
    0.640 at 320 K) across a slab between two fixed temperatures."""
    case = Case.from_dict(dict(
        name="w", domain=dict(max=[0.01, 0.01, 0.01], background="hot_water"),
        materials={"hot_water": {"fluid": "water", "T": 320.0}}, grid=dict(cells=[4, 1, 1]),
        boundaries={"x-": dict(type="temperature", T=330.0),
                    "x+": dict(type="temperature", T=310.0)}))
    r = solve(case, "cpu")
    k = r.heat_flows["x+ (temperature)"] / 1e-4 * 0.01 / 20.0
    assert k == pytest.approx(0.640, rel=0.01)


def test_contact_resistance_between_blocks():
    """Two copper plates pressed together with a contact resistance R_c: the heat flux is
    dT / (L1/k + R_c + L2/k) (Incropera Sec. 3.1.4), and R_c does not act at the domain
    boundary or inside a block."""
    Rc = 1e-4   # m^2 K / W, a typical dry metal joint
    case = Case.from_dict(dict(
        name="c", domain=dict(max=[0.01, 0.01, 0.01], background="void"),
        grid=dict(cells=[10, 2, 2]),
        blocks=[dict(name="a", material="copper", min=[0, 0, 0], max=[0.004, 0.01, 0.01],
                     contact_resistance=Rc / 2),
                dict(name="b", material="copper", min=[0.004, 0, 0], max=[0.01, 0.01, 0.01],
                     contact_resistance=Rc / 2)],
        boundaries={"x-": dict(type="temperature", T=350.0),
                    "x+": dict(type="temperature", T=300.0)},
        solver=dict(tolerance=1e-12)))
    r = solve(case, "cpu")
    q = 50.0 / (0.01 / 401.0 + Rc)
    assert r.heat_flows["x+ (temperature)"] / 1e-4 == pytest.approx(q, rel=1e-9)
    # the temperature jump sits at the joint: q R_c
    x = r.grid.centres(0)
    T = r.T[:, 0, 0]
    i = np.searchsorted(x, 0.004)
    slope = q / 401.0
    assert (T[i - 1] - T[i]) == pytest.approx(q * Rc + slope * (x[i] - x[i - 1]), rel=1e-9)


def test_block_face_heat_flux_and_overlap_keep_the_watts():
    """A heat flux on a block face enters the block's surface layer; a block partly covered by
    a later block keeps its full power in the cells it still owns."""
    case = _wall({"z-": dict(type="temperature", T=300.0)}, blocks=[
        dict(name="base", material="aluminium", min=[0, 0, 0], max=[0.01, 0.01, 0.004],
             power=2.0),
        dict(name="post", material="copper", min=[0.003, 0.003, 0.002],
             max=[0.007, 0.007, 0.008], power=1.0,
             boundaries={"z+": dict(type="heat_flux", q=1e4)})], cells=(10, 10, 8))
    r = solve(case, "cpu")
    m = r.model
    vol = m.grid.cell_volumes()
    blk = m.id_block[m.ids[1:-1, 1:-1, 1:-1]]
    q = m.power_density()
    assert np.sum((q * vol)[blk == 0]) == pytest.approx(2.0, rel=1e-12)   # base, partly covered
    assert m.flux_power == pytest.approx(1e4 * 0.004 * 0.004, rel=1e-12)
    assert np.sum((q * vol)[blk == 1]) == pytest.approx(1.0 + m.flux_power, rel=1e-12)
    assert sum(r.heat_flows.values()) == pytest.approx(3.0 + m.flux_power, rel=1e-9)


def _stack_case(axis):
    """A package stack-up (die, TIM, copper lid) laid along ``axis``."""
    def box(lo, hi):
        a, b = [0.004, 0.004, lo], [0.016, 0.016, hi]
        p = [(1, 2, 0), (0, 2, 1), (0, 1, 2)][axis]      # where the stack axis goes
        return [a[p.index(d)] for d in range(3)], [b[p.index(d)] for d in range(3)]

    layers = [("die", "silicon", 0.0, 0.0008, 50.0), ("tim", "tim", 0.0008, 0.00085, 0.0),
              ("lid", "copper", 0.00085, 0.0025, 0.0)]
    blocks = []
    for name, mat, lo, hi, p in layers:
        a, b = box(lo, hi)
        blocks.append(dict(name=name, material=mat, min=a, max=b, power=p))
    dmax = [0.02, 0.02, 0.02]
    dmax[axis] = 0.0025
    mc = [0.0005] * 3
    mc[axis] = 0.0001
    return Case.from_dict(dict(
        name="stack", domain=dict(max=dmax, background="void"),
        grid=dict(max_cell=mc, min_cells_per_layer=2), blocks=blocks,
        boundaries={"xyz"[axis] + "+": dict(type="convective", h=2e4, T_ambient=300.0)}))


def test_multigrid_lines_follow_the_stacking_axis():
    """The same stack-up along x, y or z: the multigrid smooths along the stacking axis, and
    CG needs the same iterations and gives the same temperatures whatever the orientation
    (z-lines on an x-stack took 9 iterations instead of 6)."""
    from thermosim.solvers.multigrid import line_axis

    its, tmax = [], []
    for axis in range(3):
        case = _stack_case(axis)
        m = build_model(case)
        s = linear_system(m)
        assert line_axis((s.Gx, s.Gy, s.Gz), m.solved_mask()) == axis
        r = solve(case, "cpu")
        assert r.energy_balance_error < 1e-7
        its.append(r.stats["iterations"])
        tmax.append(r.max_temperature)
    assert max(its) - min(its) <= 1, its
    assert max(tmax) - min(tmax) < 1e-6, tmax


def test_auto_backend_keeps_small_problems_on_the_cpu(monkeypatch):
    """``auto`` asks for the CPU below AUTO_GPU_MIN_CELLS and for its own choice above; a
    backend named outright is never overridden."""
    import thermosim.backends as backends

    from types import SimpleNamespace

    asked = []
    monkeypatch.setattr(backends, "get_backend",
                        lambda name: asked.append(name) or SimpleNamespace(name=name))
    n = backends.AUTO_GPU_MIN_CELLS
    assert backends.backend_for("auto", n - 1).name == "cpu"
    assert backends.backend_for("auto", n).name == "auto"
    assert backends.backend_for("gpu", 10).name == "gpu"
    assert asked == ["cpu", "auto", "gpu"]


def test_multigrid_new_capacity_equals_a_fresh_hierarchy():
    """Multigrid.set_capacity (the implicit flow steps' C / dt, changed with the step) must
    leave the hierarchy a fresh build with that capacity would give: every level's D and
    the coarsest level's inverse, on a stretched grid with an unsolved region."""
    from thermosim.linear_system import LinearSystem
    from thermosim.solvers.multigrid import Multigrid

    rng = np.random.default_rng(3)
    n = (24, 20, 6)
    G = [rng.uniform(0.5, 2.0, tuple(s + (a == b) for b, s in enumerate(n))) for a in range(3)]
    solved = np.ones(n, bool)
    solved[5:9, 4:10, :] = False
    faces = tuple(np.cumsum(np.r_[0.0, rng.uniform(0.5, 1.5, s)]) for s in n)
    D1, D2 = rng.uniform(0.1, 1.0, n), rng.uniform(5.0, 50.0, n)
    be = CPUBackend()
    mg = Multigrid(LinearSystem(*G, D1, np.zeros(n)), faces, be, np.float64, solved=solved)
    assert mg.nlevels >= 2 and mg.coarsest_direct
    mg.set_capacity(D2)
    fresh = Multigrid(LinearSystem(*G, D2, np.zeros(n)), faces, be, np.float64, solved=solved)
    for a, b in zip(mg.levels, fresh.levels):
        np.testing.assert_allclose(a.D, b.D, rtol=1e-14)
    np.testing.assert_allclose(mg.coarse_inverse, fresh.coarse_inverse, rtol=1e-10, atol=1e-14)
    assert not np.allclose(D1.sum(), D2.sum())
