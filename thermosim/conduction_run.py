"""Running a conduction case, steady or transient, on a backend, with statistics and the
heat balance: :func:`run_conduction` (which :func:`thermosim.solve` calls for a case without
a ``flow`` section) and its :class:`Result`."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from .backends import backend_for
from .case import Case
from .checkpoint import Checkpointer
from .conduction import FIXED, SOLVED, ThermalModel, face_conductances, linear_system
from .errors import CaseError, Interrupted, SolverError
from .linear_system import LinearSystem
from .sizing import step_count_check
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


def run_conduction(model: ThermalModel, backend="auto", progress=None, checkpoint=None,
                   checkpoint_every: float = 60.0, resume: bool = False) -> Result:
    """Solve a discretised conduction case, steady or transient (its ``solver.mode``), on
    ``backend`` (a name or a backend object); the arguments as :func:`thermosim.solve`
    takes them."""
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


def _heat_capacities(model: ThermalModel) -> np.ndarray:
    """rho c V of every solved cell (J/K; 0 elsewhere)."""
    vol = model.grid.cell_volumes()
    inv_rhoc = model.cell_field("inv_rhoc")
    return np.where(model.solved_mask(), vol / np.where(inv_rhoc > 0, inv_rhoc, 1.0), 0.0)


class _March:
    """A transient conduction march on a backend; its device fields hold the rise above
    ``T_ref`` (K), with the halo."""

    def __init__(self, be, T_ref: float):
        self.be, self.T_ref = be, T_ref

    def host(self, a) -> np.ndarray:
        """A device field's interior on the host, in K."""
        return self.be.to_host(a[1:-1, 1:-1, 1:-1]).astype(np.float64) + self.T_ref


class _ExplicitMarch(_March):
    """Forward Euler on the backend's explicit kernel, which evaluates the face conductances
    on the fly from the id table: two device fields, swapped after each step."""

    mg_levels = 0
    iterations = 0

    def __init__(self, model: ThermalModel, be, dtype, dt: float, T_ref: float, C, ckpt):
        super().__init__(be, T_ref)
        self.dt = dt
        self.T = be.asarray(model.T_fixed - T_ref, dtype)   # with halo: boundary values
        self.table = {k: be.asarray(v, dtype) for k, v in model.table.items()}
        self.ids = be.asarray(model.ids)
        self.h = tuple(be.asarray(model.half_widths(a), dtype) for a in range(3))
        self.inv_d = tuple(be.asarray(1.0 / model.grid.spacing(a), dtype) for a in range(3))
        self.T_new = be.asarray(model.T_fixed - T_ref, dtype)
        self.contact = model.has_contact

    def fields(self):
        """Every device field that a resumed run overwrites."""
        return self.T, self.T_new

    def latest(self):
        return self.T

    def step(self, want_previous: bool) -> np.ndarray | None:
        """One step; returns the state before it (K, host) when ``want_previous``."""
        self.be.explicit_step(self.T, self.T_new, self.ids, self.table, self.h, self.inv_d,
                              self.dt, contact=self.contact)
        self.T, self.T_new = self.T_new, self.T
        return self.host(self.T_new) if want_previous else None

    def saved_state(self, step_finished: bool):
        """The field to checkpoint after an interruption (a step cut short has not been
        swapped in yet, so the latest field is whole)."""
        return self.T


class _ImplicitMarch(_March):
    """Implicit Euler or Crank-Nicolson: every step a multigrid-preconditioned CG solve of
    ``(A + C/dt) T^{n+1} = b + C/dt T^n`` (Crank-Nicolson: ``C`` doubled and ``b - A T^n``
    added), on one device field."""

    def __init__(self, model: ThermalModel, be, dtype, dt: float, T_ref: float, C, ckpt):
        super().__init__(be, T_ref)
        case = model.case
        self.tolerance, self.max_iterations = case.solver.tolerance, case.solver.max_iterations
        shape = model.T_fixed.shape
        sys0 = linear_system(model)
        self.crank_nicolson = case.solver.transient.method == "crank_nicolson"
        Dc = C / dt * (2.0 if self.crank_nicolson else 1.0)
        sysM = LinearSystem(sys0.Gx, sys0.Gy, sys0.Gz, sys0.D + Dc, sys0.b)
        self.mg = Multigrid(sysM, model.grid.faces, be, dtype, solved=model.solved_mask())
        self.mg_levels = self.mg.nlevels
        self.opM = tuple(be.asarray(a, dtype) for a in (sysM.Gx, sysM.Gy, sysM.Gz, sysM.D))
        self.op0 = tuple(be.asarray(a, dtype) for a in (sys0.Gx, sys0.Gy, sys0.Gz, sys0.D))
        self.b0 = be.asarray(_pad(sys0.shifted_rhs(T_ref)), dtype)
        self.Dc = be.asarray(_pad(Dc), dtype)
        self.rhs = be.zeros(shape, dtype)
        self.r0 = be.zeros(shape, dtype)
        self.x = be.asarray(_pad(_interior(model.T_fixed).copy() - T_ref), dtype)
        self.work = [be.zeros(shape, dtype) for _ in range(5)]
        self.iterations = 0
        # the state before the step in progress, for a checkpoint when it is cut short
        self.backup = be.zeros(self.x.shape, dtype) if ckpt is not None else None

    def fields(self):
        return (self.x,)

    def latest(self):
        return self.x

    def step(self, want_previous: bool) -> np.ndarray | None:
        previous = self.host(self.x) if want_previous else None
        if self.backup is not None:
            self.backup[...] = self.x
        self.rhs[...] = self.b0 + self.Dc * self.x
        if self.crank_nicolson:
            self.be.residual(self.b0, self.x, *self.op0, self.r0)     # r0 = b - A T^n
            self.rhs[...] += self.r0
        st = pcg(self.be, self.opM, self.rhs, self.x, self.mg.apply, self.tolerance,
                 self.max_iterations, work=self.work)
        if not st.converged:
            raise SolverError(f"an implicit step did not converge (residual "
                              f"{st.residual:.2e}): reduce dt or loosen solver.tolerance")
        self.iterations += st.iterations
        return previous

    def saved_state(self, step_finished: bool):
        """The field to checkpoint after an interruption: a CG cut short has overwritten
        part of the latest field, so the state before that step."""
        return self.x if step_finished else self.backup


def _transient(model, be, stats, progress, t_start, ckpt=None, state=None) -> Result:
    """A transient conduction run: ``solver.transient.end_time`` in equal steps, with the
    snapshots asked for (interpolated inside a step), checkpoints and the heat balance of
    the last step."""
    case = model.case
    tr = case.solver.transient
    G = face_conductances(model)
    solved = model.solved_mask()
    C = _heat_capacities(model)                      # J/K
    dt = time_step(model, G)
    nsteps = max(1, math.ceil(tr.end_time / dt - 1e-9))
    dt = tr.end_time / nsteps
    T_ref = case.initial_temperature             # device arrays hold the rise above T_ref
    snapshots = []
    if 0.0 in tr.snapshots:
        snapshots.append((0.0, np.where(solved, _interior(model.T_fixed).copy(), np.nan)))
    march_type = _ExplicitMarch if tr.method == "explicit" else _ImplicitMarch
    march = march_type(model, be, _dtype(case), dt, T_ref, C, ckpt)
    setup = time.perf_counter() - t_start
    n0 = 0
    if state is not None:
        n0, snapshots = _resume(model, march, state, nsteps, ckpt, T_ref)
    prev, T = _march(model, march, n0, nsteps, dt, snapshots, ckpt, progress)
    # storage rate over the last step, and the boundary heat flow at the matching time level
    storage = float(np.sum(C[solved] * (T[solved] - prev[solved]) / dt))
    if tr.method == "implicit_euler":
        flows = heat_flows(model, T, G)
    elif tr.method == "explicit":
        flows = heat_flows(model, prev, G)
    else:
        f1, f0 = heat_flows(model, T, G), heat_flows(model, prev, G)
        flows = {k: 0.5 * (f1[k] + f0.get(k, 0.0)) for k in f1}
    T[~solved] = np.nan
    stats.update(method=tr.method, dt=dt, steps=nsteps, end_time=tr.end_time,
                 setup_time=setup, iterations=march.iterations, mg_levels=march.mg_levels)
    return Result(model, T, stats, flows, snapshots, storage_rate=storage)


def _resume(model: ThermalModel, march, state: dict, nsteps: int, ckpt, T_ref: float):
    """Load a checkpoint's state into the march; returns (its step, its snapshots)."""
    if state["mode"] != "transient" or state["step"] > nsteps:
        raise CaseError("the checkpoint does not belong to this transient run; delete it",
                        None, str(ckpt.path))
    T0 = _interior(model.T_fixed).copy()
    resumed = np.where(model.solved_mask(), state["T"], T0) - T_ref
    for arr in march.fields():
        arr[1:-1, 1:-1, 1:-1] = march.be.asarray(resumed, arr.dtype)
    return state["step"], list(state["snapshots"])


def _march(model: ThermalModel, march, n0: int, nsteps: int, dt: float,
           snapshots: list, ckpt, progress) -> tuple[np.ndarray, np.ndarray]:
    """Steps ``n0 + 1 .. nsteps``: snapshots appended to ``snapshots``, a check for a
    diverging run every few steps, checkpoints when due, and on Ctrl-C a checkpoint (then
    :class:`Interrupted`).  Returns the states (K, host) before and after the last step."""
    tr = model.case.solver.transient
    snap_times = sorted(set(tr.snapshots))
    solved = model.solved_mask()

    def save_checkpoint(done, arr):
        return ckpt.save(march.host(arr), step=done, time_s=done * dt, snapshots=snapshots,
                         mode="transient")

    check_every = max(1, min(100, nsteps // 20))
    prev = cur = march.host(march.latest())
    done = n = n0
    try:
        for n in range(n0 + 1, nsteps + 1):
            t, t_new = (n - 1) * dt, n * dt
            want = [ts for ts in snap_times if t < ts <= t_new * (1 + 1e-12)]
            keep_prev = bool(want) or n == nsteps
            before = march.step(keep_prev)
            if keep_prev:
                prev = before
            done = n
            if keep_prev or n % check_every == 0:
                cur = march.host(march.latest())
                if not np.all(np.isfinite(cur[solved])) or cur[solved].max() > RUNAWAY_K:
                    hint = "reduce dt or use method: implicit_euler" if tr.method == "explicit" \
                        else "reduce dt, check powers and conductivities"
                    raise SolverError(f"the transient run diverged at t = {t_new:.4g} s "
                                      f"(step {n}): temperature NaN or above {RUNAWAY_K:g} K;"
                                      f" {hint}")
                for ts in want:
                    # linear interpolation inside the step: second order, like the schemes
                    w = (ts - t) / dt
                    snapshots.append((ts, np.where(solved, prev + w * (cur - prev), np.nan)))
            if ckpt is not None and ckpt.due():
                save_checkpoint(done, march.latest())
            if progress is not None:
                progress(n, nsteps, t_new)
    except KeyboardInterrupt:
        if ckpt is None:
            raise
        path = save_checkpoint(done, march.saved_state(done == n))
        raise Interrupted(f"interrupted after step {done} of {nsteps} (t = {done * dt:.6g} s); "
                          f"the state is saved in {path}: run again with --resume to "
                          "continue") from None
    return prev, cur
