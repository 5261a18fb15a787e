"""The CPU's zebra line Gauss-Seidel: one colour's columns solved exactly along z.

The kernel eliminates two columns of a colour side by side (j and j + 2); these tests hold
it to what a line smoother must do whatever the pairing: every column of the colour, and
only those, satisfies its own rows exactly with the other columns as they were."""

import numpy as np
import pytest

from thermosim.backends import get_backend


def _system(shape, seed):
    rng = np.random.default_rng(seed)
    nx, ny, nz = shape
    Gx = rng.random((nx + 1, ny, nz))
    Gy = rng.random((nx, ny + 1, nz))
    Gz = 5.0 * rng.random((nx, ny, nz + 1))      # strong along the lines, as in a stack-up
    D = 0.1 * rng.random(shape)
    b = rng.random((nx + 2, ny + 2, nz + 2))
    x = rng.random((nx + 2, ny + 2, nz + 2))
    return Gx, Gy, Gz, D, b, x


def _row_residual(x, Gx, Gy, Gz, D, b):
    """b - A x on the interior (A in conductance form, halo values as boundary data)."""
    c = x[1:-1, 1:-1, 1:-1]
    diag = D + Gx[:-1] + Gx[1:] + Gy[:, :-1] + Gy[:, 1:] + Gz[:, :, :-1] + Gz[:, :, 1:]
    nb = (Gx[:-1] * x[:-2, 1:-1, 1:-1] + Gx[1:] * x[2:, 1:-1, 1:-1]
          + Gy[:, :-1] * x[1:-1, :-2, 1:-1] + Gy[:, 1:] * x[1:-1, 2:, 1:-1]
          + Gz[:, :, :-1] * x[1:-1, 1:-1, :-2] + Gz[:, :, 1:] * x[1:-1, 1:-1, 2:])
    return b[1:-1, 1:-1, 1:-1] + nb - diag * c


@pytest.mark.parametrize("shape", [(6, 9, 7), (5, 8, 1), (4, 3, 12), (3, 1, 5), (7, 2, 2)])
@pytest.mark.parametrize("color", [0, 1])
def test_one_colour_solved_exactly(shape, color):
    be = get_backend("cpu")
    Gx, Gy, Gz, D, b, x = _system(shape, 7 + color)
    before = x.copy()
    be.zline_gs(x, Gx, Gy, Gz, D, b, color)
    i, j = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij")
    mine = ((i + j) & 1) == color
    r = _row_residual(x, Gx, Gy, Gz, D, b)
    # the colour's columns: their rows hold to round-off
    assert np.max(np.abs(r[mine])) < 1e-12 * np.max(np.abs(b))
    # the other colour's columns and every halo: untouched
    inner = before[1:-1, 1:-1, 1:-1]
    assert np.array_equal(x[1:-1, 1:-1, 1:-1][~mine], inner[~mine])
    halo = np.ones(x.shape, bool)
    halo[1:-1, 1:-1, 1:-1] = False
    assert np.array_equal(x[halo], before[halo])


def test_lines_along_x_and_y_are_the_same_smoother():
    """line_gs along x or y runs the z kernel on transposed views: a transposed system
    gives the transposed answer."""
    be = get_backend("cpu")
    Gx, Gy, Gz, D, b, x = _system((5, 6, 7), 3)
    xz = x.copy()
    be.line_gs(xz, Gx, Gy, Gz, D, b, 1, axis=2)
    # the same system with the axes relabelled (z -> x, x -> y, y -> z), lines along x
    perm = (2, 0, 1)
    X = np.ascontiguousarray(x.transpose(perm))
    G = {0: Gz.transpose(perm), 1: Gx.transpose(perm), 2: Gy.transpose(perm)}
    be.line_gs(X, np.ascontiguousarray(G[0]), np.ascontiguousarray(G[1]),
               np.ascontiguousarray(G[2]), np.ascontiguousarray(D.transpose(perm)),
               np.ascontiguousarray(b.transpose(perm)), 1, axis=0)
    assert np.allclose(X.transpose((1, 2, 0)), xz, rtol=0, atol=1e-13)
