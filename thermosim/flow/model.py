"""The flow model: a mesh, its boundaries, the physics terms, the heat equation and the
projection, and the tendencies a time stepper needs of them.

The momentum tendency of each face velocity is the fused transport kernel (central or
upwind advection, viscous diffusion and Boussinesq buoyancy) plus what each term adds; the
energy tendency is the transport kernel (van Leer advection, conduction through the face
conductances, fixed sources) plus what each term adds.  Nothing here loops in time: the
steppers (:mod:`thermosim.flow.steppers`) and march policies (:mod:`thermosim.flow.march`)
do.  Global reductions go through the architecture (``arch``), so a distributed one
replaces them.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import CaseError
from .boundaries import Boundaries
from .heat import HeatEquation
from .implicit import ImplicitDiffusion
from .mesh import FlowMesh
from .pressure import PressureProjection
from .terms import build_terms


class FlowModel:
    """Everything a step needs of one flow problem on one backend and architecture."""

    def __init__(self, problem, be, dtype, arch, cfl: float, pressure_tolerance: float,
                 advection: str, stats, diverged):
        if advection not in ("central", "upwind"):
            raise CaseError(f"unknown advection scheme '{advection}' (central or upwind)",
                            "flow.advection")
        self.problem, self.be, self.dtype, self.arch = problem, be, np.dtype(dtype), arch
        self.cfl, self.stats = cfl, stats
        self.advection = advection
        self.upwind = 1.0 if advection == "upwind" else 0.0
        self.mesh = mesh = FlowMesh(problem, be, dtype, arch)
        self.boundaries = Boundaries(problem, mesh, arch)
        self.terms = build_terms(problem, mesh, arch)
        self.heat = HeatEquation(problem, mesh, self.terms.all)
        self.terms.finish(self.heat)
        held = [self.terms.held_faces(a) for a in range(3)]
        self.pressure = PressureProjection(problem, mesh, self.boundaries, held,
                                           pressure_tolerance, stats, diverged)
        self.implicit = ImplicitDiffusion(problem, mesh, self.boundaries, self.heat,
                                          self.pressure.smoother, stats, diverged, cfl)
        # a momentum sink (porous blocks): the last pressure gradient goes into the
        # predictor, so that the sink sees the whole force and the steady state does not
        # depend on the step; the projection then solves for the increment
        self.incremental = self.terms.has_sink
        # the linear part of the momentum sinks (1/s, host faces per axis, or None): the
        # projection's d = dt / (1 + dt k) behind them (see PressureProjection.reopen)
        self.linear_sinks = self._linear_sinks()
        self._rhs = be.zeros(mesh.padded, self.dtype)
        self._Q = be.zeros(mesh.padded, self.dtype)
        self._increment = be.zeros(mesh.padded, self.dtype)

    def _linear_sinks(self):
        """Per axis, the sink coefficient k (1/s, host, padded faces) at rest, or None."""
        be, mesh = self.be, self.mesh
        zero = [be.zeros(mesh.padded, self.dtype) for _ in range(3)]
        out, any_ = [], False
        for c in range(3):
            k = np.zeros(mesh.padded)
            if mesh.shape[c] >= 2:
                for t in self.terms.all:
                    s = t.momentum_sink(c, zero)
                    if s is not None:
                        k = k + np.asarray(be.to_host(s), float)
                        any_ = True
            out.append(k)
        return out if any_ else None

    # -- halos and constraints ---------------------------------------------------------
    def apply_bc(self, vel, T) -> None:
        """Fill the halos: wall and inflow velocities, zero-gradient copies at outflows and
        slip walls, wall and inflow temperatures, periodic wraps; then the faces terms
        hold (fixed-flow fans)."""
        self.boundaries.fill(vel, T)
        for t in self.terms.all:
            t.hold_velocity(vel)

    def hold(self, T) -> None:
        """Temperatures terms hold (coolers' cells at their supply temperature)."""
        for t in self.terms.all:
            t.hold_temperature(T)

    def update(self, vel, T) -> None:
        """Once per step, before its length is chosen: the terms' lagged coefficients
        (eddy viscosity, fans' pressure rises at the flow now through them)."""
        for t in self.terms.all:
            t.update(vel, T)

    # -- momentum -------------------------------------------------------------------------
    def momentum_rhs(self, c: int, vel, T, rhs) -> None:
        """rhs = the explicit momentum right-hand side of component ``c`` (m/s^2):
        transport and buoyancy (one kernel), then each term's force."""
        p, fl, mesh = self.problem, self.problem.fluid, self.mesh
        b = self.terms.buoyancy
        self.be.momentum_rhs(c, vel, mesh.fluid, T, mesh.h, mesh.d, fl.kinematic_viscosity,
                             b.coefficient(c), p.reference_temperature, rhs,
                             periodic=mesh.kernel_periodic[c], upwind=self.upwind)
        for t in self.terms.all:
            t.add_momentum(c, vel, T, rhs)

    def momentum_explicit(self, vel, T, phi, dt: float, out) -> None:
        """out = vel + dt * (momentum right-hand side), components in turn; a term's sink
        point-implicit with the stage's velocity (stable for any resistance; steady state:
        rhs = k u exactly)."""
        be, mesh = self.be, self.mesh
        for c in range(3):
            if mesh.shape[c] < 2:
                be.lincomb(out[c], 1.0, vel[c], 0.0, vel[c])
                continue
            self.momentum_rhs(c, vel, T, self._rhs)
            if self.incremental:
                be.correct(c, self._rhs, phi, mesh.fluid, mesh.d, 1.0)
            be.lincomb(out[c], 1.0, vel[c], dt, self._rhs)
            for t in self.terms.all:
                k = t.momentum_sink(c, vel)
                if k is not None:
                    out[c] /= 1.0 + dt * k
        # boundary-normal faces keep their prescribed values
        self.apply_bc(out, T)
        self.boundaries.extrapolate(out)

    def momentum_implicit(self, vel, T, phi, dt: float, out) -> None:
        """out = vel + delta, (V / dt + nu L) delta = V (momentum right-hand side minus the
        last pressure gradient), components in turn."""
        be, mesh = self.be, self.mesh
        for c in range(3):
            if mesh.shape[c] < 2:
                be.lincomb(out[c], 1.0, vel[c], 0.0, vel[c])
                continue
            self.momentum_rhs(c, vel, T, self._rhs)
            be.correct(c, self._rhs, phi, mesh.fluid, mesh.d, 1.0)
            self._rhs *= self.implicit.weight(c)
            self.implicit.solve(c, self._rhs, self._increment)
            be.lincomb(out[c], 1.0, vel[c], 1.0, self._increment)
        self.apply_bc(out, T)
        self.boundaries.extrapolate(out)

    # -- energy ---------------------------------------------------------------------------
    def net_heat(self, T, vel, Q) -> None:
        """Q = the net heat into each cell (W): advection, conduction, sources and what the
        terms add."""
        mesh, h, arch = self.mesh, self.heat, self.arch
        # across a rank interface the bounded advection's second upwind cell lies beyond
        # the halo: the neighbour's layer, exchanged
        far = None if arch.size == 1 else \
            arch.far_layers(T, mesh.periodic, self.problem.grid.faces[arch.axis])
        self.be.energy_rhs(T, vel, mesh.fluid, h.G, self.problem.fluid.volumetric_heat_capacity,
                           h.q, mesh.h, mesh.d, Q, periodic=mesh.energy_periodic, far=far)
        for t in self.terms.all:
            t.add_heat(T, Q)

    def energy_explicit(self, T, vel, dt: float, out, inv_C) -> None:
        """out = T + dt * (net heat into the cell) / C."""
        self.net_heat(T, vel, self._Q)
        self._Q *= inv_C                     # in place: no temporary per stage
        self.be.lincomb(out, 1.0, T, dt, self._Q)

    def energy_implicit(self, T, vel, dt: float, out, inv_C=None) -> None:
        """out = T + delta, (C / dt + L_k) delta = net heat into the cell (W)."""
        self.net_heat(T, vel, self._Q)
        self.implicit.solve("T", self._Q, self._increment)
        self.be.lincomb(out, 1.0, T, 1.0, self._increment)

    # -- the step's length --------------------------------------------------------------------
    def step_limits(self, vel, T, steady: bool, acceleration: bool) -> tuple[float, float]:
        """(explicit, implicit) stable steps (s): advective CFL, viscous, conductive and the
        terms' limits; with ``acceleration`` the implicit step also keeps the fluid that
        starts to move under buoyancy or a body force within cfl of the smallest cell."""
        xp, arch, mesh = self.be.xp, self.arch, self.mesh
        inv = 0.0
        rate = usum = hloc = None
        for c in range(3):
            if mesh.shape[c] < 2 and not arch.any(xp.any(vel[c])):
                continue
            hc = mesh.h[c][1:-1].reshape([-1 if a == c else 1 for a in range(3)])
            u = xp.abs(vel[c][1:-1, 1:-1, 1:-1])
            speed = u / hc
            rate = speed if rate is None else rate + speed
            usum = u if usum is None else usum + u
            hloc = hc if hloc is None else xp.minimum(hloc, hc)
        umax2 = 0.0
        central = 0.0
        nu = self.problem.fluid.kinematic_viscosity
        if rate is not None:
            inv = arch.max(rate.max())
            umax = [arch.max(xp.abs(vel[c]).max()) for c in range(3)]
            umax2 = sum(u * u for u in umax)
            # the cell where central advection is least damped: largest |u|^4 / h^2
            # (squared on the host: |u|^4 overflows float32 long before the run diverges)
            with np.errstate(over="ignore"):
                x = usum * usum / hloc
                eddy = self.terms.eddy
                if eddy is not None:
                    # the eddy viscosity damps central advection as the laminar one does
                    x = x / xp.sqrt((nu + eddy.nut[1:-1, 1:-1, 1:-1]) / nu)
                central = arch.max(x.max()) ** 2
            if not (math.isfinite(central) and math.isfinite(inv)):
                raise self.pressure.diverged("the velocities overflowed")
        self.pressure.speed = math.sqrt(umax2)
        hmins = [arch.min(np.min(h[1:-1])) for h, n in zip(mesh.h_host, mesh.shape) if n >= 2]
        visc = sum(1.0 / x ** 2 for x in hmins)
        # one combined explicit limit: advection, viscous and conductive rates add up
        total = inv + 2.0 * nu * visc + 1.0 / self.heat.capacities[steady][2]
        for t in self.terms.all:
            r = t.stable_rate()
            if r:
                total += r
        dt_explicit = self.cfl / total if total > 0 else math.inf
        dt_implicit = self.cfl / inv if inv > 0 else math.inf
        acc = self.acceleration(T) if acceleration else 0.0
        if acc > 0:
            dt_implicit = min(dt_implicit, math.sqrt(self.cfl * min(hmins) / acc))
        # central advection is stable only while viscosity damps it.  For Heun's two
        # stages the von Neumann bound (worst mode k h = pi/2) is a Courant number
        # C <= (16 / Re_h)^(1/3) at cell Reynolds numbers Re_h = |u| h / nu above ~4, i.e.
        # dt <= (16 nu h^2 / |u|^4)^(1/3), with diffusion explicit or implicit alike
        # (forward Euler's dt <= 2 nu / |u|^2 would be ten times smaller at Re_h = 30).
        # Taken cell by cell with the sum of the local speeds and the cell's smallest width
        # (conservative in 2D and 3D, checked on diagonal modes), then times cfl.  Local,
        # not the largest speed with the smallest cell: on a wall-clustered grid those two
        # sit in different cells, and their product bound Ra 1e4 at half its CFL step.
        if central > 0 and nu > 0 and not self.upwind:
            bound = self.cfl * (16.0 * nu / central) ** (1.0 / 3.0)
            dt_explicit, dt_implicit = min(dt_explicit, bound), min(dt_implicit, bound)
        if not math.isfinite(dt_explicit):
            L = min(float(f[-1] - f[0]) for f in self.problem.grid.faces)
            U = max(abs(v) for b in self.problem.boundaries.values() for v in b.velocity) or 1.0
            dt_explicit = self.cfl * L / U
        if not math.isfinite(dt_implicit):
            dt_implicit = dt_explicit
        # steps on a ladder of 2^(1/4): the implicit operators change only when the step
        # moves to another rung (a zero step, from velocities overflowing, is left to the
        # step's divergence check)
        if dt_implicit > 0:
            dt_implicit = 2.0 ** (math.floor(4.0 * math.log2(dt_implicit)) / 4.0)
        return dt_explicit, dt_implicit

    def acceleration(self, T) -> float:
        """Largest acceleration the terms can give the fluid (m/s^2): buoyancy over the
        case's temperature range, plus the body force."""
        acc = 0.0
        for t in self.terms.all:
            acc += t.acceleration(T)
        return acc

    def scales(self, vel, T) -> tuple[float, float, float]:
        """Velocity (m/s), length (m) and temperature difference (K) scales of the run."""
        p, xp, arch = self.problem, self.be.xp, self.arch
        L = self.pressure.length
        U = max([abs(v) for b in p.boundaries.values() for v in b.velocity] + [0.0])
        umax = max(arch.max(xp.abs(v).max()) for v in vel)
        U = max(U, umax, 1e-30)
        temps = [b.temperature for b in p.boundaries.values() if b.temperature is not None]
        temps.append(p.initial_temperature)
        dT = max(temps) - min(temps)
        Ti = T[1:-1, 1:-1, 1:-1]
        dT = max(dT, arch.max(xp.max(Ti)) - arch.min(xp.min(Ti)))
        return U, L, dT
