"""Local pseudo-steps for the steady outer iterations of a hall.

The global pseudo-step is a fraction of the turnover time L / U with U the fastest face
(a fan's jet, about 6 m/s in the quick air hall), so the room, where the air moves at
0.1-0.5 m/s, crawls at a Courant number near 0.1 and its slow recirculations set the
iteration count.  Each face's step is lengthened where the flow through it is slow:

    dt_f = dt min(FACTOR, U / |u_f|)

so that no face steps at a larger Courant number than the fastest one does with the
global step.  The momentum operator takes 1 / dt_f on its diagonal and the projection
SIMPLEC's d_f = 1 / (1 / dt_f + k) (k the face's linear sink), both refreshed every
:data:`REFRESH` outer iterations (the pressure multigrid is rebuilt then), but not while
Anderson accelerates the iterations (:attr:`LocalSteps.held`).  The
pressure-convection-diffusion increment keeps the global step's weights: with the local
ones it diverged within ten iterations (quick air hall, FACTOR 10).

The fixed point is unchanged: the steps scale the update, not the residual.

Measured on the quick air hall (12,880 cells; with the solids' conduction cycle and the
energy step at 30 times the momentum's): 467 outer iterations with the global step, 302
with FACTOR 10 (300 and 306 refreshing every 15 and 25).  FACTOR 30 took 3,566 (measured
before the solids' cycle).  Only for flows that lagged terms steer
(:func:`thermosim.flow.outer.lagged`): the Re 1000 cavity's multigrid cycles diverged
with them and de Vahl Davis Ra 1e6 took 23 cycles against 20.
"""

from __future__ import annotations

import numpy as np

#: the longest local step over the global one
FACTOR = 10.0
#: outer iterations between refreshes of the local steps (and the pressure operator)
REFRESH = 20


class LocalSteps:
    """The local pseudo-steps of one :class:`~thermosim.flow.outer.OuterIteration`."""

    def __init__(self, it, factor: float = FACTOR, refresh: int = REFRESH):
        self.it, self.factor, self.refresh = it, factor, refresh
        self.inv = [None, None, None]   # per component, 1 / dt_f (1/s, padded faces)
        self.pcd_openness = None        # the global step's 1 / (1 + dt k), per axis
        self._count = -1
        self._dt = None
        self._key = None
        # held (the steady solver sets it while Anderson accelerates): no refresh but
        # where the global step moves.  Anderson builds its next iterate from the last
        # iterates of one map, and a refresh makes another (other steps, another pressure
        # operator).  Measured, outer iterations held / refreshed (both with Anderson's
        # restart on stagnation, which the hold needs: see anderson.Restarts), on 0.2 / 0.154 /
        # 0.118 / 0.1 m cells: the cold-plate hall 335 / 725, 848 / 1,623, 902 / 865, and
        # on 0.1 m steady in 2,224 against 7e-2 after 1,000; the air hall 304 / 288,
        # 594 / 594, 700 / 777, 915 / 915
        self.held = False

    def update(self, vel, U: float, dt: float) -> None:
        """Refresh the steps from the face speeds ``vel`` (m/s) against ``U`` (m/s) and
        the global step ``dt`` (s) when due: every ``refresh`` calls (none while
        :attr:`held`), or when ``dt`` moved; the pressure operator is rebuilt with them."""
        self._count += 1
        if (self.held or self._count % self.refresh) and dt == self._dt and \
                self.it.model.pressure.open_key == self._key:
            return
        it = self.it
        m = it.model
        be = m.be
        xp = be.xp
        sinks = it.sinks
        openness = []
        for c in range(3):
            if it.solved[c] is None:
                self.inv[c] = None
                openness.append(None)
                continue
            inv = (1.0 / dt) * xp.maximum(1.0 / self.factor,
                                          xp.minimum(1.0, xp.abs(vel[c]) * (1.0 / U)))
            self.inv[c] = inv
            k = 0.0 if sinks is None else be.asarray(sinks[c], m.dtype)
            # d_f / dt, with SIMPLEC's d_f = 1 / (1 / dt_f + k)
            openness.append(np.asarray(be.to_host(1.0 / (dt * (inv + k))), float))
        self.pcd_openness = None if sinks is None else [
            None if k is None else be.asarray(1.0 / (1.0 + dt * k), m.dtype) for k in sinks]
        self._key = ("local", self._count, dt)
        m.pressure.reopen(openness, self._key)
        self._dt = dt
