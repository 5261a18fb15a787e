"""Nonlinear multigrid (the full approximation scheme) over the steady solver's outer
iterations.

An outer iteration (:class:`~thermosim.flow.outer.OuterIteration`) removes the error that
varies from cell to cell in a few passes, but the error smooth over the domain (the big
recirculation's strength, the bulk temperature) only as fast as pseudo-time carries it:
more iterations the finer the mesh.  The full approximation scheme (Brandt, Math. Comp. 31
(1977) 333; for SIMPLE smoothers Vanka, J. Comput. Phys. 65 (1986) 138 and Ferziger &
Peric, Computational Methods for Fluid Dynamics, 3rd ed. (2002) sec. 12.4) hands that
error to a coarser mesh, where it varies from cell to cell again:

1. a few outer iterations on the fine mesh;
2. the state and the residuals restricted to the coarse mesh; the coarse equations get the
   forcing ``tau = R(fine residual) - coarse residual(R state)``, so that they are the fine
   equations seen on the coarse mesh and their answer is the fine answer's restriction;
3. the coarse problem solved a little (recursively: a V-cycle);
4. the coarse change interpolated back and added; a few more fine iterations.

At the fine answer the residual is zero, the forcing makes the restricted state the coarse
answer and the change is zero: the fixed point is the fine mesh's own steady state, what
the transfers and the coarse meshes are does not enter it.

The coarse meshes merge the cells between feature faces in pairs
(:func:`thermosim.flow.sequence.coarser`), so every coarse face is a fine face: the
velocity restricts as the flux through it (its fine faces' area-weighted mean), so a
divergence-free fine field restricts to a divergence-free coarse one and continuity needs
no forcing.
"""

from __future__ import annotations

import math
import time

import numpy as np

from ..errors import CaseError
from .march import StallWatch, converged, finish, not_steady, save_if_due
from .anderson import Anderson, StateVector
from .anderson_start import accelerate_below
from .outer import (STALL_PATIENCE, OuterIteration, default_relax,
                    solve_steady)
from .problem import lagged
from .sequence import coarser, transfer
from .steppers import RunMode, relative_residuals

#: outer iterations before and after the coarse correction, and on the coarsest mesh
PRE, POST, COARSEST = 2, 2, 8
#: the coarsest mesh's cells at least (below, the outer iterations' own set-up dominates)
MIN_CELLS = 256
#: a problem with lagged terms (a hall) is coarsened only from this many cells: the
#: 0.1 m air hall (85,120 cells) coarsens to 13,860 cells, which converge on their own
#: (603 outer iterations); the quick one (12,880) to 3,332, which stall
LAGGED_MIN_CELLS = 40_000
#: V-cycles at most on each coarser mesh's own problem in the full-multigrid start: its
#: answer only has to be as good as its own discretisation, the finer mesh's cycles take
#: the rest.  Measured in outer iterations times cells over the fine mesh's cells (the
#: work, coarse levels included), uncapped / 8 / 4: cavity Re 1000 64^2 200 / 171 / 163,
#: 128^2 172 / 143 / 130; de Vahl Davis Ra 1e6 96^2 265 / 230 / 233, 192^2 401 / 314 /
#: 595 (its fine cycles scatter with the start: 67 / 56 / 110)
START_CYCLES = 8
#: Anderson's depth over the cycles (measured, cavity Re 1000 128^2: 43 cycles without,
#: 26 with 5, 24 with 10)
DEPTH = 10


def suits(problem, blocks=None) -> bool:
    """Whether multigrid cycles are the default for ``problem``: none of the lagged terms
    and no solid blocks (``blocks``: a case's, where ``problem`` is its flow section).
    Measured: on the quick air hall the coarse meshes, held to the features' faces, are
    12 and 14 cells across, their own problems stall, and the cycles diverge; on a
    conjugate channel (server_channel.yaml, 80 x 32) the cycles diverged where the one
    mesh stalls (the solids' heat settles far slower than the flow)."""
    solids = problem.blocks if blocks is None else blocks
    return not lagged(problem) and not solids


def _centres(faces: np.ndarray) -> np.ndarray:
    """Padded cell centres (m): a halo centre each end."""
    h = np.diff(faces)
    c = 0.5 * (faces[1:] + faces[:-1])
    return np.concatenate([[faces[0] - 0.5 * h[0]], c, [faces[-1] + 0.5 * h[-1]]])


def _face_positions(faces: np.ndarray) -> np.ndarray:
    """Padded face positions (m): the halo's low face, then the faces."""
    return np.concatenate([[faces[0] - (faces[1] - faces[0])], faces])


def _interpolation(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Matrix (dst.size, src.size) of linear interpolation, constant beyond the ends."""
    eye = np.eye(src.size)
    return np.stack([np.interp(dst, src, eye[k]) for k in range(src.size)], axis=1)


def _overlaps(fine_edges: np.ndarray, coarse_edges: np.ndarray) -> np.ndarray:
    """Matrix (coarse, fine) of the lengths (m) where interval k of each overlaps
    (``*_edges``: (n, 2) arrays of interval ends)."""
    lo = np.maximum(coarse_edges[:, None, 0], fine_edges[None, :, 0])
    hi = np.minimum(coarse_edges[:, None, 1], fine_edges[None, :, 1])
    return np.maximum(hi - lo, 0.0)


class AxisTransfer:
    """The one-dimensional transfers along one axis between a fine set of faces and a
    coarse set that is a subset of it (padded arrays, halos included)."""

    def __init__(self, fine: np.ndarray, coarse: np.ndarray):
        nf, nc = fine.size - 1, coarse.size - 1
        if nf == 1:
            # a 2D problem's one cell across: nothing to transfer
            eye = np.eye(3)
            self.cell_mean = self.cell_sum = self.face_value = self.face_mean = eye
            self.to_cells = self.to_faces = eye
            return
        out = np.array([int(np.argmin(np.abs(fine - x))) for x in coarse])
        # cells: the coarse cell J covers the fine cells out[J] .. out[J + 1] - 1
        ce = np.stack([fine[:-1], fine[1:]], axis=1)
        Ce = np.stack([coarse[:-1], coarse[1:]], axis=1)
        ov = _overlaps(ce, Ce)
        inside = (ov > 1e-12 * (fine[-1] - fine[0])).astype(float)
        self.cell_sum = self._padded(inside)
        self.cell_mean = self._padded(ov / np.diff(coarse)[:, None])
        # faces: a coarse face is the fine face out[J]
        fv = np.zeros((nc + 2, nf + 2))
        fv[0, 0] = 1.0
        fv[np.arange(1, nc + 2), out + 1] = 1.0
        self.face_value = fv
        # a face's control volume runs between the centres either side (halo centres at
        # the ends): the coarse one's mean of the fine ones it overlaps
        xc, Xc = _centres(fine), _centres(coarse)
        fe = np.stack([xc[:-1], xc[1:]], axis=1)
        Fe = np.stack([Xc[:-1], Xc[1:]], axis=1)
        ov = _overlaps(fe, Fe)
        fm = np.zeros((nc + 2, nf + 2))
        fm[0, 0] = 1.0
        fm[1:, 1:] = ov / (Fe[:, 1] - Fe[:, 0])[:, None]
        self.face_mean = fm
        self.to_cells = _interpolation(Xc, xc)
        self.to_faces = _interpolation(_face_positions(coarse), _face_positions(fine))

    @staticmethod
    def _padded(m: np.ndarray) -> np.ndarray:
        """An interior (coarse, fine) matrix with the halos mapped to the halos."""
        nc, nf = m.shape
        out = np.zeros((nc + 2, nf + 2))
        out[1:-1, 1:-1] = m
        out[0, 0] = out[-1, -1] = 1.0
        return out


def _apply(xp, mats, a):
    """The tensor product of the three axis matrices (None: identity) applied to a padded
    array."""
    for ax, m in enumerate(mats):
        if m is not None:
            a = xp.moveaxis(xp.tensordot(m, a, axes=(1, ax)), 0, ax)
    return a


class Transfer:
    """Restriction and interpolation between a fine and a coarse grid of one problem, on
    a backend (``be``: its array module holds the matrices)."""

    def __init__(self, fine_grid, coarse_grid, be, dtype):
        self.xp = be.xp
        axes = [AxisTransfer(f, c) for f, c in zip(fine_grid.faces, coarse_grid.faces)]
        names = ("cell_mean", "cell_sum", "face_value", "face_mean", "to_cells", "to_faces")
        self.m = {n: [None if f.size == 2 else be.asarray(getattr(t, n), dtype)
                      for t, f in zip(axes, fine_grid.faces)] for n in names}

    def _mats(self, name: str, axis: int | None = None, along: str = ""):
        return [self.m[along if a == axis else name][a] for a in range(3)]

    def velocity(self, v, c: int):
        """Face velocities normal to ``c`` (m/s): the flux-conserving mean."""
        return _apply(self.xp, self._mats("cell_mean", c, "face_value"), v)

    def momentum(self, r, c: int):
        """A momentum residual (m/s^2): the mean over the coarse control volume."""
        return _apply(self.xp, self._mats("cell_mean", c, "face_mean"), r)

    def mean(self, a):
        """A cell field (T in K, phi in m^2/s^2): the volume mean."""
        return _apply(self.xp, self._mats("cell_mean"), a)

    def total(self, q):
        """A per-cell amount (heat in W): the sum over the fine cells."""
        return _apply(self.xp, self._mats("cell_sum"), q)

    def faces_up(self, dv, c: int):
        """A coarse change of the face velocities normal to ``c``, interpolated."""
        return _apply(self.xp, self._mats("to_cells", c, "to_faces"), dv)

    def cells_up(self, d):
        """A coarse change of a cell field, interpolated."""
        return _apply(self.xp, self._mats("to_cells"), d)


class Level:
    """One mesh of the cycle: its solver, outer iteration, residual arrays and the way to
    the next coarser mesh."""

    def __init__(self, solver, relax: float, sweeps: int):
        self.solver = solver
        self.it = OuterIteration(solver.model, relax, sweeps)
        # the pressure solved to the march's tolerance, not just the steady criterion's
        # share: the leftover divergence would join the residual restricted to the coarse
        # meshes (measured: cavity Re 1000 128^2 and de Vahl Davis Ra 1e6 96^2, 24 and 41
        # cycles so, 29 and 47 with just enough, in the same CPU time)
        self.it.just_enough = False
        be, mesh = solver.be, solver.model.mesh
        self.res = [be.zeros(mesh.padded, solver.dtype) for _ in range(4)]
        self.computed = [None if m is None else be.asarray(m, solver.dtype)
                         for m in (mesh.computed_faces(c) for c in range(3))]
        self.coarse: Level | None = None
        self.transfer: Transfer | None = None
        self.iterations = 0             # outer iterations run on this mesh
        self.cpu = 0.0                  # and their CPU seconds

    def smooth(self, n: int, tolerance):
        """``n`` outer iterations; returns the residual rates the last one started from."""
        s = self.solver
        rates = (0.0, 0.0)
        t0 = time.process_time()
        for _ in range(n):
            s.model.update(s.vel, s.T)
            rates = self.it.iterate(s.state_, tolerance)
        self.iterations += n
        self.cpu += time.process_time() - t0
        return rates


def hierarchy(solver, relax: float, sweeps: int, min_cells: int, levels: int):
    """The finest level (``solver``'s) linked to up to ``levels - 1`` coarser ones."""
    top = Level(solver, relax, sweeps)
    level, problem = top, solver.problem
    if lagged(problem):
        min_cells = max(min_cells, LAGGED_MIN_CELLS)
    for _ in range(levels - 1):
        q = coarser(problem, min_cells)
        if q is None:
            break
        try:
            s = type(solver)(q, solver.be, solver.dtype, solver.cfl,
                             solver.pressure_tolerance, solver.diffusion, solver.advection)
        except CaseError:
            break                   # a feature the coarse mesh cannot hold: no coarser
        s.outer = True
        level.coarse = Level(s, relax, sweeps)
        level.transfer = Transfer(problem.grid, q.grid, solver.be, solver.dtype)
        _restrict_inflows(level.solver, s, level.transfer)
        level, problem = level.coarse, q
    return top


def _restrict_inflows(fine, coarse, tr: Transfer) -> None:
    """Give each coarse inflow face the fine profile's flux-conserving mean, not its own
    profile at the coarse centres: the boundary values are equations too, and the coarse
    ones must be the fine ones seen on the coarse mesh, or a parabolic inflow carries a
    little more or less flow on the coarse mesh and every coarse change brings that back
    (measured: a heated channel's cycles froze at a velocity residual of 1.3e-2)."""
    be = fine.be
    for b in coarse.model.boundaries.faces:
        if b.kind != "inflow":
            continue
        f = fine.model.boundaries.by_face[b.face]
        a = b.axis
        u = be.zeros(fine.model.mesh.padded, fine.dtype)
        sl = [slice(None)] * 3
        sl[a] = f.normal_face
        u[tuple(sl)] = f.profile
        sl[a] = b.normal_face
        b.profile[...] = tr.velocity(u, a)[tuple(sl)]


def cycle(level: Level, tolerance, pre: int = PRE, post: int = POST,
          coarsest: int = COARSEST):
    """One V-cycle from ``level`` down; returns the residual rates (m/s^2, K/s) its last
    outer iteration on ``level`` started from."""
    if level.coarse is None:
        return level.smooth(coarsest, tolerance)
    level.smooth(pre, tolerance)
    s, C, tr = level.solver, level.coarse, level.transfer
    cs = C.solver
    level.it.residuals(s.state_, level.res)
    # the state restricted: the coarse outer iterations start from it
    for c in range(3):
        if C.computed[c] is not None:
            cs.vel[c][...] = tr.velocity(s.vel[c], c)
    cs.T[...] = tr.mean(s.T)
    cs.phi[...] = tr.mean(s.phi)
    cs.model.apply_bc(cs.vel, cs.T)
    cs.model.boundaries.fill_pressure(cs.phi, mirror=True)
    cs.model.update(cs.vel, cs.T)
    # the forcing: the fine residuals restricted less the coarse ones there
    C.it.forcing = None
    C.it.residuals(cs.state_, C.res)
    forcing = [None if C.computed[c] is None else
               (tr.momentum(level.res[c], c) - C.res[c]) * C.computed[c] for c in range(3)]
    forcing.append(tr.total(level.res[3]) - C.res[3])
    C.it.forcing = forcing
    start = [None if C.computed[c] is None else cs.vel[c].copy() for c in range(3)]
    start += [cs.T.copy(), cs.phi.copy()]
    cycle(C, tolerance, pre, post, coarsest)
    # the coarse change interpolated and added
    for c in range(3):
        if start[c] is not None:
            s.vel[c] += tr.faces_up(cs.vel[c] - start[c], c) * level.computed[c]
    T, phi = s.T, s.phi
    T += tr.cells_up(cs.T - start[3])
    phi += tr.cells_up(cs.phi - start[4])
    s.model.hold(T)
    s.model.apply_bc(s.vel, T)
    s.model.boundaries.fill_pressure(phi, mirror=True)
    return level.smooth(post, tolerance)


def _level_cycles(level: Level, mode, max_cycles: int, loose: float) -> None:
    """Solve one coarse level's own problem (no forcing) with at most ``max_cycles`` of
    its own cycles, to ``loose`` times ``mode``'s criteria, itself started from the
    levels below; an unconverged coarse answer is still handed on."""
    crit = RunMode(mode.steady_tolerance * loose,
                   None if not mode.energy_tolerance else mode.energy_tolerance * loose)
    if level.coarse is not None:
        level.coarse.it.forcing = None
        _level_cycles(level.coarse, mode, max_cycles, 10.0 * loose)
        transfer(level.coarse.solver, level.solver)
    s = level.solver
    acc = _Accelerator(s)
    below = accelerate_below(s.problem, crit.steady_tolerance)
    worst = math.inf
    for _ in range(max_cycles):
        x = acc.before() if worst < below else None
        rates = cycle(level, crit.steady_tolerance)
        if x is not None:
            acc.after(x)
        ru, rt = relative_residuals(rates, s.scales())
        if not (math.isfinite(ru) and math.isfinite(rt)) or converged(s, crit, ru, rt):
            break
        worst = max(ru, rt if not crit.energy_tolerance else 0.0)


class _Accelerator:
    """Anderson acceleration of the cycle as a fixed-point map of the level's state."""

    def __init__(self, solver, depth: int | None = None):
        depth = DEPTH if depth is None else depth
        self.s = solver
        self.acc = None
        if depth:
            self.vec = StateVector(solver)
            self.acc = Anderson(solver.be, self.vec.flat.size, self.vec.flat.dtype, depth)

    def before(self):
        return None if self.acc is None else self.vec.gather().copy()

    def after(self, x) -> None:
        if self.acc is None:
            return
        s, vec = self.s, self.vec
        U, _, dT = s.scales()
        vec.weigh(U, dT)
        vec.accelerate(self.acc, x)


def solve_cycles(solver, mode, max_iterations: int, progress, check_every: int, checkpoint,
                 relax: float | None, sweeps: int):
    """The steady state of ``solver`` (a FlowSolver) by full multigrid: the coarser
    meshes' answers first, then V-cycles of outer iterations, Anderson-accelerated, until
    ``mode``'s criteria or ``max_iterations`` outer iterations on this mesh; returns its
    result.  ``solver.stats.steps`` counts this mesh's outer iterations, ``cycles`` the
    V-cycles and ``coarse`` each coarser mesh's (cells, outer iterations, CPU s)."""
    t0 = time.perf_counter()
    st = solver.stats
    st.diffusion = "implicit"
    st.unit = "outer iterations"
    top = hierarchy(solver, default_relax(solver.problem, multigrid=True) if relax is None
                    else relax, sweeps, MIN_CELLS, 32)
    if top.coarse is None:
        # too few cells (or features) for a coarser mesh: the outer iterations on this one
        return solve_steady(solver, mode, max_iterations, progress, check_every, checkpoint,
                            relax, sweeps)
    per_cycle = PRE + POST
    if st.steps == 0:
        top.coarse.it.forcing = None
        _level_cycles(top.coarse, mode, max(min(max_iterations // per_cycle, START_CYCLES),
                                            1), 10.0)
        transfer(top.coarse.solver, solver)
    acc = _Accelerator(solver)
    watch = StallWatch(STALL_PATIENCE, st.steps, max_iterations)
    below = accelerate_below(solver.problem, mode.steady_tolerance)
    worst = math.inf
    while st.steps < max_iterations:
        x = acc.before() if worst < below else None
        rates = cycle(top, mode.steady_tolerance)
        if x is not None:
            acc.after(x)
        scales = solver.scales()
        ru, rt = relative_residuals(rates, scales)
        st.steps += per_cycle
        st.cycles += 1
        st.time += per_cycle * top.it.dt
        st.dt = top.it.dt
        solver.rates = rates
        st.residual_velocity, st.residual_temperature = ru, rt
        worst = max(ru, rt if not mode.energy_tolerance else 0.0)
        if not math.isfinite(worst):
            worst = math.inf
        st.history.append((st.steps, st.time, ru, rt))
        solver.check_divergence(scales[0])
        if progress is not None and (st.cycles % max(check_every // per_cycle, 1) == 0
                                     or st.cycles == 1):
            progress(st.steps, st.time, ru, rt)
        if converged(solver, mode, ru, rt):
            st.converged = True
            break
        if watch.stalled(st.steps, worst, mode.steady_tolerance):
            break
        t0 = save_if_due(solver, checkpoint, t0)
    st.coarse = []
    level = top.coarse
    while level is not None:
        st.coarse.insert(0, (level.solver.problem.grid.ncells, level.iterations,
                             level.cpu))
        level = level.coarse
    finish(solver, t0)
    if not st.converged:
        not_steady(solver, mode, checkpoint, unit="outer iterations", watch=watch)
    return solver.result()
