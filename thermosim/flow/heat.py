"""The energy equation's parts: face conductances (W/K), heat capacities (J/K) and fixed
heat sources (W), and the capacities a steady march steps with.

Conduction runs through harmonic-mean face conductances everywhere, solids included
(conjugate heat transfer); a fixed-temperature face couples through half a cell, a heat-flux
face adds its power to the cells behind it.
"""

from __future__ import annotations

import numpy as np

from .problem import FACES


class HeatEquation:
    """``C dT/dt = sum_f G_f (T_N - T_P) + advection + q`` on one mesh.

    ``G[a]`` (backend, faces normal to ``a``, W/K; the eddy conductivity may raise it each
    step), ``G_host`` the laminar values; ``q`` the fixed sources (W per cell); the inverse
    capacities ``inv_C`` (padded) the stages multiply the net heat by."""

    def __init__(self, problem, mesh, terms):
        self.problem, self.mesh, self.terms = problem, mesh, terms
        g, n = problem.grid, problem.grid.shape
        fl = problem.fluid
        # built on the whole grid (a block's power spreads over all its cells), then this
        # process's part taken
        k = np.full((3, *n), fl.conductivity)
        rhoc = np.full(n, fl.volumetric_heat_capacity)
        power = np.zeros(n)
        vol = g.cell_volumes()
        for i, b in enumerate(problem.blocks):
            m = mesh.global_block_index == i
            kb = np.broadcast_to(np.asarray(b.conductivity, float), (3,))
            for a in range(3):
                k[a][m] = kb[a]
            rhoc[m] = b.density * b.specific_heat
            if b.power:
                power[m] = b.power * vol[m] / vol[m].sum()
        heat = np.zeros(n)
        for t in terms:
            t.add_power(heat)
        power += heat
        G = [self._face_conductances(a, k, power) for a in range(3)]
        arch = mesh.arch
        self.G_host = [arch.local_faces(x, a) for a, x in enumerate(G)]
        self.C_host = arch.local_cells(rhoc * vol)
        self.power_host = arch.local_cells(power)
        be, dt_ = mesh.be, mesh.dtype
        self.G = [be.asarray(x, dt_) for x in self.G_host]
        self.q = be.asarray(self.power_host, dt_)
        self._build_capacities(mesh.grid.cell_volumes())

    def _face_conductances(self, a: int, k, power) -> np.ndarray:
        """Conductances (W/K) of the faces normal to ``a``, boundary faces included; a
        heat-flux face's power goes into ``power``."""
        p, g = self.problem, self.problem.grid
        n = g.shape
        h = [g.spacing(b) for b in range(3)]
        others = [b for b in range(3) if b != a]
        area = np.multiply.outer(h[others[0]], h[others[1]])
        shp = [1, 1, 1]
        shp[a] = -1
        half = (0.5 * h[a]).reshape(shp) / k[a]     # half-cell resistance x area
        na = n[a]
        lo = [slice(None)] * 3
        hi = [slice(None)] * 3
        lo[a], hi[a] = slice(0, na - 1), slice(1, na)
        Gi = 1.0 / (half[tuple(lo)] + half[tuple(hi)])
        first = [slice(None)] * 3
        last = [slice(None)] * 3
        first[a], last[a] = slice(0, 1), slice(na - 1, na)
        gb = []
        for side, sl in ((0, first), (1, last)):
            b = p.boundaries[FACES[2 * a + side]]
            dirichlet = b.temperature is not None and b.kind != "outflow"
            if b.kind == "periodic":      # the wrap face: last cell's half + first's
                gb.append(1.0 / (half[tuple(first)] + half[tuple(last)]))
                continue
            gb.append(1.0 / half[tuple(sl)] if dirichlet else np.zeros_like(half[tuple(sl)]))
            if b.heat_flux is not None:
                power[tuple(sl)] += b.heat_flux * np.expand_dims(area, a)
        Gf = np.concatenate([gb[0], Gi, gb[1]], axis=a)
        return Gf * np.expand_dims(area, a)

    def _build_capacities(self, vol) -> None:
        """The physical capacities and those of a steady march, each with the stable
        explicit step of pure conduction, C / sum G (a cold plate's coupling to its
        coolant counts as a conductance)."""
        fl, G, n = self.problem.fluid, self.G_host, self.mesh.shape
        sumG = np.zeros(n)
        for t in self.terms:
            t.add_coupling(sumG)
        for a in range(3):
            lo = [slice(None)] * 3
            hi = [slice(None)] * 3
            lo[a], hi[a] = slice(0, -1), slice(1, None)
            sumG += G[a][tuple(lo)] + G[a][tuple(hi)]
        # A steady state does not depend on the capacities, and a solid's (aluminium: 2,000
        # times air's per volume) would make a steady march in air take its thermal time
        # constant, hours of pseudo-time at the flow's step.  Steady marches give solids at
        # most the fluid's volumetric heat capacity, so they settle as fast as the fluid.
        C_steady = np.where(self.mesh.solid, np.minimum(self.C_host,
                                                        fl.volumetric_heat_capacity * vol),
                            self.C_host)
        self.capacities = {}
        be, dt_ = self.mesh.be, self.mesh.dtype
        for steady, C in ((False, self.C_host), (True, C_steady)):
            inv_c = np.zeros((n[0] + 2, n[1] + 2, n[2] + 2))
            inv_c[1:-1, 1:-1, 1:-1] = 1.0 / C
            with np.errstate(divide="ignore"):
                dtc = self.mesh.arch.min(np.min(np.where(sumG > 0, C / sumG, np.inf)))
            self.capacities[steady] = (C, be.asarray(inv_c, dt_), dtc)
        self._local = None

    def inverse_capacities(self, steady: bool):
        """(C host J/K, 1/C backend padded, stable conduction step s) of physical or
        steady-march capacities."""
        return self.capacities[steady]

    def local_inverse_capacities(self, dt: float, vel, eddy: bool):
        """Local time steps for the energy equation of a steady march: each cell's heat
        capacity lowered to twice what its conductances and advective flows allow at this
        step (never above the steady march's own), so that every cell relaxes at its own
        stability limit.  The steady state does not depend on capacities; recirculation
        zones, which exchange heat with the through-flow by diffusion only, then settle in
        hundreds of steps instead of tens of thousands (a hall: 30,000 steps left 0.12 % of
        the power still being stored).  ``eddy``: the conductances change every step."""
        mesh = self.mesh
        be, xp = mesh.be, mesh.be.xp
        if self._local is None:
            n = mesh.shape
            inner_sum = np.zeros(n)
            for t in self.terms:
                t.add_coupling(inner_sum)
            sumG = np.zeros([x + 2 for x in n])
            sumG[1:-1, 1:-1, 1:-1] = inner_sum
            for a in range(3):
                lo = [slice(None)] * 3
                hi = [slice(None)] * 3
                lo[a], hi[a] = slice(0, -1), slice(1, None)
                sumG[1:-1, 1:-1, 1:-1] += self.G_host[a][tuple(lo)] + self.G_host[a][tuple(hi)]
            rhoc = self.problem.fluid.volumetric_heat_capacity
            area = [be.asarray(rhoc * mesh.face_area(a) * (mesh.fluid_host != 0), mesh.dtype)
                    for a in range(3)]
            self._local = (be.asarray(sumG, mesh.dtype), area,
                           be.asarray(mesh.interior(), mesh.dtype),
                           self.capacities[True][1])
        sumG, area, inner, inv_steady = self._local
        rate = sumG.copy()
        if eddy:
            rate.fill(0)
            for t in self.terms:
                if hasattr(t, "add_coupling_padded"):
                    t.add_coupling_padded(rate)
            for a in range(3):
                lo = [slice(None)] * 3
                hi = [slice(None)] * 3
                lo[a], hi[a] = slice(0, -1), slice(1, None)
                rate[1:-1, 1:-1, 1:-1] += self.G[a][tuple(lo)] + self.G[a][tuple(hi)]
        n = mesh.shape
        for a in range(3):
            f = xp.abs(vel[a]) * area[a]
            lo = [slice(1, -1)] * 3
            hi = [slice(1, -1)] * 3
            lo[a], hi[a] = slice(1, n[a] + 1), slice(2, n[a] + 2)
            rate[1:-1, 1:-1, 1:-1] += f[tuple(lo)] + f[tuple(hi)]
        # (cells with no conductance or flow, and the halo, keep the steady march's own)
        with np.errstate(divide="ignore"):
            inv = xp.where(rate > 0, 0.5 / (dt * rate), inv_steady)
        return xp.maximum(inv, inv_steady) * inner

