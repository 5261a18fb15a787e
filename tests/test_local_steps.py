"""Local pseudo-steps: refreshed every REFRESH outer iterations, not while held (while
Anderson accelerates the iterations, which needs one map), but always when the global
step moves."""

from types import SimpleNamespace

import numpy as np

from thermosim.backends import get_backend
from thermosim.flow.local_steps import LocalSteps


class _Pressure:
    def __init__(self):
        self.open_key = None
        self.reopened = 0

    def reopen(self, openness, key):
        self.open_key = key
        self.reopened += 1
        self.openness = openness


class _Rate:
    """A term whose implicit rate on the faces normal to axis c is c + 1 (1/s) where the
    flow is faster than 0.15 m/s (a fan curve's slope: its own face's diagonal)."""

    def coupled_viscosity(self):
        return None

    def implicit_rate(self, c, vel):
        return np.where(np.abs(vel[c]) > 0.15, c + 1.0, 0.0)


def _steps(terms=(), sinks=None, now=10.0):
    """LocalSteps on a 5 x 4 x 3 grid, its longest step ``now`` times the global one (as
    the control leaves it once the residual has fallen; None: as a run starts)."""
    be = get_backend("cpu")
    shape = (5, 4, 3)
    model = SimpleNamespace(be=be, dtype=np.float64, pressure=_Pressure(),
                            terms=SimpleNamespace(all=list(terms)))
    it = SimpleNamespace(model=model, sinks=sinks, solved=[np.ones(shape, np.uint8)] * 3)
    vel = [np.full(shape, 0.1 * (c + 1)) for c in range(3)]
    ls = LocalSteps(it, factor=10.0, refresh=5)
    if now is not None:
        ls.factor = now
    return ls, model.pressure, vel


def test_refreshed_every_refresh_iterations_and_when_the_step_moves():
    ls, p, vel = _steps()
    for _ in range(11):
        ls.update(vel, 1.0, 0.5)
    assert p.reopened == 3                      # iterations 0, 5 and 10
    ls.update(vel, 1.0, 0.25)
    assert p.reopened == 4
    # 1 / dt_f = (1 / dt) max(1 / factor, min(1, |u| / U))
    assert np.allclose(ls.inv[1], (1 / 0.25) * 0.2)


def test_held_steps_stay_unless_the_global_step_moves():
    ls, p, vel = _steps()
    ls.update(vel, 1.0, 0.5)
    ls.held = True
    before = ls.inv[0].copy()
    faster = [3.0 * v for v in vel]
    for _ in range(20):
        ls.update(faster, 1.0, 0.5)
    assert p.reopened == 1 and np.array_equal(ls.inv[0], before)
    ls.update(faster, 1.0, 0.25)                # the global step moved: refreshed anyway
    assert p.reopened == 2 and np.allclose(ls.inv[0], (1 / 0.25) * 0.3)
    ls.held = False
    for _ in range(5):
        ls.update(faster, 1.0, 0.25)
    assert p.reopened == 3


def test_the_projection_takes_the_terms_rates_as_it_takes_a_sink():
    """SIMPLEC's d_f = 1 / (a_P - sum a_nb): a term's implicit rate is on the momentum
    diagonal with no neighbour, as a sink's k is, so both lower d_f (and the
    pressure-convection-diffusion weights, 1 / (1 + dt (k + rate)))."""
    shape = (5, 4, 3)
    sinks = [np.full(shape, 2.0), np.zeros(shape), np.zeros(shape)]
    ls, p, vel = _steps([_Rate()], sinks)
    dt, U = 0.5, 1.0
    ls.update(vel, U, dt)
    for c in range(3):
        rate = c + 1.0 if 0.1 * (c + 1) > 0.15 else 0.0
        k = sinks[c]
        inv = (1 / dt) * max(0.1, 0.1 * (c + 1))
        assert np.allclose(p.openness[c], 1.0 / (dt * (inv + k + rate)))
        assert np.allclose(ls.pcd_openness[c], 1.0 / (1.0 + dt * (k + rate)))
    # without terms or sinks every face is open to the pressure-convection-diffusion
    ls, p, vel = _steps()
    ls.update(vel, U, dt)
    assert ls.pcd_openness == [None, None, None]
    assert np.allclose(p.openness[2], 1.0 / (dt * (1 / dt) * 0.3))


def test_the_longest_step_follows_the_residual_between_one_and_its_cap():
    """Switched evolution relaxation: a run starts at the global step (factor 1); the
    factor is multiplied by the residual's fall since the last control and kept in
    [1, cap]; a refresh then uses it (a slow face's 1 / dt_f = (1 / dt) / factor)."""
    ls, p, vel = _steps(now=None)
    assert ls.factor == 1.0                     # from rest: the global step everywhere
    ls.update(vel, 10.0, 0.5)                   # |u| / U = 0.01-0.03: the slowest faces
    assert np.allclose(ls.inv[0], 1 / 0.5)
    ls.control(100.0)                           # the first control only records
    assert ls.factor == 1.0
    ls.control(25.0)                            # the residual fell fourfold
    assert np.isclose(ls.factor, 4.0)
    ls.control(100.0)                           # and rose fourfold
    assert np.isclose(ls.factor, 1.0)
    ls.control(1.0)                             # a hundredfold fall: capped
    assert ls.factor == 10.0
    ls.control(400.0)                           # a 400-fold rise: not below the global step
    assert ls.factor == 1.0
    ls.control(4.0)
    assert ls.factor == 10.0
    for _ in range(5):
        ls.update(vel, 10.0, 0.5)
    assert np.allclose(ls.inv[0], (1 / 0.5) / 10.0)


def test_a_continued_run_controls_the_step_where_it_left_off():
    ls, _, _ = _steps(now=None)
    assert ls.resume(float("nan"), float("nan")).factor == 1.0      # a fresh run
    ls.resume(2.5, 4.0)
    assert ls.control(2.0) == (5.0, 2.0)        # the fall since the stopped run's control


class _Eddy:
    """An eddy viscosity's rates on the faces normal to c: a wall shear's 0.5 (1/s) and a
    diffusion diagonal of 4 (c + 1) that the coupled operator's neighbours balance
    (``coupled``: the wall's alone, as EddyViscosityTerm.implicit_rate)."""

    def coupled_viscosity(self):
        return np.ones(1)

    def implicit_rate(self, c, vel, coupled=False):
        wall = np.full(vel[c].shape, 0.5)
        return wall if coupled else wall + 4.0 * (c + 1)


def test_the_eddy_diagonals_share_in_simplecs_d(monkeypatch):
    """local_steps.EDDY_IN_D: SIMPLEC's d_f = 1 / (1/dt_f + k + the wall's rate + share x
    the eddy diffusion's diagonal); 1 (the default) takes it whole, 0 gives the d
    consistent with the coupled operator.  A fan curve's slope (no coupled viscosity)
    stays whole either way."""
    from thermosim.flow import local_steps

    dt, U = 0.5, 1.0
    for share in (1.0, 0.5, 0.0):
        monkeypatch.setattr(local_steps, "EDDY_IN_D", share)
        ls, p, vel = _steps([_Eddy(), _Rate()])
        ls.update(vel, U, dt)
        for c in range(3):
            inv = (1 / dt) * max(0.1, 0.1 * (c + 1))
            fan = c + 1.0 if 0.1 * (c + 1) > 0.15 else 0.0
            rate = 0.5 + share * 4.0 * (c + 1) + fan
            assert np.allclose(p.openness[c], 1.0 / (dt * (inv + rate))), (share, c)
