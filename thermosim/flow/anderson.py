"""Anderson acceleration of the steady iterations, and the state vector it works on.

The outer iterations (:mod:`thermosim.flow.outer`) and the multigrid cycles
(:mod:`thermosim.flow.fas`) are fixed-point maps of the flow's state; Anderson mixing of
their last iterates (Walker & Ni 2011) turns their slow linear tail into a few dozen
iterations.
"""

from __future__ import annotations

import math

import numpy as np

from ..backends.blas_threads import one_blas_thread
from .problem import heat_driven, lagged


class Anderson:
    """Anderson acceleration of a fixed-point iteration x <- G(x) (Walker & Ni, SIAM J.
    Numer. Anal. 49 (2011) 1715): the next iterate is the combination of the last
    ``depth`` images G(x) whose residual G(x) - x is least in the weighted norm
    (``weights``: one over each field's scale).  Linear combinations of divergence-free
    fields with the same boundary values keep both.  The differences of the residuals
    and of the images live in ring buffers, the residuals' Gram matrix is updated a row
    at a time; an iteration reads each history row twice (the residuals' for the Gram
    row and the right-hand side together, the images' for the combination), where the
    iterates' differences took four reads (measured, one thread, 340,000 unknowns: the
    two products 27 -> 20 ms a step at depth 30, 152 -> 87 ms at depth 100)."""

    def __init__(self, be, size: int, dtype, depth: int = 16, history=None):
        """``history``: the dtype the differences are kept in (None: ``dtype``); the last
        image and residual, which they are taken from, keep ``dtype``."""
        self.be = be
        xp = self.xp = be.xp
        self.depth = depth
        hist = dtype if history is None else history
        self.dG = xp.zeros((depth, size), hist)
        self.dF = xp.zeros((depth, size), hist)
        self.gram = np.zeros((depth, depth))
        self.count = 0
        self.g_prev = xp.zeros(size, dtype)
        self.f_prev = xp.zeros(size, dtype)
        self.started = False

    def step(self, x, gx, weights, mix: bool = True):
        """Given x and G(x) (flat arrays), return the accelerated next iterate; with
        ``mix`` False the pair only joins the history and G(x) is returned (a plain
        iteration, :class:`Restarts`)."""
        f = (gx - x) * weights
        if not self.started:
            self.started = True
            self.g_prev[...] = gx
            self.f_prev[...] = f
            return gx
        j = self.count % self.depth
        # the images' differences, not the iterates': with fixed weights the same
        # combination (dX + dF / w = dG), but the combination then reads one history
        # array, not two
        self.dG[j] = gx - self.g_prev
        self.dF[j] = f - self.f_prev
        self.g_prev[...] = gx
        self.f_prev[...] = f
        self.count += 1
        k = min(self.count, self.depth)
        row, rhs = self._rows_dots(k, self.dF[j], f)
        self.gram[j, :k] = row
        self.gram[:k, j] = row
        if not mix:
            return gx
        G = self.gram[:k, :k]
        # regularised against the near-dependence of the last differences as it settles
        reg = 1e-10 * max(float(np.trace(G)), 1e-300)
        try:
            with one_blas_thread():     # LAPACK's rounding follows its thread count
                gamma = np.linalg.solve(G + reg * np.eye(k), rhs)
        except np.linalg.LinAlgError:
            return gx
        out = self.xp.empty_like(gx)
        if hasattr(self.be, "anderson_combine"):
            self.be.anderson_combine(out, gx, gamma, self.dG, k)
        else:
            out[...] = gx - self.xp.asarray(gamma, self.dG.dtype) @ self.dG[:k]
        return out

    def reset(self) -> None:
        """Forget the history (a restart)."""
        self.count = 0
        self.started = False

    def _rows_dots(self, k: int, a, b) -> tuple:
        """The first k rows of dF dotted with a and with b, on the host: one pass over
        the history (it is read twice for each step's combination anyway)."""
        if hasattr(self.be, "rows_dots"):
            return self.be.rows_dots(self.dF, k, a, b)
        # in the history's precision: a wider operand would copy the whole history
        r = self.dF[:k] @ self.xp.stack([a, b], axis=1).astype(self.dF.dtype)
        r = np.asarray(r.get() if hasattr(r, "get") else r, float)
        return r[:, 0], r[:, 1]


#: the most iterations Anderson may go without its residual losing a tenth before its
#: history is thrown away (:class:`Restarts`).  A hall's history is 100 deep
#: (:data:`HALL_DEPTH`), and the 0.11 m 20-rack hall, its temperature in the vector, held
#: its velocity residual between 2.40e-3 and 2.53e-3 from iteration 440 to 590 and
#: between 7.35e-4 and 7.60e-4 from 760 to 820, restarted at 515 and 765 by the depth's
#: rule: 899 outer iterations, 689 restarting after 30 quiet ones (the other halls'
#: counts: :func:`temperature_joins`).  The flows with no lagged terms keep their 30
#: deep, the multigrid cycles their 10: unchanged
QUIET = 30


#: once Anderson has stagnated (:class:`Restarts`) it mixes one iteration in this many,
#: the others plain: see :meth:`Restarts.mixes`
PERIOD = 2


class Restarts:
    """When Anderson's history is thrown away, from the residual of each iteration:

    * the residual has grown a hundredfold over the least so far: the history no longer
      describes where the iterations are;
    * it has not lost a tenth in ``depth`` iterations (the history's length) or in
      :data:`QUIET`, whichever is fewer: Anderson has stagnated, its next iterate its
      last.  Seen as the residual the same to three digits for thousands of iterations
      (the 0.154 m cold-plate hall at 6.3e-4, once its local steps were held under
      Anderson).  Measured, outer iterations with / without this restart: that hall 848
      / not steady in 3,000; de Vahl Davis Ra 1e6 on one 48^2 mesh 702 / 946; the Re
      1000 cavity on 64^2 406 / 400.

    From the first stagnation on, Anderson also mixes only one iteration in
    :data:`PERIOD` (:meth:`mixes`)."""

    def __init__(self, depth: int):
        self.depth = depth
        self.patience = min(depth, QUIET)
        self.best = self.mark = math.inf
        self.quiet = 0
        self.alternating = False

    def due(self, worst: float) -> bool:
        """Whether to restart after an iteration whose residual is ``worst``."""
        self.best = min(self.best, worst)
        grown = worst > 100.0 * self.best
        if grown:
            self.best = worst
        if worst < 0.9 * self.mark:
            self.mark, self.quiet = worst, 0
        else:
            self.quiet += 1
        stagnant = bool(self.depth) and self.quiet >= self.patience
        if stagnant:
            self.mark, self.quiet = worst, 0
            self.alternating = True
        return grown or stagnant

    def mixes(self, step: int) -> bool:
        """Whether Anderson's combination replaces iteration ``step``'s image (else the
        image stays and only joins the history).  Every iteration until Anderson first
        stagnates, then one in :data:`PERIOD`: the alternating Anderson-Richardson
        iteration (Pratapa, Suryanarayana & Pask, J. Comput. Phys. 306 (2016) 43;
        Banerjee et al.'s periodic Pulay, Chem. Phys. Lett. 647 (2016) 31), which does not
        stagnate where the plain map contracts.  Seen stagnating: the 0.0296 m immersion
        tank, a server face's residual the same for hundreds of iterations while each
        mix took back the pressure step the plain iteration made below it, its weight in
        the least squares too small to be seen (stop 50); restarting the history did
        not help.  Measured, outer iterations Anderson every iteration / alternating
        after the first stagnation (issue 19, stop 51, one thread): that tank not steady
        (5e-3 from 540 to 1,090) / 611; the 20-rack hall with four CRAH units on 0.13 m
        cells not steady (5.8e-4 from 300 to 810) / 654; the halls and tanks that never
        stagnate the same."""
        return not self.alternating or step % PERIOD == 0


#: Anderson's depth in a hall's outer iterations (the flows with no lagged terms keep 30,
#: multigrid cycles 10), its history in single precision: see :func:`history`
HALL_DEPTH = 100


def history(problem) -> tuple:
    """Anderson's depth and the dtype of its history (None: the run's) in the outer
    iterations of ``problem``.  Anderson is GMRES on the linearised map (Walker & Ni 2011),
    and a hall's tail wants the longer Krylov space.  Measured, outer iterations at depth
    30 / 100 (issue 19, stop 38): the quick air and cold-plate halls 143 / 134 and 194 /
    191, on 0.154 m cells 375 / 364 and 472 / 410, on 0.118 m 449 / 427 and 559 / 512, on
    0.1 m 460 / 443 and not steady in 1,500 / 912; the 20-rack hall on 0.2 and 0.154 m
    118 / 117 and 396 / 373.  At 150 the same but the 0.1 m cold-plate hall (stalled at
    1,200); at 60 and 80 that hall stalled too.  The history is the accelerator's model
    of the map, not the answer (the fixed point is the map's): in single precision the
    same counts, the 0.1 m cold-plate hall's aside (657 in double), the same answers
    (test_steady); so 100 differences take 3,200 B a cell, 30 in double took 1,920."""
    return (HALL_DEPTH, np.float32) if lagged(problem) else (30, None)


def temperature_joins(problem) -> bool:
    """Whether the temperature is one of Anderson's unknowns: where fans and lagged terms
    steer the flow (the air and cold-plate halls: :func:`~thermosim.flow.problem.lagged`),
    and where the problem's own fixed temperatures differ (its boundaries' and the initial
    one: de Vahl Davis's hot and cold walls).  Decided from the problem, not from the
    state: a run resumed from a checkpoint or started from coarser meshes' answer starts
    heated.  And the immersion tanks (:func:`~thermosim.flow.problem.heat_driven`): left
    out, the temperature moved by the plain energy update under Anderson's velocities
    and pressure, and after every restart the 0.0333 m tank's residual rose linearly
    (1e-3 to 8e-2 in 30 iterations, the change of one server cell's temperature, 4e-5 K
    an iteration, as buoyancy at its top face) until the next restart; joined from the
    first iteration (with the energy first), the 0.019 m tank held between 2 and 5 for
    its first 380 iterations (issue 19, stop 45).  So a tank's temperature
    joins when Anderson does (:mod:`.anderson_start`), with the weights of
    :func:`~thermosim.flow.outer.tank_weights`.

    Why the halls: the outer iteration's map, linearised at a hall's fixed point, has
    modes that do not decay, most of them in the temperature (the 0.11 m 20-rack hall: a
    pair of modulus 1.14 whose temperature share is 0.8, in the slot between a CRAH column
    and the end wall; ``benchmarks/outer_spectrum.py``), and Anderson leaves what is not
    in its vector to the plain iteration.  Measured, outer iterations before / with the
    temperature and :data:`QUIET`'s restarts (issue 19, stop 42, one thread): the air
    halls on 0.2 / 0.154 / 0.118 / 0.1 m cells 161 / 159, 231 / 223, 410 / 422, 425 /
    422; the cold-plate halls 211 / 191, 419 / 396, 448 / 425, 675 / 554; the 20-rack
    hall on 0.2 / 0.13 / 0.11 / 0.08 m 117 / 121, 446 / 457, 852 / 689, 847 / 929.  (In
    stop 37, before the local steps were held under Anderson and before its restarts,
    the temperature made the halls slower: 175 -> 269 on the quick air hall.)"""
    if lagged(problem) and problem.fans or heat_driven(problem):
        return True
    temps = [b.temperature for b in problem.boundaries.values() if b.temperature is not None]
    temps.append(problem.initial_temperature)
    return max(temps) - min(temps) > 1e-9


class StateVector:
    """The unknowns the outer iterations accelerate, gathered into one flat vector: the
    velocity components that move (not a 2D case's third; the faces 1..n+1 along each),
    the temperature where :func:`temperature_joins`, and the pressure, interior cells only
    (the halos are the boundaries' to fill: in 2D they are two thirds of a padded
    array)."""

    def __init__(self, solver):
        self.solver = solver
        be, state = solver.be, solver.state_
        n = solver.model.mesh.shape
        inner = (slice(1, -1),) * 3
        parts = []
        for c in range(3):
            if n[c] >= 2:
                sl = tuple(slice(1, n[a] + 2) if a == c else slice(1, -1) for a in range(3))
                parts.append(("vel", c, sl))
        if temperature_joins(solver.problem):
            parts.append(("T", None, inner))
        parts.append(("phi", None, inner))
        self.parts = parts
        self.sizes = [int(np.prod([len(range(*s_.indices(m))) for s_, m in
                                   zip(sl, state.T.shape)])) for _, _, sl in parts]
        total = sum(self.sizes)
        self.flat = be.zeros(total, state.T.dtype)
        self.weights = be.zeros(total, state.T.dtype)

    def _field(self, name, c):
        st = self.solver.state_
        return st.vel[c] if name == "vel" else getattr(st, name)

    def gather(self, out=None):
        """The unknowns now, as one flat array (``out`` if given)."""
        out = self.flat if out is None else out
        i = 0
        for (name, c, sl), m in zip(self.parts, self.sizes):
            out[i:i + m] = self._field(name, c)[sl].ravel()
            i += m
        return out

    def scatter(self, x) -> None:
        """Put the flat unknowns back into the fields (halos: the caller's)."""
        i = 0
        for (name, c, sl), m in zip(self.parts, self.sizes):
            f = self._field(name, c)
            f[sl] = x[i:i + m].reshape(f[sl].shape)
            i += m

    def accelerate(self, acc: Anderson, x, mix: bool = True) -> None:
        """Anderson's (``acc``) step from the iterate ``x`` to the image now in the
        fields: its combination put in the fields, their boundaries refilled, or (``mix``
        False) the pair only recorded."""
        out = acc.step(x, self.gather(), self.weights, mix)
        if mix:
            s = self.solver
            self.scatter(out)
            s.model.apply_bc(s.vel, s.T)
            s.model.boundaries.fill_pressure(s.phi, mirror=True)

    def weigh(self, U: float, dT: float, pressure: float | None = None,
              stiffness=None) -> None:
        """One over each field's scale: U (m/s), dT (K), ``pressure`` (m^2/s^2; None:
        U^2).  ``stiffness``: per velocity component, None or each face's factor (padded
        faces) on its weight."""
        i = 0
        for (name, c, sl), m in zip(self.parts, self.sizes):
            scale = {"vel": U, "T": dT, "phi": U * U if pressure is None else pressure}[name]
            self.weights[i:i + m] = 1.0 / max(scale, 1e-30)
            if name == "vel" and stiffness is not None and stiffness[c] is not None:
                self.weights[i:i + m] *= stiffness[c][sl].ravel()
            i += m


__all__ = ["Anderson", "HALL_DEPTH", "PERIOD", "Restarts", "StateVector", "history",
           "temperature_joins"]
