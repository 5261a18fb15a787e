"""Running a case: steady or transient, on a backend, with statistics and heat balance.

:func:`solve` is the entry point for every kind of case (conduction here; flow cases and
rack layouts handed to :class:`thermosim.flow.FlowSolver`)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from .backends import backend_for
from .case import Case
from .checkpoint import Checkpointer
from .errors import CaseError, Interrupted, SolverError
from .model import FIXED, SOLVED, LinearSystem, ThermalModel, build_model, \
    face_conductances, linear_system
from .solvers.krylov import pcg
from .solvers.multigrid import Multigrid

RUNAWAY_K = 1.0e5   # a temperature above this means the run has diverged


@dataclass
class Result:
    """Temperatures (K) on the interior cells (NaN in void) and what the solver did."""

    model: ThermalModel
    T: np.ndarray
    stats: dict
    heat_flows: dict[str, float]            # W leaving the body through each boundary
    snapshots: list[tuple[float, np.ndarray]] = field(default_factory=list)
    storage_rate: float = 0.0               # W going into stored heat (transient)

    @property
    def grid(self):
        return self.model.grid

    @property
    def max_temperature(self) -> float:
        return float(np.nanmax(self.T))

    def hotspot(self) -> dict:
        """The hottest cell: temperature (K), centre (m), index and block name."""
        flat = int(np.nanargmax(self.T))
        idx = np.unravel_index(flat, self.T.shape)
        centre = [float(self.grid.centres(a)[idx[a]]) for a in range(3)]
        blk = int(self.model.id_block[self.model.ids[idx[0] + 1, idx[1] + 1, idx[2] + 1]])
        name = self.model.block_names[blk] if blk >= 0 else "background"
        return {"T": float(self.T[idx]), "position": centre, "index": [int(i) for i in idx],
                "block": name}

    @property
    def energy_balance_error(self) -> float:
        """|heat in - heat out - heat stored| / heat in (relative)."""
        p_in = self.model.total_power
        out = sum(self.heat_flows.values())
        scale = max(abs(p_in), sum(abs(v) for v in self.heat_flows.values()), 1e-300)
        return abs(p_in - out - self.storage_rate) / scale

    def block_temperatures(self) -> dict[str, dict]:
        """Max and mean temperature of every block (K)."""
        blk = self.model.id_block[self.model.ids[1:-1, 1:-1, 1:-1]]
        vol = self.grid.cell_volumes()
        out = {}
        for i, name in enumerate(self.model.block_names):
            m = blk == i
            if m.any():
                out[name] = {"max": float(np.nanmax(self.T[m])),
                             "mean": float(np.nansum(self.T[m] * vol[m]) / vol[m].sum())}
        return out

    def metrics(self) -> dict:
        """What ``/metrics`` of the saved file holds: ``max_temperature`` (K), ``hotspot``
        (see :meth:`hotspot`), ``total_power`` (W), ``heat_flows`` (W leaving per boundary),
        ``energy_balance_error`` (relative), ``storage_rate`` (W) and
        ``block_temperatures`` ({name: {"max", "mean"}} in K)."""
        return {"max_temperature": self.max_temperature, "hotspot": self.hotspot(),
                "total_power": float(self.model.total_power),
                "heat_flows": dict(self.heat_flows),
                "energy_balance_error": float(self.energy_balance_error),
                "storage_rate": float(self.storage_rate),
                "block_temperatures": self.block_temperatures()}

    def save(self, path, **kw):
        """Write the result to the HDF5 file ``path`` (``.h5``) and its ``.xdmf`` sidecar
        (see :mod:`thermosim.output`); returns the HDF5 path."""
        from .output import write_result

        return write_result(self, path, **kw)

    def summary(self) -> str:
        hs = self.hotspot()
        s = self.stats
        lines = [
            f"case          {self.model.case.name}  ({s['mode']}, {s['cells']:,} cells, "
            f"{s['precision']})",
            f"max T         {hs['T']:.3f} K ({hs['T'] - 273.15:.2f} degC) in '{hs['block']}' "
            f"at ({', '.join(f'{v * 1e3:.2f}' for v in hs['position'])}) mm",
            f"power in      {self.model.total_power:.6g} W",
        ]
        for label, q in self.heat_flows.items():
            lines.append(f"  out via {label:<28s} {q:.6g} W")
        if self.storage_rate:
            lines.append(f"  stored (rate at end)            {self.storage_rate:.6g} W")
        lines.append(f"energy balance {self.energy_balance_error:.2e} (relative error)")
        if s["mode"] == "steady":
            lines.append(f"iterations    {s['iterations']} (residual {s['residual']:.2e}, "
                         f"multigrid {s['mg_levels']} levels)")
        else:
            lines.append(f"time steps    {s['steps']} x {s['dt']:.4g} s ({s['method']}), "
                         f"{s.get('iterations', 0)} CG iterations in all")
        lines.append(f"wall time     {s['wall_time']:.3f} s (set-up {s['setup_time']:.3f} s; "
                     f"kernel compile/cache load {s.get('compile_time', 0.0):.2f} s apart)")
        lines.append(f"backend       {s['backend']}: {s['device']}")
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------
def heat_flows(model: ThermalModel, T_int: np.ndarray, G=None) -> dict[str, float]:
    """Heat (W) leaving solved cells into each fixed-temperature or convective boundary."""
    G = face_conductances(model) if G is None else G
    T = model.T_fixed.copy()
    T[1:-1, 1:-1, 1:-1] = np.where(np.isnan(T_int), T[1:-1, 1:-1, 1:-1], T_int)
    kind = model.kind[model.ids]
    bnd = model.id_boundary[model.ids]
    flows = np.zeros(len(model.boundary_labels))
    for axis in range(3):
        g = G[axis]
        inner = [slice(1, -1)] * 3
        lo, hi = list(inner), list(inner)
        lo[axis] = slice(0, -1)
        hi[axis] = slice(1, None)
        for a, b in ((lo, hi), (hi, lo)):
            sa, sb = tuple(a), tuple(b)
            m = (kind[sa] == SOLVED) & (kind[sb] == FIXED) & (g > 0)
            if m.any():
                q = g[m] * (T[sa][m] - T[sb][m])
                np.add.at(flows, bnd[sb][m], q)
    return {model.boundary_labels[i]: float(flows[i]) for i in range(flows.size)
            if model.boundary_labels[i] != "adiabatic" or flows[i] != 0.0}


def _dtype(case: Case):
    return np.float32 if case.solver.precision == "float32" else np.float64


def _interior(x):
    return x[1:-1, 1:-1, 1:-1]


def _pad(a):
    return np.pad(a, 1)


def as_case(case) -> Case | ThermalModel:
    """``case`` as :func:`solve` takes it: a :class:`Case` or a :class:`ThermalModel` as
    they are, a mapping (what a case file holds, ``layout:`` ones included) checked into a
    Case, a path (str or os.PathLike) read with :func:`thermosim.case.load_case`."""
    import copy
    import os
    from collections.abc import Mapping

    from .case import load_case

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
    ``log(str)`` gets a line every ``quiet_every`` steps of a flow run.

    With ``checkpoint`` (a file path) the state is saved every ``checkpoint_every`` seconds
    of wall time and on Ctrl-C (then :class:`Interrupted` is raised); ``resume=True`` starts
    from that file when it exists.  The checkpoint is removed when the run completes.

    A steady flow run that does not settle within its ``max_steps`` raises
    :class:`SolverError`, unless ``unsteady_ok``: then its last step is the result
    (``result.stats.converged`` False).  Mistakes in the case raise :class:`CaseError`."""
    case = as_case(case)
    if isinstance(case, Case):
        from .sizing import check_case

        check_case(case, backend)        # cells, memory on the backend, step counts
    if isinstance(case, Case) and case.flow is not None:
        return _solve_flow(case, backend, progress, checkpoint, checkpoint_every, resume,
                           log, quiet_every, unsteady_ok)
    model = case if isinstance(case, ThermalModel) else build_model(case)
    be = backend_for(backend, model.grid.ncells) if isinstance(backend, str) else backend
    case = model.case
    # kernel compilation (first run) or cache loading, timed apart from the solve
    prepare = getattr(be, "prepare", None)
    compile_time = prepare(_dtype(case), model.ids.dtype) if prepare else 0.0
    t_start = time.perf_counter()
    stats = {"mode": case.solver.mode, "precision": case.solver.precision,
             "cells": model.grid.ncells, "backend": be.name, "device": be.device_name,
             "shape": list(model.shape), "compile_time": compile_time}
    ckpt = Checkpointer(checkpoint, case, checkpoint_every) if checkpoint else None
    state = ckpt.load() if (ckpt and resume) else None
    if state is not None:
        stats["resumed_from_step"] = state["step"]
    if case.solver.mode == "steady":
        res = _steady(model, be, stats, progress, t_start, ckpt, state)
    else:
        res = _transient(model, be, stats, progress, t_start, ckpt, state)
    res.stats["wall_time"] = time.perf_counter() - t_start
    if ckpt:
        ckpt.remove()
    return res


def _solve_flow(case: Case, backend, progress, checkpoint, checkpoint_every, resume, log,
                quiet_every, unsteady_ok):
    """:func:`solve` for a case with a ``flow`` section (layouts included)."""
    from .flow import FlowSolver, problem_from_case
    from .study import steady_time_left

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

    def report(step, t, ru, rt):
        if progress is not None:
            progress(step, t, ru, rt)
        if log is not None and step % quiet_every == 0:
            left = steady_time_left(solver, step, max(ru, rt), spec.tolerance,
                                    time.perf_counter() - t0, steps0)
            log(f"  {case.name}: step {step}, residuals {ru:.1e} (velocity) / {rt:.1e} "
                f"(temperature) of {spec.tolerance:.0e}" +
                (f", about {left:.0f} s left" if left is not None else ""))

    try:
        result = solver.run(steady=spec.end_time is None, end_time=spec.end_time,
                            tolerance=spec.tolerance, max_steps=spec.max_steps,
                            progress=report, checkpoint=ckpt,
                            energy_tolerance=spec.energy_tolerance)
    except SolverError as e:
        if not (unsteady_ok and str(e).startswith("no steady state")):
            raise
        if log is not None:
            log(f"  {case.name}: {str(e).split(':')[0]}: its last step taken")
        result = solver.result()
    if log is not None and result.stats.stopped:
        log(f"  {case.name}: {result.stats.stopped}")
    if ckpt:
        ckpt.remove()
    return result


def _check_anchored(model: ThermalModel, system) -> None:
    has_boundary = any(np.any(g[tuple(slice(0, 1) if b == a else slice(None)
                                      for b in range(3))] > 0) or
                       np.any(g[tuple(slice(-1, None) if b == a else slice(None)
                                      for b in range(3))] > 0)
                       for a, g in enumerate((system.Gx, system.Gy, system.Gz)))
    solved = model.solved_mask()
    if not has_boundary and not np.any(system.D[solved] > 0):
        raise CaseError("a steady state needs at least one fixed-temperature or convective "
                        "boundary (all boundaries are adiabatic or heat flux)", "boundaries",
                        model.case.source_file)


def solve_system(model: ThermalModel, system, be, dtype, tolerance: float,
                 max_iterations: int, progress=None, ckpt=None, state=None):
    """Solve an assembled steady system with multigrid-preconditioned CG.

    Returns (T on the interior cells in K, NaN where not solved; CG statistics; multigrid)."""
    solved = model.solved_mask()
    mg = Multigrid(system, model.grid.faces, be, dtype, solved=solved)
    op = tuple(be.asarray(a, dtype) for a in (system.Gx, system.Gy, system.Gz, system.D))
    # solve for the rise above T_ref: the residual norm then measures heat flows rather
    # than the kelvin offset, and float32 keeps its digits for the rise
    T_ref = model.case.initial_temperature
    b = be.asarray(_pad(system.shifted_rhs(T_ref)), dtype)
    T0 = _interior(model.T_fixed) if state is None else \
        np.where(np.isnan(state["T"]), _interior(model.T_fixed), state["T"])
    x = be.asarray(_pad(T0 - T_ref), dtype)

    def report(it, res):
        if progress is not None:
            progress(it, res)
        if ckpt is not None and ckpt.due():
            ckpt.save(be.to_host(_interior(x)) + T_ref)

    try:
        st = pcg(be, op, b, x, mg.apply, tolerance, max_iterations, progress=report)
    except KeyboardInterrupt:
        if ckpt is None:
            raise
        path = ckpt.save(be.to_host(_interior(x)).astype(np.float64) + T_ref)
        raise Interrupted(f"interrupted; the current iterate is saved in {path}: run again "
                          "with --resume to continue from it") from None
    if not st.converged:
        raise SolverError(f"the steady solve did not converge in {st.iterations} iterations "
                          f"(residual {st.residual:.2e} > tolerance {tolerance:g}):"
                          " raise solver.max_iterations, loosen solver.tolerance, or use "
                          "precision float64")
    T = be.to_host(_interior(x)).astype(np.float64) + T_ref
    T[~solved] = np.nan
    _check_finite(T, "steady solve")
    return T, st, mg


def _steady(model, be, stats, progress, t_start, ckpt=None, state=None) -> Result:
    case = model.case
    system = linear_system(model)
    _check_anchored(model, system)
    T, st, mg = solve_system(model, system, be, _dtype(case), case.solver.tolerance,
                             case.solver.max_iterations, progress, ckpt, state)
    stats.update(iterations=st.iterations, residual=st.residual, solve_time=st.wall_time,
                 setup_time=time.perf_counter() - t_start - st.wall_time,
                 mg_levels=mg.nlevels, mg_hierarchy=mg.describe(),
                 residual_history=st.history)
    return Result(model, T, stats, heat_flows(model, T))


def _check_finite(T, what):
    if not np.all(np.isfinite(T[~np.isnan(T)])) or np.nanmax(T) > RUNAWAY_K:
        raise SolverError(f"the {what} diverged (temperature above {RUNAWAY_K:g} K or NaN): "
                          "check powers and conductivities, or reduce the time step")


def explicit_stable_dt(model: ThermalModel, G=None) -> float:
    """The largest forward-Euler step for which every cell's update stays bounded (s):
    min over cells of C / sum(G), C = rho c V (Gershgorin bound on the spectrum)."""
    G = face_conductances(model) if G is None else G
    s = G[0][:-1] + G[0][1:] + G[1][:, :-1] + G[1][:, 1:] + G[2][:, :, :-1] + G[2][:, :, 1:]
    inv_rhoc = model.cell_field("inv_rhoc")
    solved = model.solved_mask() & (s > 0)
    if not solved.any():
        return math.inf
    C = model.grid.cell_volumes()[solved] / inv_rhoc[solved]
    return float(np.min(C / s[solved]))


def time_step(model: ThermalModel, G=None) -> float:
    """The requested time step (s), checked against the explicit stability limit and the
    largest number of steps a run may take (:data:`thermosim.sizing.MAX_TIME_STEPS`)."""
    dt = _time_step(model, G)
    from .sizing import step_count_check

    tr = model.case.solver.transient
    with np.errstate(over="ignore", divide="ignore"):
        steps = float(np.float64(tr.end_time) / np.float64(dt))
    step_count_check(steps, model.grid.ncells, "conduction",
                     f"end_time / dt = {tr.end_time:g} s / {dt:.3g} s"
                     + (" (the explicit stability limit)" if tr.dt == "auto" else ""),
                     "solver.transient", model.case.source_file,
                     "raise dt, lower end_time or use method: implicit_euler"
                     if tr.method == "explicit" else "raise dt or lower end_time")
    return dt


def _time_step(model: ThermalModel, G=None) -> float:
    tr = model.case.solver.transient
    if tr.method == "explicit":
        limit = explicit_stable_dt(model, G)
        if tr.dt == "auto":
            return 0.9 * limit
        dt = float(tr.dt)
        if dt > limit:
            raise CaseError(f"dt = {dt:g} s exceeds the explicit stability limit "
                            f"{limit:.4g} s of this grid; use dt <= {limit:.4g}, dt: auto, "
                            "or method: implicit_euler", "solver.transient.dt",
                            model.case.source_file)
        return dt
    return tr.end_time / 100 if tr.dt == "auto" else float(tr.dt)


def preflight(model: ThermalModel) -> None:
    """Checks that need the discretised model; raise :class:`CaseError` before any work."""
    if model.case.solver.mode == "transient":
        time_step(model)
    else:
        _check_anchored(model, linear_system(model))


def _transient(model, be, stats, progress, t_start, ckpt=None, state=None) -> Result:
    case = model.case
    tr = case.solver.transient
    dtype = _dtype(case)
    G = face_conductances(model)
    solved = model.solved_mask()
    vol = model.grid.cell_volumes()
    inv_rhoc = model.cell_field("inv_rhoc")
    C = np.where(solved, vol / np.where(inv_rhoc > 0, inv_rhoc, 1.0), 0.0)   # J/K
    method = tr.method
    dt = time_step(model, G)
    nsteps = max(1, math.ceil(tr.end_time / dt - 1e-9))
    dt = tr.end_time / nsteps
    snap_times = sorted(set(tr.snapshots))

    T0 = _interior(model.T_fixed).copy()
    T_ref = case.initial_temperature             # device arrays hold the rise above T_ref
    Tn = be.asarray(model.T_fixed - T_ref, dtype)   # with halo: boundary temperatures
    total_iters = 0
    snapshots = []
    if 0.0 in snap_times:
        snapshots.append((0.0, np.where(solved, T0, np.nan)))
    if method == "explicit":
        tab = {k: be.asarray(v, dtype) for k, v in model.table.items()}
        ids = be.asarray(model.ids)
        h = tuple(be.asarray(model.half_widths(a), dtype) for a in range(3))
        inv_d = tuple(be.asarray(1.0 / model.grid.spacing(a), dtype) for a in range(3))
        Tnew = be.asarray(model.T_fixed - T_ref, dtype)
        contact = model.has_contact
        step = lambda: be.explicit_step(Tn, Tnew, ids, tab, h, inv_d, dt,  # noqa: E731
                                        contact=contact)
        mg_levels = 0
    else:
        sys0 = linear_system(model)
        theta2 = method == "crank_nicolson"
        Dc = C / dt * (2.0 if theta2 else 1.0)
        sysM = LinearSystem(sys0.Gx, sys0.Gy, sys0.Gz, sys0.D + Dc, sys0.b)
        mg = Multigrid(sysM, model.grid.faces, be, dtype, solved=solved)
        mg_levels = mg.nlevels
        opM = tuple(be.asarray(a, dtype) for a in (sysM.Gx, sysM.Gy, sysM.Gz, sysM.D))
        op0 = tuple(be.asarray(a, dtype) for a in (sys0.Gx, sys0.Gy, sys0.Gz, sys0.D))
        b0 = be.asarray(_pad(sys0.shifted_rhs(T_ref)), dtype)
        Dc_pad = be.asarray(_pad(Dc), dtype)
        rhs = be.zeros(Tn.shape, dtype)
        r0 = be.zeros(Tn.shape, dtype)
        x = be.asarray(_pad(T0 - T_ref), dtype)
        work = [be.zeros(Tn.shape, dtype) for _ in range(5)]

        def step():
            nonlocal total_iters
            rhs[...] = b0 + Dc_pad * x
            if theta2:
                be.residual(b0, x, *op0, r0)     # r0 = b - A T^n
                rhs[...] += r0
            st = pcg(be, opM, rhs, x, mg.apply, case.solver.tolerance,
                     case.solver.max_iterations, work=work)
            if not st.converged:
                raise SolverError(f"an implicit step did not converge (residual "
                                  f"{st.residual:.2e}): reduce dt or loosen solver.tolerance")
            total_iters += st.iterations
    setup = time.perf_counter() - t_start

    def host(a):
        return be.to_host(_interior(a)).astype(np.float64) + T_ref

    def latest():
        return Tn if method == "explicit" else x

    n0 = 0
    if state is not None:
        if state["mode"] != "transient" or state["step"] > nsteps:
            raise CaseError("the checkpoint does not belong to this transient run; delete it",
                            None, str(ckpt.path))
        n0 = state["step"]
        resumed = np.where(solved, state["T"], T0) - T_ref
        for arr in ((Tn, Tnew) if method == "explicit" else (x,)):
            arr[1:-1, 1:-1, 1:-1] = be.asarray(resumed, dtype)
        snapshots = list(state["snapshots"])
    backup = be.zeros(x.shape, dtype) if (ckpt is not None and method != "explicit") else None

    def save_checkpoint(done, arr):
        return ckpt.save(host(arr), step=done, time_s=done * dt, snapshots=snapshots,
                         mode="transient")

    check_every = max(1, min(100, nsteps // 20))
    prev = cur = host(latest())
    done = n = n0
    try:
        for n in range(n0 + 1, nsteps + 1):
            t, t_new = (n - 1) * dt, n * dt
            want = [ts for ts in snap_times if t < ts <= t_new * (1 + 1e-12)]
            keep_prev = bool(want) or n == nsteps
            if keep_prev and method != "explicit":
                prev = host(x)
            if backup is not None:
                backup[...] = x
            step()
            if method == "explicit":
                Tn, Tnew = Tnew, Tn
                if keep_prev:
                    prev = host(Tnew)          # the state before this step
            done = n
            if keep_prev or n % check_every == 0:
                cur = host(latest())
                if not np.all(np.isfinite(cur[solved])) or cur[solved].max() > RUNAWAY_K:
                    hint = "reduce dt or use method: implicit_euler" if method == "explicit" \
                        else "reduce dt, check powers and conductivities"
                    raise SolverError(f"the transient run diverged at t = {t_new:.4g} s "
                                      f"(step {n}): temperature NaN or above {RUNAWAY_K:g} K;"
                                      f" {hint}")
                for ts in want:
                    # linear interpolation inside the step: second order, like the schemes
                    w = (ts - t) / dt
                    snapshots.append((ts, np.where(solved, prev + w * (cur - prev), np.nan)))
            if ckpt is not None and ckpt.due():
                save_checkpoint(done, latest())
            if progress is not None:
                progress(n, nsteps, t_new)
    except KeyboardInterrupt:
        if ckpt is None:
            raise
        arr = latest() if (method == "explicit" or done == n) else backup
        path = save_checkpoint(done, arr)
        raise Interrupted(f"interrupted after step {done} of {nsteps} (t = {done * dt:.6g} s); "
                          f"the state is saved in {path}: run again with --resume to "
                          "continue") from None
    T = cur
    # storage rate over the last step, and the boundary heat flow at the matching time level
    storage = float(np.sum(C[solved] * (T[solved] - prev[solved]) / dt))
    if method == "implicit_euler":
        flows = heat_flows(model, T, G)
    elif method == "explicit":
        flows = heat_flows(model, prev, G)
    else:
        f1, f0 = heat_flows(model, T, G), heat_flows(model, prev, G)
        flows = {k: 0.5 * (f1[k] + f0.get(k, 0.0)) for k in f1}
    T[~solved] = np.nan
    stats.update(method=method, dt=dt, steps=nsteps, end_time=tr.end_time, setup_time=setup,
                 iterations=total_iters, mg_levels=mg_levels)
    return Result(model, T, stats, flows, snapshots, storage_rate=storage)
