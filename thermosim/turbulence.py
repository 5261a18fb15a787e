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

Constants: kappa = 0.41, B = 5.2 (Pope, Turbulent Flows, 2000, sec. 7.1).  The functions
of the law below work on NumPy or CuPy arrays alike (``xp``): the reference the tests hold
the kernels to.  A step's eddy viscosity and eddy momentum are kernels of the backend
(``eddy_viscosity``, ``eddy_momentum``: Numba in backends/cpu_turbulence.py, CUDA in
kernels/turbulence.cu), one pass over the cells or faces each.
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
        # no-slip surfaces (solid cells and wall halos), padded: the wall function's edges
        noslip = np.zeros(pad, np.uint8)
        noslip[1:-1, 1:-1, 1:-1] = mesh.solid
        for f, b in p.boundaries.items():
            if b.kind == "wall":
                a = "xyz".index(f[0])
                sl = [slice(None)] * 3
                sl[a] = -1 if f[1] == "+" else 0
                noslip[tuple(sl)] = 1
        self.noslip = be.asarray(noslip, np.uint8)
        self._wall_rates = be.zeros(pad, dt_)     # per face, the wall function's rate (1/s)
        # per component and face, the wall shear's rate of change with the face's velocity
        # (1/s): the steady solver's operator takes it on its diagonal
        self.wall_diagonal = [be.zeros(pad, dt_) for _ in range(3)]
        self._strain = be.zeros(pad, dt_)
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
        self.rate = 0.0             # largest explicit diffusion rate it adds (1/s)
        self.wall_rate = 0.0
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
    def _kernel(self, vel, model: str, out) -> None:
        s = self.s
        s.be.eddy_viscosity(vel, self.fluid, self.y, s.h, s.d, self.nu, model,
                            (KAPPA, E_WALL), self.length_cap ** 2,
                            (SMAGORINSKY_CS, VAN_DRIEST_A), self.delta2, out)

    def strain_rate(self, vel):
        """|S| = sqrt(2 S_ij S_ij) at cell centres (1/s; central differences of the
        cell-centred velocities, 0 outside the fluid; 0 in the halo)."""
        self._kernel(vel, "strain", self._strain)
        return self._strain

    def update(self, vel) -> None:
        """Recompute nu_t from the velocities (called once per step: lagged by a step)."""
        xp = self.xp
        self._kernel(vel, self.model, self.nut)
        # the wall functions' rate of the step just taken (gathered by add_momentum) bounds
        # the coming one (gathered on the device: one host read a step)
        self.wall_rate = 2.0 * self.s.arch.max(xp.max(self._wall_rates))
        self._wall_rates.fill(0)
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

    # -- momentum --------------------------------------------------------------------------
    def add_momentum(self, comp: int, vel, out, mask) -> None:
        """out += div(nu_t grad u_comp) plus the wall function's extra shear (Spalding's,
        on the edges between a fluid face row and a no-slip surface), on the faces that
        ``mask`` marks (padded, 1 where the momentum of the face is computed)."""
        s = self.s
        s.be.eddy_momentum(comp, vel, self.nut, s.fluid, self.noslip, mask, s.h, s.d,
                           self.nu, (KAPPA, E_WALL), out, self._wall_rates,
                           self.wall_diagonal[comp])


class LVEL(EddyViscosity):
    """LVEL: Spalding's law of the wall near walls; away from them Escudier's cap on the
    mixing length, l <= 0.09 delta, so nu_t <= (0.09 delta)^2 |S|:
    nu_t = min(nu (dy+/du+ - 1), (0.09 delta)^2 |S|)."""

    model = "lvel"


class Smagorinsky(EddyViscosity):
    """Smagorinsky with van Driest's damping: nu_t = (C_s Delta (1 - exp(-y+/26)))^2 |S|."""

    model = "smagorinsky"


def eddy_viscosity(mesh, heat, model: str) -> EddyViscosity:
    """The eddy viscosity of ``model`` (``lvel`` or ``smagorinsky``) on a flow mesh."""
    classes = {"lvel": LVEL, "smagorinsky": Smagorinsky}
    if model not in classes:
        raise ValueError(f"unknown turbulence model '{model}'")
    return classes[model](mesh, heat)
