"""Numba kernels of the flow solver (staggered MAC grid); ``thermosim/kernels/flow.cu`` has
the twins.

Every array has the halo shape (nx+2, ny+2, nz+2).  A face velocity ``u[i, j, k]`` lives on
the x-face between cells i-1 and i (halo indices), so the physical x-faces are i = 1..nx+1;
``v`` and ``w`` likewise along y and z.  ``fluid`` marks cells whose faces carry flow: solid
blocks, walls and inflow halos are 0 and hold the wall (or inflow) velocity in their
tangential face arrays; outflow halos are 1 and hold zero-gradient copies.

The momentum kernel is written once for the velocity normal to axis 0; the other two
components run the same kernel on transposed views (the component's axis first).
Widths ``h*`` (m) have the halo too (a halo cell is as wide as its neighbour); ``d*[i]`` is
the distance between the centres of cells i-1 and i (m).
"""

from __future__ import annotations

from . import numba_setup

numba_setup.configure()     # before Numba's import: cache folder, threading layer, waiting

import numpy as np  # noqa: E402
from numba import njit, prange  # noqa: E402

_opts = dict(parallel=True, cache=True, nogil=True)


@njit(**_opts)
def _momentum_rhs(a, b, c, fluid, T, h0, h1, h2, d0, d1, d2, nu, gbeta, T_ref, upw, first,
                  out):
    """out = -div(u a) + nu lap(a) - gbeta (T - T_ref) on the faces normal to axis 0 from
    ``first`` to n0 (m/s^2): 2 (the interior faces), or 1 along a periodic axis, whose face
    1 is also face n0+1 (the halos then hold the images across the wrap).  Faces touching a
    solid cell get 0.  Central, conservative, second order on the non-uniform grid; a wall
    next to a face row is met at its true position.  ``upw``: 0 central, 1 first-order
    upwind (the transported value from the upstream side, the convecting velocity central),
    or a blend."""
    n0, n1, n2 = a.shape[0] - 2, a.shape[1] - 2, a.shape[2] - 2
    for i in prange(first, n0 + 1):
        wl = h0[i] / (h0[i - 1] + h0[i])       # weight of cell i-1 at face i
        wr = 1.0 - wl
        for j in range(1, n1 + 1):
            for k in range(1, n2 + 1):
                if fluid[i - 1, j, k] == 0 or fluid[i, j, k] == 0:
                    out[i, j, k] = 0.0
                    continue
                ap = a[i, j, k]
                # along axis 0: fluxes at the centres of cells i-1 and i
                cr = 0.5 * (ap + a[i + 1, j, k])
                cl = 0.5 * (a[i - 1, j, k] + ap)
                tr = cr + upw * ((ap if cr > 0.0 else a[i + 1, j, k]) - cr)
                tl = cl + upw * ((a[i - 1, j, k] if cl > 0.0 else ap) - cl)
                adv = (cr * tr - cl * tl) / d0[i]
                dif = ((a[i + 1, j, k] - ap) / h0[i] - (ap - a[i - 1, j, k]) / h0[i - 1]) / d0[i]
                # along axis 1: fluxes on the edges j (lower) and j+1 (upper)
                bu = wl * b[i - 1, j + 1, k] + wr * b[i, j + 1, k]
                bl = wl * b[i - 1, j, k] + wr * b[i, j, k]
                if fluid[i - 1, j + 1, k] == 0 or fluid[i, j + 1, k] == 0:
                    au = a[i, j + 1, k]
                    gu = (au - ap) / (0.5 * h1[j])
                else:
                    au = (ap * h1[j + 1] + a[i, j + 1, k] * h1[j]) / (h1[j] + h1[j + 1])
                    au += upw * ((ap if bu > 0.0 else a[i, j + 1, k]) - au)
                    gu = (a[i, j + 1, k] - ap) / d1[j + 1]
                if fluid[i - 1, j - 1, k] == 0 or fluid[i, j - 1, k] == 0:
                    al = a[i, j - 1, k]
                    gl = (ap - al) / (0.5 * h1[j])
                else:
                    al = (ap * h1[j - 1] + a[i, j - 1, k] * h1[j]) / (h1[j] + h1[j - 1])
                    al += upw * ((a[i, j - 1, k] if bl > 0.0 else ap) - al)
                    gl = (ap - a[i, j - 1, k]) / d1[j]
                adv += (bu * au - bl * al) / h1[j]
                dif += (gu - gl) / h1[j]
                # along axis 2
                cu = wl * c[i - 1, j, k + 1] + wr * c[i, j, k + 1]
                cb = wl * c[i - 1, j, k] + wr * c[i, j, k]
                if fluid[i - 1, j, k + 1] == 0 or fluid[i, j, k + 1] == 0:
                    au = a[i, j, k + 1]
                    gu = (au - ap) / (0.5 * h2[k])
                else:
                    au = (ap * h2[k + 1] + a[i, j, k + 1] * h2[k]) / (h2[k] + h2[k + 1])
                    au += upw * ((ap if cu > 0.0 else a[i, j, k + 1]) - au)
                    gu = (a[i, j, k + 1] - ap) / d2[k + 1]
                if fluid[i - 1, j, k - 1] == 0 or fluid[i, j, k - 1] == 0:
                    al = a[i, j, k - 1]
                    gl = (ap - al) / (0.5 * h2[k])
                else:
                    al = (ap * h2[k - 1] + a[i, j, k - 1] * h2[k]) / (h2[k] + h2[k - 1])
                    al += upw * ((a[i, j, k - 1] if cb > 0.0 else ap) - al)
                    gl = (ap - a[i, j, k - 1]) / d2[k]
                adv += (cu * au - cb * al) / h2[k]
                dif += (gu - gl) / h2[k]
                tf = wl * T[i - 1, j, k] + wr * T[i, j, k]
                out[i, j, k] = nu * dif - adv - gbeta * (tf - T_ref)


@njit(**_opts)
def _divergence_rhs(u, v, w, fluid, hx, hy, hz, inv_dt, out):
    """Right-hand side of the pressure equation in conductance form (m^3/s^2):
    out = -(net volume outflow of the cell) / dt; 0 in solid cells."""
    nx, ny, nz = u.shape[0] - 2, u.shape[1] - 2, u.shape[2] - 2
    for i in prange(1, nx + 1):
        for j in range(1, ny + 1):
            for k in range(1, nz + 1):
                if fluid[i, j, k] == 0:
                    out[i, j, k] = 0.0
                    continue
                q = (u[i + 1, j, k] - u[i, j, k]) * hy[j] * hz[k] \
                    + (v[i, j + 1, k] - v[i, j, k]) * hx[i] * hz[k] \
                    + (w[i, j, k + 1] - w[i, j, k]) * hx[i] * hy[j]
                out[i, j, k] = -q * inv_dt


@njit(**_opts)
def _correct(a, phi, fluid, d0, dt):
    """a -= dt * d(phi)/dn on every face normal to axis 0 with fluid on both sides (the
    outflow faces included: their halo holds the mirrored phi of a zero face pressure)."""
    n0, n1, n2 = a.shape[0] - 2, a.shape[1] - 2, a.shape[2] - 2
    for i in prange(1, n0 + 2):
        for j in range(1, n1 + 1):
            for k in range(1, n2 + 1):
                if fluid[i - 1, j, k] != 0 and fluid[i, j, k] != 0:
                    a[i, j, k] -= dt * (phi[i, j, k] - phi[i - 1, j, k]) / d0[i]


@njit(inline="always")
def _face_value(tu, td, tuu, hu, hd, duu):
    """Bounded second-order face value (van Leer limiter on the non-uniform grid): the
    central value where the profile is smooth, upwind near an extremum, never outside
    [T_U, T_D].  ``hu``, ``hd``: upwind and downwind cell widths; ``duu``: distance between
    the upwind cell and the one behind it."""
    dd = td - tu
    if dd == 0.0:
        return tu
    r = ((tu - tuu) / duu) / (dd / (0.5 * (hu + hd)))
    psi = (r + abs(r)) / (1.0 + abs(r))
    lim = (hu + hd) / hu                # face value may not pass T_D
    if psi > lim:
        psi = lim
    return tu + psi * dd * hu / (hu + hd)


@njit(inline="always")
def _at(a, i, j, k, axis, m):
    """a at the cell m steps from (i, j, k) along ``axis``."""
    if axis == 0:
        return a[i + m, j, k]
    if axis == 1:
        return a[i, j + m, k]
    return a[i, j, k + m]


@njit(inline="always")
def _axis_advection(vel, T, i, j, k, axis, n, h, d, area, per, far, far_lo, far_hi, d_lo,
                    d_hi, fa, fb):
    """Advective heat flow out of cell (i, j, k) through its two faces along ``axis``
    (W / (rho c)): sum over the faces of (u A)(T_f - T_P), outward positive.  Face f = q + s
    (q the cell's index along the axis, s = 0 west, 1 east) lies between cells f-1 and f.
    ``per``: the axis wraps around, and the wrap face sees the cells across it (cell n-1
    behind face 1, cell 2 beyond face n+1), the same face value from both sides.
    ``far`` (bit 0 low face, bit 1 high face): the face is a rank interface, and the cell
    beyond the halo is ``far_lo[fa, fb]`` (index -1) or ``far_hi[fa, fb]`` (index n+2), at
    ``d_lo`` (m) from the low halo cell or ``d_hi`` from the high one."""
    tp = T[i, j, k]
    q = (i, j, k)[axis]
    adv = 0.0
    for s in range(2):
        fi = q + s
        ve = _at(vel, i, j, k, axis, s)
        if ve == 0.0:
            continue
        if ve > 0.0:
            if fi - 2 >= 0:
                tf = _face_value(_at(T, i, j, k, axis, s - 1), _at(T, i, j, k, axis, s),
                                 _at(T, i, j, k, axis, s - 2), h[fi - 1], h[fi], d[fi - 1])
            elif far & 1:
                tf = _face_value(_at(T, i, j, k, axis, s - 1), _at(T, i, j, k, axis, s),
                                 far_lo[fa, fb], h[fi - 1], h[fi], d_lo)
            elif per:
                tf = _face_value(_at(T, i, j, k, axis, s - 1), _at(T, i, j, k, axis, s),
                                 _at(T, i, j, k, axis, s - 2 + n), h[fi - 1], h[fi], d[n])
            else:
                tf = _at(T, i, j, k, axis, s - 1)
        else:
            if fi + 1 <= n + 1:
                tf = _face_value(_at(T, i, j, k, axis, s), _at(T, i, j, k, axis, s - 1),
                                 _at(T, i, j, k, axis, s + 1), h[fi], h[fi - 1], d[fi + 1])
            elif far & 2:
                tf = _face_value(_at(T, i, j, k, axis, s), _at(T, i, j, k, axis, s - 1),
                                 far_hi[fa, fb], h[fi], h[fi - 1], d_hi)
            elif per:
                tf = _face_value(_at(T, i, j, k, axis, s), _at(T, i, j, k, axis, s - 1),
                                 _at(T, i, j, k, axis, s + 1 - n), h[fi], h[fi - 1], d[2])
            else:
                tf = _at(T, i, j, k, axis, s)
        adv += ve * (tf - tp) * area * (1.0 if s == 1 else -1.0)
    return adv


@njit(**_opts)
def _energy_rhs(T, u, v, w, fluid, Gx, Gy, Gz, rhoc_fluid, q, hx, hy, hz, dx, dy, dz,
                periodic, far_axis, far, far_lo, far_hi, d_lo, d_hi, out):
    """out = net heat into each cell (W): bounded advection in fluid cells plus conduction
    through the conductances G (W/K), plus the sources q (W).  Advection is written as
    sum_f (u A)_f (T_f - T_P): equal to the conservative form for a divergence-free field,
    and blind to the solver-tolerance divergence left by the projection (a uniform
    temperature stays uniform).  Boundary faces take the
    halo temperature as the inflow value; the halo of a wall holds its temperature.
    ``periodic``: bit a set where axis a wraps around.  Along ``far_axis`` (-1: none), the
    faces flagged in ``far`` are rank interfaces: see :func:`_axis_advection`."""
    nx, ny, nz = T.shape[0] - 2, T.shape[1] - 2, T.shape[2] - 2
    for i in prange(1, nx + 1):
        for j in range(1, ny + 1):
            for k in range(1, nz + 1):
                tp = T[i, j, k]
                s = q[i - 1, j - 1, k - 1]
                s += Gx[i - 1, j - 1, k - 1] * (T[i - 1, j, k] - tp) \
                    + Gx[i, j - 1, k - 1] * (T[i + 1, j, k] - tp) \
                    + Gy[i - 1, j - 1, k - 1] * (T[i, j - 1, k] - tp) \
                    + Gy[i - 1, j, k - 1] * (T[i, j + 1, k] - tp) \
                    + Gz[i - 1, j - 1, k - 1] * (T[i, j, k - 1] - tp) \
                    + Gz[i - 1, j - 1, k] * (T[i, j, k + 1] - tp)
                if fluid[i, j, k] != 0:
                    adv = _axis_advection(u, T, i, j, k, 0, nx, hx, dx, hy[j] * hz[k],
                                          (periodic & 1) != 0, far if far_axis == 0 else 0,
                                          far_lo, far_hi, d_lo, d_hi, j, k)
                    adv += _axis_advection(v, T, i, j, k, 1, ny, hy, dy, hx[i] * hz[k],
                                           (periodic & 2) != 0, far if far_axis == 1 else 0,
                                           far_lo, far_hi, d_lo, d_hi, i, k)
                    adv += _axis_advection(w, T, i, j, k, 2, nz, hz, dz, hx[i] * hy[j],
                                           (periodic & 4) != 0, far if far_axis == 2 else 0,
                                           far_lo, far_hi, d_lo, d_hi, i, j)
                    s -= rhoc_fluid * adv
                out[i, j, k] = s


@njit(**_opts)
def _lincomb(out, a, x, b, y):
    """out = a x + b y, element by element (Runge-Kutta stages)."""
    fo = out.ravel()
    fx = x.ravel()
    fy = y.ravel()
    for n in prange(fo.size):
        fo[n] = a * fx[n] + b * fy[n]


@njit(**_opts)
def _max_abs_diff(x, y):
    """max |x - y| (NaN if any difference is NaN)."""
    fx = x.ravel()
    fy = y.ravel()
    m = 0.0
    bad = 0
    for n in prange(fx.size):
        d = abs(fx[n] - fy[n])
        m = max(m, d)
        if d != d:
            bad += 1
    return np.nan if bad else m


#: The kernels every flow run calls, marched or steady (and, of cpu.py's, the pressure
#: solve's CG operator and vector updates: its smoother and transfers depend on the grid):
#: the compile notice checks these.  Not ``_max_abs_diff``: only the march's steady check
#: calls it, so a process that only ever ran the steady solver had it uncompiled and told
#: every later steady run "compiling ... about 60 s" while it loaded everything cached.
FLOW_KERNELS = (_momentum_rhs, _divergence_rhs, _correct, _energy_rhs, _lincomb)


def far_arguments(far, dtype, xp):
    """The energy kernel's far-layer arguments (CPU and GPU alike): split axis (-1: none),
    bits (1 low face, 2 high face), the two layers (C-ordered; a 1x1 stand-in where absent)
    and the two distances (m)."""
    dtype = np.dtype(dtype)
    none = xp.zeros((1, 1), dtype)
    if far is None:
        return np.int32(-1), np.int32(0), none, none, dtype.type(0), dtype.type(0)
    bits = (1 if far.lo is not None else 0) | (2 if far.hi is not None else 0)

    def layer(a):
        return none if a is None else xp.ascontiguousarray(a, dtype=dtype)

    return (np.int32(far.axis), np.int32(bits), layer(far.lo), layer(far.hi),
            dtype.type(far.d_lo), dtype.type(far.d_hi))


class FlowKernels:
    """The flow solver's operations on NumPy arrays (mixed into the CPU backend)."""

    def prepare_flow(self, dtype) -> bool:
        """Before a flow solver's first step: say so if the kernels are about to be compiled
        (the first step compiles them: about a minute on two cores; Numba caches them).
        Returns whether it said so."""
        # the pressure CG's kernels are the backend's own (cpu.CG_KERNELS), named by the
        # backend this is mixed into: importing them here would close a circle cpu <-> cpu_flow
        return numba_setup.compile_notice("flow", 60, FLOW_KERNELS + self.CG_KERNELS, dtype)

    def momentum_rhs(self, comp: int, vel, fluid, T, h, d, nu, gbeta, T_ref, out,
                     periodic: bool = False, upwind: float = 0.0):
        """Right-hand side of the momentum equation for velocity component ``comp``
        (``periodic``: its axis wraps around, and its first face is computed too;
        ``upwind``: 0 central advection, 1 first-order upwind)."""
        perm = ((0, 1, 2), (1, 0, 2), (2, 0, 1))[comp]
        a, b, c = vel[comp], vel[perm[1]], vel[perm[2]]
        if comp == 0:
            tr = lambda x: x  # noqa: E731
        else:
            tr = lambda x: x.transpose(perm)  # noqa: E731
        _momentum_rhs(tr(a), tr(b), tr(c), tr(fluid), tr(T), h[perm[0]], h[perm[1]],
                      h[perm[2]], d[perm[0]], d[perm[1]], d[perm[2]], out.dtype.type(nu),
                      out.dtype.type(gbeta), out.dtype.type(T_ref), out.dtype.type(upwind),
                      1 if periodic else 2, tr(out))

    def divergence_rhs(self, vel, fluid, h, dt, out):
        _divergence_rhs(vel[0], vel[1], vel[2], fluid, h[0], h[1], h[2],
                        out.dtype.type(1.0 / dt), out)

    def correct(self, comp: int, a, phi, fluid, d, dt):
        perm = ((0, 1, 2), (1, 0, 2), (2, 0, 1))[comp]
        if comp == 0:
            _correct(a, phi, fluid, d[0], a.dtype.type(dt))
        else:
            _correct(a.transpose(perm), phi.transpose(perm), fluid.transpose(perm), d[comp],
                     a.dtype.type(dt))

    def energy_rhs(self, T, vel, fluid, G, rhoc_fluid, q, h, d, out,
                   periodic=(False, False, False), far=None):
        """``far`` (a rank of a domain split into slabs; None on one process): the layers
        beyond the halos at its rank interfaces (:class:`thermosim.parallel.FarLayers`),
        the bounded advection's second upwind cell across the interface."""
        axis, bits, lo, hi, d_lo, d_hi = far_arguments(far, out.dtype, np)
        _energy_rhs(T, vel[0], vel[1], vel[2], fluid, G[0], G[1], G[2],
                    out.dtype.type(rhoc_fluid), q, h[0], h[1], h[2], d[0], d[1], d[2],
                    sum(1 << a for a in range(3) if periodic[a]), axis, bits, lo, hi, d_lo,
                    d_hi, out)

    def lincomb(self, out, a, x, b, y):
        _lincomb(out, out.dtype.type(a), x, out.dtype.type(b), y)

    def max_abs_diff(self, x, y) -> float:
        return float(_max_abs_diff(x, y))
