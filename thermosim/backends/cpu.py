"""CPU backend: NumPy arrays, hot loops compiled with Numba (parallel, cached on disk).

Every kernel here has a CUDA twin in ``thermosim/kernels/*.cu`` with the same arguments and
the same arithmetic; tests compare the two.  Arrays with a halo have shape (nx+2, ny+2,
nz+2) and the interior cell (i, j, k) lives at [i+1, j+1, k+1].
"""

from __future__ import annotations

import platform

from . import numba_setup

numba_setup.configure()     # before Numba's import: cache folder, threading layer, waiting

import numba  # noqa: E402
import numpy as np  # noqa: E402
from numba import njit, prange  # noqa: E402

from .cpu_flow import FlowKernels  # noqa: E402
from .cpu_steady import AndersonKernels, SteadyKernels  # noqa: E402
from .cpu_turbulence import TurbulenceKernels  # noqa: E402

_opts = dict(parallel=True, cache=True, nogil=True)


@njit(inline="always")
def _apply_cell(x, Gx, Gy, Gz, D, y, b, sign, i, j, k):
    """Cell (i, j, k) of y = b + sign * (A x)."""
    xp = x[i + 1, j + 1, k + 1]
    gw = Gx[i, j, k]
    ge = Gx[i + 1, j, k]
    gs = Gy[i, j, k]
    gn = Gy[i, j + 1, k]
    gb = Gz[i, j, k]
    gt = Gz[i, j, k + 1]
    ax = (D[i, j, k] + gw + ge + gs + gn + gb + gt) * xp \
        - gw * x[i, j + 1, k + 1] - ge * x[i + 2, j + 1, k + 1] \
        - gs * x[i + 1, j, k + 1] - gn * x[i + 1, j + 2, k + 1] \
        - gb * x[i + 1, j + 1, k] - gt * x[i + 1, j + 1, k + 2]
    y[i + 1, j + 1, k + 1] = b[i + 1, j + 1, k + 1] + sign * ax


@njit(**_opts)
def _apply(x, Gx, Gy, Gz, D, y, b, sign):
    """y = b + sign * (A x) on the interior; A in conductance form."""
    nx, ny, nz = D.shape
    if nz == 1:
        # a plane (the 2-D validation cases): a loop over k of one trip per cell cost
        # more than the cell (12 ns a cell against 2 in 3-D, measured); the same sums
        for i in prange(nx):
            for j in range(ny):
                _apply_cell(x, Gx, Gy, Gz, D, y, b, sign, i, j, 0)
        return
    for i in prange(nx):
        for j in range(ny):
            for k in range(nz):
                _apply_cell(x, Gx, Gy, Gz, D, y, b, sign, i, j, k)


@njit(inline="always")
def _row(x, Gx, Gy, Gz, D, b, i, j, k):
    """Cell (i, j, k)'s row of A x = b, as the smoothers take it: the right-hand side
    with its x/y neighbours' terms from the current iterate, the diagonal, and the z
    couplings below and above (for the line solve; the point sweep adds their terms)."""
    gw = Gx[i, j, k]
    ge = Gx[i + 1, j, k]
    gs = Gy[i, j, k]
    gn = Gy[i, j + 1, k]
    gb = Gz[i, j, k]
    gt = Gz[i, j, k + 1]
    r = b[i + 1, j + 1, k + 1] \
        + gw * x[i, j + 1, k + 1] + ge * x[i + 2, j + 1, k + 1] \
        + gs * x[i + 1, j, k + 1] + gn * x[i + 1, j + 2, k + 1]
    return r, D[i, j, k] + gw + ge + gs + gn + gb + gt, gb, gt


@njit(**_opts)
def _rbgs(x, Gx, Gy, Gz, D, b, color):
    """One colour of a red-black Gauss-Seidel sweep, in place."""
    nx, ny, nz = D.shape
    if nz == 1:
        # a plane: the cells of this colour are every other j of a row (a loop over k
        # that runs 0 or 1 times cost twice the cell); the same cells, the same sums
        for i in prange(nx):
            for j in range((i + color) & 1, ny, 2):
                r, d, gb, gt = _row(x, Gx, Gy, Gz, D, b, i, j, 0)
                s = r + gb * x[i + 1, j + 1, 0] + gt * x[i + 1, j + 1, 2]
                x[i + 1, j + 1, 1] = s / d
        return
    for i in prange(nx):
        for j in range(ny):
            k0 = (i + j + color) & 1
            for k in range(k0, nz, 2):
                r, d, gb, gt = _row(x, Gx, Gy, Gz, D, b, i, j, k)
                s = r + gb * x[i + 1, j + 1, k] + gt * x[i + 1, j + 1, k + 2]
                x[i + 1, j + 1, k + 1] = s / d


@njit(inline="always")
def _thomas_forward(x, i, j, k, nz, r, d, gb, gt, cp, dp):
    """Row k of the Thomas algorithm's forward elimination of column (i, j) (row k:
    d x_k - gb x_(k-1) - gt x_(k+1) = r; the halo neighbours go to r)."""
    if k == 0:
        r += gb * x[i + 1, j + 1, 0]
        m = d
        dp[k] = r / m
    else:
        m = d + gb * cp[k - 1]
        dp[k] = (r + gb * dp[k - 1]) / m
    if k == nz - 1:
        dp[k] += gt * x[i + 1, j + 1, nz + 1] / m
        cp[k] = 0.0
    else:
        cp[k] = -gt / m


@njit(**_opts)
def _zline_gs(x, Gx, Gy, Gz, D, b, color):
    """Zebra line Gauss-Seidel: every (i, j) column of one colour is solved exactly along z
    (Thomas algorithm), its x/y neighbours taken from the current iterate.  Exact along z,
    so thin layers of an electronics stack-up (strong z coupling) are smoothed at once.
    The columns j and j + 2 (the same colour, independent) are eliminated side by side:
    each row's division waits on the row before, and two chains at once let the CPU
    overlap them (the same arithmetic per column, so the same bits; measured 20-30 %
    less time a call on the 0.1 m air hall's pressure levels)."""
    nx, ny, nz = D.shape
    for i in prange(nx):
        cp = np.empty(nz, dtype=x.dtype)
        dp = np.empty(nz, dtype=x.dtype)
        cq = np.empty(nz, dtype=x.dtype)
        dq = np.empty(nz, dtype=x.dtype)
        for j in range((i + color) & 1, ny, 4):
            if j + 2 < ny:
                q = j + 2
                for k in range(nz):
                    r, d, gb, gt = _row(x, Gx, Gy, Gz, D, b, i, j, k)
                    r2, d2, gb2, gt2 = _row(x, Gx, Gy, Gz, D, b, i, q, k)
                    _thomas_forward(x, i, j, k, nz, r, d, gb, gt, cp, dp)
                    _thomas_forward(x, i, q, k, nz, r2, d2, gb2, gt2, cq, dq)
                x[i + 1, j + 1, nz] = dp[nz - 1]
                x[i + 1, q + 1, nz] = dq[nz - 1]
                for k in range(nz - 2, -1, -1):
                    x[i + 1, j + 1, k + 1] = dp[k] - cp[k] * x[i + 1, j + 1, k + 2]
                    x[i + 1, q + 1, k + 1] = dq[k] - cq[k] * x[i + 1, q + 1, k + 2]
            else:
                for k in range(nz):
                    r, d, gb, gt = _row(x, Gx, Gy, Gz, D, b, i, j, k)
                    _thomas_forward(x, i, j, k, nz, r, d, gb, gt, cp, dp)
                x[i + 1, j + 1, nz] = dp[nz - 1]
                for k in range(nz - 2, -1, -1):
                    x[i + 1, j + 1, k + 1] = dp[k] - cp[k] * x[i + 1, j + 1, k + 2]


@njit(**_opts)
def _restrict(rf, rc, ox, oy, oz):
    """rc[I] = sum of rf over the fine cells of aggregate I (offsets o*: nc+1 entries)."""
    ncx, ncy, ncz = ox.size - 1, oy.size - 1, oz.size - 1
    for I in prange(ncx):
        for J in range(ncy):
            for K in range(ncz):
                s = 0.0
                for i in range(ox[I], ox[I + 1]):
                    for j in range(oy[J], oy[J + 1]):
                        for k in range(oz[K], oz[K + 1]):
                            s += rf[i + 1, j + 1, k + 1]
                rc[I + 1, J + 1, K + 1] = s


@njit(**_opts)
def _prolong_add(xc, xf, mx, my, mz):
    """xf += xc[aggregate of each fine cell] (piecewise-constant prolongation)."""
    nx, ny, nz = mx.size, my.size, mz.size
    for i in prange(nx):
        I = mx[i] + 1
        for j in range(ny):
            J = my[j] + 1
            for k in range(nz):
                xf[i + 1, j + 1, k + 1] += xc[I, J, mz[k] + 1]


@njit(inline="always")
def _contact(a, b, rc, grp, contact):
    """Contact resistance of a face between ids a and b: both blocks' values where the
    face separates two different blocks (neither a fixed cell); 0 when ``contact`` is off."""
    if not contact:
        return 0.0
    ga = grp[a]
    gb = grp[b]
    if ga != gb and ga >= 0.0 and gb >= 0.0:
        return rc[a] + rc[b]
    return 0.0


@njit(**_opts)
def _explicit_step(T, Tn, ids, rkx, rky, rkz, ra, inv_rhoc, qdot, rc, grp, hx, hy, hz, idx,
                   idy, idz, dt, contact):
    """Forward-Euler conduction step with face conductances evaluated from the id table:
    Tn = T + dt / (rho c) * (sum_f (T_N - T_P) / (d_P R_f) + qdot)."""
    nx, ny, nz = idx.size, idy.size, idz.size
    for i in prange(1, nx + 1):
        for j in range(1, ny + 1):
            for k in range(1, nz + 1):
                p = ids[i, j, k]
                tp = T[i, j, k]
                c = inv_rhoc[p]
                if c == 0.0:
                    Tn[i, j, k] = tp
                    continue
                sx = hx[i] * rkx[p] + ra[p]
                sy = hy[j] * rky[p] + ra[p]
                sz = hz[k] * rkz[p] + ra[p]
                n = ids[i - 1, j, k]
                fx = (T[i - 1, j, k] - tp) / (sx + hx[i - 1] * rkx[n] + ra[n]
                                              + _contact(p, n, rc, grp, contact))
                n = ids[i + 1, j, k]
                fx += (T[i + 1, j, k] - tp) / (sx + hx[i + 1] * rkx[n] + ra[n]
                                               + _contact(p, n, rc, grp, contact))
                n = ids[i, j - 1, k]
                fy = (T[i, j - 1, k] - tp) / (sy + hy[j - 1] * rky[n] + ra[n]
                                              + _contact(p, n, rc, grp, contact))
                n = ids[i, j + 1, k]
                fy += (T[i, j + 1, k] - tp) / (sy + hy[j + 1] * rky[n] + ra[n]
                                               + _contact(p, n, rc, grp, contact))
                n = ids[i, j, k - 1]
                fz = (T[i, j, k - 1] - tp) / (sz + hz[k - 1] * rkz[n] + ra[n]
                                              + _contact(p, n, rc, grp, contact))
                n = ids[i, j, k + 1]
                fz += (T[i, j, k + 1] - tp) / (sz + hz[k + 1] * rkz[n] + ra[n]
                                               + _contact(p, n, rc, grp, contact))
                Tn[i, j, k] = tp + dt * c * (fx * idx[i - 1] + fy * idy[j - 1]
                                             + fz * idz[k - 1] + qdot[p])


@njit(**_opts)
def _explicit_step_uniform(T, Tn, c, n):
    """Constant-coefficient 7-point step (benchmark baseline): Tn = T + c * laplacian."""
    for i in prange(1, n + 1):
        for j in range(1, n + 1):
            for k in range(1, n + 1):
                tp = T[i, j, k]
                Tn[i, j, k] = tp + c * (T[i - 1, j, k] + T[i + 1, j, k] + T[i, j - 1, k]
                                        + T[i, j + 1, k] + T[i, j, k - 1] + T[i, j, k + 1]
                                        - 6.0 * tp)


#: a dot product's block: the products of each block are added in order, then the blocks'
#: sums in order, whatever the thread count (a ``prange`` reduction splits the sum by
#: thread, and its rounding with it: the two tanks on 0.1 m cells of
#: tests/test_compare_workers.py took 366 outer iterations on one thread and 253 on two)
SUM_BLOCK = 4096


@njit(parallel=True, cache=True)
def _dot(a, b):
    fa = a.ravel()
    fb = b.ravel()
    n = fa.size
    nb = (n + SUM_BLOCK - 1) // SUM_BLOCK
    part = np.empty(nb)
    for ib in prange(nb):
        s = 0.0
        for i in range(ib * SUM_BLOCK, min(ib * SUM_BLOCK + SUM_BLOCK, n)):
            s += np.float64(fa[i]) * np.float64(fb[i])
        part[ib] = s
    s = 0.0
    for ib in range(nb):
        s += part[ib]
    return s


@njit(parallel=True, cache=True, fastmath={"reassoc", "contract"})
def _dense_matvec(A, v, out):
    """out = A v, a row per iteration, each row's sum in one fixed order (BLAS splits it by
    its own thread count: see :func:`_dot`)."""
    for r in prange(A.shape[0]):
        s = 0.0
        for c in range(A.shape[1]):
            s += A[r, c] * v[c]
        out[r] = s


@njit(**_opts)
def _copy(dst, src):
    fd = dst.ravel()
    fs = src.ravel()
    for i in prange(fd.size):
        fd[i] = fs[i]


@njit(**_opts)
def _axpy(y, a, x):
    fy = y.ravel()
    fx = x.ravel()
    for i in prange(fy.size):
        fy[i] += a * fx[i]


@njit(**_opts)
def _xpay(y, a, x):
    fy = y.ravel()
    fx = x.ravel()
    for i in prange(fy.size):
        fy[i] = fx[i] + a * fy[i]


def _same_shape(a, b, what: str) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{what}: shapes {a.shape} and {b.shape} differ")


#: The kernels that :meth:`CPUBackend.prepare` compiles (multigrid, CG vector work, the
#: explicit step): the first-run notice looks for them in Numba's cache.
CONDUCTION_KERNELS = (_apply, _rbgs, _zline_gs, _restrict, _prolong_add, _dot, _axpy, _xpay,
                      _explicit_step, _dense_matvec)


#: The conjugate-gradient kernels that a flow run's pressure solve compiles too (the flow
#: kernels' first-run notice, :meth:`FlowKernels.prepare_flow`, looks for them as well).
CG_KERNELS = (_apply, _axpy, _dot)


class CPUBackend(FlowKernels, SteadyKernels, AndersonKernels, TurbulenceKernels):
    """NumPy + Numba.  The reference backend that every other one is compared with."""

    name = "cpu"
    xp = np
    CG_KERNELS = CG_KERNELS

    def __init__(self):
        self._prepared = set()

    @property
    def device_name(self) -> str:
        """The processor and the threads the calling thread runs kernels on now (the count
        is set per problem: thermosim.backends.backend_for)."""
        try:
            layer = f", {numba.threading_layer()} threading layer"
        except ValueError:              # not known before a parallel kernel has run
            layer = ""
        n = numba.get_num_threads()
        return f"{platform.processor() or platform.machine()} " \
               f"({n} thread{'s' if n != 1 else ''}, Numba {numba.__version__}{layer})"

    def prepare(self, dtype, id_dtype=np.uint8) -> float:
        """Compile (first run) or load from Numba's on-disk cache every kernel for ``dtype``,
        so that a solve's timing does not include it.  Returns the seconds spent."""
        import time

        t0 = time.perf_counter()
        dtype = np.dtype(dtype)
        key = (dtype, np.dtype(id_dtype))
        if key in self._prepared:
            return 0.0
        # about 25 s on two idle cores (30 s measured on two busy ones)
        numba_setup.compile_notice("conduction", 25, CONDUCTION_KERNELS, dtype)
        n = 3
        x = np.zeros((n + 2,) * 3, dtype)
        G = [np.ones((n + 1, n, n), dtype), np.ones((n, n + 1, n), dtype),
             np.ones((n, n, n + 1), dtype)]
        D = np.ones((n, n, n), dtype)
        self.residual(x, x.copy(), *G, D, x.copy())
        self.matvec(x, *G, D, x.copy(), x.copy())
        self.rbgs(x, *G, D, x.copy(), 0)
        self.zline_gs(x, *G, D, x.copy(), 0)
        o = np.array([0, 2, 3], np.int64)
        m = np.array([0, 0, 1], np.int64)
        xc = np.zeros((4, 4, 4), dtype)
        self.restrict(x, xc, o, o, o)
        self.prolong_add(xc, x, m, m, m)
        self.dot(x, x)
        self.dense_matvec(np.eye(2, dtype=dtype), np.ones(2, dtype))
        self.axpy(x, 1.0, x.copy())
        self.xpay(x, 1.0, x.copy())
        tab = {k: np.zeros(2, dtype) for k in ("rkx", "rky", "rkz", "ra", "inv_rhoc", "qdot",
                                                 "rc", "grp")}
        h = tuple(np.zeros(n + 2, dtype) for _ in range(3))
        inv = tuple(np.ones(n, dtype) for _ in range(3))
        self.explicit_step(x, x.copy(), np.zeros((n + 2,) * 3, id_dtype), tab, h, inv, 0.0)
        self._prepared.add(key)
        return time.perf_counter() - t0

    # -- arrays ---------------------------------------------------------------------
    def asarray(self, a, dtype=None):
        """A private C-ordered copy, as a transfer to a device would give."""
        return np.array(a, dtype=dtype, order="C", copy=True)

    def to_host(self, a) -> np.ndarray:
        return np.asarray(a)

    def zeros(self, shape, dtype):
        return np.zeros(shape, dtype=dtype)

    def synchronize(self):
        pass

    # -- conductance-form operator --------------------------------------------------
    def residual(self, b, x, Gx, Gy, Gz, D, r):
        """r = b - A x (b, x, r with halo)."""
        _apply(x, Gx, Gy, Gz, D, r, b, -1.0)

    def matvec(self, x, Gx, Gy, Gz, D, y, zero):
        """y = A x; ``zero`` is an all-zero array shaped like y (halo included)."""
        _apply(x, Gx, Gy, Gz, D, y, zero, 1.0)

    def rbgs(self, x, Gx, Gy, Gz, D, b, color: int):
        _rbgs(x, Gx, Gy, Gz, D, b, color)

    def zline_gs(self, x, Gx, Gy, Gz, D, b, color: int):
        _zline_gs(x, Gx, Gy, Gz, D, b, color)

    def line_gs(self, x, Gx, Gy, Gz, D, b, color: int, axis: int = 2):
        """Zebra line Gauss-Seidel along ``axis``: every line of cells along that axis whose
        two other interior indices sum to ``color`` (mod 2) is solved exactly.  Lines along
        x or y run the z-line kernel on transposed views (the line axis last)."""
        if axis == 2:
            _zline_gs(x, Gx, Gy, Gz, D, b, color)
            return
        perm = (1, 2, 0) if axis == 0 else (0, 2, 1)
        G = (Gx, Gy, Gz)
        roles = [G[perm[0]], G[perm[1]], G[perm[2]]]
        _zline_gs(x.transpose(perm), *(g.transpose(perm) for g in roles), D.transpose(perm),
                  b.transpose(perm), color)

    def restrict(self, rf, rc, ox, oy, oz):
        _restrict(rf, rc, ox, oy, oz)

    def prolong_add(self, xc, xf, mx, my, mz):
        _prolong_add(xc, xf, mx, my, mz)

    # -- explicit step -----------------------------------------------------------------
    def explicit_step(self, T, Tn, ids, tab, h, inv_d, dt, contact=True):
        """One forward-Euler step; ``tab`` holds every TABLE_FIELDS entry.  With
        ``contact=False`` the contact resistances are not applied (the faster path when no
        block has one, as on the GPU)."""
        _explicit_step(T, Tn, ids, tab["rkx"], tab["rky"], tab["rkz"], tab["ra"],
                       tab["inv_rhoc"], tab["qdot"], tab["rc"], tab["grp"], h[0], h[1], h[2],
                       inv_d[0], inv_d[1], inv_d[2], T.dtype.type(dt), bool(contact))

    def explicit_step_uniform(self, T, Tn, c):
        _explicit_step_uniform(T, Tn, T.dtype.type(c), T.shape[0] - 2)

    # -- vectors ---------------------------------------------------------------------
    # (the kernels walk flat views without bounds checks: arrays of another shape would be
    # read past their end or in the wrong places, silently, so the shapes are checked)
    def dot(self, a, b) -> float:
        _same_shape(a, b, "dot")
        return float(_dot(a, b))

    def dense_matvec(self, A, v):
        """A v for a dense square matrix (the multigrid's coarsest inverse)."""
        out = np.empty(A.shape[0], A.dtype)
        _dense_matvec(A, np.ascontiguousarray(v, A.dtype), out)
        return out

    def axpy(self, y, a, x):
        _same_shape(y, x, "axpy")
        _axpy(y, y.dtype.type(a), x)

    def copy(self, dst, src):
        """dst[...] = src with every core (the bandwidth reference of the benchmark)."""
        _same_shape(dst, src, "copy")
        _copy(dst, src)

    def xpay(self, y, a, x):
        _same_shape(y, x, "xpay")
        _xpay(y, y.dtype.type(a), x)

    def copy_slicing_step(self, T, Tn, c):
        """The same constant-coefficient step written with array slicing, as a user would."""
        Tn[1:-1, 1:-1, 1:-1] = T[1:-1, 1:-1, 1:-1] + c * (
            T[:-2, 1:-1, 1:-1] + T[2:, 1:-1, 1:-1] + T[1:-1, :-2, 1:-1] + T[1:-1, 2:, 1:-1]
            + T[1:-1, 1:-1, :-2] + T[1:-1, 1:-1, 2:] - 6.0 * T[1:-1, 1:-1, 1:-1])


