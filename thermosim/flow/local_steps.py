"""Local pseudo-steps for the steady outer iterations of a hall.

The global pseudo-step is a fraction of the turnover time L / U with U the fastest face
(a fan's jet, about 6 m/s in the quick air hall), so the room, where the air moves at
0.1-0.5 m/s, crawls at a Courant number near 0.1 and its slow recirculations set the
iteration count.  Each face's step is lengthened where the flow through it is slow:

    dt_f = dt min(FACTOR, U / |u_f|)

so that no face steps at a larger Courant number than the fastest one does with the
global step.  The momentum operator takes 1 / dt_f on its diagonal and the projection
SIMPLEC's d_f = 1 / (1 / dt_f + k + r), both refreshed every :data:`REFRESH` outer
iterations (the pressure multigrid is rebuilt then), but not while Anderson accelerates
the iterations (:attr:`LocalSteps.held`).  k is the face's linear sink and r the terms'
implicit rates (the eddy viscosity's point-implicit diffusion and wall shear, a fan
curve's slope): both sit on the momentum diagonal with no neighbour, so both are part of
SIMPLEC's a_P - sum a_nb.  With r left out, the projection moved a fan's face or a face
in the eddy viscosity as if it were free while its momentum equation barely moved it,
and the two fought: at the 0.118 m cold-plate hall's stagnation, a fan face's predictor
moved it by 5e-6 m/s and the projection undid all but 2e-10.  The
pressure-convection-diffusion increment keeps the global step with the same k + r
(1 / (1 + dt (k + r))): with the local steps it diverged within ten iterations (quick
air hall, FACTOR 10).

Measured, outer iterations (check every 10), without / with r in d_f and in the
pressure-convection-diffusion weights, on 0.2 / 0.154 / 0.118 / 0.1 m cells: the air
hall 304 / 174, 594 / 442, 700 / 646, 915 / 460; the cold-plate hall 335 / 241,
848 / 771, 902 / 518; but the 0.1 m cold-plate hall, steady in 2,224 without, held
between 2e-2 and 7e-2 from 500 to 2,270 with (in the slot between a CRAH column and the
wall).  r in d_f alone (not in those weights) took the 0.1 m air hall to 524 but held the
0.118 m cold-plate hall in a limit cycle near 5e-2.

The fixed point is unchanged: the steps scale the update, not the residual.

Measured on the quick air hall (12,880 cells; with the solids' conduction cycle and the
energy step at 30 times the momentum's): 467 outer iterations with the global step, 302
with FACTOR 10 (300 and 306 refreshing every 15 and 25).  FACTOR 30 took 3,566 (measured
before the solids' cycle).  Only for flows that lagged terms steer
(:func:`thermosim.flow.problem.lagged`): the Re 1000 cavity's multigrid cycles diverged
with them and de Vahl Davis Ra 1e6 took 23 cycles against 20.

The longest local step is controlled by the residual (switched evolution relaxation,
Mulder & van Leer, J. Comput. Phys. 59 (1985) 232; :meth:`LocalSteps.control`): it starts
at the global step (:data:`START`) and every :data:`CONTROL` outer iterations the factor
is multiplied by the residual's fall since the last control (shortened when the residual
rose), between 1 and FACTOR.  Why: a backward-Euler
step dt on a mode that grows at the rate s multiplies it by 1 / (1 - s dt), which is
below -1 for 1 < s dt < 2: a flip of period two that grows.  The shear layers a finer
mesh resolves grow faster, and the long steps of a slow face put them in that band: the
20-rack hall on 0.08 m cells (403,564 cells) flipped above its CRAH intakes (vertical
velocities of 100-195 m/s, a sign change every iteration, from iteration 40; not steady in
1,000) with FACTOR 10 held, and was steady in 599 with the global step alone (FACTOR 1),
which takes the quick and 0.154 m halls 1.2-2.6 times as many iterations as FACTOR 10 (328,
364, 627, 729 against 161, 308, 237, 390).  Measured, outer iterations with FACTOR 10
held / controlled (issue 19, stop 40, one thread): see :data:`CONTROL`.
"""

from __future__ import annotations

import math

import numpy as np

#: the longest local step over the global one
FACTOR = 10.0
#: the longest local step over the global one when a run starts from rest: the global step
#: itself, lengthened by the control as the residual falls (as Mulder & van Leer start
#: their switched evolution relaxation from a small Courant number).  From rest every face
#: is slow, so a start at FACTOR gives every face of the room ten global steps while the
#: fans' pressure rises across them: on the 1.2e6-cell hall the second outer iteration
#: drove 455 m/s beside a server's side at the end of a row, where the rise across its
#: fans meets the room (the first try's d, retry.py; 18.6 m/s starting at 1).  Measured,
#: outer iterations starting at 10 / at 1 (issue 19, stop 50, one thread): air halls on
#: 0.2 / 0.154 / 0.118 / 0.1 m cells 138 / 116, 212 / 180, 285 / 237, 339 / 320;
#: cold-plate halls 213 / 213, 257 / 255, 298 / 289, not steady (held at 5e-4) / 385;
#: the 20-rack hall on 0.2 / 0.154 / 0.13 / 0.11 / 0.08 m 165 / 125, 247 / 252,
#: 362 / 527, 427 / 422, 1,203 / 1,457 (the 0.13 m tail where the CRAH jets meet); the
#: immersion tanks on 0.05 / 0.038 / 0.0333 / 0.025 / 0.0222 / 0.019 m 155 / 155,
#: 164 / 164, 238 / 287, 238 / 292, 262 / 247, 168 / 166
START = 1.0
#: outer iterations between refreshes of the local steps (and the pressure operator)
REFRESH = 20
#: outer iterations between controls of the longest local step (:meth:`LocalSteps.control`).
#: Measured, outer iterations with FACTOR 10 held / controlled (issue 19, stop 40, one
#: thread, BLAS's too): air halls on 0.2 / 0.154 / 0.118 / 0.1 m cells 161 / 161,
#: 237 / 231, 411 / 410, 530 / 425; cold-plate halls 308 / 211, 390 / 419, 433 / 448,
#: 524 / 675; the 20-rack hall on 0.13 / 0.11 / 0.08 m cells 456 / 446, 1,196 / 852,
#: not steady in 1,000 / 847 (599 with the global step alone)
CONTROL = 10
#: the share of the eddy diffusion's diagonal (2 nu_t sum 1 / h^2, the part its coupled
#: operator's neighbours balance) in SIMPLEC's d: 1 takes it whole (:meth:`LocalSteps._rates`,
#: stop 39: fewer outer iterations on the 0.2-0.11 m halls), 0 leaves it out, the d
#: consistent with the operator (a smooth correction moves a face by 1 / (1/dt_f + k +
#: the wall shear's rate) whatever nu_t is).  Measured (issue 19, stop 43, one thread),
#: outer iterations with 1 / 0: air halls on 0.2 / 0.154 / 0.1 m cells 159 / 186, 223 /
#: 261, 422 / 575; cold-plate halls on 0.2 / 0.154 / 0.1 m 191 / 226, 396 / 402, 554 /
#: 651; the 0.11 m 20-rack hall 689 / stalled near 4e-3 from 550 to 1,040.  But the
#: 1.2e6-cell hall (0.055 m) blows up with 1 from its second iteration (398 m/s beside a
#: server's inlet corner, 3,900 m/s over a CRAH's intake by the ninth, the global step
#: alone too: 164 m/s by the sixth) and stays bounded only with 0 (the largest speed
#: 17-21 m/s over the first 23; with 1/2, 50-70 m/s; not steady either way, relative
#: residual 0.5-1 from 180 to 550 with 0).  At the 0.1 m cold-plate hall's answer the
#: plain iteration's largest eigenvalue is -1.053 with 1 (a flip above a CRAH's intake,
#: benchmarks/outer_spectrum.py) and 0.794 +- 0.609i (modulus 1.0008, a buoyant mode
#: under the ceiling) with 0.  So a steady run that diverges with 1 tries again from its
#: start with 0 (:mod:`thermosim.flow.retry`).
EDDY_IN_D = 1.0


class LocalSteps:
    """The local pseudo-steps of one :class:`~thermosim.flow.outer.OuterIteration`."""

    def __init__(self, it, factor: float | None = None, refresh: int = REFRESH,
                 eddy_in_d: float | None = None):
        factor = FACTOR if factor is None else factor       # FACTOR as it is now
        self.it, self.refresh = it, refresh
        self.factor = min(START, factor)    # the control lengthens it (:meth:`control`)
        # EDDY_IN_D as it is now, or the retry's 0 (thermosim.flow.retry)
        self.eddy_in_d = EDDY_IN_D if eddy_in_d is None else eddy_in_d
        self.longest = factor           # the factor's cap (:meth:`control`)
        self._last = None               # the residual at the last control
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
        self.pcd_openness = [None, None, None]
        for c in range(3):
            if it.solved[c] is None:
                self.inv[c] = None
                openness.append(None)
                continue
            inv = (1.0 / dt) * xp.maximum(1.0 / self.factor,
                                          xp.minimum(1.0, xp.abs(vel[c]) * (1.0 / U)))
            self.inv[c] = inv
            k = 0.0 if sinks is None else be.asarray(sinks[c], m.dtype)
            k = k + self._rates(c, vel)
            # d_f / dt, with SIMPLEC's d_f = 1 / (1 / dt_f + k + the terms' rates)
            openness.append(np.asarray(be.to_host(1.0 / (dt * (inv + k))), float))
            if not np.isscalar(k):
                self.pcd_openness[c] = 1.0 / (1.0 + dt * k)
        self._key = ("local", self._count, dt)
        m.pressure.reopen(openness, self._key)
        self._dt = dt

    def control(self, residual: float) -> tuple[float, float]:
        """Switched evolution relaxation of the longest local step: the factor times the
        residual's fall since the last call (``residual``: the outer iterations' largest
        relative one), between 1 and its cap; it takes effect at the next refresh.
        Returns the factor and the residual, for :meth:`resume`."""
        if self._last is not None and residual > 0.0:
            self.factor = min(self.longest, max(1.0, self.factor * self._last / residual))
        self._last = residual
        return self.factor, residual

    def resume(self, factor: float, residual: float) -> "LocalSteps":
        """Continue the control where :meth:`control` left it (nan: from the start)."""
        if not math.isnan(factor):
            self.factor, self._last = factor, residual
        return self

    def _rates(self, c: int, vel):
        """The terms' implicit rates (1/s) on the faces normal to ``c``: what they put on
        the momentum operator's diagonal with no coupling to a neighbour (the eddy
        viscosity's point-implicit diffusion and wall shear, the fan curves' slopes), so
        part of SIMPLEC's a_P - sum a_nb, as a sink's k is; 0 where none."""
        total = 0.0
        for t in self.it.model.terms.all:
            rate = t.implicit_rate(c, vel)
            share = self.eddy_in_d
            if rate is not None and share != 1.0 and t.coupled_viscosity() is not None:
                wall = t.implicit_rate(c, vel, coupled=True)
                rate = wall + share * (rate - wall)
            if rate is not None:
                total = total + rate
        return total
