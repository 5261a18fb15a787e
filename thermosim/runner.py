"""Running a case of any kind: :func:`solve`, the Python entry point of thermosim (what
``thermosim run`` does, without writing files).  A conduction case goes to
:func:`thermosim.conduction_run.run_conduction`, a flow case or a rack layout to
:class:`thermosim.flow.FlowSolver`."""

from __future__ import annotations

import copy
import math
import os
import time
from collections.abc import Mapping

import numpy as np

from .case import Case, load_case
from .checkpoint import Checkpointer
from .conduction import ThermalModel, build_model
from .conduction_run import run_conduction
from .sizing import check_case
from .unconverged import NotSteady


def as_case(case) -> Case | ThermalModel:
    """``case`` as :func:`solve` takes it: a :class:`Case` or a :class:`ThermalModel` as
    they are, a mapping (what a case file holds, ``layout:`` ones included) checked into a
    Case, a path (str or os.PathLike) read with :func:`thermosim.case.load_case`."""
    if isinstance(case, (Case, ThermalModel)):
        return case
    if isinstance(case, Mapping):
        # deep copy: expanding a layout fills the mapping in
        return Case.from_dict(copy.deepcopy(dict(case)))
    if isinstance(case, (str, os.PathLike)):
        return load_case(case)
    raise TypeError("solve() takes a Case, a case mapping (as a case file holds it), the "
                    f"path of a case file or a ThermalModel, not {type(case).__name__}")


def solve(case, backend="auto", progress=None, checkpoint=None,
          checkpoint_every: float = 60.0, resume: bool = False, *, log=None,
          quiet_every: int = 1000, unsteady_ok: bool = False):
    """Run a case of any kind and return its result: the Python entry point of thermosim
    (what ``thermosim run`` does, without writing files).

    ``case``: a :class:`Case`, a mapping as a case file holds it, the path of a YAML case
    file, or a built :class:`ThermalModel`.  Every kind runs:

    - conduction (no ``flow`` section), steady or transient: returns a :class:`Result`;
    - flow (a ``flow`` section) and rack layouts (``layout: air_cooled | liquid_cooled |
      immersion``, which expand to flow cases): the flow solver marches to a steady state
      (within ``flow.max_steps``) or to ``flow.end_time``; returns a
      :class:`thermosim.flow.FlowResult`.

    Both results hold numpy arrays on the host, whatever the backend, with the grid's shape
    ``(nx, ny, nz)``: ``T`` (K; NaN in void cells of a conduction case), and for flow
    ``velocity`` (m/s, cell-centred, shape (nx, ny, nz, 3)), ``pressure`` (Pa, static minus
    the hydrostatic part of the reference density), ``u, v, w`` (m/s on the cell faces).
    Both have ``grid`` (face coordinates in m), ``stats``, ``heat_flows`` (W leaving per
    boundary), ``energy_balance_error`` (relative), ``hotspot()``, ``metrics()`` (a layout's:
    chips, racks, fans, coolant loop; see :mod:`thermosim.metrics`), ``summary()`` (the
    text ``thermosim run`` prints) and ``save(path)`` (``path`` an ``.h5`` file; an XDMF
    sidecar ``.xdmf`` that ParaView and ``pyvista.read`` open is written beside it).

    ``backend``: ``auto`` (the GPU when there is one, else the CPU), ``cpu``, ``gpu`` or a
    backend object.  ``progress`` is called as progress(iteration, residual) by a steady
    conduction solve, progress(step, steps, time_s) by a transient one and
    progress(step, time_s, residual_velocity, residual_temperature) by a flow run.
    ``log(str)`` gets a line every ``quiet_every`` steps of a flow run, and at the first
    check after :data:`LOG_EVERY_SECONDS` without one (a hall's outer iterations take a
    tenth of a second or more each: 1,000 of them are minutes without a word).

    With ``checkpoint`` (a file path) the state is saved every ``checkpoint_every`` seconds
    of wall time and on Ctrl-C (then :class:`Interrupted` is raised); ``resume=True`` starts
    from that file when it exists.  The checkpoint is removed when the run completes.

    A steady flow run that does not settle within its ``max_steps`` raises
    :class:`thermosim.unconverged.NotSteady` (a :class:`SolverError` naming the equation
    that stalled and what to change; its ``result`` is the last iteration's), unless
    ``unsteady_ok``: then that is the result, marked unconverged
    (``result.stats.converged`` False, ``stats.stalled`` the stall in one line; saved, it
    carries the mark and its residual plot).  Mistakes in the case raise
    :class:`CaseError`."""
    case = as_case(case)
    if isinstance(case, Case):
        check_case(case, backend)        # cells, memory on the backend, step counts
    if isinstance(case, Case) and case.flow is not None:
        return _solve_flow(case, backend, progress, checkpoint, checkpoint_every, resume,
                           log, quiet_every, unsteady_ok)
    model = case if isinstance(case, ThermalModel) else build_model(case)
    return run_conduction(model, backend, progress, checkpoint, checkpoint_every, resume)


#: seconds a flow run with a log goes at most without a progress line (at its next check)
LOG_EVERY_SECONDS = 30.0


def _solve_flow(case: Case, backend, progress, checkpoint, checkpoint_every, resume, log,
                quiet_every, unsteady_ok):
    """:func:`solve` for a case with a ``flow`` section (layouts included)."""
    # imported here, not at the top: a conduction run (and ``import thermosim``) does not
    # load the flow solver
    from .flow import FlowSolver, problem_from_case

    spec = case.flow
    dtype = np.float32 if case.solver.precision == "float32" else np.float64
    solver = FlowSolver(problem_from_case(case), backend, dtype, cfl=spec.cfl,
                        diffusion=spec.diffusion, advection=spec.advection)
    ckpt = Checkpointer(checkpoint, case, checkpoint_every) if checkpoint else None
    saved = ckpt.load_state() if (ckpt and resume) else None
    if saved is not None:
        solver.load_state(*saved, file=str(ckpt.path))
    steps0 = solver.stats.steps                     # (after a resume: not 0)
    t0 = time.perf_counter()
    said = [t0]                                     # when the last line was logged
    mark: dict = {}                                 # where a time mean's steps began

    def report(step, t, ru, rt):
        if progress is not None:
            progress(step, t, ru, rt)
        now = time.perf_counter()
        if log is not None and (step % quiet_every == 0 or now - said[0] >= LOG_EVERY_SECONDS):
            said[0] = now
            what = "outer iteration" if solver.stats.unit == "outer iterations" else "step"
            steps = steps_time_left(solver, t, mark)
            if steps is not None:       # a time mean's steps: their phase and pace
                phase, end, left = steps
                what = f"{phase}, t = {t:.4g} of {end:.4g} s, {what}"
            else:
                left = steady_time_left(solver, step, ru, rt, spec,
                                        time.perf_counter() - t0, steps0)
            log(f"  {case.name}: {what} {step}, residuals {ru:.1e} (velocity) / {rt:.1e} "
                f"(temperature) of {spec.tolerance:.0e}" +
                (f", about {left:.0f} s left" if left is not None else ""))

    try:
        result = solver.run(steady=spec.end_time is None, end_time=spec.end_time,
                            tolerance=spec.tolerance, max_steps=spec.max_steps,
                            progress=report, checkpoint=ckpt,
                            energy_tolerance=spec.energy_tolerance,
                            **spec.solver_options())
    except NotSteady as e:
        if not unsteady_ok:
            raise
        if log is not None:
            log(f"  {case.name}: UNCONVERGED, its last iteration taken: {e}")
        result = e.result
    if log is not None and result.stats.stopped:
        log(f"  {case.name}: {result.stats.stopped}")
    if log is not None and result.stats.retried:
        log(f"  {case.name}: {result.stats.retried}")
    if ckpt:
        ckpt.remove()
    return result


def steady_time_left(solver, step, ru, rt, spec, elapsed, steps0=0):
    """Seconds a steady flow run still needs, extrapolating the recent exponential fall of
    the residuals it converges on (None until there is a fall to extrapolate): ``ru`` and
    ``rt`` the latest velocity and temperature residuals, the velocity's alone where the
    case's energy criterion is the heat still stored (``spec.energy_tolerance``: its
    temperature residual may sit on a plateau and would extrapolate to years, as a hall's
    did, 1,009,405 s); at most the time of the iterations left to ``spec.max_steps``.
    ``elapsed``: seconds since step ``steps0``."""
    def worst_of(a, b):
        return a if spec.energy_tolerance is not None else max(a, b)

    hist = solver.stats.history
    worst = worst_of(ru, rt)
    if len(hist) <= 20 or worst <= 0:
        return None
    s0, _, a, b = hist[-20]
    r0 = worst_of(a, b)
    if r0 <= worst or step <= s0:
        return None
    rate = math.log(r0 / worst) / (step - s0)
    steps_left = min(max(math.log(worst / spec.tolerance), 0.0) / rate,
                     max(spec.max_steps - step, 0))
    return elapsed / max(step - steps0, 1) * steps_left


def steps_time_left(solver, t: float, mark: dict):
    """During a time mean's implicit steps (``solver.window`` set): (its phase,
    ``settling`` or ``averaging``; its end, s of flow time; the wall seconds left to it at
    the steps' own pace since the first call, which ``mark`` keeps, None until then).
    None outside the steps.  The end moves later while the settling goes on."""
    w = getattr(solver, "window", None)
    if w is None:
        return None
    now = time.perf_counter()
    wall0, t0 = mark.setdefault("steps", (now, t))
    phase = "averaging" if w.mean is not None and t > w.mean.start else "settling"
    left = (now - wall0) * (w.end_time - t) / (t - t0) if t > t0 else None
    return phase, w.end_time, left

