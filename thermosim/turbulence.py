"""Zero-equation turbulence for room and electronics airflow.

Two models give an eddy viscosity ``nu_t`` (m^2/s) per fluid cell from the local flow and the
distance to the nearest no-slip surface:

- ``lvel`` (Agonafer, Gan-Li and Spalding 1996, "The LVEL turbulence model for conjugate
  heat transfer at low Reynolds numbers", ASME EEP-18; the model of FloTHERM): the local
  Reynolds number ``Re = |u| y / nu`` fixes ``u+`` through Spalding's (1961) law of the wall
  ``y+ = u+ + exp(-kappa B) [exp(kappa u+) - 1 - kappa u+ - (kappa u+)^2/2 - (kappa u+)^3/6]``
  with ``Re = u+ y+``, and ``nu_t / nu = dy+/du+ - 1``.  It needs no wall shear and holds
  from the viscous sublayer through the log layer, so wall-adjacent cells can sit anywhere
  in y+ (coarse room meshes).
- ``smagorinsky`` (Smagorinsky 1963, Lilly's constant C_s = 0.17): ``nu_t = (C_s Delta
  f)^2 |S|``, ``Delta`` the cube root of the cell volume, ``|S| = sqrt(2 S_ij S_ij)``, ``f``
  van Driest's damping ``1 - exp(-y+/26)`` with y+ from the same law of the wall: large-eddy
  simulation, for transients on grids that resolve the large eddies.

Both models use a wall function on the faces between a fluid cell and a no-slip surface:
the shear there is ``rho u_tau^2`` with ``u_tau = u_P / u+(Re_P)``, i.e. an effective
viscosity ``nu y+/u+`` over the half-cell distance, which tends to ``nu`` when the first cell
lies in the viscous sublayer.  Heat: an eddy conductivity ``rho c_p nu_t / Pr_t`` (Pr_t =
0.85) on faces between fluid cells; faces to solids stay laminar (no thermal wall
function).  The eddy diffusion of momentum is ``div(nu_t grad u_i)``; the term
``div(nu_t (grad u)^T)``, zero for uniform nu_t, is left out.

Constants: kappa = 0.41, B = 5.2 (Pope, Turbulent Flows, 2000, sec. 7.1).  Everything below
works on NumPy or CuPy arrays alike (``xp``), so the CPU and GPU backends share it.
"""

from __future__ import annotations

import math

import numpy as np

KAPPA = 0.41
B_LOG = 5.2
E_WALL = math.exp(KAPPA * B_LOG)
PRANDTL_TURBULENT = 0.85
SMAGORINSKY_CS = 0.17
ESCUDIER_LAMBDA = 0.09
VAN_DRIEST_A = 26.0
MODELS = ("none", "lvel", "smagorinsky")


def spalding_yplus(up, xp=np):
    """y+ of Spalding's law at u+ (any array module)."""
    ku = KAPPA * up
    return up + (xp.exp(ku) - 1.0 - ku - 0.5 * ku * ku - ku * ku * ku / 6.0) / E_WALL


def spalding_uplus(re, xp=np, iterations: int = 4):
    """u+ with u+ y+(u+) = ``re`` (the local Reynolds number |u| y / nu), by Newton on
    ``ln(u+ y+) = ln(re)``, which is close to linear in u+ in both the viscous sublayer
    (2 ln u+) and the log layer (kappa u+): from ``min(sqrt(re), ln(1 + re)/kappa + 1)``
    four iterations reach round-off for re from 1e-8 to 1e11 (checked against 100 plain
    Newton iterations)."""
    re = xp.maximum(re, 1e-30)
    up = xp.minimum(xp.sqrt(re), xp.log1p(re) / KAPPA + 1.0)
    lr = xp.log(re)
    for _ in range(iterations):
        ku = KAPPA * up
        e = xp.exp(ku)
        yp = up + (e - 1.0 - ku - 0.5 * ku * ku - ku * ku * ku / 6.0) / E_WALL
        dyp = 1.0 + KAPPA * (e - 1.0 - ku - 0.5 * ku * ku) / E_WALL
        f = xp.log(up * yp) - lr
        up = xp.maximum(up - f / (1.0 / up + dyp / yp), 1e-15)
    return up


def lvel_viscosity_ratio(up, xp=np):
    """nu_t / nu = dy+/du+ - 1 of Spalding's law."""
    ku = KAPPA * up
    return KAPPA * (xp.exp(ku) - 1.0 - ku - 0.5 * ku * ku) / E_WALL


def wall_viscosity_ratio(re, xp=np):
    """Effective viscosity over the laminar one on a wall face (the wall function), from
    the Reynolds number re = |u_P| y_P / nu of the wall-adjacent velocity: y+/u+ = re/u+^2,
    1 in the viscous sublayer."""
    up = spalding_uplus(re, xp=xp)
    return xp.maximum(re / (up * up), 1.0)


def wall_distance(grid, walls, boxes, fluid) -> np.ndarray:
    """Distance (m) from each cell centre to the nearest no-slip surface: the domain faces
    listed in ``walls`` (face names such as "z-") and the solid ``boxes`` ((lower, upper)
    corner pairs).  Infinite where there is none; 0 outside the fluid."""
    c = [grid.centres(a) for a in range(3)]
    X = np.meshgrid(*c, indexing="ij", sparse=True)
    d = np.full(grid.shape, np.inf)
    faces = "xyz"
    for w in walls:
        a = faces.index(w[0])
        at = grid.faces[a][0] if w[1] == "-" else grid.faces[a][-1]
        d = np.minimum(d, np.abs(X[a] - at))
    for lo, hi in boxes:
        s = 0.0
        for a in range(3):
            gap = np.maximum(np.maximum(lo[a] - X[a], X[a] - hi[a]), 0.0)
            s = s + gap * gap
        d = np.minimum(d, np.sqrt(s))
    return np.where(fluid, d, 0.0)


class EddyViscosity:
    """The eddy viscosity of one flow model and what it adds to the momentum and energy
    equations.  Built from the model's mesh (grid and masks) and its heat equation (whose
    face conductances it raises by the eddy conductivity); :meth:`update` recomputes ``nut``
    (padded, m^2/s) from the current velocities."""

    model = "none"

    def __init__(self, mesh, heat):
        self.s = mesh
        self.heat = heat
        be, dt_ = mesh.be, mesh.dtype
        xp = be.xp
        self.xp = xp
        p = mesh.problem
        g = p.grid
        n = mesh.shape
        pad = tuple(x + 2 for x in n)
        fl_host = mesh.fluid_host != 0
        interior = fl_host[1:-1, 1:-1, 1:-1]
        walls = [f for f, b in p.boundaries.items() if b.kind == "wall"]
        boxes = [(b.lower, b.upper) for b in p.blocks]
        y = wall_distance(g, walls, boxes, interior)
        # no wall anywhere (a periodic box): the log law never applies, y is the box size
        big = float(max(f[-1] - f[0] for f in g.faces))
        y = np.where(np.isfinite(y), y, big)
        # the boundary-layer thickness of Escudier's length cap: the largest wall distance
        # (the half-width of a channel), to the far face of the cell that holds it
        hmax = [g.spacing(a) for a in range(3)]
        if interior.any():
            i = np.unravel_index(int(np.argmax(y)), y.shape)
            self.delta = float(y[i]) + 0.5 * min(hmax[a][i[a]] for a in range(3)
                                                 if n[a] >= 2)
        else:
            self.delta = big
        self.length_cap = ESCUDIER_LAMBDA * self.delta
        self.nu = p.fluid.kinematic_viscosity
        self.wall_function = WallFunction(self.nu, xp)
        ypad = np.zeros(pad)
        ypad[1:-1, 1:-1, 1:-1] = y
        self.y = be.asarray(ypad, dt_)
        self.fluid = be.asarray(np.pad(interior, 1).astype(float), dt_)
        h = mesh.h_host
        inv_h2 = sum((1.0 / h[a][1:-1] ** 2).reshape([-1 if b == a else 1 for b in range(3)])
                     for a in range(3) if n[a] >= 2)
        inv_h2 = np.broadcast_to(inv_h2, n)
        self.inv_h2 = be.asarray(np.pad(inv_h2, 1), dt_)
        vol = g.cell_volumes()
        self.delta2 = be.asarray(np.pad(vol ** (2.0 / 3.0), 1), dt_)
        self.nut = be.zeros(pad, dt_)
        self._up = None
        self.rate = 0.0             # largest explicit diffusion rate it adds (1/s)
        self.wall_rate = 0.0
        self._wall_rate_next = 0.0
        # heat: eddy conductance per unit nu_t on faces between fluid cells (W/K per m^2/s)
        rhoc = p.fluid.volumetric_heat_capacity / PRANDTL_TURBULENT
        self._Gt = []
        for a in range(3):
            o = [b for b in range(3) if b != a]
            area = np.expand_dims(np.multiply.outer(g.spacing(o[0]), g.spacing(o[1])), a)
            d = mesh.d_host[a][1:n[a] + 2].reshape([-1 if b == a else 1 for b in range(3)])
            lo = [slice(1, -1)] * 3
            hi = [slice(1, -1)] * 3
            lo[a], hi[a] = slice(0, n[a] + 1), slice(1, n[a] + 2)
            both = fl_host[tuple(lo)] & fl_host[tuple(hi)]
            if not mesh.periodic[a]:
                first, last = [slice(None)] * 3, [slice(None)] * 3
                first[a], last[a] = 0, -1
                both[tuple(first)] = False
                both[tuple(last)] = False
            self._Gt.append(be.asarray(np.where(both, rhoc * area / d, 0.0), dt_))
        self._G_lam = [be.asarray(x, dt_) for x in heat.G_host]

    # -- the eddy viscosity --------------------------------------------------------------
    def _cell_velocity(self, vel) -> list:
        """The velocity components at the cell centres (padded; cell i from faces i, i+1)."""
        xp = self.xp
        out = []
        for c in range(3):
            lo, hi = [slice(None)] * 3, [slice(None)] * 3
            lo[c], hi[c] = slice(0, -1), slice(1, None)
            pad = [(0, 0)] * 3
            pad[c] = (0, 1)
            out.append(xp.pad(0.5 * (vel[c][tuple(lo)] + vel[c][tuple(hi)]), pad))
        return out

    def _strain_rate(self, vel):
        """|S| = sqrt(2 S_ij S_ij) at cell centres (central differences of the cell-centred
        velocities; 0 in the halo)."""
        xp = self.xp
        s = self.s
        n = s.shape
        uc = [u * self.fluid for u in self._cell_velocity(vel)]
        grad = [[None] * 3 for _ in range(3)]
        for c in range(3):
            for a in range(3):
                if n[a] < 2:
                    grad[c][a] = xp.zeros_like(uc[c][1:-1, 1:-1, 1:-1])
                    continue
                if a == c:
                    f = vel[c]
                    lo, hi = [slice(1, -1)] * 3, [slice(1, -1)] * 3
                    lo[c], hi[c] = slice(1, n[c] + 1), slice(2, n[c] + 2)
                    shp = [1, 1, 1]
                    shp[a] = -1
                    grad[c][a] = (f[tuple(hi)] - f[tuple(lo)]) / s.h[a][1:-1].reshape(shp)
                    continue
                lo, hi = [slice(1, -1)] * 3, [slice(1, -1)] * 3
                lo[a], hi[a] = slice(0, n[a]), slice(2, n[a] + 2)
                shp = [1, 1, 1]
                shp[a] = -1
                dist = (s.d[a][1:n[a] + 1] + s.d[a][2:n[a] + 2]).reshape(shp)
                grad[c][a] = (uc[c][tuple(hi)] - uc[c][tuple(lo)]) / dist
        ss = 0.0
        for c in range(3):
            for a in range(3):
                sij = 0.5 * (grad[c][a] + grad[a][c])
                ss = ss + sij * sij
        out = xp.zeros_like(self.nut)
        out[1:-1, 1:-1, 1:-1] = xp.sqrt(2.0 * ss)
        return out

    def update(self, vel) -> None:
        """Recompute nu_t from the velocities (called once per step: lagged by a step)."""
        xp = self.xp
        speed = xp.sqrt(sum(u * u for u in self._cell_velocity(vel)))
        re = speed * self.y / self.nu
        self._up = spalding_uplus(re, xp=xp)
        self.nut[...] = self.eddy_viscosity(vel) * self.fluid
        # the wall functions' rate of the step just taken (gathered by add_momentum) bounds
        # the coming one
        # (gathered on the device: one host read a step, not one per wall set)
        self.wall_rate, self._wall_rate_next = self.s.arch.max(self._wall_rate_next), 0.0
        # explicit stability: the eddy viscosity and conductivity add their rates
        # (momentum and energy are separate equations: the larger of their two rates, the
        # eddy conductivity's, not their sum)
        self.rate = 2.0 * self.s.arch.max(xp.max(self.nut * self.inv_h2)) / \
            min(PRANDTL_TURBULENT, 1.0)
        self.s.arch.fill_halos(self.nut, self.s.periodic)
        # energy: laminar plus eddy conductance on faces between fluid cells
        n = self.s.shape
        for a in range(3):
            lo = [slice(1, -1)] * 3
            hi = [slice(1, -1)] * 3
            lo[a], hi[a] = slice(0, n[a] + 1), slice(1, n[a] + 2)
            nf = 0.5 * (self.nut[tuple(lo)] + self.nut[tuple(hi)])
            self.heat.G[a][...] = self._G_lam[a] + self._Gt[a] * nf

    def eddy_viscosity(self, vel):
        """nu_t (m^2/s, padded cells) from the velocities and ``self._up`` (u+ of each
        cell from the law of the wall): the model's own rule."""
        raise NotImplementedError

    # -- momentum --------------------------------------------------------------------------
    def _geometry(self, comp: int):
        """What add_momentum needs of component ``comp`` that does not change: per
        transverse axis the fluid-fluid edge mask, and the wall edges (flat indices into
        the edge-flux array, with the half-cell distance and on which side the fluid is)."""
        cache = self.__dict__.setdefault("_geo", {})
        if comp in cache:
            return cache[comp]
        be, dt_ = self.s.be, self.s.dtype
        perm = ((0, 1, 2), (1, 0, 2), (2, 0, 1))[comp]
        tr = (lambda x: x) if comp == 0 else (lambda x: x.transpose(perm))  # noqa: E731
        F = tr(self.s.fluid_host != 0)
        p = self.s.problem
        noslip = np.zeros(F.shape, bool)
        noslip[1:-1, 1:-1, 1:-1] = tr(self.s.solid) if comp else self.s.solid
        for f, b in p.boundaries.items():
            if b.kind != "wall":
                continue
            a = perm.index("xyz".index(f[0]))
            sl = [slice(None)] * 3
            sl[a] = noslip.shape[a] - 1 if f[1] == "+" else 0
            noslip[tuple(sl)] = True
        n0 = F.shape[0] - 2
        fi = slice(1, n0 + 1)
        Fl = np.zeros(F.shape, bool)
        Fl[1:n0 + 1] = F[0:n0] & F[1:n0 + 1]
        Wl = np.zeros(F.shape, bool)
        Wl[1:n0 + 1] = noslip[0:n0] | noslip[1:n0 + 1]
        h = [self.s.h_host[perm[k]] for k in range(3)]
        out = {}
        for ax in (1, 2):
            nn = F.shape[ax] - 2
            if nn < 2:
                continue

            def cut(x, sl):
                idx = [fi, slice(1, -1), slice(1, -1)]
                idx[ax] = sl
                return x[tuple(idx)]
            lo, hi = slice(0, nn + 1), slice(1, nn + 2)
            fa, fb = cut(Fl, lo), cut(Fl, hi)
            wa, wb = cut(Wl, lo), cut(Wl, hi)
            shp = [1, 1, 1]
            shp[ax] = -1
            walls = []
            for side, hh in ((fa & ~fb & wb, h[ax][0:nn + 1]), (fb & ~fa & wa, h[ax][1:nn + 2])):
                idx = np.flatnonzero(side)
                half = np.broadcast_to(0.5 * hh.reshape(shp), side.shape).ravel()[idx]
                walls.append((be.asarray(idx, np.int64), be.asarray(half, dt_)))
            out[ax] = (be.asarray((fa & fb).astype(float), dt_), walls)
        cache[comp] = out
        return out

    def add_momentum(self, comp: int, vel, out, mask) -> None:
        """out += div(nu_t grad u_comp) plus the wall function's extra shear, on the faces
        that ``mask`` marks (padded, 1 where the momentum of the face is computed)."""
        xp = self.xp
        s = self.s
        geo = self._geometry(comp)
        perm = ((0, 1, 2), (1, 0, 2), (2, 0, 1))[comp]
        tr = (lambda x: x) if comp == 0 else (lambda x: x.transpose(perm))  # noqa: E731
        A, N = tr(vel[comp]), tr(self.nut)
        h = [s.h[perm[k]] for k in range(3)]
        d = [s.d[perm[k]] for k in range(3)]
        n0 = A.shape[0] - 2
        fi = slice(1, n0 + 1)
        # along the component's own axis: fluxes at cell centres m = 0..n0
        fx = N[0:n0 + 1, 1:-1, 1:-1] * (A[1:n0 + 2, 1:-1, 1:-1] - A[0:n0 + 1, 1:-1, 1:-1]) \
            / h[0][0:n0 + 1].reshape(-1, 1, 1)
        term = (fx[1:] - fx[:-1]) / d[0][fi].reshape(-1, 1, 1)
        Nl = None
        rate = None
        for ax, (both, walls) in geo.items():
            nn = A.shape[ax] - 2
            if Nl is None:
                Nl = xp.zeros_like(N)
                Nl[1:n0 + 1] = 0.5 * (N[0:n0] + N[1:n0 + 1])

            def cut(x, sl):
                idx = [fi, slice(1, -1), slice(1, -1)]
                idx[ax] = sl
                return x[tuple(idx)]
            lo, hi = slice(0, nn + 1), slice(1, nn + 2)
            dA = cut(A, hi) - cut(A, lo)
            shp = [1, 1, 1]
            shp[ax] = -1
            dist = d[ax][1:nn + 2].reshape(shp)
            flux = both * 0.5 * (cut(Nl, lo) + cut(Nl, hi)) * dA / dist
            # wall function on the edges between a fluid face row and a no-slip surface
            r = self.wall_function.add_shear(flux.reshape(-1), dA.reshape(-1), walls)
            if r is not None:
                rate = r if rate is None else xp.maximum(rate, r)
            cells = [slice(None)] * 3
            up, dn = list(cells), list(cells)
            up[ax], dn[ax] = slice(1, None), slice(0, -1)
            inner = [slice(None)] * 3
            inner[ax] = slice(1, -1)
            term = term + (flux[tuple(up)] - flux[tuple(dn)]) / h[ax].reshape(shp)[tuple(inner)]
        M = tr(mask)
        O = tr(out)
        O[fi, 1:-1, 1:-1] += term * M[fi, 1:-1, 1:-1]
        if rate is not None:
            self._wall_rate_next = xp.maximum(self._wall_rate_next, 2.0 * rate)


class LVEL(EddyViscosity):
    """LVEL: Spalding's law of the wall near walls; away from them Escudier's cap on the
    mixing length, l <= 0.09 delta, so nu_t <= (0.09 delta)^2 |S|."""

    model = "lvel"

    def eddy_viscosity(self, vel):
        xp = self.xp
        return xp.minimum(self.nu * lvel_viscosity_ratio(self._up, xp=xp),
                          self.length_cap ** 2 * self._strain_rate(vel))


class Smagorinsky(EddyViscosity):
    """Smagorinsky with van Driest's damping: nu_t = (C_s Delta (1 - exp(-y+/26)))^2 |S|."""

    model = "smagorinsky"

    def eddy_viscosity(self, vel):
        xp = self.xp
        yplus = spalding_yplus(self._up, xp=xp)
        damp = 1.0 - xp.exp(-yplus / VAN_DRIEST_A)
        return (SMAGORINSKY_CS * damp) ** 2 * self.delta2 * self._strain_rate(vel)


class WallFunction:
    """Spalding's wall function on the edges between a fluid face row and a no-slip
    surface: the shear rho u_tau^2 as an effective viscosity nu y+/u+ over the half-cell
    distance (m), added to the laminar flux there."""

    def __init__(self, nu: float, xp):
        self.nu, self.xp = nu, xp

    def add_shear(self, flux, du_all, walls):
        """flux (flat, m^2/s^2 per m) += the extra wall shear on each wall edge set
        ``(flat indices, half-cell distances)`` of ``walls``, ``du_all`` the velocity
        differences across the edges; returns the largest rate (1/s) it adds, or None."""
        xp = self.xp
        rate = None
        for idx, half in walls:
            if idx.size == 0:
                continue
            du = du_all[idx]
            extra = (wall_viscosity_ratio(xp.abs(du) * half / self.nu, xp=xp) - 1.0) * self.nu
            flux[idx] += extra * du / half
            r = xp.max(extra / (half * half))
            rate = r if rate is None else xp.maximum(rate, r)
        return rate


def eddy_viscosity(mesh, heat, model: str) -> EddyViscosity:
    """The eddy viscosity of ``model`` (``lvel`` or ``smagorinsky``) on a flow mesh."""
    classes = {"lvel": LVEL, "smagorinsky": Smagorinsky}
    if model not in classes:
        raise ValueError(f"unknown turbulence model '{model}'")
    return classes[model](mesh, heat)
