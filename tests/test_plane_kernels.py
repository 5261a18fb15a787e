"""The CPU kernels' plane paths (one cell in z: the 2-D validation cases take loops without
the z loop of one trip) against their 3-D paths on the same plane turned to lie in x and z
(one cell in y), where the 3-D path runs.  Only the order of a cell's sums differs, so the
two agree to round-off; a wrong colour, neighbour or sweep order would not."""

import numpy as np
import pytest

from thermosim.backends import cpu, cpu_steady

NX, NY = 9, 7
TOL = 1e-12


def _turn(a):
    """A plane array (..., ..., k) laid in x and z: axes (i, j, k) -> (i, k, j)."""
    return np.ascontiguousarray(np.swapaxes(a, 1, 2))


@pytest.fixture
def plane():
    """A random conductance system on an NX x NY x 1 plane (halo arrays: NX+2, NY+2, 3)."""
    rng = np.random.default_rng(7)
    return dict(x=rng.random((NX + 2, NY + 2, 3)), b=rng.random((NX + 2, NY + 2, 3)),
                Gx=rng.random((NX + 1, NY, 1)), Gy=rng.random((NX, NY + 1, 1)),
                Gz=rng.random((NX, NY, 2)), D=rng.random((NX, NY, 1)))


def _turned(p):
    """The same system with the plane's y couplings as z couplings and its z as y."""
    return dict(x=_turn(p["x"]), b=_turn(p["b"]), Gx=_turn(p["Gx"]), Gy=_turn(p["Gz"]),
                Gz=_turn(p["Gy"]), D=_turn(p["D"]))


def test_apply_plane_is_the_3d_path(plane):
    y = np.zeros_like(plane["x"])
    cpu._apply(plane["x"], plane["Gx"], plane["Gy"], plane["Gz"], plane["D"], y,
               plane["b"], -1.0)
    t = _turned(plane)
    yt = np.zeros_like(t["x"])
    cpu._apply(t["x"], t["Gx"], t["Gy"], t["Gz"], t["D"], yt, t["b"], -1.0)
    assert np.abs(y[1:-1, 1:-1, 1]).max() > 0.1
    np.testing.assert_allclose(_turn(yt), y, rtol=TOL, atol=TOL)


@pytest.mark.parametrize("colours", [(0,), (1,), (0, 1, 1, 0)])
def test_red_black_plane_is_the_3d_path(plane, colours):
    t = _turned(plane)
    x0 = plane["x"].copy()
    for c in colours:
        cpu._rbgs(plane["x"], plane["Gx"], plane["Gy"], plane["Gz"], plane["D"],
                  plane["b"], c)
        cpu._rbgs(t["x"], t["Gx"], t["Gy"], t["Gz"], t["D"], t["b"], c)
    changed = plane["x"] != x0
    # one colour updates half the plane's cells, the chequerboard (i + j + colour) even
    i, j = np.meshgrid(np.arange(NX), np.arange(NY), indexing="ij")
    if len(colours) == 1:
        assert (changed[1:-1, 1:-1, 1] == ((i + j + colours[0]) % 2 == 0)).all()
    np.testing.assert_allclose(_turn(t["x"]), plane["x"], rtol=TOL, atol=TOL)


def test_symmetric_gauss_seidel_plane_is_the_3d_path():
    rng = np.random.default_rng(3)
    pad = (NX + 2, NY + 2, 3)
    co = [0.2 * rng.random(pad) for _ in range(6)] + [1.0 + rng.random(pad)]
    r = rng.random(pad)
    # the solved points: interior faces normal to x (2..NX), as the steady solver's are
    # (the kernel reads a neighbour beyond the halo only where nothing is solved)
    solved = np.zeros(pad, np.uint8)
    solved[2:-1, 1:-1, 1] = rng.random((NX - 1, NY)) > 0.2
    x = np.zeros(pad)
    cpu_steady._sgs(*co, r, x, solved, 2)
    aw, ae, as_, an, ab, at, ap = (_turn(a) for a in co)
    xt = np.zeros_like(_turn(x))
    # turned, the plane's j neighbours (as, an) are the k neighbours (ab, at) and back
    cpu_steady._sgs(aw, ae, ab, at, as_, an, ap, _turn(r), xt, _turn(solved), 2)
    assert np.abs(x).max() > 0.1
    np.testing.assert_allclose(_turn(xt), x, rtol=TOL, atol=TOL)
