"""The steady energy operator's diagonal (thermosim.backends.cpu_steady._energy_operator):
at least OWN_SHARE of the bounded advection's own derivative in the cell's temperature,
measured here by differencing the right-hand side kernel itself, and the upwind diagonal
where that is the larger (issue 19: a cell under the CRAH outlets of the 20-rack hall on
0.154 m cells flipped by +-7.1 W every outer iteration with the upwind diagonal alone)."""

import numpy as np

from thermosim.backends import get_backend
from thermosim.backends.cpu_steady import OWN_SHARE

#: temperatures (K) along the row, the halos at the ends: a step of about 9 K
STEP = [300.0, 300.02, 300.05, 300.03, 300.04, 300.2, 309.0, 309.5, 309.7, 309.8]


def _row(T_line, u=0.8, cap=0.05):
    """A row of 8 cells (0.1 m, then 0.15 m: graded) carrying flow along x at ``u`` (m/s)
    through temperatures ``T_line`` (K), no conduction: the operator's coefficients, the
    net heat (W) and what the diagonal must be."""
    be = get_backend("cpu")
    n = (8, 1, 1)
    pad = tuple(s + 2 for s in n)
    T = np.zeros(pad)
    T[:, 1, 1] = T_line
    vel = [np.zeros(pad) for _ in range(3)]
    vel[0][1:-1, 1, 1] = u
    fluid = np.zeros(pad, np.uint8)
    fluid[1:-1, 1:-1, 1:-1] = 1
    hx = np.r_[0.1, [0.1] * 4, [0.15] * 4, 0.15]
    h = [hx, np.full(3, 0.2), np.full(3, 0.3)]
    d = [np.concatenate([[a[0]], 0.5 * (a[1:] + a[:-1])]) for a in h]
    G = [np.zeros(tuple(s + (a == b) for b, s in enumerate(n))) for a in range(3)]
    rhoc = 1.2e3
    coeffs = [np.zeros(pad) for _ in range(7)]
    be.energy_operator(vel, fluid, G, rhoc, h, np.full(pad, cap), np.zeros(pad), T, d, coeffs)

    def heat(Tx):
        out = np.zeros(pad)
        be.energy_rhs(Tx, vel, fluid, G, rhoc, np.zeros(n), h, d, out)
        return out

    own = np.zeros(pad)
    upwind = np.full(pad, cap)
    upwind[1:-1, 1, 1] += u * rhoc * 0.2 * 0.3          # the inflow face's flow (W/K)
    eps = 1e-7
    for i in range(1, 9):
        Tp = T.copy()
        Tp[i, 1, 1] += eps
        own[i, 1, 1] = cap - (heat(Tp)[i, 1, 1] - heat(T)[i, 1, 1]) / eps
    return coeffs[6], upwind, own


def test_the_diagonal_is_at_least_its_share_of_the_schemes_own():
    """A step of about 9 K (the face value steep ahead of the step's foot, nearly flat
    behind it: its own diagonal over twice the upwind one there) and a smooth ramp (below
    the upwind one everywhere): the diagonal is max(upwind, OWN_SHARE x own) in every
    cell, own from differencing the net heat (no two neighbours equal: the van Leer face
    value has kinks where they are)."""
    for line in (STEP, list(300.0 + 0.5 * np.arange(10) + 0.01 * np.arange(10) ** 2)):
        ap, upwind, own = _row(np.array(line))
        for i in range(1, 9):
            want = max(upwind[i, 1, 1], OWN_SHARE * own[i, 1, 1])
            assert abs(ap[i, 1, 1] - want) <= 1e-5 * want, (line, i, ap[i, 1, 1], want)
    # the step raises the diagonal at its foot, where the face value turns steep
    ap, upwind, own = _row(np.array(STEP))
    assert own[5, 1, 1] > 2.0 * upwind[5, 1, 1]
    assert ap[5, 1, 1] > 1.2 * upwind[5, 1, 1]


def test_an_update_by_the_upwind_diagonal_would_flip_the_cell():
    """Where the scheme's own diagonal is near twice the upwind one, dividing the net heat
    by the upwind diagonal overshoots by more than the whole step (factor 1 - own/upwind
    below -1: the cell flips, growing); by the operator's, the factor stays above -2/3."""
    ap, upwind, own = _row(np.array(STEP))
    i = 5
    assert 1.0 - own[i, 1, 1] / upwind[i, 1, 1] < -1.0
    assert 1.0 - own[i, 1, 1] / ap[i, 1, 1] > -2.0 / 3.0 - 1e-4
