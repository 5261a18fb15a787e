"""Whether a time mean's settling has settled: the heat a flow stores, part after part.

After a stall (:func:`thermosim.flow.unsteady.average_after_stall`) the implicit steps
settle for two turnover times and average over four.  A flow still on its way from the
stalled iterate to its unsteady state stores (or releases) heat part after part, and a
window opened on that way averages it.  :class:`Settling` watches the heat stored (the
power less the heat the coolers and faces take away) and moves the window later while it
drifts; :func:`stored_drift` is the test, the batch means' standard error
(:func:`standard_error`) its yardstick.  Units: shares of the power; seconds.
"""

from __future__ import annotations

import math

import numpy as np

from .result import FlowResult

#: the settling goes on a turnover at a time, and the window slides a part at a time,
#: while the heat stored drifts above the case's energy_tolerance (this share of the power
#: where it has none): at most EXTRA_SETTLE_TURNOVERS turnovers of steps more in all
SETTLED_SHARE = 1e-3
EXTRA_SETTLE_TURNOVERS = 6


def stored(flows: dict, power: float) -> float:
    """The heat a state stores (W): its ``power`` less the heat ``flows`` take away."""
    return power - sum(flows.values())


def standard_error(values) -> float:
    """The standard error of a mean from its batch means (NaN with fewer than two)."""
    v = np.asarray([x for x in values if x is not None], float)
    if v.size < 2:
        return math.nan
    return float(np.std(v, ddof=1) / math.sqrt(v.size))


def stored_drift(shares, tolerance: float) -> bool:
    """Whether consecutive parts' stored heat (``shares``: each part's heat stored over the
    power) say the flow is still warming or cooling: their mean is more than
    ``tolerance`` and more than twice its standard error.  A flow that fluctuates about a
    settled state stores and releases heat by turns (its parts' spread is large); one on
    its way to another state stores it part after part."""
    v = np.asarray(shares, float)
    mean = float(v.mean())
    se = standard_error(v)
    return abs(mean) > tolerance and not abs(mean) <= 2.0 * se


class Settling:
    """Whether a time mean's settling has settled, and its window with it: the heat
    stored (the power less the heat the coolers and faces take away) over the settling's
    last turnover, in four quarters, and over the window's parts, against ``tolerance``
    of the power (:func:`stored_drift`).  While the settling's heat drifts, the window
    opens a turnover later; while the window's parts drift at its end, it slides a part
    later (its first part dropped); at most :data:`EXTRA_SETTLE_TURNOVERS` turnovers of
    steps more in all.  Why: a window opened while the flow still moves from its stalled
    iterate to its unsteady state averages that move: the 0.13 m 20-rack hall, stalled
    at 1,360 outer iterations, stored 0.06, 0.23, 0.60, 1.25, 2.26 and 3.59 % of the
    power over its first six turnovers of steps, its hottest junction's mean rising from
    353.97 to 354.55 K.  The state is a plain dict (``plan["settling"]``), kept with the
    plan in checkpoints."""

    def __init__(self, state: dict):
        self.d = state

    @staticmethod
    def new(turnover: float, tolerance: float) -> dict:
        return {"turnover": float(turnover), "tolerance": float(tolerance),
                "most": EXTRA_SETTLE_TURNOVERS * float(turnover), "extra": 0.0,
                "extensions": 0, "slides": 0, "quarters": [[0.0, 0.0] for _ in range(4)],
                "power": 0.0, "shares": []}

    def _quarter(self, t_end: float, dt: float, start: float) -> int:
        tau = self.d["turnover"]
        return math.floor((t_end - 0.5 * dt - (start - tau)) / (0.25 * tau))

    def wants(self, t_end: float, dt: float, start: float) -> bool:
        """Whether the step of ``dt`` s that ended at ``t_end`` s lies in the settling's
        last turnover before the window's ``start`` (only those steps' results are made:
        on a GPU a result is a copy of the fields to the host)."""
        return self._quarter(t_end, dt, start) >= 0

    def add(self, result: FlowResult, t_end: float, dt: float, start: float) -> None:
        """The step of ``dt`` s that ended at ``t_end`` s, before the window's ``start``."""
        d = self.d
        q = self._quarter(t_end, dt, start)
        if q < 0:
            return                          # before the settling's last turnover
        part = d["quarters"][min(q, 3)]
        part[0] += stored(result.heat_flows, result.total_power) * dt
        part[1] += dt
        d["power"] = float(result.total_power)

    def _more(self, window, span: float) -> None:
        """The window's end, and the plan's settling and iteration limit, ``span`` s on."""
        d, plan = self.d, window.plan
        window.end_time += span
        d["extra"] += span
        if plan is not None:
            plan["settle"] += span
            # the iteration limit grows by the span's share of what it allowed
            plan["limit"] += math.ceil(plan.get("limit_per_s", 0.0) * span)

    def extend(self, window) -> bool:
        """At the window's start (``window``: the steps'
        :class:`~thermosim.flow.unsteady.Window`): open it a turnover later if the last
        turnover's heat drifts (and the extra time allows); that turnover's stored share
        is kept."""
        d = self.d
        parts = [q for q in d["quarters"] if q[1] > 0]
        shares = [q[0] / q[1] / d["power"] for q in parts] if d["power"] else [0.0]
        total = sum(q[0] for q in parts) / max(sum(q[1] for q in parts), 1e-300)
        d["shares"].append(total / d["power"] if d["power"] else 0.0)
        d["quarters"] = [[0.0, 0.0] for _ in range(4)]
        tau = d["turnover"]
        if not stored_drift(shares, d["tolerance"]) or \
                d["extra"] + tau > d["most"] * (1 + 1e-9):
            return False
        window.mean.start += tau
        self._more(window, tau)
        d["extensions"] += 1
        return True

    def slide(self, window) -> bool:
        """At the window's end: slide it a part later if its parts' heat drifts (and the
        extra time allows)."""
        d, mean = self.d, window.mean
        part = mean.window / mean.batches
        if not stored_drift(mean.stored_shares(), d["tolerance"]) or \
                d["extra"] + part > d["most"] * (1 + 1e-9):
            return False
        mean.slide()
        self._more(window, part)
        d["slides"] += 1
        return True


__all__ = ["EXTRA_SETTLE_TURNOVERS", "SETTLED_SHARE", "Settling", "standard_error", "stored",
           "stored_drift"]
