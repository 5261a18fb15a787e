"""A flow-and-heat run: a model, its state, a stepper and a march, behind one object.

Build a :class:`FlowSolver`, then :meth:`~FlowSolver.run` (to a steady state or an end
time) or :meth:`~FlowSolver.step`; :meth:`~FlowSolver.result` gives the fields and the
figures.  Units: SI throughout; ``phi`` is the kinematic pressure p / rho (m^2/s^2).
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from ..errors import CaseError, Interrupted, SolverError, names_case_file
from ..parallel import SERIAL
from ..unconverged import NotSteady
from .march import march
from .fas import solve_cycles, suits
from .retry import solve_steady_or_retry
from .model import FlowModel
from .report import StoredHeat, flow_result
from .result import FlowResult, FlowStats
from .unsteady import Window, average_after_stall, implicit_transient
from .steppers import (DIFFUSION, TIME_ACCURATE, DiffusionChoice, FlowState, Heun, RunMode,
                       StepPlan)

#: a fan-driven flow has run away once its fastest face moves this many times faster than
#: the fastest speed any of its fans can drive (:meth:`~thermosim.components.Fan.
#: driving_speed`).  Measured, the largest speed at the checks over the outer iterations
#: of the halls that converge, over it (issue 19, stop 46): 0.23 (quick air and
#: cold-plate halls), 0.26 (0.1 m cells), 0.67 (20-rack, 0.11 m), 2.26 (20-rack, 0.08 m:
#: 65 m/s at its 60th, recovered); the 1.2e6-cell hall, whose walls give no boundary speed
#: to measure it by, ran to 398 m/s (14 x) by its second outer iteration and 1,620 m/s
#: (56 x) by its tenth, unseen before
FAN_RUNAWAY = 10.0


class FlowSolver:
    """A flow-and-heat run on one backend (and architecture: one process by default)."""

    # (a mistake found while the solver is set up, such as a block that covers no cell
    # centre, names the case file it came from)
    @names_case_file(lambda self, problem, *a, **k: getattr(getattr(problem, "case", None),
                                                            "source_file", None))
    def __init__(self, problem, backend="cpu", dtype=np.float64, cfl: float = 0.5,
                 pressure_tolerance: float | None = None, diffusion: str = "auto",
                 advection: str = "central", arch=None):
        """``diffusion``: ``implicit`` (the step limited by advection only; first order in
        time), ``explicit`` (second order in time, the step also limited by viscosity and
        conduction on the smallest cell) or ``auto``: in a steady run, step by step whichever
        covers more time per unit of work (implicit once its step is 4x the explicit one);
        explicit for transients and for :meth:`step` called directly.  ``advection`` of
        momentum: ``central`` (second order; stable while viscosity damps it, which bounds
        the step at high cell Reynolds numbers) or ``upwind`` (first order, bounded: the
        step is the CFL one whatever the viscosity; for room-scale airflow on coarse
        cells).  ``arch``: the architecture (:mod:`thermosim.parallel`), serial unless
        given."""
        from ..backends import backend_for

        if advection not in ("central", "upwind"):
            raise CaseError(f"unknown advection scheme '{advection}' (central or upwind)",
                            "flow.advection")
        if diffusion not in DIFFUSION:
            raise CaseError(f"unknown diffusion treatment '{diffusion}' (auto, implicit or "
                            "explicit)", "flow.diffusion")
        # the implicit operators hold a constant viscosity and no momentum sinks: with an
        # eddy viscosity or components the steps stay explicit (room-scale cells make the
        # explicit diffusion limit rarely the binding one)
        if problem.turbulence != "none" or bool(problem.porous or problem.fans
                                                or problem.coolers or problem.chips):
            if diffusion == "implicit":
                raise CaseError("implicit diffusion is not available with a turbulence model "
                                "or components (porous blocks, fans, coolers): use auto or "
                                "explicit", "flow.diffusion")
            diffusion = "explicit"
        self.arch = SERIAL if arch is None else arch
        if self.arch.size > 1:
            diffusion = self._check_split(problem, diffusion)
        self.diffusion = diffusion
        self.advection = advection
        self.problem = problem
        self.be = backend_for(backend, problem.grid.ncells) if isinstance(backend, str) \
            else backend
        self.dtype = np.dtype(dtype)
        if hasattr(self.be, "prepare_flow"):        # the CPU's first-run compile notice
            self.be.prepare_flow(self.dtype)
        self.cfl = cfl
        self.pressure_tolerance = pressure_tolerance or (1e-9 if self.dtype == np.float64
                                                         else 1e-5)
        self.stats = FlowStats()
        self.build_model()
        self.choice = DiffusionChoice(diffusion)
        self.state_ = self._initial_state()
        self.rates = (math.inf, math.inf)         # max |du/dt|, |dT/dt| of the last step
        self._whole = None                        # a serial model for a split run's report
        self.outer = False                        # in simplec outer iterations now
        self.window = None                        # in implicit steps: unsteady.Window
        self.resume_window = None                 # a checkpoint's, for the next run
        fans = self.model.terms.fans            # a fixed flow over its open faces' area
        self.fan_speed = 0.0 if fans is None else max(  # m/s: check_divergence's measure
            f.driving_speed(problem.fluid.density, a) for f, a in zip(problem.fans, fans.areas))

    def build_model(self) -> None:
        """A new model and stepper (operators, terms, warm starts): :mod:`.retry`'s 2nd try."""
        self.model = None                   # (the old one's device memory freed first)
        self.model = FlowModel(self.problem, self.be, self.dtype, self.arch, self.cfl,
                               self.pressure_tolerance, self.advection, self.stats, self._diverged)
        self.model.implicit.use_capacity(self.model.heat.capacities[False][0])
        self.stepper = Heun(self.model)
        self._stored = None
        self._updated_for = None                  # the step the terms were updated for

    def _check_split(self, problem, diffusion: str) -> str:
        """What a domain split between processes does not do yet (implicit diffusion,
        turbulence models, components, inflows across the split axis), refused; slabs at
        least two cells thick.  Returns the diffusion treatment (explicit)."""
        a = self.arch.axis
        what = None
        if problem.turbulence != "none":
            what = "a turbulence model"
        elif problem.porous or problem.fans or problem.coolers or problem.chips:
            what = "components (porous blocks, fans, coolers, chips)"
        elif diffusion == "implicit":
            what = "implicit diffusion"
        elif any(b.kind == "inflow" and f[0] != "xyz"[a] for f, b in problem.boundaries.items()):
            what = f"an inflow on a face along the split axis {'xyz'[a]}"
        if what is not None:
            raise CaseError(f"{what} is not yet available on a domain split between "
                            f"{self.arch.size} processes: run it on one", "flow")
        n = problem.grid.shape[a]
        if n < 2 * self.arch.size:
            raise CaseError(f"{n} cells along {'xyz'[a]} cannot be split into slabs of at "
                            f"least 2 cells for {self.arch.size} processes", "grid")
        return "explicit"

    def _initial_state(self) -> FlowState:
        """The initial field (inflow faces set, zero inside) made divergence-free, so that
        the Runge-Kutta average of two projected fields stays divergence-free."""
        be, dt_, mesh = self.be, self.dtype, self.model.mesh
        T = be.asarray(np.full(mesh.padded, self.problem.initial_temperature, float), dt_)
        vel = [be.asarray(self._initial_velocity(a), dt_) for a in range(3)]
        state = FlowState(vel, T, be.zeros(mesh.padded, dt_))
        self.model.apply_bc(state.vel, state.T)
        self.model.pressure.project(state.vel, state.phi, 1.0)
        self.model.apply_bc(state.vel, state.T)
        state.phi.fill(0)
        return state

    def _initial_velocity(self, axis: int) -> np.ndarray:
        mesh = self.model.mesh
        a = np.zeros(mesh.padded)
        v0 = self.problem.initial_velocity[axis]
        if v0:
            fl = mesh.fluid_host
            sl = [slice(1, -1)] * 3
            lo = list(sl)
            lo[axis] = slice(0, -2)
            a[tuple(sl)] = np.where((fl[tuple(sl)] != 0) & (fl[tuple(lo)] != 0), v0, 0.0)
        return a

    # -- the fields and a few figures of the model ---------------------------------------
    @property
    def vel(self) -> list:
        """Face velocities (m/s): three staggered padded arrays on the backend."""
        return self.state_.vel

    @property
    def T(self):
        """Temperature (K), padded, on the backend."""
        return self.state_.T

    @property
    def phi(self):
        """Kinematic pressure (m^2/s^2), padded, on the backend."""
        return self.state_.phi

    @property
    def shape(self) -> tuple:
        return self.model.mesh.shape

    @property
    def periodic(self) -> tuple:
        return self.model.mesh.periodic

    @property
    def pressure_smoother(self) -> str:
        return self.model.pressure.smoother

    @property
    def implicit(self) -> bool:
        """Whether the next step treats diffusion implicitly."""
        return self.choice.implicit

    # -- stepping -------------------------------------------------------------------------
    def _update_terms(self) -> None:
        """The terms' lagged coefficients, once per step (before its length is chosen)."""
        if self._updated_for != self.stats.steps:
            self.model.update(self.vel, self.T)
            self._updated_for = self.stats.steps

    def stable_dt(self, mode: RunMode = TIME_ACCURATE) -> float:
        """Largest stable step (s) for the coming step: advective CFL, viscous, conductive
        and the terms' limits (the terms' lagged coefficients are updated for it first)."""
        self._update_terms()
        return self.choice.step_length(self.model, self.state_, mode)

    def step(self, dt: float | None = None, mode: RunMode = TIME_ACCURATE) -> float:
        """Advance one Heun step; returns the step used (s)."""
        dt = self.stable_dt(mode) if dt is None else dt
        self._update_terms()
        heat, imp = self.model.heat, self.choice.implicit
        self.stats.diffusion = "implicit" if imp else "explicit"
        if imp:
            self.model.implicit.use_capacity(heat.capacities[mode.steady][0])
        if mode.local_energy:
            inv_C = heat.local_inverse_capacities(dt, self.vel, self.model.terms.eddy
                                                  is not None)
        else:
            inv_C = heat.capacities[mode.steady][1]
        self.rates = self.stepper.step(self.state_, dt, StepPlan(imp, inv_C, mode))
        self.stats.steps += 1
        self.stats.time += dt
        self.stats.dt = dt
        return dt

    def run(self, steady: bool = True, end_time: float | None = None,
            tolerance: float = 1e-6, max_steps: int = 1_000_000,
            progress: Callable | None = None, check_every: int = 10,
            checkpoint=None, energy_tolerance: float | None = None,
            method: str = "march", relax: float | None = None, sweeps: int = 2,
            depth: int | None = None, sequence: bool = False,
            multigrid: bool | None = None, unsteady: str = "stop",
            average_window: float | None = None, time_step: float | None = None,
            average_from: float | None = None) -> FlowResult:
        """March to a steady state (``steady``) or to ``end_time`` (s).  ``progress`` is
        called as progress(step, time, residual_velocity, residual_temperature).
        ``checkpoint`` (a :class:`thermosim.checkpoint.Checkpointer`): the state is saved
        whenever it is due and on Ctrl-C, which then raises :class:`Interrupted`.
        ``energy_tolerance``: a steady march is converged once the velocity residual is
        below ``tolerance`` and the heat still being stored is below this fraction of the
        power (instead of the temperature residual, a largest-cell measure that recirculation
        zones, exchanging heat with the rest only by diffusion, hold up for a long time).
        ``method`` of a steady run: ``march`` in time, or ``simplec`` outer iterations
        (:mod:`thermosim.flow.outer`; ``max_steps`` then counts them), with the pseudo-time
        step ``relax`` L / U (None: :func:`thermosim.flow.outer.default_relax`),
        ``sweeps`` Gauss-Seidel sweeps per linear solve and Anderson acceleration over the
        last ``depth`` iterates (0: none; None: the problem's,
        :func:`thermosim.flow.anderson.history`), started from coarser meshes' answer
        (``sequence``, :mod:`thermosim.flow.sequence`), or in multigrid cycles over them
        (``multigrid``, :mod:`thermosim.flow.fas`; None: where the problem has none of
        the lagged terms, see :func:`thermosim.flow.fas.suits`).

        ``unsteady`` of a steady run with no steady state: ``stop`` (:class:`NotSteady`
        with its last iterate) or ``average`` (continue in implicit steps and return the
        mean over ``average_window`` s, None: four turnovers; :mod:`.unsteady`; a
        checkpoint taken during its steps resumes them).  A transient (``end_time``) with
        ``method`` ``simplec`` and a ``time_step`` (s) or ``average_from`` (s) takes
        implicit steps (of the outer iterations' pseudo-step when no ``time_step``, at most
        a fiftieth of the turnover time, at least 1/400 of the time to the end), and with
        ``average_from`` returns the mean over [average_from, end_time]; with neither it
        marches explicitly, as before."""
        steady_tolerance = tolerance if steady and end_time is None else None
        implicit_steps = self._check_run(method, unsteady, end_time, steady_tolerance,
                                         time_step, average_from)
        self.choice.start(RunMode(steady_tolerance))
        # components (porous blocks, fans, coolers) mark room-scale cases: their steady
        # marches take local time steps in the energy equation
        p = self.problem
        local = steady_tolerance is not None and not self.choice.implicit and \
            bool(p.porous or p.fans or p.coolers)
        mode = RunMode(steady_tolerance, energy_tolerance, local)
        st = self.stats
        st.converged, st.stored_fraction, st.stopped, st.stalled = False, math.nan, "", ""
        st.stall, st.averaged = {}, {}
        # a checkpoint taken during implicit steps continues them (and their mean)
        resume, self.resume_window = self.resume_window, None
        try:
            return _solve(self, mode, implicit_steps, resume, end_time=end_time,
                          time_step=time_step, tolerance=tolerance, max_steps=max_steps,
                          progress=progress, check_every=check_every, checkpoint=checkpoint,
                          relax=relax, sweeps=sweeps, depth=depth, sequence=sequence,
                          method=method, multigrid=multigrid, unsteady=unsteady,
                          average_window=average_window, average_from=average_from)
        except KeyboardInterrupt:
            if checkpoint is None:
                raise
            path = checkpoint.save_state(*self.state())
            raise Interrupted(f"interrupted at step {self.stats.steps} (t = "
                              f"{self.stats.time:.4g} s); the state is saved in {path}: run "
                              "again with --resume to continue from it") from None
        finally:
            self.choice.finish()
            self.outer, self.window = False, None

    def _check_run(self, method, unsteady, end_time, steady_tolerance, time_step,
                   average_from) -> bool:
        """:meth:`run`'s choices refused with one line where they do not fit; returns
        whether the run takes implicit time steps."""
        if method not in ("march", "simplec"):
            raise CaseError(f"unknown method '{method}' (march or simplec)", "flow.method")
        if unsteady not in ("stop", "average"):
            raise CaseError(f"unknown unsteady '{unsteady}' (stop or average)",
                            "flow.unsteady")
        if average_from is not None and (end_time is None or method != "simplec"
                                         or not 0 <= average_from < end_time):
            raise CaseError("average_from needs a transient in implicit steps (end_time, "
                            "method simplec) and must lie in [0, end_time)",
                            "flow.average_from")
        implicit_steps = method == "simplec" and end_time is not None and (
            time_step is not None or average_from is not None)
        if (implicit_steps or method == "simplec" and steady_tolerance is not None) and \
                self.arch.size > 1:
            raise CaseError("the simplec outer iterations run on one process for now: use "
                            "method march", "flow.method")
        return implicit_steps

    # -- checks ---------------------------------------------------------------------------
    def _diverged(self, where: str) -> SolverError:
        """The error for a step that blew up inside a linear solve (``where`` says which)."""
        if self.outer:
            return SolverError(f"the flow diverged at outer iteration {self.stats.steps + 1} "
                               f"({where}): run it with flow.method: march, or refine the "
                               "grid where the velocity is largest")
        return SolverError(f"the flow diverged at step {self.stats.steps + 1} (t = "
                           f"{self.stats.time:.4g} s; {where}): lower cfl (now {self.cfl}) "
                           "or refine the grid where the velocity is largest")

    def check_divergence(self, U: float) -> None:
        """Stop with what to change on NaN, or on a velocity (m/s) 1000 x the largest
        boundary velocity or :data:`FAN_RUNAWAY` x the fans' fastest (a closed hall has no
        boundary velocity) where neither an inflow nor buoyancy drives faster."""
        fix = "run it with flow.method: march" if self.outer else \
            f"lower cfl (now {self.cfl})"
        at = f"outer iteration {self.stats.steps}" if self.outer else \
            f"step {self.stats.steps}, t = {self.stats.time:.4g} s"
        if not math.isfinite(U) or not self.arch.isfinite(self.be, *self.vel, self.T):
            raise SolverError(f"the flow diverged (NaN) at {at}: {fix} or refine the grid "
                              "where the velocity is largest")
        ref = max([abs(v) for b in self.problem.boundaries.values() for v in b.velocity]
                  + [1e-30])
        if ref > 1e-20 and U > 1e3 * ref:
            raise SolverError(f"the velocity ran away to {U:.3g} m/s (1000 x the largest "
                              f"boundary velocity) at {at}: {fix} or check the boundary "
                              "conditions")
        if self.fan_speed > 0.0 and U > FAN_RUNAWAY * self.fan_speed:
            # not where an inflow or buoyancy (free fall over the domain) drives faster
            m = self.model
            drive = max(ref, math.sqrt(max(m.acceleration(self.T), 0.0) * m.pressure.length))
            if U > FAN_RUNAWAY * drive:
                raise SolverError(f"the velocity ran away to {U:.3g} m/s ("
                                  f"{U / self.fan_speed:.0f} x {self.fan_speed:.3g} m/s, the "
                                  f"fastest the fans can drive) at {at}: {fix} or refine the "
                                  "grid where the velocity is largest")

    def scales(self) -> tuple[float, float, float]:
        """Velocity (m/s), length (m) and temperature difference (K) scales of the run."""
        return self.model.scales(self.vel, self.T)

    # -- results --------------------------------------------------------------------------
    def result(self) -> FlowResult:
        """The fields on the interior cells and the figures of the state.  Split between
        processes, every process gets the whole (the fields gathered; the figures
        computed on one process's model of the whole grid, built on first use)."""
        if self.arch.size == 1:
            return flow_result(self.model, self.state_, self.stats)
        if self._whole is None:
            self._whole = FlowModel(self.problem, self.be, self.dtype, SERIAL, self.cfl,
                                    self.pressure_tolerance, self.advection, FlowStats(),
                                    self._diverged)
        return flow_result(self._whole, self.gathered_state(), self.stats)

    def gathered_state(self) -> FlowState:
        """The whole state on every process (host arrays, padded), gathered from the
        slabs; the state itself on one process."""
        if self.arch.size == 1:
            return self.state_
        host, gather = self.be.to_host, self.arch.allgather
        be, dt_ = self.be, self.dtype
        vel = [be.asarray(gather(host(v)), dt_) for v in self.vel]
        return FlowState(vel, be.asarray(gather(host(self.T)), dt_),
                         be.asarray(gather(host(self.phi)), dt_))

    def stored_fraction(self) -> float:
        """Heat being stored now over the power put into the fluid (see
        :class:`thermosim.flow.report.StoredHeat`)."""
        if self._stored is None:
            self._stored = StoredHeat(self.model)
        return self._stored.fraction(self.state_)

    def fan_operating_points(self) -> list[dict]:
        """Per fan: flow (m^3/s) and pressure rise (Pa)."""
        fans = self.model.terms.fans
        return [] if fans is None else fans.operating_points(self.vel, self.phi)

    # -- checkpoints ------------------------------------------------------------------------
    _STATE_ATTRS = ("steps", "time", "dt", "pressure_iterations", "pressure_solves",
                    "residual_velocity", "residual_temperature", "wall_time",
                    "implicit_iterations", "implicit_solves", "stored_fraction",
                    "step_factor", "step_residual", "retried")

    def state(self) -> tuple[dict, dict]:
        """Everything the rest of the run depends on, on the host: the face velocities,
        temperature and pressure with their halos (arrays), and the counters (attributes)."""
        host = self.be.to_host
        arrays = {"u": host(self.vel[0]), "v": host(self.vel[1]), "w": host(self.vel[2]),
                  "T": host(self.T), "phi": host(self.phi),
                  "history": np.asarray(self.stats.history, float).reshape(-1, 4)}
        attrs = {k: getattr(self.stats, k) for k in self._STATE_ATTRS}
        pr = self.model.pressure
        attrs.update(log_reduction=pr.log_reduction, log_iters=pr.log_iters,
                     last=np.asarray(self.rates), implicit=int(self.choice.implicit),
                     dtype=self.dtype.name)
        if self.window is not None:         # in implicit steps: the steps and the mean
            more, extra = self.window.state()
            arrays.update(more)
            attrs.update(extra)
        return arrays, attrs

    def load_state(self, arrays: dict, attrs: dict, file: str | None = None) -> None:
        """Continue from :meth:`state` (a checkpoint of this same problem)."""
        if str(attrs.get("dtype")) != self.dtype.name or arrays["T"].shape != self.T.shape:
            raise CaseError("the checkpoint was written with another precision or grid; "
                            "delete it to start afresh", None, file)
        for c, k in enumerate("uvw"):
            self.vel[c][...] = self.be.asarray(arrays[k], self.dtype)
        self.T[...] = self.be.asarray(arrays["T"], self.dtype)
        self.phi[...] = self.be.asarray(arrays["phi"], self.dtype)
        for k in self._STATE_ATTRS:
            if k in attrs:                  # (counters added since may be missing)
                setattr(self.stats, k, type(getattr(self.stats, k))(attrs[k]))
        self.stats.history = [tuple(r) for r in np.asarray(arrays["history"]).tolist()]
        self.model.pressure.log_reduction = float(attrs["log_reduction"])
        self.model.pressure.log_iters = int(attrs["log_iters"])
        self.rates = tuple(float(x) for x in attrs["last"])
        self.resume_window = Window.from_state(arrays, attrs)
        if self.diffusion == "auto" and "implicit" in attrs:
            self.choice.implicit = bool(attrs["implicit"])   # the treatment "auto" had


def _solve(solver: FlowSolver, mode: RunMode, implicit_steps: bool, resume, *, end_time,
           time_step, tolerance, max_steps, progress, check_every, checkpoint, relax, sweeps,
           depth, sequence, method, multigrid, unsteady, average_window,
           average_from) -> FlowResult:
    """:meth:`FlowSolver.run`'s choice of solver, with its arguments: implicit steps,
    outer iterations (on one mesh or in cycles) or the march, and after a stall (with
    ``unsteady: average``) the time mean; ``resume``: a checkpoint's :class:`Window`,
    whose steps continue."""
    steady = mode.steady_tolerance is not None
    if implicit_steps:
        solver.outer = True
        return implicit_transient(solver, end_time, time_step, tolerance, max_steps,
                                  progress, check_every, checkpoint, relax, sweeps,
                                  average_from,
                                  resume=None if resume is None or resume.plan else resume)
    if resume is not None and resume.plan and unsteady == "average" and steady:
        solver.outer = True
        return average_after_stall(solver, None, mode, max_steps, progress, check_every,
                                   checkpoint, relax, sweeps, average_window, time_step,
                                   resume=resume)
    try:
        if method == "simplec" and steady:
            solver.outer = True
            if suits(solver.problem) if multigrid is None else multigrid:
                return solve_cycles(solver, mode, max_steps, progress, check_every,
                                    checkpoint, relax, sweeps)
            return solve_steady_or_retry(solver, mode, max_steps, progress, check_every,
                                         checkpoint, relax, sweeps, depth, sequence)
        return march(solver, mode, end_time, max_steps, progress, check_every, checkpoint)
    except NotSteady as e:
        if unsteady != "average":
            raise
        # kept without its traceback, whose frames would hold the steady solver's arrays
        # (Anderson's history: 2 x 30 iterates of every unknown, a hall's 100) through
        # the time mean
        stalled = e.with_traceback(None)
    solver.outer = True           # no steady state: its time mean (the stall kept)
    return average_after_stall(solver, stalled, mode, max_steps, progress, check_every,
                               checkpoint, relax, sweeps, average_window, time_step)
