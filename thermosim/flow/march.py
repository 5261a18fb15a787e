"""March policies: to a steady state, or to an end time, over any stepper.

A march repeats: update the terms' lagged coefficients, choose the step, step, and every
``check_every`` steps measure the residuals, check for divergence, report progress and test
convergence; checkpoints are written when due.  The steady criterion is the scaled rates of
change of velocity and temperature, or with ``energy_tolerance`` the velocity's and the heat
still being stored.
"""

from __future__ import annotations

import time

from ..unconverged import NotSteady, diagnose
from .steppers import RunMode, relative_residuals


def march(solver, mode: RunMode, end_time: float | None, max_steps: int, progress,
          check_every: int, checkpoint):
    """Advance ``solver`` (a :class:`~thermosim.flow.solver.FlowSolver`) under ``mode``
    until steady, ``end_time`` (s) or ``max_steps``; returns its result."""
    t0 = time.perf_counter()
    st = solver.stats
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
        t0 = save_if_due(solver, checkpoint, t0)
    finish(solver, t0)
    if mode.steady and end_time is None and not st.converged:
        _not_steady(solver, mode, checkpoint)
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


def not_steady(solver, mode: RunMode, checkpoint, unit: str = "steps") -> None:
    """No steady state within the iteration limit (``unit``: what ``stats.steps`` counts,
    ``steps`` of the march or ``outer iterations``): keep the state reached (a larger
    max_steps continues from it; max_steps is not part of the checkpoint's fingerprint),
    diagnose the residual history ``solver.stats.history`` (rows step, time s, velocity
    and temperature residuals) against ``mode``'s tolerances, mark the stats unconverged
    (``stalled``, ``stall``) and raise :class:`~thermosim.unconverged.NotSteady` with the
    last iteration's result, the equation that stalled and what to change."""
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
    raise NotSteady(f"no steady state after {st.steps:,} {unit}: {st.stalled}: "
                    f"{st.stall['advice']}", solver.result(), stall, path)


#: the name the march has called it by
_not_steady = not_steady


__all__ = ["march", "not_steady"]
