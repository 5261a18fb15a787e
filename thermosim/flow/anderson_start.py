"""When Anderson acceleration joins the steady outer iterations (:mod:`.outer`).

Anderson mixes the last iterates as if the map were linear, so where the early iterates
are far from that (a hall's fans spinning up, an eddy viscosity finding its level, a
tank's plumes rising) it waits until the residual is within a hundred times the tolerance,
or joins at once when the plain iterations cycle or grow.
"""

from __future__ import annotations

import math

from .march import StallWatch
from .problem import heat_driven

#: outer iterations over which a hall's residual must halve before Anderson joins (above
#: a hundred times the tolerance, :func:`accelerate_below`); if it does not, the iterations are
#: in a limit cycle (held between 2e-2 and 6e-2 on the 0.154 m air hall, in the slot between
#: a CRAH column and the wall: a deep cavity the column's air drags) and Anderson joins at
#: once: its mixing of the last iterates breaks the cycle.  Measured, outer iterations
#: (check every 10; Anderson below ten times the tolerance then): 0.154 m air hall 594,
#: 0.154 m cold-plate hall 1,021, 0.118 m air hall 777, all three a stall and a time mean
#: before; the quick air and cold-plate halls and the 0.1 m air hall never triggered it
#: (302, 717, 1,183).  Anderson from the first iterations instead (below a residual of 1,
#: or always) took the 0.154 m halls too but stalled the 0.1 m air hall near 0.2, its
#: history the fans' spin-up.  200 since SIMPLEC's d took the terms' implicit rates (the
#: spin-up now takes a few dozen iterations, not a few hundred; local_steps.py): outer
#: iterations at 300 / 200 / 100, 0.154 m halls air 442 / 351 / 253 and cold plates
#: 771 / 593 / 626, 0.118 m air 646 / 550 / -, 0.118 m cold plates 518 / 518 / not steady
#: (1.5e-2 after 1,020: Anderson from the cycle's first hundred iterations stagnates
#: there, as it did before that change), the quick halls and the 0.1 m air hall the same
#: (174, 241, 460)
CYCLE_PATIENCE = 200
#: ... and at once when it rises to this many times its lowest so far: the plain
#: iterations make it worse.  The 20-rack hall on 0.08 m cells rose from 1.6 to 38 by
#: iteration 80 and held there, a flip of period two at the CRAH columns' outlets into the
#: plenum, until the patience above ran out at 200; joining at 60 it was at 0.28 by 100
#: (0.35 at 300 before).  The halls that converge rise at most 3.2 times before Anderson
#: joins, and their counts are unchanged (issue 19, stop 36)
RISE = 10.0


def accelerate_below(problem, tolerance: float) -> float:
    """The residual below which Anderson accelerates the iterations (or the multigrid
    cycles): an eddy viscosity and fan curves make the early differences a poor model of
    the iteration, so those cases only once within a hundred times the tolerance, or
    sooner when their residual stops falling (:data:`CYCLE_PATIENCE`); others always.
    Measured, outer iterations (check every 10), from 100 x against 10 x: the air hall 288
    / 302 on 0.2 m cells, 915 / 1,183 on 0.1 m; the cold-plate hall 725 / 717 on 0.2 m,
    865 / 1,202 on 0.118 m; the 0.154 m halls and the 0.118 m air hall the same (594,
    1,021, 777: the limit cycle brings it in first).  (Before the closed sides and local
    steps of issue 19, from 100 x it stalled at 7e-3 on the quick air hall.)  The
    immersion tanks (:func:`~.problem.heat_driven`) too, since their temperature joins
    Anderson's vector (:func:`~.anderson.temperature_joins`): their first iterates are
    the plumes rising, and a history that starts there stagnates (issue 19, stop 45)."""
    p = problem
    late = p.turbulence != "none" or p.fans or heat_driven(p)
    return 100.0 * tolerance if late else math.inf


class AndersonStart:
    """When Anderson joins the outer iterations of ``problem`` (tolerance: the velocity
    residual's): below :func:`accelerate_below`, or at once when a hall's residual above
    that has not halved over :data:`CYCLE_PATIENCE` iterations counted from ``steps``
    (a limit cycle, which Anderson's mixing of the last iterates breaks) or has risen
    :data:`RISE` times over its lowest."""

    def __init__(self, problem, tolerance: float, steps: int = 0):
        self.below = accelerate_below(problem, tolerance)
        self._watch = StallWatch(CYCLE_PATIENCE, steps) if self.below < math.inf else None
        self.lowest = math.inf

    def joins(self, worst: float) -> bool:
        """Whether Anderson accelerates an iteration that started at residual ``worst``."""
        return worst < self.below

    def check(self, steps: int, worst: float) -> None:
        """At a check, after ``steps`` iterations, the residual ``worst``."""
        if self._watch is not None and (worst > RISE * self.lowest or
                                        self._watch.stalled(steps, worst, self.below)):
            self.below, self._watch = math.inf, None
        self.lowest = min(self.lowest, worst)


__all__ = ["CYCLE_PATIENCE", "RISE", "AndersonStart", "accelerate_below"]
