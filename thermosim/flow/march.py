"""March policies: to a steady state, or to an end time, over any stepper.

A march repeats: update the terms' lagged coefficients, choose the step, step, and every
``check_every`` steps measure the residuals, check for divergence, report progress and test
convergence; checkpoints are written when due.  The steady criterion is the scaled rates of
change of velocity and temperature, or with ``energy_tolerance`` the velocity's and the heat
still being stored.
"""

from __future__ import annotations

import time

from ..errors import SolverError
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
                    _converged(solver, mode, ru, rt):
                st.converged = True
                break
        if checkpoint is not None and checkpoint.due():
            st.wall_time += time.perf_counter() - t0
            t0 = time.perf_counter()
            checkpoint.save_state(*solver.state())
    reduction = solver.model.pressure.mean_reduction()
    if reduction:
        st.pressure_reduction = reduction
    st.wall_time += time.perf_counter() - t0
    if mode.steady and end_time is None and not st.converged:
        _not_steady(solver, mode, checkpoint)
    if end_time is not None and st.time < end_time * (1 - 1e-12):
        st.stopped = (f"stopped by max_steps ({max_steps:,}) at t = {st.time:.3g} s of "
                      f"{end_time:g} s")
    return solver.result()


def _converged(solver, mode: RunMode, ru: float, rt: float) -> bool:
    tol = mode.steady_tolerance
    if not mode.energy_tolerance:
        return max(ru, rt) < tol
    if ru >= tol:
        return False
    solver.stats.stored_fraction = solver.stored_fraction()
    return solver.stats.stored_fraction < mode.energy_tolerance


def _not_steady(solver, mode: RunMode, checkpoint) -> None:
    """No steady state within max_steps: keep the state reached (a larger max_steps
    continues from it; max_steps is not part of the checkpoint's fingerprint) and say what
    to change."""
    st = solver.stats
    more = "raise flow.max_steps"
    if checkpoint is not None:
        path = checkpoint.save_state(*solver.state())
        more = (f"raise flow.max_steps and rerun with --resume to continue from step "
                f"{st.steps} (saved in {path})")
    raise SolverError(f"no steady state after {st.steps} steps (velocity residual "
                      f"{st.residual_velocity:.1e}, temperature "
                      f"{st.residual_temperature:.1e}, tolerance "
                      f"{mode.steady_tolerance:.0e}): {more}, or, if the flow is unsteady, "
                      "run it as a transient (flow.end_time)")


__all__ = ["march"]
