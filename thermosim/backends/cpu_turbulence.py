"""Numba kernels of the turbulence term: the eddy viscosity of a cell (LVEL or Smagorinsky,
with u+ from Spalding's law of the wall) and the eddy diffusion of a momentum component
with Spalding's wall function on its no-slip edges.  ``thermosim/kernels/turbulence.cu``
has the twins.  One pass over the cells or faces each, in place of the chains of array
expressions (and the dozen small Newton solves a step on the wall edges) that a GPU would
launch one by one.

Layout as :mod:`thermosim.backends.cpu_flow` (halo shape; face ``a[i]`` between cells i-1
and i; ``h`` widths and ``d`` centre distances with their halos, m).  The formulas are
those of :mod:`thermosim.turbulence` (Spalding, Escudier, van Driest), written per point.
"""

from __future__ import annotations

from . import numba_setup

numba_setup.configure()

import math  # noqa: E402

from numba import njit, prange  # noqa: E402

_opts = dict(parallel=True, cache=True, nogil=True)

#: the models of :func:`_eddy_viscosity`: the strain rate |S| alone (1/s), LVEL, Smagorinsky
STRAIN, LVEL, SMAGORINSKY = 0, 1, 2
MODEL_CODES = {"strain": STRAIN, "lvel": LVEL, "smagorinsky": SMAGORINSKY}


@njit(inline="always")
def _spalding_uplus(re, kappa, e_wall):
    """u+ with u+ y+(u+) = re (Newton on ln(u+ y+), four iterations from
    min(sqrt(re), ln(1 + re)/kappa + 1); see thermosim.turbulence.spalding_uplus; the
    constants come from there: von Karman's ``kappa`` and ``e_wall`` = exp(kappa B))."""
    re = max(re, 1e-30)
    up = min(math.sqrt(re), math.log1p(re) / kappa + 1.0)
    lr = math.log(re)
    for _ in range(4):
        ku = kappa * up
        e = math.exp(ku)
        yp = up + (e - 1.0 - ku - 0.5 * ku * ku - ku * ku * ku / 6.0) / e_wall
        dyp = 1.0 + kappa * (e - 1.0 - ku - 0.5 * ku * ku) / e_wall
        f = math.log(up * yp) - lr
        up = max(up - f / (1.0 / up + dyp / yp), 1e-15)
    return up


@njit(inline="always")
def _centred(a, i, j, k, di, dj, dk):
    """A face velocity's mean over the two faces of cell (i, j, k) along its own axis."""
    return 0.5 * (a[i, j, k] + a[i + di, j + dj, k + dk])


@njit(**_opts)
def _eddy_viscosity(u, v, w, fluid, y, h0, h1, h2, d0, d1, d2, nu, kappa, e_wall, cap2, cs,
                    a_plus, delta2, model, out):
    """out (interior cells; halos untouched) = the eddy viscosity nu_t (m^2/s) of
    ``model`` in the fluid cells (``fluid`` 1, else 0), or with ``model`` STRAIN the strain
    rate |S| = sqrt(2 S_ij S_ij) (1/s).  |S| from the cell-centred velocities (each the
    mean of its cell's two faces; 0 outside the fluid) by central differences, the normal
    rates from the faces; an axis of one cell has no gradient.  u+ from the cell's
    Reynolds number |u| y / nu (``y`` the wall distance, m).  LVEL: min(nu (dy+/du+ - 1),
    ``cap2`` |S|) (``cap2`` Escudier's length cap squared, m^2); Smagorinsky:
    (``cs`` (1 - exp(-y+/``a_plus``)))^2 ``delta2`` |S| (``delta2`` the cell's
    volume^(2/3), m^2)."""
    n0, n1, n2 = out.shape[0] - 2, out.shape[1] - 2, out.shape[2] - 2
    for i in prange(1, n0 + 1):
        for j in range(1, n1 + 1):
            for k in range(1, n2 + 1):
                uc = _centred(u, i, j, k, 1, 0, 0)
                vc = _centred(v, i, j, k, 0, 1, 0)
                wc = _centred(w, i, j, k, 0, 0, 1)
                # the velocity gradient g[c][a] = d u_c / d x_a
                g00 = (u[i + 1, j, k] - u[i, j, k]) / h0[i] if n0 >= 2 else 0.0
                g11 = (v[i, j + 1, k] - v[i, j, k]) / h1[j] if n1 >= 2 else 0.0
                g22 = (w[i, j, k + 1] - w[i, j, k]) / h2[k] if n2 >= 2 else 0.0
                g01 = g02 = g10 = g12 = g20 = g21 = 0.0
                if n0 >= 2:
                    s = d0[i] + d0[i + 1]
                    g10 = (fluid[i + 1, j, k] * _centred(v, i + 1, j, k, 0, 1, 0)
                           - fluid[i - 1, j, k] * _centred(v, i - 1, j, k, 0, 1, 0)) / s
                    g20 = (fluid[i + 1, j, k] * _centred(w, i + 1, j, k, 0, 0, 1)
                           - fluid[i - 1, j, k] * _centred(w, i - 1, j, k, 0, 0, 1)) / s
                if n1 >= 2:
                    s = d1[j] + d1[j + 1]
                    g01 = (fluid[i, j + 1, k] * _centred(u, i, j + 1, k, 1, 0, 0)
                           - fluid[i, j - 1, k] * _centred(u, i, j - 1, k, 1, 0, 0)) / s
                    g21 = (fluid[i, j + 1, k] * _centred(w, i, j + 1, k, 0, 0, 1)
                           - fluid[i, j - 1, k] * _centred(w, i, j - 1, k, 0, 0, 1)) / s
                if n2 >= 2:
                    s = d2[k] + d2[k + 1]
                    g02 = (fluid[i, j, k + 1] * _centred(u, i, j, k + 1, 1, 0, 0)
                           - fluid[i, j, k - 1] * _centred(u, i, j, k - 1, 1, 0, 0)) / s
                    g12 = (fluid[i, j, k + 1] * _centred(v, i, j, k + 1, 0, 1, 0)
                           - fluid[i, j, k - 1] * _centred(v, i, j, k - 1, 0, 1, 0)) / s
                s01 = 0.5 * (g01 + g10)
                s02 = 0.5 * (g02 + g20)
                s12 = 0.5 * (g12 + g21)
                # S_ij S_ij summed row by row (the order of the array formulation)
                ss = g00 * g00
                ss += s01 * s01
                ss += s02 * s02
                ss += s01 * s01
                ss += g11 * g11
                ss += s12 * s12
                ss += s02 * s02
                ss += s12 * s12
                ss += g22 * g22
                strain = math.sqrt(2.0 * ss)
                if model == STRAIN:
                    out[i, j, k] = strain
                    continue
                if fluid[i, j, k] == 0.0:
                    out[i, j, k] = 0.0
                    continue
                speed = math.sqrt(uc * uc + vc * vc + wc * wc)
                up = _spalding_uplus(speed * y[i, j, k] / nu, kappa, e_wall)
                ku = kappa * up
                if model == LVEL:
                    ratio = kappa * (math.exp(ku) - 1.0 - ku - 0.5 * ku * ku) / e_wall
                    out[i, j, k] = min(nu * ratio, cap2 * strain)
                else:
                    yp = up + (math.exp(ku) - 1.0 - ku - 0.5 * ku * ku
                               - ku * ku * ku / 6.0) / e_wall
                    damp = cs * (1.0 - math.exp(-yp / a_plus))
                    out[i, j, k] = damp * damp * delta2[i, j, k] * strain


@njit(inline="always")
def _edge_flux(a, nut, fl, ns, i, j, k, dj, dk, e, h, d, nu, kappa, e_wall):
    """The eddy (and wall-function) shear flux across the edge between transverse cells
    e and e+1 (offsets dj, dk pick the transverse axis; (j, k) is the face row's other
    position with its own index replaced by e) of the face at i along the component's
    axis; returns (flux per unit volume-ish, m^2/s^2 per m; the wall function's rate 1/s,
    0 off the walls).  Between two fluid faces: the edge's nu_t times the velocity
    difference over the centre distance.  Between a fluid face and a no-slip surface:
    Spalding's extra shear (nu (y+/u+ - 1) at the half-cell distance)."""
    j0, k0 = j + dj * e, k + dk * e
    j1, k1 = j0 + dj, k0 + dk
    fa = fl[i - 1, j0, k0] != 0 and fl[i, j0, k0] != 0
    fb = fl[i - 1, j1, k1] != 0 and fl[i, j1, k1] != 0
    da = a[i, j1, k1] - a[i, j0, k0]
    if fa and fb:
        na = 0.5 * (nut[i - 1, j0, k0] + nut[i, j0, k0])
        nb = 0.5 * (nut[i - 1, j1, k1] + nut[i, j1, k1])
        return 0.5 * (na + nb) * da / d[e + 1], 0.0
    if fa and (ns[i - 1, j1, k1] != 0 or ns[i, j1, k1] != 0):
        half = 0.5 * h[e]
    elif fb and (ns[i - 1, j0, k0] != 0 or ns[i, j0, k0] != 0):
        half = 0.5 * h[e + 1]
    else:
        return 0.0, 0.0
    re = abs(da) * half / nu
    up = _spalding_uplus(re, kappa, e_wall)
    extra = (max(re / (up * up), 1.0) - 1.0) * nu
    return extra * da / half, extra / (half * half)


@njit(**_opts)
def _eddy_momentum(a, nut, fl, ns, mask, h0, h1, h2, d0, d1, d2, nu, kappa, e_wall, out,
                   rate, diag):
    """out += mask * div(nu_t grad a) on the faces normal to axis 0 (faces 1..n0), with
    Spalding's wall shear on the edges between a fluid face row (``fl`` nonzero on both
    sides) and a no-slip surface (``ns``: solid cells and wall halos); rate = max(rate,
    the largest wall-function rate extra / half^2 around the face, 1/s; faces where
    ``mask`` is 0 are skipped); diag = the wall
    shear's rate of change with the face's velocity, its extra viscosity frozen: the sum
    of extra / (half h) over the face's wall edges (1/s, the steady solver's diagonal).
    Along the
    component's own axis the flux sits at the cell centres with that cell's nu_t; across
    the transverse edges nu_t is the mean of the four cells' around the edge.  A transverse
    axis of one cell has no flux."""
    n0, n1, n2 = a.shape[0] - 2, a.shape[1] - 2, a.shape[2] - 2
    for i in prange(1, n0 + 1):
        for j in range(1, n1 + 1):
            for k in range(1, n2 + 1):
                if mask[i, j, k] == 0.0:
                    # not computed (a solid, a held face): nothing to add, and its wall
                    # edges are the fluid faces' beside it (the same rates)
                    diag[i, j, k] = 0.0
                    continue
                fx_hi = nut[i, j, k] * (a[i + 1, j, k] - a[i, j, k]) / h0[i]
                fx_lo = nut[i - 1, j, k] * (a[i, j, k] - a[i - 1, j, k]) / h0[i - 1]
                term = (fx_hi - fx_lo) / d0[i]
                r = 0.0
                dg = 0.0
                if n1 >= 2:
                    hi, rh = _edge_flux(a, nut, fl, ns, i, 0, k, 1, 0, j, h1, d1, nu,
                                        kappa, e_wall)
                    lo, rl = _edge_flux(a, nut, fl, ns, i, 0, k, 1, 0, j - 1, h1, d1, nu,
                                        kappa, e_wall)
                    term += (hi - lo) / h1[j]
                    r = max(r, max(rh, rl))
                    dg += 0.5 * (rh + rl)
                if n2 >= 2:
                    hi, rh = _edge_flux(a, nut, fl, ns, i, j, 0, 0, 1, k, h2, d2, nu,
                                        kappa, e_wall)
                    lo, rl = _edge_flux(a, nut, fl, ns, i, j, 0, 0, 1, k - 1, h2, d2, nu,
                                        kappa, e_wall)
                    term += (hi - lo) / h2[k]
                    r = max(r, max(rh, rl))
                    dg += 0.5 * (rh + rl)
                out[i, j, k] += term * mask[i, j, k]
                if r > rate[i, j, k]:
                    rate[i, j, k] = r
                # a wall edge's half-cell distance is half the face row's width (the fluid
                # side's, where mask is 1): extra / (half h) = (extra / half^2) / 2
                diag[i, j, k] = dg * mask[i, j, k]


TURBULENCE_KERNELS = (_eddy_viscosity, _eddy_momentum)

_PERM = ((0, 1, 2), (1, 0, 2), (2, 0, 1))


class TurbulenceKernels:
    """The turbulence term's operations on NumPy arrays (mixed into the CPU backend).
    ``wall_law``: (kappa, E) of Spalding's law; ``les``: (C_s, A+) of Smagorinsky with van
    Driest's damping."""

    def eddy_viscosity(self, vel, fluid, y, h, d, nu, model: str, wall_law, cap2, les,
                       delta2, out):
        """out (interior) = nu_t (m^2/s) of ``model`` (``lvel`` or ``smagorinsky``), or the
        strain rate (1/s) with ``strain``; see :func:`_eddy_viscosity`."""
        t = out.dtype.type
        _eddy_viscosity(vel[0], vel[1], vel[2], fluid, y, h[0], h[1], h[2], d[0], d[1], d[2],
                        t(nu), t(wall_law[0]), t(wall_law[1]), t(cap2), t(les[0]), t(les[1]),
                        delta2, MODEL_CODES[model], out)

    def eddy_momentum(self, comp: int, vel, nut, fluid, noslip, mask, h, d, nu, wall_law,
                      out, rate, diag):
        """out += the eddy diffusion (and wall shear) of velocity component ``comp``
        (m/s^2) where ``mask``; rate = max(rate, its wall-function rate, 1/s); diag = the
        wall shear's rate per face (1/s; see :func:`_eddy_momentum`)."""
        perm = _PERM[comp]
        tr = (lambda x: x) if comp == 0 else (lambda x: x.transpose(perm))  # noqa: E731
        t = out.dtype.type
        _eddy_momentum(tr(vel[comp]), tr(nut), tr(fluid), tr(noslip), tr(mask), h[perm[0]],
                       h[perm[1]], h[perm[2]], d[perm[0]], d[perm[1]], d[perm[2]], t(nu),
                       t(wall_law[0]), t(wall_law[1]), tr(out), tr(rate), tr(diag))
