"""The steady solver: SIMPLEC outer iterations on the staggered grid, in pseudo-time.

One outer iteration, in delta form (the right-hand sides are the time march's own, so a
converged state is the march's steady state, whatever the iteration's operators):

1. momentum, each component: ``(1/dt + A_c + k) du = R_c(u, T) - k u - grad phi``, ``A_c``
   the Jacobian of the right-hand side with upwind advection, the molecular and eddy
   diffusion (nu_t frozen, its neighbours coupled: see :meth:`OuterIteration.iterate`)
   and the terms' implicit rates (wall shear, fan-curve slopes), ``k`` the momentum
   sinks; solved approximately by one multigrid V-cycle of the viscous operator (the
   smooth, diffusive error) and symmetric Gauss-Seidel sweeps (the advective);
2. pressure: the projection with step ``dt`` makes the faces divergence-free.  With a
   conservative ``A_c`` (its diagonal minus its couplings is 1/dt), ``dt`` is SIMPLEC's
   ``d = V / (a_P - sum a_nb)``; behind a sink it is ``dt / (1 + dt k)``, so the pressure
   operator carries that factor.  The pressure increment is the projection's potential
   plus its pressure-convection-diffusion part (see
   :meth:`OuterIteration._pressure_convection_diffusion`);
3. energy: ``(C / dt_T + A_T) dT = Q(T, u)``, ``A_T`` conduction (eddy conductivity
   included), upwind advection and the terms' conductances to fixed temperatures;

then Anderson acceleration of the whole update (:class:`Anderson`).

The pseudo-time step ``dt`` is a fixed fraction (:func:`default_relax`) of the flow's
turnover time L / U, not a cell's crossing time: the operators are implicit, stable at any
Courant number.  Work per iteration is linear in the cells.
"""

from __future__ import annotations

import math
import time

import numpy as np

from .march import StallWatch, converged, finish, not_steady, save_if_due
from .anderson import Anderson, Restarts, StateVector, history
from .anderson_start import AndersonStart
from . import outlet
from .local_steps import CONTROL, LocalSteps
from .problem import heat_driven, lagged
from .sequence import coarse_start
from .solids import SolidConduction, steady_capacities
from .steppers import RunMode, relative_residuals


#: outer iterations over which the residual's trend must at least halve (measured: the
#: converging runs of issue 19 halve it every 20-300 iterations; every steady hall is
#: steady in under 600, the 128^2 cavity and 96^2 buoyant cavity from rest halve theirs
#: every 300 or fewer on the way to 1,887 and 1,948).  600, not 1,500: a flow with no
#: stable steady state leaves its stalled iterate for its unsteady state the later the
#: nearer the iterate is to the unstable steady state.  The 20-rack hall on 0.13 m cells,
#: 40 s of implicit steps from each stall: from 1,360 iterations (600) its heat stored
#: 0.06 to 3.6 % of the power over its first six turnovers and it was settled from the
#: seventh (17.5 s); from 2,910 (1,500) the same way four turnovers later, settled from
#: 27.5 s.  The 1,500 start's planned window (5-15 s) stored 0.27 % because the move had
#: barely begun; the mean of its hottest junction at each step read 0.75 K under the
#: settled flow's (353.94 against 354.69 K, experiment_s35 in issue 19).  Time means
#: open their window on a settled flow (settling.py); from the 600 start that takes the
#: six turnovers they may add, from the 1,500 start it does not
STALL_PATIENCE = 600


class OuterIteration:
    """The operators and work arrays of the outer iterations over one flow model."""

    def __init__(self, model, relax: float = 0.5, sweeps: int = 2, pcd: bool = True):
        self.model, self.relax, self.sweeps = model, relax, sweeps
        self.dt = 0.0                   # the last pseudo-step (s)
        be, dt_, mesh = model.be, model.dtype, model.mesh
        pad = mesh.padded
        self.coeffs = [be.zeros(pad, dt_) for _ in range(7)]
        self.r = be.zeros(pad, dt_)
        self.x = be.zeros(pad, dt_)
        # the faces each component solves for: computed, and not held by a term (fans,
        # closed sides); ``free``: 0 on the held faces, whose velocity no pressure moves
        self.solved = []
        self.free = []
        for c in range(3):
            m = mesh.computed_faces(c)
            held = model.terms.held_faces(c)
            if m is not None and held is not None:
                m = m * (~np.asarray(held, bool))
            self.solved.append(None if m is None else be.asarray(m, np.uint8))
            self.free.append(None if held is None else be.asarray(np.where(held, 0.0, 1.0), dt_))
        self._energy_arrays(model)
        vol = np.zeros(pad)
        vol[1:-1, 1:-1, 1:-1] = mesh.grid.cell_volumes()
        fl = (mesh.fluid_host != 0) * mesh.interior()
        self.inv_vol = be.asarray(np.where(fl > 0, 1.0 / np.where(vol > 0, vol, 1.0), 0.0),
                                  dt_)
        self.fluid_cells = be.asarray(fl, dt_)
        self._inc = be.zeros(pad, dt_)
        # the linear part of the momentum sinks (1/s, host faces) for the pressure operator
        self.sinks = model.linear_sinks
        self.sinks_on_backend = None    # the same on the backend (:func:`stiffness`)
        # the energy equation's pseudo-step: in the halls and tanks (lagged terms), thirty
        # times the momentum's (recirculation zones settle by diffusion; measured on the
        # quick air hall: 682 iterations at 10 against 1,500+ at 1, and with local steps
        # and the solids' cycle 576 at 10, 302 at 30, about 700 at 100: the energy then
        # lags the flow, and at 10 the solids' heat; the quick immersion tank, buoyant
        # plumes through porous servers, 1,391 / 545 / 260 / 186 at 1 / 10 / 30 / 100 with
        # outlet.py, and with its outflow face copied not steady at 1 (5.5 by 800) or 10,
        # 396 at 30: stop 44); in the laminar cases the same as the momentum's, or the
        # explicit buoyancy coupling overshoots (de Vahl Davis Ra 1e6 diverges at 10)
        self.energy_factor = 30.0 if lagged(model.problem) else 1.0
        # local pseudo-steps (:mod:`thermosim.flow.local_steps`; solve_steady sets them
        # for the halls) and the solids' conduction cycle (:mod:`thermosim.flow.solids`)
        self.local = None
        self.solids = None              # built at the first steady energy update
        self._has_solids = bool(mesh.solid.any()) and model.arch.size == 1 \
            and not any(mesh.periodic)
        self.pcd = pcd                  # the pressure-convection-diffusion increment
        self.multigrid = True           # a V-cycle of the viscous operator before the sweeps
        self._rv = be.zeros(pad, dt_)
        # a coarse level of the multigrid cycle (:mod:`thermosim.flow.fas`): the fine
        # level's restricted residuals less this level's own at the restricted state, added
        # to each momentum component's residual (m/s^2) and the energy's (W); None: none
        self.forcing = None
        # an implicit time step (:mod:`thermosim.flow.unsteady`): its length (s) and the
        # state it starts from; None: a steady solve.  The time derivative then joins the
        # residuals and 1/step the operators' diagonals, with the physical heat capacities
        self.step = None
        self.old = None
        self._C_phys = None
        # an open face's normal velocity predicted from inside before the projection
        # (zero gradient).  An implicit step predicts it in its first outer iteration
        # only, as the march does once a stage, and leaves it to the projection after:
        # where the flow leaves unevenly (a wake) the prediction and the projection fight
        # and hold the step's residual at a floor (measured: 4e-3 at the outflow column).
        # The steady iterations predict it every time: without, nothing fixes an outflow
        # face's velocity at their fixed point (measured: a heated channel's outflow
        # temperatures 0.19 apart in one mesh and in cycles), but with it, a tank whose
        # oil leaves over a weir unevenly stalls (its outer iterations near 7)
        self.extrapolate = True
        self.just_enough = True         # see absolute_floor; steps and cycles: False
        # the energy update before the momentum's, not after: the tanks (see tank_weights)
        self.energy_first = False
        self._energy_mg = None          # the conduction V-cycle of implicit steps
        self._energy_D = None
        model.implicit.use_capacity(model.heat.capacities[True][0])

    def _energy_arrays(self, model) -> None:
        """The energy update's cells (every interior cell but those a term holds: coolers
        at their supply), steady capacities C (J/K) and 1 / C, and the terms'
        conductances to fixed temperatures (W/K), padded on the backend."""
        be, dt_, mesh = model.be, model.dtype, model.mesh
        pad = mesh.padded
        probe = be.asarray(np.full(pad, -1e30), dt_)
        model.hold(probe)
        cells = mesh.interior() * (be.to_host(probe) == -1e30)
        self.cells = be.asarray(cells, np.uint8)
        self.solid_cells = be.asarray(cells * (mesh.fluid_host == 0), np.uint8)
        self.cell_weight = be.asarray(cells, dt_)
        heat = model.heat
        C = np.zeros(pad)
        C[1:-1, 1:-1, 1:-1] = steady_capacities(model)
        self.C = be.asarray(C, dt_)
        inv_C = np.zeros(pad)
        inv_C[1:-1, 1:-1, 1:-1] = 1.0 / heat.capacities[True][0]
        self.inv_C = be.asarray(inv_C * cells, dt_)
        extra = np.zeros(mesh.shape)
        for t in model.terms.all:
            t.add_coupling(extra)
        E = np.zeros(pad)
        E[1:-1, 1:-1, 1:-1] = extra
        self.extra = be.asarray(E, dt_)
        self._cap, self._Q = be.zeros(pad, dt_), be.zeros(pad, dt_)

    def _pressure_convection_diffusion(self, vel, phi, dt: float, nu: float) -> None:
        """The pressure increment of the pressure-convection-diffusion approximation of the
        Schur complement (Elman, Silvester & Wathen, Finite Elements and Fast Iterative
        Solvers, 2nd ed. (2014), ch. 9): the projection's potential x (phi += x done) is
        the exact increment only where the momentum operator is 1/dt alone; with
        M = 1/dt + u.grad - nu lap, S^-1 ~ M_p L^-1, so phi gains
        dt (u.grad x) - nu div(u*), the rotational and convective parts."""
        m = self.model
        xp, mesh = m.be.xp, m.mesh
        pr = m.pressure
        x = pr._increment
        inc = self._inc
        inc.fill(0)
        inner = (slice(1, -1),) * 3
        # div(u*) = -(the projection's right-hand side) dt / V
        val = -nu * (-pr._rhs[inner] * dt) * self.inv_vol[inner]
        # behind a momentum sink k the face's d is dt / (1 + dt k), not dt: the projection's
        # factor (measured, quick air and cold-plate halls: 658 and 1,233 iterations with
        # it, 682 and 1,246 with dt)
        # with local steps, the global step's weights (see local_steps)
        local = self.local if self.step is None else None
        op = pr.openness if local is None else local.pcd_openness
        for a in range(3):
            if mesh.shape[a] < 2:
                continue
            w = None if op is None else op[a]
            if self.free[a] is not None:
                # no slope across a held face: the pressure does not move its velocity
                w = self.free[a] if w is None else w * self.free[a]
            val += dt * _face_slopes(xp, x, vel[a], mesh.fluid, mesh.d[a], a, w)
        inc[inner] = val * self.fluid_cells[inner]
        m.boundaries.fill_pressure(inc, mirror=True)
        phi += inc

    def _fold_copied_halos(self, c: int) -> None:
        """Where a face's halo copies the cell inside it (component ``c`` tangential to a
        slip or outflow face), the right-hand side's flux to the halo does not depend on
        that cell at all, but the operator took the halo as a wall (a slip face: its halo
        is not fluid) or as a neighbour held in the sweeps (an outflow face): either way
        the increment was pulled towards zero there.  Here those terms leave the diagonal,
        so the operator is that Jacobian (measured: a 2D case's slip halos across its
        one cell made the sweeps undo nine tenths of the viscous solve's update, and the
        started channel's time error was 15 times the backward-Euler one).  Implicit
        steps only: in the steady iterations that extra diagonal is an under-relaxation
        their pseudo-steps were measured with (folded, the Re 1000 cavity's cycles ran
        away at relax 0.5)."""
        m = self.model
        coeffs, mesh = self.coeffs, m.mesh
        nu = m.problem.fluid.kinematic_viscosity
        for b in m.boundaries.faces:
            if b.axis == c or b.holds_tangential or b.connected or self.solved[c] is None:
                continue
            layer = tuple(b.inner if ax == b.axis else slice(None) for ax in range(3))
            a = coeffs[2 * b.axis + b.side]
            wall = nu / (0.5 * mesh.h_host[b.axis][b.inner] ** 2)
            held = m.be.xp.where(a[layer] != 0, a[layer], wall)
            coeffs[6][layer] -= held * self.solved[c][layer]
            a[layer] = 0.0

    def _conduction_cycle(self, Q, key) -> None:
        """self.x = one V-cycle of (C / dt + extra + conduction)^-1 Q, heat and correction
        in the solved solids alone (the sweeps then meet its error): in the fluid that
        operator lacks the advected rho c_p |u| A, tens of times the rest of its
        diagonal at a hall's speeds, and the correction overshot as many times (issue 19,
        stop 51: the 0.11 m 20-rack hall's steps of 0.5 s from its steady state ran to
        -125..360 K in two).  ``key``: the steps (s) its capacity term was made of; the
        hierarchy's diagonal is set anew only when they change."""
        m = self.model
        be = m.be
        if self._energy_mg is None or key != self._energy_D:
            D = np.asarray(be.to_host(self._cap + self.extra), float)[1:-1, 1:-1, 1:-1]
        if self._energy_mg is None:
            from ..linear_system import LinearSystem
            from ..solvers.multigrid import Multigrid

            zero = np.zeros(m.mesh.shape)
            self._energy_mg = Multigrid(LinearSystem(*m.heat.G_host, np.asarray(D, float),
                                                     zero), m.problem.grid.faces, be,
                                        m.dtype, periodic=m.mesh.periodic, arch=m.mesh.arch)
            self._energy_D = None
        if key != self._energy_D:
            self._energy_mg.set_capacity(D)
            self._energy_D = key
        self._rv[...] = Q * self.solid_cells
        self._energy_mg.apply(self._rv, self.x)
        self.x *= self.solid_cells

    def physical_capacities(self):
        """The cells' physical heat capacities (J/K, padded, 0 in the halos): a time step's
        heat stored, where the steady iterations take the lowered ones of
        :mod:`thermosim.flow.heat`."""
        if self._C_phys is None:
            m = self.model
            C = np.zeros(m.mesh.padded)
            C[1:-1, 1:-1, 1:-1] = m.heat.capacities[False][0]
            self._C_phys = m.be.asarray(C, m.dtype)
        return self._C_phys

    def _steps(self, vel, T) -> tuple:
        """The step (s; with an implicit step's physical one folded in), the pseudo-step
        (s), the speed that sets it and the field's own speed (m/s)."""
        m = self.model
        # the pseudo-time step (s): relax times L / U, U the largest of the boundary
        # velocities, the field's and the free-fall speed of buoyancy, sqrt(a L)
        U, L, _ = m.scales(vel, T)
        speed = U               # the steady residual's scale, for the projection's floor
        U = max(U, math.sqrt(m.acceleration(T) * L))
        dt = self.relax * L / U
        # on a ladder of 2^(1/4): the multigrid hierarchies change only between rungs
        dt = 2.0 ** (math.floor(4.0 * math.log2(dt)) / 4.0)
        pseudo = dt
        if self.step is not None:
            # dual time: the pseudo-step and the physical one, both on the diagonal
            dt = 1.0 / (1.0 / dt + 1.0 / self.step)
        return dt, pseudo, U, speed

    def iterate(self, state, tolerance: float | None) -> tuple[float, float]:
        """One outer iteration of ``state`` in place; returns the residuals it started
        from: max |momentum residual| (m/s^2) and max |net heat / C| (K/s)."""
        m = self.model
        be, mesh = m.be, m.mesh
        xp = be.xp
        vel, T, phi = state.vel, state.T, state.phi
        dt, pseudo, U, speed = self._steps(vel, T)
        self.dt = dt
        rt = None
        if self.energy_first and self.step is None:
            # the energy first, so that an iterate's velocities and pressure are those of
            # its own temperature (see the attribute); the terms then see that temperature
            rt = self._energy_update(state, pseudo)
            m.update(vel, T)
        if self.multigrid:
            m.implicit.prepare(dt)
        # an eddy viscosity's diffusion, coupled in full in the momentum operator, not
        # only its diagonal (point-implicit, as before stop 39): a diagonal alone is a
        # Jacobi iteration on that diffusion, which multiplies its cell-to-cell error by
        # 1 - 2 s / (1 + s) an iteration, s = 2 nu_t dt sum(1 / h^2): towards -1 where s
        # is large (fine meshes, fast jets: a sign flip, barely damped).  Measured, outer
        # iterations (issue 19, stop 39): the 0.1 m cold-plate hall 912 -> 524, the
        # 20-rack hall on 0.13 m cells 1,532 -> 456, the 0.154 m air hall 364 -> 237; but
        # the quick cold-plate hall 191 -> 308, the 0.1 m air hall 443 -> 530 and the
        # 0.11 m 20-rack hall 814 -> 1,196 (one thread, BLAS's too; the cold-plate halls' tails
        # are chaotic: 455 and 1,060 on 0.2 and 0.1 m cells with BLAS on two threads: README)
        nut = next((v for v in (t.coupled_viscosity() for t in m.terms.all)
                    if v is not None), None)
        local = self.local if self.step is None else None
        if local is not None:
            local.update(vel, U, dt)
        else:
            # SIMPLEC's d = dt / (1 + dt k) behind a sink: the pressure operator anew
            m.pressure.behind_sinks(self.sinks, dt, "outer")
        # not the free-fall speed, 48 times the oil's in a tank: the floor goes as its
        # square (tanks stalled on it; outlet.py)
        m.pressure.speed = speed
        nu = m.problem.fluid.kinematic_viscosity
        ru = 0.0
        for c in range(3):
            if self.solved[c] is None:
                continue
            r = self.r
            be.momentum_operator(c, vel, mesh.fluid, mesh.h, mesh.d, nu,
                                 1.0 / dt if local is None else 0.0, self.coeffs,
                                 mesh.kernel_periodic[c], nut)
            if local is not None:
                self.coeffs[6] += local.inv[c]
            if self.step is not None:
                self._fold_copied_halos(c)
            self._momentum_residual(c, state, r, self.coeffs[6])
            ru = max(ru, float(xp.max(xp.abs(r))))
            self.x.fill(0)
            if self.multigrid:
                # the smooth, diffusive part of the error: one V-cycle of the viscous
                # operator at this pseudo-step; the sweeps then meet the advection
                be.lincomb(self._rv, 1.0, r, 0.0, r)
                self._rv *= m.implicit.weight(c)
                m.implicit.ops[c]["mg"].apply(self._rv, self.x)
                self.x *= self.solved[c]
            be.sweep(self.coeffs, r, self.x, self.solved[c], self.sweeps, c)
            vel[c] += self.x
        m.apply_bc(vel, T)
        if self.extrapolate:
            outlet.predict(self, state, dt)
        m.pressure.project(vel, phi, dt, True, tolerance, just_enough=self.just_enough)
        if self.pcd:
            self._pressure_convection_diffusion(vel, phi, dt, nu)
        m.apply_bc(vel, T)
        if rt is None:
            rt = self._energy_update(state, pseudo)
        return m.arch.max(ru), m.arch.max(rt)

    def _energy_update(self, state, pseudo: float) -> float:
        """The energy part of :meth:`iterate`: ``(C / dt_T + A_T) dT = Q(T, u)`` (``pseudo``:
        the momentum's pseudo-step, s); returns max |Q / C| (K/s) it started from."""
        m = self.model
        be, mesh, xp = m.be, m.mesh, m.be.xp
        vel, T = state.vel, state.T
        Q = self._Q
        self._net_heat(state, Q)
        rt = float(xp.max(xp.abs(Q * self.inv_C)))
        if rt == 0.0:
            # no heat moves into any solved cell (isothermal flow, as the lid-driven
            # cavity; Q is zero off them): the update is exactly zero, so its operator
            # and sweeps are skipped
            return rt
        if self.step is None:
            be.lincomb(self._cap, 1.0 / (pseudo * self.energy_factor), self.C, 0.0, self.C)
        else:
            be.lincomb(self._cap, 1.0 / (pseudo * self.energy_factor), self.C,
                       1.0 / self.step, self.physical_capacities())
        heat = m.heat
        be.energy_operator(vel, mesh.fluid, heat.G, m.problem.fluid.volumetric_heat_capacity,
                           mesh.h, self._cap, self.extra, T, mesh.d, self.coeffs)
        self.x.fill(0)
        if self.step is None and self._has_solids:
            if self.solids is None:
                self.solids = SolidConduction(m, self.extra)
            self.solids.apply(Q, pseudo * self.energy_factor, self.x)
        if self.step is not None:
            # an implicit step stores heat in solids at their physical capacities, and
            # conduction through them is the slow, smooth error two sweeps leave: one
            # V-cycle first (a heated block's step kept 40 % of its heat residual after
            # 40 outer iterations without it)
            self._conduction_cycle(Q, (pseudo, self.step))
        be.sweep(self.coeffs, Q, self.x, self.cells, self.sweeps)
        T += self.x
        m.hold(T)
        m.apply_bc(vel, T)
        return rt

    def residuals(self, state, out) -> None:
        """out[c] = the momentum residual of component c (m/s^2, 0 where not solved) and
        out[3] = the net heat into each cell (W, 0 where held), forcing included: what
        :meth:`iterate` drives to zero, at ``state`` as it is."""
        for c in range(3):
            if self.solved[c] is None:
                out[c].fill(0)
            else:
                self._momentum_residual(c, state, out[c])
        self._net_heat(state, out[3])

    def _momentum_residual(self, c: int, state, r, diagonal=None) -> None:
        """r = component ``c``'s momentum residual (m/s^2): the right-hand side, the
        pressure gradient, the sinks and the forcing, on the solved faces.  ``diagonal``
        (the operator's, 1/s): each term's implicit rate and sink are added to it."""
        m = self.model
        be, mesh, vel = m.be, m.mesh, state.vel
        m.momentum_rhs(c, vel, state.T, r)
        be.correct(c, r, state.phi, mesh.fluid, mesh.d, 1.0)
        for t in m.terms.all:
            if diagonal is not None:
                rate = t.implicit_rate(c, vel, coupled=True)
                if rate is not None:
                    diagonal += rate
            k = t.momentum_sink(c, vel)
            if k is not None:
                r -= k * vel[c]
                if diagonal is not None:
                    diagonal += k
        if self.forcing is not None:
            r += self.forcing[c]
        if self.old is not None:
            r -= (vel[c] - self.old.vel[c]) * (1.0 / self.step)
        r *= self.solved[c]

    def _net_heat(self, state, Q) -> None:
        """Q = the net heat into each cell (W) where the energy is solved, forcing
        included."""
        self.model.net_heat(state.T, state.vel, Q)
        if self.old is not None:
            Q -= (state.T - self.old.T) * self.physical_capacities() * (1.0 / self.step)
        Q *= self.cell_weight
        if self.forcing is not None:
            Q += self.forcing[3]


def _face_slopes(xp, x, vel_a, fluid, d, a, weight=None):
    """u (dx/dn) on the faces normal to axis ``a`` between fluid cells (0 elsewhere), times
    ``weight`` (padded faces, or None: 1), averaged onto the interior cell centres: the
    product form of u . grad x, blind to the halo of a closed face (its velocity is zero,
    or its halo is not fluid)."""
    n = x.shape[a] - 2
    lo, hi = [slice(1, -1)] * 3, [slice(1, -1)] * 3
    lo[a], hi[a] = slice(0, n + 1), slice(1, n + 2)
    lo, hi = tuple(lo), tuple(hi)
    shp = [1, 1, 1]
    shp[a] = -1
    both = (fluid[lo] != 0) & (fluid[hi] != 0)
    f = xp.where(both, vel_a[hi] * (x[hi] - x[lo]) / d[1:n + 2].reshape(shp), 0.0)
    if weight is not None:
        f = f * weight[hi]
    first, second = [slice(None)] * 3, [slice(None)] * 3
    first[a], second[a] = slice(0, n), slice(1, n + 1)
    return 0.5 * (f[tuple(first)] + f[tuple(second)])


def stiffness(it: OuterIteration) -> list | None:
    """Per velocity component, each face's 1 + k dt_f (k its linear sink, 1/s; dt_f its
    pseudo-step, s; padded faces) or None; None without sinks.  A face moves by its
    momentum residual times dt_f / (1 + k dt_f): a server's face, k dt_f near 170 in
    a tank, by 170 times less than a free face for the same residual, so Anderson
    weighs its change by this to see it as it sees a free face's."""
    if it.sinks is None:
        return None
    m = it.model
    if it.sinks_on_backend is None:     # once: not a host-to-device copy every iteration
        it.sinks_on_backend = [m.be.asarray(k, m.dtype) for k in it.sinks]
    out = []
    for c in range(3):
        local = None if it.local is None else it.local.inv[c]
        inv = 1.0 / it.dt if local is None else local
        out.append(None if it.solved[c] is None else 1.0 + it.sinks_on_backend[c] / inv)
    return out


def tank_weights(it: OuterIteration, solver, scales) -> tuple:
    """Anderson's pressure scale (m^2/s^2) and the faces' stiffness in a tank (where
    :attr:`OuterIteration.energy_first`), else (None, None): the field's U^2 and none.
    In a tank the buoyant pressure a L is thousands of times U^2 (the oil's 3.6 mm/s:
    a L / U^2 near 5,000 in the quick tank), so over U^2 the pressure's changes were all
    Anderson saw; and a server's face moves 1 + k dt_f times less than a free face for
    the same residual (:func:`stiffness`).

    Why the energy goes first there (:attr:`OuterIteration.energy_first`): after the
    momentum, an iterate carries the pressure and velocities of the temperature before
    its update, and in a server (k = 114 1/s) the buoyancy of that update, beta g dT, is
    most of the next momentum residual: the criterion (1e-4 U^2 / L, U = 3.6 mm/s in the
    quick tank) asks a server's face to balance to 1.3e-9 m/s^2 of the 0.37 m/s^2 its
    sink holds.  Measured, outer iterations on 0.05 / 0.038 / 0.0333 / 0.025 / 0.0222 /
    0.019 m cells (issue 19, stop 45, one thread): stop 44's 260 / 248 / 684 / 307 / 401
    / 657; with the energy first and these weights 161 / 135 / 255 / 234 / 574 / 448;
    the temperature joining late and the buoyant pressure scale, the energy last, 169 /
    503 / 580 / 257 / 755 / 724; the energy first alone 253 on 0.05 m and 396 on 0.0333
    m.  The tails are
    chaotic (one detail more: 122 / 93 / 210 / 168 / 279 / 419, or 169 / 193 / 262 / 327
    / 656 / 385; the issue's note)."""
    if not it.energy_first:
        return None, None
    U, L, _ = scales
    return max(U * U, solver.model.acceleration(solver.T) * L), stiffness(it)


def default_relax(problem, multigrid: bool = False) -> float:
    """The pseudo-step over the turnover time L / U: 0.5 for a forced laminar flow (cavity
    Re 1000: 405 and 965 iterations on 64^2 and 128^2 at 0.5, 421 and 1,185 at 0.25);
    0.1 where buoyancy couples the energy to the momentum through a lagged temperature (de
    Vahl Davis Ra 1e6 diverges at 0.5) or lagged terms steer the flow (an eddy viscosity,
    fans, porous blocks: the quick air hall diverges at 0.25).  In multigrid cycles
    (``multigrid``) the buoyant flows take 0.3 (de Vahl Davis Ra 1e6 96^2: 113, 50 and 41
    cycles at 0.1, 0.2 and 0.3)."""
    p = problem
    buoyant = any(p.gravity) and any(b.temperature is not None
                                     for b in p.boundaries.values())
    if lagged(p):
        return 0.1
    if buoyant:
        return 0.3 if multigrid else 0.1
    return 0.5


def solve_steady(solver, mode: RunMode, max_iterations: int, progress, check_every: int,
                 checkpoint, relax: float | None = None, sweeps: int = 2,
                 depth: int | None = None, sequence: bool = False):
    """Outer iterations of ``solver`` (a :class:`~thermosim.flow.solver.FlowSolver`) until
    its residuals meet ``mode``'s criteria (those of the time march: velocity residual
    max |du/dt| L / U^2, and the temperature residual or the heat still being stored) or
    ``max_iterations``; returns its result.  ``sequence``: a run from rest starts from the
    answer on coarser meshes (:mod:`thermosim.flow.sequence`); ``depth``: Anderson's
    (None: the problem's, :func:`~thermosim.flow.anderson.history`)."""
    t0 = time.perf_counter()
    st = solver.stats
    if sequence and st.steps == 0:
        coarse_start(solver, mode.steady_tolerance, mode.energy_tolerance, max_iterations,
                     relax, sweeps, depth)
    it = OuterIteration(solver.model, default_relax(solver.problem) if relax is None
                        else relax, sweeps)
    it.energy_first = heat_driven(solver.problem)
    if lagged(solver.problem):
        it.local = LocalSteps(it, eddy_in_d=0.0 if st.retried else None).resume(
            st.step_factor, st.step_residual)
    st.diffusion = "implicit"
    st.unit = "outer iterations"
    acc = vec = None
    # a stall (a slow decline, or an unsteady flow) stops early, with the diagnosis
    watch = StallWatch(STALL_PATIENCE, st.steps, max_iterations)
    start = AndersonStart(solver.problem, mode.steady_tolerance, st.steps)
    depth_for, kept_as = history(solver.problem)
    depth = depth_for if depth is None else depth
    if depth:
        vec = StateVector(solver)
        acc = Anderson(solver.be, vec.flat.size, vec.flat.dtype, depth, kept_as)
    restarts = Restarts(depth)
    while st.steps < max_iterations:
        solver.model.update(solver.vel, solver.T)
        if acc is not None:
            x = vec.gather().copy()
        rates = it.iterate(solver.state_, mode.steady_tolerance)
        scales = solver.scales()
        ru, rt = relative_residuals(rates, scales)
        worst = max(ru, rt if not mode.energy_tolerance else 0.0)
        if acc is not None and restarts.due(worst):
            acc.reset()
        accelerated = acc is not None and start.joins(worst)
        if it.local is not None:
            it.local.held = accelerated     # one map under Anderson (see LocalSteps)
        if accelerated:
            vec.weigh(scales[0], scales[2], *tank_weights(it, solver, scales))
            vec.accelerate(acc, x, restarts.mixes(st.steps))
        st.steps += 1
        st.time += it.dt
        st.dt = it.dt
        if it.local is not None and (st.steps % CONTROL == 0 or st.steps == 1):
            st.step_factor, st.step_residual = it.local.control(max(ru, rt))
        solver.rates = rates
        st.residual_velocity, st.residual_temperature = ru, rt
        if st.steps % check_every == 0 or st.steps == 1:
            st.history.append((st.steps, st.time, ru, rt))
            solver.check_divergence(scales[0])
            if progress is not None:
                progress(st.steps, st.time, ru, rt)
        if st.steps > 2 and converged(solver, mode, ru, rt):
            st.converged = True
            st.history.append((st.steps, st.time, ru, rt))
            break
        if st.steps % check_every == 0:
            if watch.stalled(st.steps, worst, mode.steady_tolerance):
                break
            start.check(st.steps, worst)
        t0 = save_if_due(solver, checkpoint, t0)
    finish(solver, t0)
    if not st.converged:
        not_steady(solver, mode, checkpoint, unit="outer iterations", watch=watch)
    return solver.result()
