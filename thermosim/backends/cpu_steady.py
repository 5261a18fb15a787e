"""Numba kernels of the steady (outer-iteration) flow solver: the linearised momentum and
energy operators and the symmetric Gauss-Seidel sweeps that solve them approximately.

The operators are the Jacobians of the explicit right-hand sides with first-order upwind
advection (the convecting velocities frozen) and, in the momentum, the eddy viscosity's
diffusion (nu_t frozen), whatever scheme the right-hand side uses:
the solver iterates in delta form, ``M delta = R(x)``, so M only steers the iteration and
never changes the converged answer, while upwind keeps M an M-matrix (positive diagonal,
non-positive couplings, diagonally dominant) on which Gauss-Seidel converges.  A neighbour
whose value is held (a wall, an inflow, a boundary-normal face, a halo) has delta = 0 in the
sweeps, so its coupling stays in the diagonal only.  The energy operator's diagonal is
raised where the bounded advection's own derivative is larger (see
:func:`_energy_operator`); it stays an M-matrix.

Layout: as :mod:`thermosim.backends.cpu_flow` (halo shape, staggered faces on the low side
of their cell); coefficient arrays have the halo shape, ``aw`` coupling to index - 1 and
``ae`` to index + 1 along axis 0, ``as_``/``an`` along 1, ``ab``/``at`` along 2.
"""

from __future__ import annotations

from . import numba_setup

numba_setup.configure()

import numpy as np  # noqa: E402
from numba import njit, prange  # noqa: E402

from .cpu_flow import _at  # noqa: E402

_opts = dict(parallel=True, cache=True, nogil=True)


@njit(**_opts)
def _momentum_operator(a, b, c, fluid, h0, h1, h2, d0, d1, d2, nu, inv_dt, first, nut,
                       eddy, aw, ae, as_, an, ab, at, ap):
    """The upwind-advection and diffusion Jacobian (1/s) of the momentum right-hand side
    of the velocity normal to axis 0 (:func:`thermosim.backends.cpu_flow._momentum_rhs`),
    plus ``inv_dt``, on the faces ``first``..n0; faces not computed get ap = 1, no
    couplings.  A wall beside a face row couples through half a cell, into the diagonal.
    ``eddy``: also the eddy diffusion's, ``nut`` (m^2/s, cells) frozen, with the eddy
    momentum kernel's averages (:func:`thermosim.backends.cpu_turbulence._eddy_momentum`:
    a cell's nu_t along the component's axis, the four cells' mean across an edge; its
    wall shear is its term's implicit rate); else ``nut`` is not read."""
    n0, n1, n2 = a.shape[0] - 2, a.shape[1] - 2, a.shape[2] - 2
    for i in prange(a.shape[0]):
        wl = h0[i] / (h0[i - 1] + h0[i]) if 1 <= i <= n0 + 1 else 0.5
        wr = 1.0 - wl
        for j in range(a.shape[1]):
            for k in range(a.shape[2]):
                aw[i, j, k] = 0.0
                ae[i, j, k] = 0.0
                as_[i, j, k] = 0.0
                an[i, j, k] = 0.0
                ab[i, j, k] = 0.0
                at[i, j, k] = 0.0
                ap[i, j, k] = 1.0
                if i < first or i > n0 or j < 1 or j > n1 or k < 1 or k > n2:
                    continue
                if fluid[i - 1, j, k] == 0 or fluid[i, j, k] == 0:
                    continue
                diag = inv_dt
                cr = 0.5 * (a[i, j, k] + a[i + 1, j, k])
                cl = 0.5 * (a[i - 1, j, k] + a[i, j, k])
                de = nu / (h0[i] * d0[i])
                dw = nu / (h0[i - 1] * d0[i])
                if eddy:
                    de += nut[i, j, k] / (h0[i] * d0[i])
                    dw += nut[i - 1, j, k] / (h0[i - 1] * d0[i])
                ae[i, j, k] = max(-cr, 0.0) / d0[i] + de
                aw[i, j, k] = max(cl, 0.0) / d0[i] + dw
                diag += (max(cr, 0.0) + max(-cl, 0.0)) / d0[i] + de + dw
                bu = wl * b[i - 1, j + 1, k] + wr * b[i, j + 1, k]
                bl = wl * b[i - 1, j, k] + wr * b[i, j, k]
                if fluid[i - 1, j + 1, k] == 0 or fluid[i, j + 1, k] == 0:
                    diag += nu / (0.5 * h1[j] * h1[j])
                else:
                    g = nu / (d1[j + 1] * h1[j])
                    if eddy and n1 >= 2:
                        g += 0.25 * (nut[i - 1, j, k] + nut[i, j, k] + nut[i - 1, j + 1, k]
                                     + nut[i, j + 1, k]) / (d1[j + 1] * h1[j])
                    an[i, j, k] = max(-bu, 0.0) / h1[j] + g
                    diag += max(bu, 0.0) / h1[j] + g
                if fluid[i - 1, j - 1, k] == 0 or fluid[i, j - 1, k] == 0:
                    diag += nu / (0.5 * h1[j] * h1[j])
                else:
                    g = nu / (d1[j] * h1[j])
                    if eddy and n1 >= 2:
                        g += 0.25 * (nut[i - 1, j, k] + nut[i, j, k] + nut[i - 1, j - 1, k]
                                     + nut[i, j - 1, k]) / (d1[j] * h1[j])
                    as_[i, j, k] = max(bl, 0.0) / h1[j] + g
                    diag += max(-bl, 0.0) / h1[j] + g
                cu = wl * c[i - 1, j, k + 1] + wr * c[i, j, k + 1]
                cb = wl * c[i - 1, j, k] + wr * c[i, j, k]
                if fluid[i - 1, j, k + 1] == 0 or fluid[i, j, k + 1] == 0:
                    diag += nu / (0.5 * h2[k] * h2[k])
                else:
                    g = nu / (d2[k + 1] * h2[k])
                    if eddy and n2 >= 2:
                        g += 0.25 * (nut[i - 1, j, k] + nut[i, j, k] + nut[i - 1, j, k + 1]
                                     + nut[i, j, k + 1]) / (d2[k + 1] * h2[k])
                    at[i, j, k] = max(-cu, 0.0) / h2[k] + g
                    diag += max(cu, 0.0) / h2[k] + g
                if fluid[i - 1, j, k - 1] == 0 or fluid[i, j, k - 1] == 0:
                    diag += nu / (0.5 * h2[k] * h2[k])
                else:
                    g = nu / (d2[k] * h2[k])
                    if eddy and n2 >= 2:
                        g += 0.25 * (nut[i - 1, j, k] + nut[i, j, k] + nut[i - 1, j, k - 1]
                                     + nut[i, j, k - 1]) / (d2[k] * h2[k])
                    ab[i, j, k] = max(cb, 0.0) / h2[k] + g
                    diag += max(-cb, 0.0) / h2[k] + g
                ap[i, j, k] = diag


#: the energy operator's diagonal is at least this share of the bounded advection's own
#: (see :func:`_energy_operator`)
OWN_SHARE = 0.6


@njit(inline="always")
def _face_value_slopes(tu, td, tuu, hu, hd, duu):
    """The slopes of :func:`thermosim.backends.cpu_flow._face_value` (the bounded face
    value) in its upwind and downwind temperatures: (d/d tu, d/d td)."""
    dd = td - tu
    if dd == 0.0:
        return 1.0, 0.0
    hm = 0.5 * (hu + hd)
    a = (tu - tuu) * hm / duu
    r = a / dd
    if r <= 0.0:
        return 1.0, 0.0                 # upwind
    if 2.0 * r / (1.0 + r) > (hu + hd) / hu:
        return 0.0, 1.0                 # held at the downwind value
    # face = tu + w 2 a dd / (a + dd)
    w = hu / (hu + hd)
    s2 = (a + dd) * (a + dd)
    return 1.0 + w * (2.0 * dd * dd / s2 * hm / duu - 2.0 * a * a / s2), \
        w * 2.0 * a * a / s2


@njit(inline="always")
def _axis_own_slope(vel, T, i, j, k, axis, n, h, d, flow_area):
    """How much more the bounded advection's net heat out of cell (i, j, k) through its two
    faces along ``axis`` grows with the cell's own temperature than the upwind scheme's
    (W/K; negative where less).  Faces whose far cell lies across a periodic wrap or a
    rank interface count as upwind here."""
    q = (i, j, k)[axis]
    ex = 0.0
    for s in range(2):
        fi = q + s
        ve = _at(vel, i, j, k, axis, s)
        if ve == 0.0:
            continue
        f = abs(ve) * flow_area
        if ve > 0.0:
            if fi - 2 < 0:
                continue
            su, sd = _face_value_slopes(_at(T, i, j, k, axis, s - 1),
                                        _at(T, i, j, k, axis, s),
                                        _at(T, i, j, k, axis, s - 2), h[fi - 1], h[fi],
                                        d[fi - 1])
            ex += f * (su - 1.0) if s == 1 else -f * sd
        else:
            if fi + 1 > n + 1:
                continue
            su, sd = _face_value_slopes(_at(T, i, j, k, axis, s),
                                        _at(T, i, j, k, axis, s - 1),
                                        _at(T, i, j, k, axis, s + 1), h[fi], h[fi - 1],
                                        d[fi + 1])
            ex += f * (su - 1.0) if s == 0 else -f * sd
    return ex


@njit(**_opts)
def _energy_operator(u, v, w, fluid, Gx, Gy, Gz, rhoc, hx, hy, hz, cap_dt, extra,
                     T, dx, dy, dz, own_share, aw, ae, as_, an, ab, at, ap):
    """The conduction and upwind-advection Jacobian (W/K) of the net heat into each cell
    (:func:`thermosim.backends.cpu_flow._energy_rhs`) plus ``cap_dt`` (C / dt) and ``extra``
    (conductances to fixed temperatures), both W/K with the halo shape.

    The right-hand side's bounded (van Leer) face values move with the cell's own
    temperature ``T`` (K): on an outflow face by up to its share of the face's flow either
    way, on an inflow face by up to one more.  So the scheme's own diagonal reaches twice
    the upwind one (more on a graded grid), and an update divided by the upwind diagonal
    overshoots there with a factor of -1 or below: it flips the cell every iteration
    (measured under the CRAH outlets of the 20-rack hall on 0.154 m cells, +-7.1 W for a
    thousand iterations).  The diagonal is therefore at least ``own_share``
    (:data:`OWN_SHARE`) of the scheme's own (with the capacity and conduction), which
    keeps that factor above -2/3 and leaves the cells
    where the upwind diagonal is the larger as they were.  It steers the iteration only:
    the net heat, and so the answer, is the scheme's.  Measured, outer iterations (check
    every 10) without / with, on 0.2 / 0.154 / 0.118 / 0.1 m cells: the air hall 174 / 175,
    351 / 347, 550 / 456, 460 / 460; the cold-plate hall 241 / 234, 593 / 571, 518 / 533;
    the 20-rack hall 121 / 121 and, on 0.154 m, stalled / 393.  With the whole own diagonal
    (share 1, a CPU prototype) the quick halls took 190 and 345; half the outflows added
    instead, 340 and 322."""
    nx, ny, nz = u.shape[0] - 2, u.shape[1] - 2, u.shape[2] - 2
    for i in prange(u.shape[0]):
        for j in range(u.shape[1]):
            for k in range(u.shape[2]):
                aw[i, j, k] = 0.0
                ae[i, j, k] = 0.0
                as_[i, j, k] = 0.0
                an[i, j, k] = 0.0
                ab[i, j, k] = 0.0
                at[i, j, k] = 0.0
                ap[i, j, k] = 1.0
                if i < 1 or i > nx or j < 1 or j > ny or k < 1 or k > nz:
                    continue
                gw = Gx[i - 1, j - 1, k - 1]
                ge = Gx[i, j - 1, k - 1]
                gs = Gy[i - 1, j - 1, k - 1]
                gn = Gy[i - 1, j, k - 1]
                gb = Gz[i - 1, j - 1, k - 1]
                gt = Gz[i - 1, j - 1, k]
                diag = cap_dt[i, j, k] + extra[i, j, k] + gw + ge + gs + gn + gb + gt
                if fluid[i, j, k] != 0:
                    # (u A)(T_f - T_P) outward: the upwind face value is the neighbour's
                    # on inflow faces, the cell's own (no net effect) on outflow faces
                    ax = rhoc * hy[j] * hz[k]
                    ay = rhoc * hx[i] * hz[k]
                    az = rhoc * hx[i] * hy[j]
                    fw = max(u[i, j, k], 0.0) * ax
                    fe = max(-u[i + 1, j, k], 0.0) * ax
                    fs = max(v[i, j, k], 0.0) * ay
                    fn = max(-v[i, j + 1, k], 0.0) * ay
                    fb = max(w[i, j, k], 0.0) * az
                    ft = max(-w[i, j, k + 1], 0.0) * az
                    gw += fw
                    ge += fe
                    gs += fs
                    gn += fn
                    gb += fb
                    gt += ft
                    diag += fw + fe + fs + fn + fb + ft
                    own = diag + _axis_own_slope(u, T, i, j, k, 0, nx, hx, dx, ax) \
                        + _axis_own_slope(v, T, i, j, k, 1, ny, hy, dy, ay) \
                        + _axis_own_slope(w, T, i, j, k, 2, nz, hz, dz, az)
                    lo = own_share * own
                    if diag < lo:
                        diag = lo
                aw[i, j, k] = gw
                ae[i, j, k] = ge
                as_[i, j, k] = gs
                an[i, j, k] = gn
                ab[i, j, k] = gb
                at[i, j, k] = gt
                ap[i, j, k] = diag


@njit(cache=True, nogil=True)
def _sgs_point(aw, ae, as_, an, ab, at, ap, r, x, solved, i, j, k):
    """Point (i, j, k)'s Gauss-Seidel update, where it is solved."""
    if solved[i, j, k] != 0:
        x[i, j, k] = (r[i, j, k] + aw[i, j, k] * x[i - 1, j, k]
                      + ae[i, j, k] * x[i + 1, j, k]
                      + as_[i, j, k] * x[i, j - 1, k]
                      + an[i, j, k] * x[i, j + 1, k]
                      + ab[i, j, k] * x[i, j, k - 1]
                      + at[i, j, k] * x[i, j, k + 1]) / ap[i, j, k]


@njit(cache=True, nogil=True)
def _sgs(aw, ae, as_, an, ab, at, ap, r, x, solved, sweeps):
    """``sweeps`` symmetric Gauss-Seidel sweeps (forward, then backward: upwind couplings
    in either direction are met in the sweep that follows them) of
    ``ap x - sum a_nb x_nb = r`` over the points with ``solved`` != 0; x elsewhere (the
    held points and the halo) stays as it is (0 in delta form).  Sequential by nature.
    A plane (one cell in k: the 2-D validation cases) takes loops without the k loop of
    one trip, which cost more than the point (the same points in the same order)."""
    n0, n1, n2 = x.shape[0] - 2, x.shape[1] - 2, x.shape[2] - 2
    for _ in range(sweeps):
        if n2 == 1:
            for i in range(1, n0 + 2):
                for j in range(1, n1 + 1):
                    _sgs_point(aw, ae, as_, an, ab, at, ap, r, x, solved, i, j, 1)
            for i in range(n0 + 1, 0, -1):
                for j in range(n1, 0, -1):
                    _sgs_point(aw, ae, as_, an, ab, at, ap, r, x, solved, i, j, 1)
            continue
        for i in range(1, n0 + 2):
            for j in range(1, n1 + 1):
                for k in range(1, n2 + 1):
                    _sgs_point(aw, ae, as_, an, ab, at, ap, r, x, solved, i, j, k)
        for i in range(n0 + 1, 0, -1):
            for j in range(n1, 0, -1):
                for k in range(n2, 0, -1):
                    _sgs_point(aw, ae, as_, an, ab, at, ap, r, x, solved, i, j, k)


STEADY_KERNELS = (_momentum_operator, _energy_operator, _sgs)

_PERM = ((0, 1, 2), (1, 0, 2), (2, 0, 1))


class SteadyKernels:
    """The steady solver's operations on NumPy arrays (mixed into the CPU backend)."""

    def momentum_operator(self, comp: int, vel, fluid, h, d, nu, inv_dt, coeffs,
                          periodic: bool = False, nut=None):
        """coeffs (aw, ae, as, an, ab, at, ap; halo shape, 1/s) = the linearised momentum
        operator of velocity component ``comp`` (axes in the component's order: aw/ae
        along ``comp``)."""
        perm = _PERM[comp]
        tr = (lambda x: x) if comp == 0 else (lambda x: x.transpose(perm))  # noqa: E731
        t = coeffs[0].dtype.type
        _momentum_operator(tr(vel[comp]), tr(vel[perm[1]]), tr(vel[perm[2]]), tr(fluid),
                           h[perm[0]], h[perm[1]], h[perm[2]], d[perm[0]], d[perm[1]],
                           d[perm[2]], t(nu), t(inv_dt), 1 if periodic else 2,
                           tr(vel[comp] if nut is None else nut), nut is not None,
                           *[tr(x) for x in coeffs])

    def energy_operator(self, vel, fluid, G, rhoc, h, cap_dt, extra, T, d, coeffs):
        """coeffs (W/K) = the linearised energy operator at the temperatures ``T`` (K; ``d``:
        the centre distances, m), see :func:`_energy_operator`."""
        _energy_operator(vel[0], vel[1], vel[2], fluid, G[0], G[1], G[2],
                         coeffs[0].dtype.type(rhoc), h[0], h[1], h[2], cap_dt, extra, T,
                         d[0], d[1], d[2], coeffs[0].dtype.type(OWN_SHARE), *coeffs)

    def sweep(self, coeffs, r, x, solved, sweeps: int, comp: int = 0):
        """x += ``sweeps`` symmetric Gauss-Seidel sweeps of ``coeffs`` x = r (delta form:
        x starts at 0); ``comp``: the component whose axis order coeffs are in."""
        perm = _PERM[comp]
        tr = (lambda a: a) if comp == 0 else (lambda a: a.transpose(perm))  # noqa: E731
        _sgs(*[tr(a) for a in coeffs], tr(r), tr(x), tr(solved), int(sweeps))


#: elements of a history row handled together: the pieces of the vectors a row meets (and
#: of the iterate being built) stay in the first-level cache while every row streams by
#: once.  The loops run over views of the pieces, which LLVM vectorises: indexed into the
#: whole arrays they ran two to five times slower (measured, 271,000 unknowns, 100 rows
#: in single precision, one thread: 26.5 -> 5-13 ms the products, 27.5 -> 4-11 ms the
#: combination, 8-10 GB/s: bound by memory)
ANDERSON_BLOCK = 2048


@njit(fastmath=True, **_opts)
def _rows_dots(M, k, a, b, out):
    """out[0, r] = M[r] . a and out[1, r] = M[r] . b for the first ``k`` rows (Anderson's
    Gram row and right-hand side), each row of M read once, block by block."""
    n = a.size
    nb = (n + ANDERSON_BLOCK - 1) // ANDERSON_BLOCK
    part = np.zeros((nb, 2, k))
    for ib in prange(nb):
        lo = ib * ANDERSON_BLOCK
        hi = min(lo + ANDERSON_BLOCK, n)
        ab = a[lo:hi]
        bb = b[lo:hi]
        for r in range(k):
            mr = M[r, lo:hi]
            sa = 0.0
            sb = 0.0
            for q in range(hi - lo):
                sa += mr[q] * ab[q]
                sb += mr[q] * bb[q]
            part[ib, 0, r] = sa
            part[ib, 1, r] = sb
    for ib in range(nb):
        for r in range(k):
            out[0, r] += part[ib, 0, r]
            out[1, r] += part[ib, 1, r]


@njit(fastmath=True, **_opts)
def _anderson_combine(out, gx, g, dG, k):
    """out = gx - sum_r g[r] dG[r]: Anderson's next iterate, block by block (each history
    row streamed once; the block being built stays in cache)."""
    n = gx.size
    nb = (n + ANDERSON_BLOCK - 1) // ANDERSON_BLOCK
    for ib in prange(nb):
        lo = ib * ANDERSON_BLOCK
        hi = min(lo + ANDERSON_BLOCK, n)
        acc = gx[lo:hi].copy()
        for r in range(k):
            c = g[r]
            gr = dG[r, lo:hi]
            for q in range(hi - lo):
                acc[q] -= c * gr[q]
        out[lo:hi] = acc


class AndersonKernels:
    """Anderson acceleration's products on NumPy arrays without BLAS (whose threads
    oversubscribe the cores Numba already uses: ten times slower on two cores)."""

    def rows_dots(self, M, k: int, a, b):
        """(M[:k] @ a, M[:k] @ b) on the host, M read once."""
        out = np.zeros((2, max(k, 1)))
        _rows_dots(M, k, a, b, out)
        return out[0, :k], out[1, :k]

    def anderson_combine(self, out, gx, g, dG, k: int):
        _anderson_combine(out, gx, np.asarray(g, gx.dtype), dG, k)


@njit(**_opts)
def _rb_colour(aw, ae, as_, an, ab, at, ap, r, x, solved, colour):
    """One colour's half of a red-black Gauss-Seidel sweep (see :func:`_rbgs7`): the points
    with (i + j + k) % 2 == ``colour``; they depend only on the other colour's, so the
    order within a colour does not matter (parallel, and the same as the GPU's)."""
    n0, n1, n2 = x.shape[0] - 2, x.shape[1] - 2, x.shape[2] - 2
    for i in prange(1, n0 + 2):
        for j in range(1, n1 + 1):
            k0 = 1 + (i + j + 1 + colour) % 2
            for k in range(k0, n2 + 1, 2):
                _sgs_point(aw, ae, as_, an, ab, at, ap, r, x, solved, i, j, k)


@njit(cache=True, nogil=True)
def _rbgs7(aw, ae, as_, an, ab, at, ap, r, x, solved, sweeps):
    """``sweeps`` symmetric red-black Gauss-Seidel sweeps of the 7-point operator
    ``ap x - sum a_nb x_nb = r`` (the arguments of :func:`_sgs`; red: (i + j + k) even):
    the CPU twin of the GPU's sweep (``steady_rbgs`` in thermosim/kernels/steady.cu).
    Forward red then black, backward black then red; a colour swept twice in a row
    recomputes the same values, so the sweeps run as red, (black, red) x ``sweeps``:
    2 ``sweeps`` + 1 half-sweeps for the 4 ``sweeps`` written.  Its iterates differ from
    the lexicographic sweeps' (another smoother); in the outer iteration's delta form the
    converged answer does not."""
    if sweeps <= 0:
        return
    _rb_colour(aw, ae, as_, an, ab, at, ap, r, x, solved, 0)
    for _ in range(sweeps):
        _rb_colour(aw, ae, as_, an, ab, at, ap, r, x, solved, 1)
        _rb_colour(aw, ae, as_, an, ab, at, ap, r, x, solved, 0)
