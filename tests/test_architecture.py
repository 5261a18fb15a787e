"""The architecture seam (thermosim.parallel) on one process: the serial architecture is
today's behaviour to the bit, and the decomposition helpers cut a domain as they say.
Two MPI ranks are tests/test_mpi.py."""

from __future__ import annotations

import numpy as np
import pytest

from thermosim.backends import get_backend
from thermosim.parallel import SERIAL, slab
from thermosim.parallel.mpi_check import _padded, pressure_problem
from thermosim.parallel.multigrid import multigrid_for
from thermosim.solvers.krylov import pcg
from thermosim.solvers.multigrid import Multigrid, wrap_halos

# small enough that the coarsest level's dense pseudo-inverse is quick even where
# multithreaded BLAS competes for two busy cores (tests/test_mpi.py runs the larger one)
SHAPE = (12, 8, 6)


@pytest.mark.parametrize("n,size", [(25, 2), (24, 2), (7, 3), (3, 3), (100, 7)])
def test_slabs_cover_the_axis_once_and_differ_by_at_most_one_cell(n, size):
    ranges = [slab(n, size, r) for r in range(size)]
    assert ranges[0][0] == 0 and ranges[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))
    widths = [b - a for a, b in ranges]
    assert max(widths) - min(widths) <= 1 and widths == sorted(widths, reverse=True)
    with pytest.raises(ValueError):
        slab(n, size, size)


@pytest.mark.parametrize("shape", [(5, 4, 3), (6, 4, 3)])     # cells; faces normal to x
def test_serial_halo_fill_is_the_periodic_wrap(shape):
    rng = np.random.default_rng(0)
    a = rng.random(shape)
    before = a.copy()
    SERIAL.fill_halos(a, (True, False, True))
    n = shape[0] - 2
    # x: the low halo is the last interior layer, the high halo the first
    assert np.array_equal(a[0, :, 1:-1], before[n, :, 1:-1])
    assert np.array_equal(a[n + 1, :, 1:-1], before[1, :, 1:-1])
    m = shape[2] - 2
    assert np.array_equal(a[:, :, 0], a[:, :, m]) and np.array_equal(a[:, :, m + 1], a[:, :, 1])
    # y is not periodic: its halos (the boundary's) are left alone
    assert np.array_equal(a[1:-1, [0, -1], 1:-1], before[1:-1, [0, -1], 1:-1])
    b = before.copy()
    wrap_halos(b, (True, False, True))
    assert np.array_equal(a, b)


def test_serial_faces_and_kernel_flags_follow_the_periodic_axes():
    per = (True, False, True)
    assert SERIAL.connected(per) == ((True, True), (False, False), (True, True))
    assert SERIAL.kernel_periodic(per) == per
    assert SERIAL.wraps_locally(per) == per
    assert SERIAL.owned(17) == (0, 17)


def test_serial_reductions_are_the_local_values():
    be = get_backend("cpu")
    a = np.arange(27.0).reshape(3, 3, 3)
    assert SERIAL.dot(be, a, a) == be.dot(a, a)
    assert SERIAL.sum(np.float32(2.5)) == 2.5 and isinstance(SERIAL.sum(np.float32(1)), float)
    assert SERIAL.max(3) == 3.0 and SERIAL.min(-1) == -1.0
    assert SERIAL.all(True) and not SERIAL.all(False) and SERIAL.any(True)
    assert SERIAL.isfinite(be, a, a)
    b = a.copy()
    b[1, 2, 0] = np.nan
    assert not SERIAL.isfinite(be, a, b)


@pytest.mark.parametrize("periodic,smoother", [((True, False, False), "zline"),
                                               ((False, True, False), "rbgs")])
def test_pcg_on_the_serial_architecture_is_pcg_without_one(periodic, smoother):
    """The seam adds no arithmetic: same iterates, bit for bit (checked once against the
    code before the seam, too, on the larger problem of tests/test_mpi.py: the same bits)."""
    be = get_backend("cpu")
    system, faces, solved, b = pressure_problem(SHAPE, periodic=periodic)
    op = (system.Gx, system.Gy, system.Gz, system.D)
    runs = []
    for arch in (None, SERIAL):
        mg = Multigrid(system, faces, be, np.float64, solved=solved, singular=True,
                       smoother=smoother, periodic=periodic, arch=arch)
        x = np.zeros(tuple(s + 2 for s in system.D.shape))
        st = pcg(be, op, _padded(b), x, mg.apply, 1e-10, 200, fill_halo=mg.fill_halo,
                 arch=arch)
        runs.append((x, st))
    (x1, s1), (x2, s2) = runs
    assert s1.converged and s1.iterations == s2.iterations
    assert s1.history == s2.history and np.array_equal(x1, x2)
    assert isinstance(multigrid_for(system, faces, be, np.float64, periodic=periodic),
                      Multigrid)


def test_one_rank_distributed_multigrid_is_the_serial_one():
    """The distributed V-cycle's own code (slabs, gather level, colour parity) on a single
    rank (MPI's COMM_SELF, no mpiexec needed) gives the serial preconditioner's bits."""
    pytest.importorskip("mpi4py", reason="mpi4py is not installed (pip install -e '.[mpi]')")
    from mpi4py import MPI

    from thermosim.parallel import Distributed
    from thermosim.parallel.multigrid import DistributedMultigrid

    be = get_backend("cpu")
    arch = Distributed(MPI.COMM_SELF)
    per = (True, False, False)
    system, faces, solved, b = pressure_problem(SHAPE, periodic=per)
    kw = dict(solved=solved, singular=True, periodic=per)
    ref = Multigrid(system, faces, be, np.float64, **kw)
    r = _padded(b)
    for gather_cells in (0, 10**9):
        mg = DistributedMultigrid(system, faces, be, np.float64, arch,
                                  gather_cells=gather_cells, **kw)
        z1, z2 = np.zeros_like(r), np.zeros_like(r)
        ref.apply(r, z1)
        mg.apply(r, z2)
        assert np.array_equal(z1[1:-1, 1:-1, 1:-1], z2[1:-1, 1:-1, 1:-1]), mg.describe()


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_energy_far_layers_give_the_in_array_wrap(axis):
    """A rank interface's far layers (the cell beyond the halo, for the bounded advection's
    second upwind cell) are what the in-array periodic path reads across the wrap: fed the
    wrap's own layers and distances, the far path gives the periodic result to the bit, and
    without them the interface cells differ (first-order there)."""
    from thermosim.parallel import FarLayers

    be = get_backend("cpu")
    rng = np.random.default_rng(5 + axis)
    shape = (7, 6, 5)
    pad = tuple(n + 2 for n in shape)
    per = tuple(b == axis for b in range(3))
    T, u, v, w = (rng.standard_normal(pad) for _ in range(4))
    fluid = np.ones(pad, np.uint8)
    fluid[2:4, 2:4, 2:4] = 0
    for a in (T, u, v, w, fluid):
        wrap_halos(a, per)
    G = [rng.random(tuple(n + (a == b) for b, n in enumerate(shape))) for a in range(3)]
    q = rng.random(shape)
    faces = [np.concatenate([[0.0], np.cumsum(0.5 + rng.random(n))]) for n in shape]
    hd = SERIAL.local_widths(faces, per)
    h, d = [x[0] for x in hd], [x[1] for x in hd]
    n = shape[axis]

    def layer(i):
        return T[tuple(i if b == axis else slice(None) for b in range(3))]

    far = FarLayers(axis, layer(n - 1), layer(2), d[axis][n], d[axis][2])
    outs = []
    for periodic, f in ((per, None), ((False,) * 3, far), ((False,) * 3, None)):
        out = np.zeros(pad)
        be.energy_rhs(T, (u, v, w), fluid, G, 1.2e3, q, h, d, out, periodic=periodic, far=f)
        outs.append(out)
    assert np.array_equal(outs[0], outs[1])
    assert not np.array_equal(outs[0], outs[2])


def test_cpu_vector_kernels_refuse_arrays_of_another_shape():
    """The CPU backend's dot, axpy, xpay and copy walk flat views without bounds checks: an
    array of another shape (a whole grid's weight against a slab's vector, say) must be
    refused, not read past its end or in the wrong places; equal shapes still work."""
    be = get_backend("cpu")
    y, x = np.ones((4, 5, 6)), np.full((6, 5, 4), 2.0)
    for name, call in (("dot", lambda: be.dot(y, x)), ("axpy", lambda: be.axpy(y, 1.0, x)),
                       ("xpay", lambda: be.xpay(y, 1.0, x)), ("copy", lambda: be.copy(y, x))):
        with pytest.raises(ValueError, match=f"{name}: shapes"):
            call()
    z = np.full((4, 5, 6), 2.0)
    be.axpy(y, 0.5, z)
    assert be.dot(y, z) == pytest.approx(2.0 * 2.0 * y.size)
