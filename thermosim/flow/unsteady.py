"""Implicit time steps, and time averages of flows that have no steady state.

A refined hall or tank often has no steady state: jets flap, plumes meander.  Its steady
iterations then stall however long they run, and their last iterate is one instant of a
wandering flow, not an answer.  What an engineer wants of such a flow is its time mean: the
mean junction temperatures, fan powers and heat flows over a window long enough to hold
several of its turnovers, with how far that mean is still from settled.

**Implicit steps** (dual time): each physical step ``dt`` solves the backward-Euler
equations ``(u - u_n) / dt = R(u)``, ``C (T - T_n) / dt = Q(T, u)`` by the steady solver's
own outer iterations (:class:`~thermosim.flow.outer.OuterIteration`), the time derivative
added to the residuals and ``1 / dt`` to the operators' diagonals.  So a step may be far
longer than the explicit march's stable one (the halls' eddy viscosity bounds that to
1e-4 s); it is first order in time, which a test measures.  Heat is stored with the
physical capacities.

**The time mean** (:class:`TimeMean`): every step's result (fields, heat flows, the
components' figures: fans, chips, coolers) is averaged over the window, weighted by its
step, in ``batches`` consecutive parts.  The parts' spread is the statistical uncertainty
of the mean (batch means: Law & Kelton, Simulation Modeling and Analysis, 4th ed. (2007),
sec. 9.5.3): the standard error is their standard deviation over sqrt(batches).

**After a stall** (``flow.unsteady: average``): a steady run that stops without a steady
state continues from its last iterate with implicit steps for a settling time and then a
window (by default two and four turnover times ``L / U_mean``, ``U_mean`` the mean speed
of the fluid), and its result is the window's mean, marked time-averaged.  The window
opens later, and slides later, while the heat the flow stores drifts part after part
(:mod:`.settling`), and a window still drifting at the end is said to be.
"""

from __future__ import annotations

import json
import math
import time

import numpy as np

from ..unconverged import NotSteady, Stall
from .march import converged, finish, save_if_due
from .outer import OuterIteration, default_relax
from .result import FlowResult
from .settling import SETTLED_SHARE, Settling, standard_error, stored, stored_drift
from .steppers import FlowState, relative_residuals

#: outer iterations of one implicit step at most, and the factor by which they reduce the
#: step's residual before it is taken as solved (measured on the started channel: 1e-2
#: keeps the time error first order down to a hundredth of the viscous time)
INNER = 10
REDUCTION = 1e-2
#: parts of an averaging window, for the mean's standard error
BATCHES = 4
#: turnover times of a settling time and of an averaging window after a stall
SETTLE_TURNOVERS = 2.0
WINDOW_TURNOVERS = 4.0
#: energy updates at the stalled flow before the steps, at most (:func:`settle_heat`)
HEAT_UPDATES = 500


def _mean(items):
    """The weighted mean of ``items`` ((value, weight) pairs) of like structure: numbers and
    arrays averaged, dicts and equal-length lists by their entries; a flag is set if it
    was set at any time (a chip over its limit for part of the window is over it); text
    and anything else: the latest."""
    last = items[-1][0]
    if isinstance(last, dict):
        return {k: _mean([(v[k], w) for v, w in items if isinstance(v, dict) and k in v])
                for k in last}
    if isinstance(last, (list, tuple)):
        if all(isinstance(v, (list, tuple)) and len(v) == len(last) for v, _ in items):
            out = [_mean([(v[i], w) for v, w in items]) for i in range(len(last))]
            return type(last)(out) if isinstance(last, tuple) else out
        return last
    if isinstance(last, (bool, np.bool_)):
        return any(bool(v) for v, _ in items)
    if isinstance(last, (int, float, np.integer, np.floating, np.ndarray)):
        if not isinstance(last, np.ndarray) and all(v == last for v, _ in items):
            return last                     # constant (counts, flows held by a term)
        total = sum(w for _, w in items)
        return sum(np.asarray(v, float) * w for v, w in items) / total if total else last
    return last


class TimeMean:
    """The time mean of a run's results over ``window`` s from ``start`` s, in ``batches``
    consecutive equal parts (:func:`standard_error`)."""

    FIELDS = ("u", "v", "w", "phi", "T")

    def __init__(self, start: float, window: float, batches: int = BATCHES):
        self.start, self.window, self.batches = start, window, batches
        self.sums = [None] * batches            # per part: the fields times their steps
        self.samples = [[] for _ in range(batches)]   # (heat flows, power, figures), dt
        self.weights = [0.0] * batches
        self.steps = 0

    def add(self, result: FlowResult, t_end: float, dt: float) -> None:
        """The result of the step of ``dt`` s that ended at ``t_end`` s."""
        frac = (t_end - 0.5 * dt - self.start) / self.window
        b = min(max(int(frac * self.batches), 0), self.batches - 1)
        fields = [getattr(result, f) for f in self.FIELDS]
        if self.sums[b] is None:
            self.sums[b] = [f * dt for f in fields]
        else:
            for s, f in zip(self.sums[b], fields):
                s += f * dt
        self.samples[b].append(((result.heat_flows, result.total_power, result.components),
                                dt))
        self.weights[b] += dt
        self.steps += 1

    def stored_shares(self) -> list:
        """Each part's heat stored (its power less what leaves, mean over the part) over
        the power."""
        out = []
        for part in self.samples:
            span = sum(dt for _, dt in part)
            if span > 0:
                heat = sum(stored(flows, power) * dt for (flows, power, _), dt in part)
                power = part[-1][0][1]
                out.append(heat / span / power if power else 0.0)
        return out

    def slide(self) -> float:
        """Move the window a part later: the first part dropped, an empty one after the
        last; returns the part's length (s)."""
        part = self.window / self.batches
        self.start += part
        self.steps -= len(self.samples[0])
        self.sums = self.sums[1:] + [None]
        self.samples = self.samples[1:] + [[]]
        self.weights = self.weights[1:] + [0.0]
        return part

    def _result(self, template: FlowResult, sums, samples, weight, stats) -> FlowResult:
        flows, power, comps = _mean(samples)
        f = [s / weight for s in sums]
        r = FlowResult(template.problem, *f, template.fluid, stats, template.backend,
                       template.device, flows, power, template.block_index)
        r.components = comps
        return r

    def result(self, template: FlowResult, stats) -> FlowResult:
        """The window's mean as a result (``template``: the last step's, for what does not
        change), with ``batches``: each part's mean."""
        parts = [i for i in range(self.batches) if self.sums[i] is not None]
        batches = [self._result(template, self.sums[i], self.samples[i], self.weights[i],
                                stats) for i in parts]
        total = sum(self.weights[i] for i in parts)
        sums = [sum(self.sums[i][k] for i in parts) for k in range(len(self.FIELDS))]
        samples = [s for i in parts for s in self.samples[i]]
        r = self._result(template, sums, samples, total, stats)
        r.batches = batches
        return r


def _plain(x):
    """A checkpoint's JSON of a mean's samples: NumPy scalars and arrays as numbers and
    lists."""
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"{type(x).__name__} in a time mean's samples")


class Window:
    """What a checkpoint taken during implicit steps keeps beside the fields, so that a
    resumed run takes the same steps into the same mean: the step and the end (s), the
    steps taken and those left unsolved, the mean so far (a :class:`TimeMean`, or None),
    and after a stall the ``plan`` of the mean (its settling and window, the turnover
    time, the stall)."""

    ATTR = "implicit_window"

    def __init__(self, dt_step: float, end_time: float, mean: TimeMean | None = None,
                 plan: dict | None = None):
        self.dt_step, self.end_time, self.mean, self.plan = dt_step, end_time, mean, plan
        self.taken = 0
        self.unsolved = 0

    def state(self) -> tuple[dict, dict]:
        """(arrays, attributes) for :meth:`FlowSolver.state`."""
        info = {"dt_step": self.dt_step, "end_time": self.end_time, "taken": self.taken,
                "unsolved": self.unsolved, "plan": self.plan}
        arrays = {}
        m = self.mean
        if m is not None:
            info["mean"] = {"start": m.start, "window": m.window, "batches": m.batches,
                            "weights": m.weights, "steps": m.steps, "samples": m.samples}
            for b, sums in enumerate(m.sums):
                for f, a in zip(TimeMean.FIELDS, sums or ()):
                    arrays[f"mean_{b}_{f}"] = a
        return arrays, {self.ATTR: json.dumps(info, default=_plain)}

    @classmethod
    def from_state(cls, arrays: dict, attrs: dict) -> Window | None:
        """The window a checkpoint was taken in (None: not in implicit steps)."""
        if cls.ATTR not in attrs:
            return None
        info = json.loads(str(attrs[cls.ATTR]))
        mean = None
        if info.get("mean") is not None:
            d = info["mean"]
            mean = TimeMean(d["start"], d["window"], d["batches"])
            mean.weights, mean.steps = list(d["weights"]), int(d["steps"])
            mean.samples = [[(sample, w) for sample, w in part] for part in d["samples"]]
            mean.sums = [[np.asarray(arrays[f"mean_{b}_{f}"]) for f in TimeMean.FIELDS]
                         if f"mean_{b}_u" in arrays else None for b in range(mean.batches)]
        w = cls(float(info["dt_step"]), float(info["end_time"]), mean, info.get("plan"))
        w.taken, w.unsolved = int(info["taken"]), int(info["unsolved"])
        return w


def turnover_time(solver) -> float:
    """L / U_mean (s): the domain's longest side over the mean speed of its fluid (cell
    centres, volume-weighted): the time in which the bulk of the flow crosses it."""
    r = solver.result()
    g = r.grid
    speed = np.sqrt((r.cell_velocity() ** 2).sum(axis=0))
    vol = g.cell_volumes() * r.fluid
    U = float((speed * vol).sum() / max(vol.sum(), 1e-300))
    L = max(float(g.x[-1] - g.x[0]), float(g.y[-1] - g.y[0]), float(g.z[-1] - g.z[0]))
    U_scale = solver.scales()[0]
    return L / max(U, 1e-6 * U_scale, 1e-30)


class ImplicitSteps:
    """Backward-Euler steps of a flow solver by outer iterations (see the module's text)."""

    def __init__(self, solver, relax: float | None = None, sweeps: int = 2,
                 inner: int = INNER, reduction: float = REDUCTION):
        self.solver = solver
        relax = default_relax(solver.problem) if relax is None else relax
        self.it = OuterIteration(solver.model, relax, sweeps)
        self.it.just_enough = False     # a step's pressure to the march's tolerance
        self.inner, self.reduction = inner, reduction
        st = solver.state_
        self.old = FlowState([v.copy() for v in st.vel], st.T.copy(), st.phi.copy())
        self.iterations = 0             # outer iterations of all steps
        self.steady_rates = None        # the steady residuals at the last step's start
        self.unsolved = 0               # steps that ended at the limit of outer iterations

    def natural_step(self) -> float:
        """The pseudo-step the steady iterations take (s): relax L / U."""
        U, L, _ = self.solver.model.scales(self.solver.vel, self.solver.T)
        U = max(U, math.sqrt(self.solver.model.acceleration(self.solver.T) * L))
        return self.it.relax * L / U

    def step(self, dt: float, tolerance: float) -> tuple[float, float, int]:
        """One step of ``dt`` s; returns its residuals (relative, at the start of its last
        outer iteration) and the outer iterations it took."""
        s, it, old = self.solver, self.it, self.old
        _copy(old, s.state_)
        it.step, it.old = dt, old
        first, ru, rt, k = None, math.inf, math.inf, 0
        try:
            for k in range(1, self.inner + 1):
                s.model.update(s.vel, s.T)
                it.extrapolate = k == 1
                rates = it.iterate(s.state_, tolerance)
                ru, rt = relative_residuals(rates, s.scales())
                worst = max(ru, rt)
                if first is None:
                    first = worst
                    # the step starts where the last ended: no time derivative yet, so
                    # these are the steady residuals
                    self.steady_rates = (ru, rt)
                elif worst <= max(self.reduction * first, 0.1 * tolerance):
                    break
            else:
                self.unsolved += 1
        except KeyboardInterrupt:
            # a step cut short is no step: its start is what a checkpoint saves
            self.undo()
            raise
        finally:
            it.step, it.old, it.extrapolate = None, None, True
        self.iterations += k
        s.rates = rates
        return ru, rt, k

    def undo(self) -> None:
        """Back to the state the last step started from."""
        _copy(self.solver.state_, self.old)


def _copy(dst, src) -> None:
    """dst's fields = src's (two FlowStates of one mesh), in place."""
    for c in range(3):
        dst.vel[c][...] = src.vel[c]
    dst.T[...] = src.T
    dst.phi[...] = src.phi


def implicit_transient(solver, end_time: float, time_step: float | None, tolerance: float,
                       max_iterations: int, progress, check_every: int, checkpoint,
                       relax: float | None = None, sweeps: int = 2,
                       average_from: float | None = None, batches: int = BATCHES,
                       steady=None, resume: Window | None = None, plan: dict | None = None):
    """March ``solver`` to ``end_time`` (s) in implicit steps of ``time_step`` s (None: the
    steady iterations' pseudo-step, relax L / U at the start, at most a fiftieth of the
    turnover time, and at least what takes 400 steps to the end); the result at the end,
    or with ``average_from`` (s) the mean over [average_from, end_time].  ``tolerance``:
    of each step's residuals.  ``max_iterations`` bounds the outer iterations.
    ``steady`` (a RunMode): stop, converged, where a step starts from a state that meets
    its steady criteria (a flow that had seemed unsteady settles after all).  The steps
    and the mean so far travel with the solver's checkpoints (``solver.window``, a
    :class:`Window`, with ``plan``: the mean's after a stall); ``resume``: a checkpoint's
    window, continued."""
    t0 = time.perf_counter()
    st = solver.stats
    steps = ImplicitSteps(solver, relax, sweeps)
    if resume is not None:
        window = resume
        steps.unsolved = window.unsolved
    else:
        if time_step is None:
            # the steady iterations' pseudo-step, but at least 50 steps a turnover and 20
            # to the end, and at most 400 to the end
            span = end_time - st.time
            dt_step = max(min(steps.natural_step(), turnover_time(solver) / 50.0,
                              span / 20.0), span / 400.0)
        else:
            dt_step = float(time_step)
        window = Window(dt_step, end_time, None if average_from is None else
                        TimeMean(average_from, end_time - average_from, batches), plan)
    dt_step, mean = window.dt_step, window.mean
    st.diffusion = "implicit"
    st.unit = "outer iterations"
    # (left set where the steps are interrupted: the run's Ctrl-C handler saves it)
    solver.window = window
    last = _steps(solver, steps, window, tolerance, max_iterations, progress, check_every,
                  checkpoint, average_from, steady, t0)
    solver.window = None
    if mean is None or mean.steps == 0 or st.converged:
        return last
    st.averaged = {"from": float(mean.start), "to": float(st.time),
                   "window": float(st.time - mean.start), "steps": mean.steps,
                   "time_step": dt_step, "batches": sum(w > 0 for w in mean.weights),
                   # steps whose residual had not fallen a hundredfold at their limit of
                   # outer iterations, settling included: a mean of under-solved steps
                   "unsolved": steps.unsolved, "all_steps": window.taken}
    return mean.result(last, st)


def _steps(solver, steps: ImplicitSteps, window: Window, tolerance: float,
           max_iterations: int, progress, check_every: int, checkpoint, average_from,
           steady, t0: float):
    """:func:`implicit_transient`'s steps to ``window.end_time``; returns the last state's
    result."""
    st = solver.stats
    dt_step, mean = window.dt_step, window.mean
    plan = window.plan or {}
    settling = Settling(plan["settling"]) if plan.get("settling") and mean is not None \
        else None
    while st.time < window.end_time * (1 - 1e-12) and \
            st.steps < plan.get("limit", max_iterations):
        end_time = window.end_time          # (a settling that goes on moves it, and the
        #                                     plan's iteration limit with it)
        dt = min(dt_step, end_time - st.time)
        ru, rt, k = steps.step(dt, tolerance)
        if steady is not None and steps.steady_rates is not None and \
                converged(solver, steady, *steps.steady_rates):
            # the step started from a steady state: undo it and stop there
            steps.undo()
            st.steps += k
            st.residual_velocity, st.residual_temperature = steps.steady_rates
            st.converged = True
            st.stored_fraction = solver.stored_fraction()
            st.history.append((st.steps, st.time, *steps.steady_rates))
            break
        st.time += dt
        st.dt = dt
        before = st.steps
        st.steps += k
        st.residual_velocity, st.residual_temperature = ru, rt
        solver.check_divergence(solver.scales()[0])
        # the step's account is complete before anything can interrupt the run (the
        # progress callback, a checkpoint): a resumed run neither repeats nor loses it
        eps = 1e-12 * end_time
        r = None
        if settling is not None and st.time - dt < mean.start - eps:
            # a settling step: at the one that reaches the window, settled or not
            if settling.wants(st.time, dt, mean.start):
                r = solver.result()
                settling.add(r, st.time, dt, mean.start)
            if st.time > mean.start - eps:
                settling.extend(window)
        if mean is not None and st.time > mean.start + eps:
            mean.add(solver.result() if r is None else r, st.time, dt)
            if settling is not None and st.time > window.end_time - eps:
                settling.slide(window)      # (the loop goes on where it slid)
        window.taken += 1
        window.unsolved = steps.unsolved
        if st.steps // check_every != before // check_every or before == 0:
            st.history.append((st.steps, st.time, ru, rt))
            if progress is not None:
                progress(st.steps, st.time, ru, rt)
        t0 = save_if_due(solver, checkpoint, t0)
    finish(solver, t0)
    if st.time < window.end_time * (1 - 1e-12):
        st.stopped = (f"stopped by max_steps ({plan.get('limit', max_iterations):,} outer "
                      "iterations) at "
                      f"t = {st.time:.3g} s of {window.end_time:g} s")
    return solver.result()


def settle_heat(solver, mode, relax: float | None = None, sweeps: int = 2) -> tuple:
    """The steady energy updates (:meth:`OuterIteration._energy_update`, the solids'
    conduction cycle included) at the stalled flow until the heat still stored meets the
    steady criterion (``mode.energy_tolerance``) or :data:`HEAT_UPDATES`; returns (the
    updates, the stored fraction reached).  Why: a window opened on solids still warming
    averages their warming (a heated block after a stall, tests/test_unsteady.py: 1.9 % of
    its power stored over the window without these updates, 0.07 % with).  Solids settle
    over far longer than the air's two turnovers the steps settle for; the steady updates
    take pseudo-steps thirty times the momentum's.  (The 0.13 m 20-rack hall needed 10 and
    its window was unchanged: what it still stored there was the flow's move.)  The flow
    is frozen, so its lagged terms (eddy viscosity, fan curves: functions of the
    velocity alone) are updated once."""
    if not mode.energy_tolerance:
        return 0, math.nan
    it = OuterIteration(solver.model, default_relax(solver.problem) if relax is None
                        else relax, sweeps)
    U, L, _ = solver.model.scales(solver.vel, solver.T)
    pseudo = it.relax * L / max(U, math.sqrt(solver.model.acceleration(solver.T) * L))
    n, frac = 0, solver.stored_fraction()
    solver.model.update(solver.vel, solver.T)
    while n < HEAT_UPDATES and not frac < mode.energy_tolerance:
        it._energy_update(solver.state_, pseudo)
        n += 1
        if n % 10 == 0:
            frac = solver.stored_fraction()
    return n, frac


def average_after_stall(solver, stalled, mode, max_iterations: int, progress,
                        check_every: int, checkpoint, relax: float | None = None,
                        sweeps: int = 2, window: float | None = None,
                        time_step: float | None = None, batches: int = BATCHES,
                        resume: Window | None = None) -> FlowResult:
    """Continue a steady run that found no steady state (``stalled``: its
    :class:`~thermosim.unconverged.NotSteady`) with implicit steps for a settling
    time of half the ``window`` (s; None: four turnover times, :func:`turnover_time`) and
    then the window, and return the window's mean, marked time-averaged
    (``stats.averaged``; ``stats.stalled`` is kept: the steady state was not found).
    ``mode``: the steady run's (its tolerance each step's residual target; a step that
    starts from a state meeting its criteria ends the run there, steady after all); the
    steps may take ``max_iterations`` outer iterations more (at least 2,000); where they end
    before the window begins, ``stalled`` is raised again, with the state reached.
    ``resume``: the window of a checkpoint taken during the steps (``stalled`` None: the
    stall is the plan's)."""
    st = solver.stats
    if resume is not None:
        plan = resume.plan
        st.stalled, st.stall = plan["stalled"], plan["stall"]
        stalled = NotSteady(plan["message"], None, Stall.from_dict(plan["stall"]),
                            plan["checkpoint"])
    else:
        heat = settle_heat(solver, mode, relax, sweeps)
        tau = turnover_time(solver)
        window = WINDOW_TURNOVERS * tau if window is None else float(window)
        plan = {"start": st.time, "settle": window * SETTLE_TURNOVERS / WINDOW_TURNOVERS,
                "window": window, "turnover": tau, "after": st.steps,
                "limit": st.steps + max(max_iterations, 2000), "message": str(stalled),
                "stalled": st.stalled, "stall": st.stall, "checkpoint": stalled.checkpoint,
                "heat_updates": heat[0],
                "settling": Settling.new(tau, mode.energy_tolerance or SETTLED_SHARE)}
        plan["limit_per_s"] = (plan["limit"] - st.steps) / (plan["settle"] + window)
    start, settle, window = plan["start"], plan["settle"], plan["window"]
    tau, steady_steps = plan["turnover"], plan["after"]
    r = implicit_transient(solver, start + settle + window, time_step,
                           mode.steady_tolerance, plan["limit"], progress, check_every,
                           checkpoint, relax, sweeps, average_from=start + settle,
                           batches=batches, steady=mode, resume=resume, plan=plan)
    if st.converged:
        # steady after all (the steps settled it): no stall, no mean
        st.stalled, st.stall, st.averaged = "", {}, {}
        return r
    settle = plan["settle"]                 # (longer where the settling went on)
    if not st.averaged:
        raise NotSteady(f"{stalled}; and its implicit steps ended at the iteration limit "
                        f"before the averaging window began (t = {st.time - start:.4g} s of "
                        f"{settle:.4g} s settling)", r, stalled.stall, stalled.checkpoint)
    settling = plan.get("settling") or {}
    st.averaged = {**st.averaged, "settle": settle, "turnover": tau, "after": steady_steps,
                   "iterations": st.steps - steady_steps,
                   "heat_updates": int(plan.get("heat_updates", 0)),
                   "settle_extensions": int(settling.get("extensions", 0)),
                   "window_slides": int(settling.get("slides", 0)),
                   "settled_share": float(settling.get("tolerance", SETTLED_SHARE)),
                   "settling_share": float((settling.get("shares") or [math.nan])[-1]),
                   "stored_share": _stored_share(r)}
    parts = [_stored_share(b) for b in r.batches]
    st.averaged["stored_share_error"] = standard_error(parts)
    st.averaged["drifting"] = stored_drift(parts, st.averaged["settled_share"])
    return r


def _stored_share(r: FlowResult) -> float:
    """The heat a result stores over its power."""
    return float(stored(r.heat_flows, r.total_power) / r.total_power) if r.total_power \
        else 0.0


__all__ = ["ImplicitSteps", "TimeMean", "Window", "average_after_stall",
           "implicit_transient", "standard_error", "turnover_time"]
