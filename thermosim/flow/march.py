"""March policies: to a steady state, or to an end time, over any stepper.

A march repeats: update the terms' lagged coefficients, choose the step, step, and every
``check_every`` steps measure the residuals, check for divergence, report progress and test
convergence; checkpoints are written when due.  The steady criterion is the scaled rates of
change of velocity and temperature, or with ``energy_tolerance`` the velocity's and the heat
still being stored.
"""

from __future__ import annotations

import math
import time

from ..unconverged import NotSteady, diagnose
from .steppers import RunMode, relative_residuals


#: steps of a steady march over which its residual must at least halve (the quick halls'
#: marches halve it every few hundred steps; the 0.1 m halls' drifted for 16,000)
STALL_PATIENCE = 5000


class StallWatch:
    """Whether a steady run has stalled: the least-squares trend of log10 of its residual
    over the last ``patience`` iterations (or steps) falls by less than half (a trend, not
    the best value: a residual that wiggles would make one low dip look like a stall).
    Counted from ``start``; below ``tolerance`` the velocity has converged and only the
    stored heat is awaited: never a stall.  ``limit``: the run's max_steps."""

    def __init__(self, patience: int, start: int = 0, limit: int = 0):
        self.patience, self.start, self.limit = patience, start, limit
        self.points: list = []

    def stalled(self, steps: int, worst: float, tolerance: float) -> bool:
        if not (worst >= tolerance and math.isfinite(worst)):
            self.points.clear()
            self.start = steps
            return False
        self.points.append((steps, math.log10(worst)))
        while self.points and self.points[0][0] < steps - self.patience:
            self.points.pop(0)
        if steps - self.start < self.patience or len(self.points) < 5:
            return False
        n = len(self.points)
        mx = sum(p[0] for p in self.points) / n
        my = sum(p[1] for p in self.points) / n
        sxx = sum((p[0] - mx) ** 2 for p in self.points)
        slope = sum((p[0] - mx) * (p[1] - my) for p in self.points) / sxx
        return 10.0 ** (slope * self.patience) > 0.5


def march(solver, mode: RunMode, end_time: float | None, max_steps: int, progress,
          check_every: int, checkpoint):
    """Advance ``solver`` (a :class:`~thermosim.flow.solver.FlowSolver`) under ``mode``
    until steady, ``end_time`` (s) or ``max_steps``, or a steady march until it stalls
    (:class:`StallWatch`); returns its result."""
    t0 = time.perf_counter()
    st = solver.stats
    watch = StallWatch(STALL_PATIENCE, st.steps, max_steps)
    while st.steps < max_steps:
        dt = solver.stable_dt(mode)
        if end_time is not None:
            if st.time >= end_time * (1 - 1e-12):
                break
            dt = min(dt, end_time - st.time)
        solver.step(dt, mode)
        if st.steps % check_every == 0 or st.steps == 1:
            scales = solver.scales()
            ru, rt = relative_residuals(solver.rates, scales)
            st.residual_velocity, st.residual_temperature = ru, rt
            st.history.append((st.steps, st.time, ru, rt))
            solver.check_divergence(scales[0])
            if progress is not None:
                progress(st.steps, st.time, ru, rt)
            if mode.steady and end_time is None and st.steps > 2 and \
                    converged(solver, mode, ru, rt):
                st.converged = True
                break
            if mode.steady and end_time is None and watch.stalled(
                    st.steps, max(ru, rt if not mode.energy_tolerance else 0.0),
                    mode.steady_tolerance):
                break
        t0 = save_if_due(solver, checkpoint, t0)
    finish(solver, t0)
    if mode.steady and end_time is None and not st.converged:
        _not_steady(solver, mode, checkpoint, watch=watch)
    if end_time is not None and st.time < end_time * (1 - 1e-12):
        st.stopped = (f"stopped by max_steps ({max_steps:,}) at t = {st.time:.3g} s of "
                      f"{end_time:g} s")
    return solver.result()


def save_if_due(solver, checkpoint, t0: float) -> float:
    """Write a checkpoint if one is due, the wall time so far counted into the stats first
    (a resumed run's total is then right); returns the new start of the wall-time count."""
    if checkpoint is None or not checkpoint.due():
        return t0
    solver.stats.wall_time += time.perf_counter() - t0
    t0 = time.perf_counter()
    checkpoint.save_state(*solver.state())
    return t0


def finish(solver, t0: float) -> None:
    """At a run's end: the pressure solves' mean reduction and the wall time since t0."""
    st = solver.stats
    reduction = solver.model.pressure.mean_reduction()
    if reduction:
        st.pressure_reduction = reduction
    st.wall_time += time.perf_counter() - t0


def converged(solver, mode: RunMode, ru: float, rt: float) -> bool:
    """Whether the residuals ru, rt (and, with an energy tolerance, the heat still stored)
    meet ``mode``'s steady criteria."""
    tol = mode.steady_tolerance
    if not mode.energy_tolerance:
        return max(ru, rt) < tol
    if ru >= tol:
        return False
    solver.stats.stored_fraction = solver.stored_fraction()
    return solver.stats.stored_fraction < mode.energy_tolerance


def not_steady(solver, mode: RunMode, checkpoint, unit: str = "steps",
               watch: StallWatch | None = None) -> None:
    """No steady state within the iteration limit (``unit``: what ``stats.steps`` counts,
    ``steps`` of the march or ``outer iterations``): keep the state reached (a larger
    max_steps continues from it; max_steps is not part of the checkpoint's fingerprint),
    diagnose the residual history ``solver.stats.history`` (rows step, time s, velocity
    and temperature residuals) against ``mode``'s tolerances, mark the stats unconverged
    (``stalled``, ``stall``) and raise :class:`~thermosim.unconverged.NotSteady` with the
    last iteration's result, the equation that stalled and what to change (``watch``: the
    run's stall watch, when it stopped the run early)."""
    st = solver.stats
    path = None
    if checkpoint is not None:
        path = str(checkpoint.save_state(*solver.state()))
    stored = st.stored_fraction
    if mode.energy_tolerance:
        # measured at the last check only when the velocity had converged: measure it now
        stored = solver.stored_fraction()
        st.stored_fraction = stored
    stall = diagnose(st.history, mode.steady_tolerance, mode.energy_tolerance, stored,
                     st.residual_velocity, st.residual_temperature, st.steps, unit,
                     getattr(solver, "advection", ""), getattr(solver, "cfl", None))
    st.stall = stall.as_dict(path)
    st.stalled = stall.describe()
    early = ""
    if watch is not None and st.steps < watch.limit:
        early = (f" (stopped early: the residual's trend did not halve over the last "
                 f"{watch.patience:,} {unit}; more of them would not help)")
        st.stall["stopped_early"] = True
        other = "march" if unit == "outer iterations" else "simplec"
        st.stall["advice"] = ("if the flow is unsteady (plumes, shedding), run it as a "
                              "transient (flow.end_time) and average; or try flow.method: "
                              f"{other}; or refine the grid where the velocity is largest")
    raise NotSteady(f"no steady state after {st.steps:,} {unit}{early}: {st.stalled}: "
                    f"{st.stall['advice']}", solver.result(), stall, path)


#: the name the march has called it by
_not_steady = not_steady


__all__ = ["march", "not_steady"]
