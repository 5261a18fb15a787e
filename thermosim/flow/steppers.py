"""Time steppers over a flow model's tendencies and projection.

One step is Heun's method, the two-stage strong-stability-preserving Runge-Kutta scheme:
each stage advances the temperature, predicts the face velocities and projects them; the
new state is the mean of the start and the second stage.  A stage's diffusion is explicit
(second order in time) or implicit (:mod:`thermosim.flow.implicit`; its step set by
advection alone, first order: for steady marches).  What a step does differently in a
steady march (capacities, local time steps of the energy equation, the pressure floor) comes
in as a :class:`StepPlan`, never as flags on the model.
"""

from __future__ import annotations

import math

from dataclasses import dataclass, field

DIFFUSION = ("auto", "implicit", "explicit")


@dataclass
class FlowState:
    """The fields a run advances: face velocities ``vel`` (m/s, three staggered padded
    arrays), temperature ``T`` (K) and kinematic pressure ``phi`` (m^2/s^2), padded."""

    vel: list
    T: object
    phi: object


@dataclass(frozen=True)
class RunMode:
    """How a run treats time.  ``steady_tolerance`` None: time-accurate (a transient, or
    steps called one by one); else a steady march to that residual, with
    ``energy_tolerance`` (the heat still being stored, as a fraction of the power) and
    ``local_energy`` (local time steps in the energy equation, for room-scale cases)."""

    steady_tolerance: float | None = None
    energy_tolerance: float | None = None
    local_energy: bool = False

    @property
    def steady(self) -> bool:
        return self.steady_tolerance is not None


#: steps called one at a time, and transients
TIME_ACCURATE = RunMode()


@dataclass
class StepPlan:
    """What one step does: ``implicit`` diffusion or not, the inverse heat capacities
    ``inv_C`` (1/(J/K), padded) the energy equation steps with, and the run's mode."""

    implicit: bool
    inv_C: object
    mode: RunMode = field(default=TIME_ACCURATE)


class DiffusionChoice:
    """How diffusion is treated step by step: ``implicit``, ``explicit``, or ``auto``: in a
    steady march whichever covers more time per unit of work (implicit once its step is 4x
    the explicit one, back below 2x: no flapping); explicit otherwise."""

    def __init__(self, setting: str):
        self.setting = setting
        self.implicit = setting == "implicit"

    def start(self, mode: RunMode) -> None:
        """At the start of a run: ``auto`` steady marches start from the treatment of the
        last step (kept in checkpoints); time-accurate runs start explicit."""
        if self.setting == "auto" and not mode.steady:
            self.implicit = False

    def finish(self) -> None:
        """After a run: steps called directly are explicit again (with ``auto``)."""
        if self.setting == "auto":
            self.implicit = False

    def step_length(self, model, state: FlowState, mode: RunMode) -> float:
        """The stable step (s) under this treatment, choosing it first under ``auto``."""
        choose = self.setting == "auto" and mode.steady
        dt_explicit, dt_implicit = model.step_limits(state.vel, state.T, mode.steady,
                                                     acceleration=self.implicit or choose)
        if choose:
            # an implicit step costs about three explicit ones (eight diffusion solves; the
            # 16^3 air channel of benchmarks/flow_step.py: 9.5 against 3.0 ms), so it is
            # taken once its step is 4x longer, and left below 2x
            gain = dt_implicit / dt_explicit
            self.implicit = gain > (2.0 if self.implicit else 4.0)
        return dt_implicit if self.implicit else dt_explicit


class Heun:
    """Heun's two-stage step over ``model``; owns the stage work arrays."""

    def __init__(self, model):
        self.model = model
        be, dt_, pad = model.be, model.dtype, model.mesh.padded
        self.vel1 = [be.zeros(pad, dt_) for _ in range(3)]
        self.velw = [be.zeros(pad, dt_) for _ in range(3)]
        self.T1 = be.zeros(pad, dt_)
        self.Tw = be.zeros(pad, dt_)

    def step(self, state: FlowState, dt: float, plan: StepPlan) -> tuple[float, float]:
        """Advance ``state`` by ``dt`` (s) in place; returns the rates of change
        (max |du/dt| in m/s^2, max |dT/dt| in K/s) over the step."""
        m, be = self.model, self.model.be
        v0, T0, phi = state.vel, state.T, state.phi
        v1, T1, vw, Tw = self.vel1, self.T1, self.velw, self.Tw
        if plan.implicit:
            m.implicit.prepare(dt)
            energy, momentum = m.energy_implicit, m.momentum_implicit
        else:
            energy, momentum = m.energy_explicit, m.momentum_explicit
        incremental = plan.implicit or m.incremental
        tol = plan.mode.steady_tolerance
        # the projection moves a face behind a sink k as the point-implicit sink lets the
        # pressure move it, by dt / (1 + dt k): with dt alone the pressure took 1 + dt k
        # steps to balance the sink, unseen where closed sides pin the velocity (a tank's
        # servers: its march stopped 4 % short of the drop).  dt on a ladder of 2^(1/4):
        # the operator is rebuilt only when dt changes rung.
        m.pressure.behind_sinks(m.linear_sinks, 2.0 ** (math.floor(4.0 * math.log2(dt)) / 4.0),
                                "march")
        # stage 1
        energy(T0, v0, dt, T1, plan.inv_C)
        m.hold(T1)
        momentum(v0, T0, phi, dt, v1)
        m.pressure.project(v1, phi, dt, incremental, tol)
        m.apply_bc(v1, T1)
        # stage 2: w = v1 + dt F(v1), projected; v_new = (v0 + w) / 2
        energy(T1, v1, dt, Tw, plan.inv_C)
        m.hold(Tw)
        momentum(v1, T1, phi, dt, vw)
        m.pressure.project(vw, phi, dt, incremental, tol)
        m.apply_bc(vw, Tw)
        du = m.arch.max(max(be.max_abs_diff(vw[c], v0[c]) for c in range(3))) * 0.5
        dT = m.arch.max(be.max_abs_diff(Tw, T0)) * 0.5
        for c in range(3):
            be.lincomb(v0[c], 0.5, v0[c], 0.5, vw[c])
        be.lincomb(T0, 0.5, T0, 0.5, Tw)
        m.apply_bc(v0, T0)
        return du / dt, dT / dt


def relative_residuals(rates, scales) -> tuple[float, float]:
    """The steady residuals: max |du/dt| L / U^2 and max |dT/dt| L / (U dT) (0 with no
    temperature differences anywhere: the energy equation is idle)."""
    U, L, dT = scales
    ru = rates[0] * L / (U * U)
    rt = rates[1] * L / (U * dT) if dT > 1e-9 else 0.0
    return ru, rt


__all__ = ["DIFFUSION", "DiffusionChoice", "FlowState", "Heun", "RunMode", "StepPlan",
           "TIME_ACCURATE", "relative_residuals"]
