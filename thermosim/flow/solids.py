"""The solids' conduction in the steady energy update.

The steady outer iterations update the temperature with two symmetric Gauss-Seidel sweeps
of the energy operator.  In the air that is enough: advection carries the error out.  In a
solid only conduction does, and two sweeps a step spread a correction a cell or two, so a
floor slab spanning the hall settles over hundreds of iterations after the flow has (the
quick air hall: 63 of the 64 W still stored after 400 iterations were in the slab and the
blanking panels).  Here one V-cycle of the solids' own conduction, the fluid's
temperatures held, gives the sweeps their start:

    (C / dt_T + couplings + conduction within the solids + conductance to the fluid) x = Q

on the solid cells (``C`` the steady capacities, ``dt_T`` the energy's pseudo-step, ``Q``
the net heat in W), 0 in the fluid.  The sweeps of the whole operator then follow, so the
fixed point is the energy equation's own.  Measured on the quick air hall (local steps,
closed server sides, energy step 30 times the momentum's): 484 outer iterations without,
302 with.
"""

from __future__ import annotations

import numpy as np

from ..linear_system import LinearSystem
from ..solvers.multigrid import Multigrid

#: the solids' capacities in the steady energy update, over the steady march's (at most
#: the fluid's per volume, heat.py)
SOLID_SHARE = 0.01


def steady_capacities(model) -> np.ndarray:
    """The heat capacities (J/K, interior cells) the steady energy update steps with: the
    steady march's, the solids' a hundredth of them.  The steady state does not depend on
    them; a solid block follows the air around it at 1 / (1 + G dt / C) an iteration (G
    its conductance to the air and to fixed temperatures), and the blocks the air barely
    touches held the halls' last iterations (the 0.154 m cold-plate hall at 500: 99.7 %
    of the temperature's change an iteration in the solids, 7 % of the cells).  Measured,
    outer iterations at 1 / 0.1 / 0.01 / 0.001 of the capacities: quick air hall 175 /
    143 / 143 / 143, quick cold-plate hall 234 / 183 / 194 / 225, cold plates on 0.154 m
    cells 571 / 495 / 472 / 468, on 0.118 m 533 / 543 / 547 / 543; at 0.01 the air halls
    on 0.154 / 0.118 / 0.1 m 347 -> 375, 456 -> 449, 460 -> 460, the 20-rack hall on 0.2 /
    0.154 m 121 -> 118, 393 -> 396 (issue 19, stop 37).  The same answers: the quick
    halls' hottest junctions within 0.01 K, their coils' heat within 0.04 % of the IT
    power."""
    C = np.asarray(model.heat.capacities[True][0], float)
    return np.where(np.asarray(model.mesh.solid, bool), SOLID_SHARE * C, C)


class SolidConduction:
    """One V-cycle of the solids' conduction for a flow model's steady energy update."""

    def __init__(self, model, extra):
        """``extra``: the terms' conductances to fixed temperatures (W/K, backend, padded)."""
        self.model = model
        be, mesh, heat = model.be, model.mesh, model.heat
        n = mesh.shape
        solid = np.asarray(mesh.solid, bool)
        G = [np.array(g, float) for g in heat.G_host]
        to_fluid = np.zeros(n)
        for a in range(3):
            G[a], g = self._split(G[a], solid, a)
            lo = tuple(slice(0, n[a]) if b == a else slice(None) for b in range(3))
            hi = tuple(slice(1, n[a] + 1) if b == a else slice(None) for b in range(3))
            to_fluid += (g[lo] + g[hi]) * solid
        E = np.asarray(be.to_host(extra), float)[1:-1, 1:-1, 1:-1]
        self.C = steady_capacities(model)
        self.fixed = E + to_fluid
        self.solid = solid
        self.mask = be.asarray(np.pad(solid, 1).astype(float), model.dtype)
        self.mg = Multigrid(LinearSystem(*G, np.ones(n), np.zeros(n)), model.problem.grid.faces,
                            be, model.dtype, solved=solid)
        self._dt = None
        self._b = be.zeros(mesh.padded, model.dtype)

    @staticmethod
    def _split(G, solid, a: int):
        """The conductances (faces normal to ``a``, boundary faces included) within the
        solids, and those between a solid and a fluid cell."""
        n = solid.shape[a]
        pad = [(1, 1) if b == a else (0, 0) for b in range(3)]
        s = np.pad(solid, pad)
        lo = s[tuple(slice(0, n + 1) if b == a else slice(None) for b in range(3))]
        hi = s[tuple(slice(1, n + 2) if b == a else slice(None) for b in range(3))]
        boundary = np.zeros(lo.shape, bool)
        boundary[tuple(0 if b == a else slice(None) for b in range(3))] = True
        boundary[tuple(n if b == a else slice(None) for b in range(3))] = True
        # a boundary face of a solid cell keeps its conductance to the wall (a fixed
        # temperature, or 0: insulated)
        within = (lo & hi) | (boundary & (lo | hi))
        across = ~boundary & (lo ^ hi)
        return np.where(within, G, 0.0), np.where(across, G, 0.0)

    def apply(self, Q, dt: float, x) -> None:
        """x = the V-cycle's temperature change (K, padded) of the solids for the net heat
        ``Q`` (W, padded) at the energy's pseudo-step ``dt`` (s); 0 in the fluid."""
        if dt != self._dt:
            self.mg.set_capacity(np.where(self.solid, self.C / dt + self.fixed, 1.0))
            self._dt = dt
        self._b[...] = Q * self.mask
        self.mg.apply(self._b, x)
        x *= self.mask
