"""Implicit diffusion for steady marches: each stage solves ``(C / dt + L) delta = R`` for
the increment, ``R`` the whole explicit right-hand side and ``L`` the diffusion operator in
conductance form (viscous for each velocity component, conductive for the temperature), by
multigrid-preconditioned CG.  A converged state has ``R = 0`` whatever the step, so the
steady answer is the explicit scheme's; the march is first order in time."""

from __future__ import annotations

import numpy as np

from ..errors import SolverError
from ..linear_system import LinearSystem
from ..solvers.krylov import pcg
from ..solvers.multigrid import Multigrid
from .problem import FACES


def _along(v, a: int) -> np.ndarray:
    """A 1D array along axis ``a`` of a 3D broadcast."""
    shp = [1, 1, 1]
    shp[a] = -1
    return np.asarray(v, float).reshape(shp)


def _cut(a: int, sl) -> tuple:
    """The index taking ``sl`` along axis ``a``, everything along the others."""
    idx = [slice(None)] * 3
    idx[a] = sl
    return tuple(idx)


class ImplicitDiffusion:
    """The implicit operators of one flow model, built on first use, their multigrid
    hierarchies refreshed when the step changes."""

    def __init__(self, problem, mesh, boundaries, heat, smoother, stats, diverged, cfl):
        self.problem, self.mesh, self.boundaries, self.heat = problem, mesh, boundaries, heat
        self.smoother = smoother
        self.stats, self.diverged, self.cfl = stats, diverged, cfl
        self.ops = None
        self.dt = None
        self.capacity = None            # the energy equation's C (J/K) the operator holds

    def viscous_operator(self, c: int):
        """The viscous operator of velocity component ``c`` in conductance form (m^3/s), the
        linear part of :meth:`momentum_rhs` times the face's control volume: unknowns are
        the faces 1..n along ``c`` (interior index q is face q+1), the computed ones those
        with fluid on both sides (and not a wall-bounded axis's first face).  A neighbour
        whose value is held (a wall, a solid, an inflow, a boundary-normal face) moves its
        conductance into the diagonal; one that copies its neighbour (slip and outflow
        halos, outflow faces) drops out; across a periodic wrap the boundary faces couple.
        Returns (G per axis, diagonal D_fix, control volume V, computed mask)."""
        mesh = self.mesh
        n = mesh.shape
        fl = mesh.fluid_host != 0
        H, Dd = mesh.h_host, mesh.d_host
        lo = [slice(1, -1)] * 3
        hi = [slice(1, -1)] * 3
        lo[c], hi[c] = slice(0, n[c]), slice(1, n[c] + 1)
        comp = fl[tuple(lo)] & fl[tuple(hi)]
        if not mesh.periodic[c]:
            comp[_cut(c, 0)] = False
        width = [_along(H[a][1:-1], a) for a in range(3)]
        V = np.broadcast_to(_along(Dd[c][1:n[c] + 1], c) * width[(c + 1) % 3]
                            * width[(c + 2) % 3], n).copy()
        Dfix = np.zeros(n)
        G = [self._along_axis(a, c, comp, width, Dfix) for a in range(3)]
        return tuple(G), Dfix, V, comp

    def _along_axis(self, a: int, c: int, comp, width, Dfix) -> np.ndarray:
        """The conductances (m^3/s) of component ``c``'s operator between neighbours along
        axis ``a``; held neighbours' conductances are added to ``Dfix``."""
        nu = self.problem.fluid.kinematic_viscosity
        mesh = self.mesh
        n, H, Dd = mesh.shape, mesh.h_host, mesh.d_host
        low = self.boundaries.by_face[FACES[2 * a]]
        high = self.boundaries.by_face[FACES[2 * a + 1]]
        na = n[a]
        X = nu * np.ones((1, 1, 1))
        for b in range(3):
            if b != a and b != c:
                X = X * width[b]
        if a == c:
            dist = H[c][0:na + 1]              # box face f: faces f, f+1 through cell f
            Gp = X / _along(dist, a)
            fix_up, fix_dn = Gp[_cut(a, slice(1, None))], Gp[_cut(a, slice(0, na))]
        else:
            X = X * _along(Dd[c][1:n[c] + 1], c)
            Gp = X / _along(Dd[a][1:na + 2], a)
            fix_up = fix_dn = X / _along(0.5 * H[a][1:-1], a)
        shape = list(n)
        shape[a] = na + 1
        Gp = np.broadcast_to(Gp, shape)
        fix_up = np.broadcast_to(fix_up, n)
        fix_dn = np.broadcast_to(fix_dn, n)
        Ga = np.zeros(shape)
        cl, ch = comp[_cut(a, slice(0, na - 1))], comp[_cut(a, slice(1, na))]
        Ga[_cut(a, slice(1, na))] = np.where(cl & ch, Gp[_cut(a, slice(1, na))], 0)
        up = cl & ~ch                           # the neighbour above is held
        dn = ch & ~cl
        if a == c and not mesh.periodic[c] and low.open and na >= 2:
            dn[_cut(a, 0)] = False              # face 1 copies face 2
        Dfix[_cut(a, slice(0, na - 1))] += np.where(up, fix_up[_cut(a, slice(0, na - 1))], 0)
        Dfix[_cut(a, slice(1, na))] += np.where(dn, fix_dn[_cut(a, slice(1, na))], 0)
        first, last = comp[_cut(a, slice(0, 1))], comp[_cut(a, slice(na - 1, na))]
        if mesh.periodic[a]:
            wrap = np.where(first & last, Gp[_cut(a, slice(na, na + 1))], 0)
            Ga[_cut(a, slice(0, 1))] = wrap
            Ga[_cut(a, slice(na, na + 1))] = wrap
            Dfix[_cut(a, slice(na - 1, na))] += np.where(
                last & ~first, fix_up[_cut(a, slice(na - 1, na))], 0)
            Dfix[_cut(a, slice(0, 1))] += np.where(
                first & ~last, fix_dn[_cut(a, slice(0, 1))], 0)
        elif a == c:
            if not high.open:
                Ga[_cut(a, slice(na, na + 1))] = np.where(
                    last, Gp[_cut(a, slice(na, na + 1))], 0)
        else:
            # a halo that holds its velocity (a wall's, an inflow's) couples like a cell
            if low.holds_tangential:
                Ga[_cut(a, slice(0, 1))] = np.where(first, fix_dn[_cut(a, slice(0, 1))], 0)
            if high.holds_tangential:
                Ga[_cut(a, slice(na, na + 1))] = np.where(
                    last, fix_up[_cut(a, slice(na - 1, na))], 0)
        return Ga

    def build(self) -> None:
        """Operators and multigrid hierarchies (once, on first use): energy
        ``(C / dt + L_k)``, each velocity component ``(V / dt + nu L)``."""
        mesh = self.mesh
        be, dt_ = mesh.be, mesh.dtype
        faces = self.problem.grid.faces
        pad = mesh.padded
        ops = {}
        zero = np.zeros(mesh.shape)
        sysT = LinearSystem(*self.heat.G_host, self.heat.C_host.copy(), zero)
        ops["T"] = dict(mg=Multigrid(sysT, faces, be, dt_, periodic=mesh.periodic,
                                     arch=mesh.arch),
                        C=self.capacity, fix=np.zeros(mesh.shape), solved=None)
        for c in range(3):
            if mesh.shape[c] < 2:
                continue
            G, Dfix, V, comp = self.viscous_operator(c)
            D = np.where(comp, V + Dfix, 1.0)
            mg = Multigrid(LinearSystem(*G, D, zero), faces, be, dt_, solved=comp,
                           smoother=self.smoother, periodic=mesh.periodic, arch=mesh.arch)
            b = np.zeros(pad)
            b[1:-1, 1:-1, 1:-1] = np.where(comp, V, 0.0)
            ops[c] = dict(mg=mg, C=V, fix=Dfix, solved=comp, weight=be.asarray(b, dt_))
        for op in ops.values():
            lev = op["mg"].levels[0]
            op["op"] = (lev.Gx, lev.Gy, lev.Gz, lev.D)
        self.ops = ops
        self.dt = None
        self.increment = be.zeros(pad, dt_)
        self._work = [be.zeros(pad, dt_) for _ in range(5)]

    def use_capacity(self, C) -> None:
        """The energy equation's capacities (J/K): physical or a steady march's."""
        self.capacity = C
        if self.ops is not None and self.ops["T"]["C"] is not C:
            self.ops["T"]["C"] = C
            self.dt = None                  # refresh the capacity term on the next step

    def prepare(self, dt: float) -> None:
        """Set the operators' ``C / dt`` terms for a step ``dt`` (s)."""
        if self.ops is None:
            self.build()
        if dt == self.dt:
            return
        for op in self.ops.values():
            D = op["C"] / dt + op["fix"]
            if op["solved"] is not None:
                D = np.where(op["solved"], D, 1.0)
            op["mg"].set_capacity(D)
        self.dt = dt

    def solve(self, key, b, x) -> None:
        """x = (C / dt + L)^-1 b for the operator ``key`` ("T" or a component), from zero
        (b and x carry zero halos)."""
        op = self.ops[key]
        x.fill(0)
        # any fixed fraction of the increment leaves the converged state (R = 0) where it
        # is; 1e-6 keeps the march's path that of the exact implicit step
        tol = 1e-6 if self.mesh.dtype == np.float64 else 1e-4
        mg = op["mg"]
        try:
            st = pcg(self.mesh.be, op["op"], b, x, mg.apply, tol, 200, work=self._work,
                     fill_halo=mg.fill_halo if any(self.mesh.periodic) else None,
                     arch=self.mesh.arch)
        except SolverError:
            # the operator is positive definite by construction: its right-hand side was not
            # finite, so the step had already blown up
            raise self.diverged("an implicit diffusion solve met non-finite values") from None
        if not st.converged:
            raise SolverError(f"an implicit diffusion solve did not converge (residual "
                              f"{st.residual:.1e} after {st.iterations} iterations) at step "
                              f"{self.stats.steps + 1}: lower cfl (now {self.cfl})")
        self.stats.implicit_iterations += st.iterations
        self.stats.implicit_solves += 1

    def weight(self, c: int):
        """The control volumes (m^3, padded) of component ``c``'s computed faces."""
        return self.ops[c]["weight"]
