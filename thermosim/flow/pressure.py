"""The projection: the pressure equation in conductance form and the correction that makes
the face velocities divergence-free.

``sum_f (A_f / d_f) (phi_P - phi_N) = -(net outflow of P) / dt``, solved by conjugate
gradients preconditioned with the geometric multigrid of the conduction solver; ``phi`` is
the kinematic pressure p / rho (m^2/s^2).
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import SolverError
from ..linear_system import LinearSystem
from ..solvers.krylov import pcg
from ..parallel.architecture import halo_widths
from ..parallel.multigrid import multigrid_for
from .problem import FACES


class PressureProjection:
    """The pressure operator of a mesh and its boundaries, and the projection with it.

    ``held`` (per axis, host mask or None): faces whose velocity a term holds (fixed-flow
    fans), with no pressure coupling across them."""

    def __init__(self, problem, mesh, boundaries, held, tolerance: float, stats,
                 diverged):
        self.problem, self.mesh, self.boundaries = problem, mesh, boundaries
        self.tolerance = tolerance
        self.stats = stats                  # FlowStats: pressure iterations and solves
        self.diverged = diverged            # (where) -> SolverError for a blown-up step
        self.log_reduction = 0.0
        self.log_iters = 0
        self.speed = 0.0                    # largest face speed at the last step limit (m/s)
        self.held = held
        self.openness = None                # per axis, backend face factors (see reopen)
        self.open_key = None                # what the operator's openness was made for
        self._build(held)

    def reopen(self, openness, key=None) -> None:
        """Rebuild the operator with each face's conductance times ``openness[a]`` (host,
        padded faces normal to a, positive; None: all open): a face behind a momentum sink
        k moves 1 / (1 + dt k) of what an open one does under the same pressure gradient,
        so SIMPLEC's d there is dt / (1 + dt k).  The correction then takes it too.
        ``key``: what this openness was made for (:attr:`open_key`), so that a user finds
        whether another (the march, the outer iterations, local steps) reopened it since."""
        self.open_key = key
        self._build(self.held, openness)
        be, dt_ = self.mesh.be, self.mesh.dtype
        self.openness = None if openness is None else \
            [None if w is None else be.asarray(w, dt_) for w in openness]
        self._tmp = be.zeros(self.mesh.padded, dt_)

    def behind_sinks(self, sinks, dt: float, tag: str = "") -> None:
        """The operator with d = dt / (1 + dt k) behind the momentum sinks ``sinks`` (per
        axis, host padded faces, 1/s; None: no sinks) for a step ``dt`` (s), rebuilt
        only if it was made for another (``tag``, dt)."""
        if sinks is not None and self.open_key != (tag, dt):
            self.reopen([None if k is None else 1.0 / (1.0 + dt * k) for k in sinks],
                        (tag, dt))

    def _smoother(self, h, held, openness) -> str:
        """The pressure multigrid's smoother, ``rbgs`` (red-black point Gauss-Seidel) or
        ``zline`` (lines).  Stretched cells (aspect over 2) take lines, robust where the
        coupling is anisotropic.  Near-cubic cells on a GPU take point sweeps: they smooth
        an open box as well as lines (same CG iterations at 256^3) at a ninth of the cost
        a sweep (0.15 against 1.4 ms on an H200, where a line is a sequential
        recurrence).  On the CPU a line costs about 1.5-2.7 point sweeps, so lines only
        where faces are all but closed (behind sinks: servers, tiles) or held (fixed-flow
        fans), which makes the coupling anisotropic locally: the 0.1 m air hall, 26 CG
        iterations and 106 ms a solve with point sweeps, 12 and 72 ms with lines.  Solid
        blocks alone do not: a channel with a heated block (flow_step.py, 64^3) takes 6.7
        and 6.6 CG iterations a solve either way, 0.078 and 0.120 s a Poisson solve; the
        quick tank's march 25.4 and 24.4 s."""
        mesh = self.mesh
        spans = [h[a] for a in range(3) if mesh.shape[a] >= 2]
        aspect = max(float(np.max(x)) / float(np.min(y)) for x in spans for y in spans) \
            if spans else 1.0
        if aspect > 2.0:
            return "zline"
        if mesh.be.name != "cpu":
            return "rbgs"
        blocked = openness is not None or any(x is not None and bool(np.any(x)) for x in held)
        return "zline" if blocked else "rbgs"

    def _build(self, held, openness=None) -> None:
        """The operator on the whole grid, then this process's part (``openness``: see
        :meth:`reopen`, serial runs)."""
        mesh, g = self.mesh, self.problem.grid
        fl = mesh.global_fluid_host
        h = [g.spacing(a) for a in range(3)]
        G = []
        for a in range(3):
            others = [b for b in range(3) if b != a]
            area = np.expand_dims(np.multiply.outer(h[others[0]], h[others[1]]), a)
            d = halo_widths(g.faces[a], mesh.periodic[a])[1][1:].copy()  # faces 0..n
            shp = [1, 1, 1]
            shp[a] = -1
            inner = [slice(1, -1)] * 3
            lo = list(inner)
            hi = list(inner)
            n = g.shape[a]
            lo[a] = slice(0, n + 1)
            hi[a] = slice(1, n + 2)
            both = (fl[tuple(lo)] != 0) & (fl[tuple(hi)] != 0)
            if held[a] is not None:
                # a fixed-flow fan's faces keep their velocity: no pressure coupling there
                both &= ~held[a][tuple(slice(1, n + 2) if b == a else slice(1, -1)
                                       for b in range(3))]
            Ga = np.where(both, area / d.reshape(shp), 0.0)
            if openness is not None and openness[a] is not None:
                Ga = Ga * openness[a][tuple(slice(1, n + 2) if b == a else slice(1, -1)
                                            for b in range(3))]
            # an outflow face holds phi = 0 half a cell away, not a cell away
            for side, idx in ((0, 0), (1, n)):
                if self.problem.boundaries[FACES[2 * a + side]].kind == "outflow":
                    sl = [slice(None)] * 3
                    sl[a] = idx
                    Ga[tuple(sl)] *= 2.0
            G.append(Ga)
        D = np.where(mesh.global_solid, 1.0, 0.0)
        self.singular = not any(b.kind == "outflow" for b in self.problem.boundaries.values())
        arch = mesh.arch
        G = [arch.local_faces(x, a) for a, x in enumerate(G)]
        system = LinearSystem(G[0], G[1], G[2], arch.local_cells(D), np.zeros(mesh.shape))
        be, dt_ = mesh.be, mesh.dtype
        self.smoother = self._smoother(h, held, openness)
        self.multigrid = multigrid_for(system, mesh.grid.faces, be, dt_, arch,
                                       solved=~mesh.solid, singular=self.singular,
                                       smoother=self.smoother, periodic=mesh.periodic)
        # the solver's vectors need their halos filled where the axis wraps or the domain
        # is split between processes
        self.fills_halos = any(mesh.periodic) or arch.size > 1
        self.operator = tuple(be.asarray(x, dt_) for x in (G[0], G[1], G[2], system.D))
        self.fluid_cells = int((~mesh.global_solid).sum())
        local = mesh.fluid_host
        w = np.zeros(local.shape)
        w[1:-1, 1:-1, 1:-1] = local[1:-1, 1:-1, 1:-1]
        self.fluid_weight = be.asarray(w, dt_)   # 1 in fluid cells, 0 elsewhere
        # round-off scale of the volume flow through a typical cell face, for the pressure
        # solve's absolute floor
        U = max([abs(v) for b in self.problem.boundaries.values() for v in b.velocity]
                + [1e-30])
        volume = float(np.prod(g.upper - g.lower))
        ncells = g.ncells
        self.flux_scale = U * (volume / ncells) ** (2.0 / 3.0) * math.sqrt(ncells)
        self.flux_U = U
        # the length scale of the residuals (m): the domain's smallest extent
        self.length = min((float(f[-1] - f[0]) for f, n in zip(g.faces, mesh.shape)
                           if n >= 2), default=float(max(f[-1] - f[0] for f in g.faces)))
        pad = mesh.padded
        self._rhs = be.zeros(pad, dt_)
        self._increment = be.zeros(pad, dt_)          # pressure increment (implicit steps)
        self._work = [be.zeros(pad, dt_) for _ in range(5)]

    def project(self, vel, phi, dt: float, incremental: bool = False,
                steady_tolerance: float | None = None, just_enough: bool = False) -> None:
        """Make ``vel`` (m/s) divergence-free over a step ``dt`` (s), updating ``phi``.
        ``incremental``: the predictor already carried the last pressure gradient, so the
        solve is for the increment, added to phi.  ``just_enough``: see
        :meth:`absolute_floor`."""
        mesh, be, arch = self.mesh, self.mesh.be, self.mesh.arch
        be.divergence_rhs(vel, mesh.fluid, mesh.h, dt, self._rhs)
        if self.singular:
            # a closed domain: the discrete divergence sums to zero up to round-off;
            # remove that round-off so the system stays consistent
            s = arch.dot(be, self._rhs, self.fluid_weight)
            be.axpy(self._rhs, -s / self.fluid_cells, self.fluid_weight)
        x = self._increment if incremental else phi
        if incremental:
            x.fill(0)
        self.boundaries.fill_pressure(x, mirror=False)     # the solver's halo is zero
        try:
            st = pcg(be, self.operator, self._rhs, x, self.multigrid.apply, self.tolerance,
                     500, work=self._work,
                     atol=self.absolute_floor(dt, incremental, steady_tolerance,
                                              just_enough),
                     fill_halo=self.multigrid.fill_halo if self.fills_halos else None,
                     arch=arch)
        except SolverError:
            # the pressure equation itself is fine; its right-hand side is not (NaN or inf
            # velocities): the step was unstable
            raise self.diverged("the pressure solve met non-finite velocities") from None
        if not st.converged:
            raise SolverError(f"the pressure solve did not converge (residual "
                              f"{st.residual:.1e} after {st.iterations} iterations): reduce "
                              "the time step (cfl) or check the flow boundaries")
        self.stats.pressure_iterations += st.iterations
        self.stats.pressure_solves += 1
        if st.iterations and st.history[0] > 0:
            self.log_reduction += math.log(max(st.residual, 1e-300) / st.history[0])
            self.log_iters += st.iterations
        self.boundaries.fill_pressure(x, mirror=True)
        for c in range(3):
            if self.openness is not None and self.openness[c] is not None:
                self._tmp.fill(0)
                be.correct(c, self._tmp, x, mesh.fluid, mesh.d, dt)
                self._tmp *= self.openness[c]
                vel[c] += self._tmp
            elif mesh.shape[c] >= 1:
                be.correct(c, vel[c], x, mesh.fluid, mesh.d, dt)
        if incremental:
            be.axpy(phi, 1.0, x)            # halos too: they stay consistent

    def absolute_floor(self, dt: float, incremental: bool = False,
                       steady_tolerance: float | None = None,
                       just_enough: bool = False) -> float:
        """Absolute floor of the pressure residual (m^3/s^2): round-off of the volume
        flows at the velocity scale, so that re-projecting a divergence-free field stops.
        An increment's right-hand side is only what the last pressure gradient left
        undone, so a tolerance relative to it alone would ask far more than a whole solve
        does: there the floor is the pressure tolerance times the volume flows at the
        current speed (cells left with that fraction of a typical face's flow).
        ``just_enough`` (the steady outer iterations): only what the steady criterion
        needs, even where that is looser than the march's tolerance."""
        eps = 1e-13 if self.mesh.dtype == np.float64 else 1e-6
        floor = eps * self.flux_scale / dt
        if incremental:
            U = max(self.speed, 1e-30)
            tol = self.tolerance
            if steady_tolerance:
                # what the solve leaves undone shows up in every step's velocity change, so
                # in the steady residual max|du/dt| L/U^2 as ~10 tol L/(U dt) (measured, de
                # Vahl Davis Ra 1e4 on 64^2: a plateau at 1.5e-6 with tol 1e-9); keep it
                # a tenth of the steady criterion, however small the step.  The outer
                # iterations keep just that, not the march's tolerance where it is tighter
                # (air halls of 0.2 and 0.1 m: 5.9 and 21.8 CG iterations a solve at 1e-9,
                # 2.7 and 10.4 at 1e-7; the same outer iterations, 666 / 669 and 1,800 /
                # 1,791; hottest junctions the same to 0.01 K)
                need = 0.01 * steady_tolerance * U * dt / self.length
                tol = need if just_enough else min(tol, need)
            floor = max(floor, tol * self.flux_scale / self.flux_U * U / dt)
        return floor

    def mean_reduction(self) -> float:
        """Mean residual reduction per CG iteration over the run's solves."""
        return math.exp(self.log_reduction / self.log_iters) if self.log_iters else 0.0
