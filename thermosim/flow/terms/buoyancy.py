"""Boussinesq buoyancy, ``-beta (T - T_ref) g`` (m/s^2) on each face velocity.

It is evaluated inside the fused momentum kernel (advection, viscous diffusion and buoyancy
in one pass over memory), so this object hands the kernel its coefficient rather than
adding an array of its own; it owns the acceleration that bounds an implicit step."""

from __future__ import annotations

import math

from .base import Term


class Buoyancy(Term):
    def __init__(self, problem, mesh, arch):
        self.problem, self.mesh, self.arch = problem, mesh, arch
        self.expansion = problem.fluid.expansion            # beta, 1/K
        self.gravity = tuple(problem.gravity)                # m/s^2
        self.reference_temperature = problem.reference_temperature   # K

    def coefficient(self, c: int) -> float:
        """beta g_c (m/s^2 per K) for the momentum kernel of component ``c``."""
        return self.expansion * self.gravity[c]

    def acceleration(self, T) -> float:
        """beta |g| times the case's temperature range (K): the boundary, initial and
        reference temperatures and the field's own span."""
        p = self.problem
        temps = [b.temperature for b in p.boundaries.values() if b.temperature is not None]
        temps += [p.initial_temperature, p.reference_temperature]
        xp = self.mesh.be.xp
        Ti = T[1:-1, 1:-1, 1:-1]
        span = max(max(temps) - min(temps),
                   self.arch.max(xp.max(Ti)) - self.arch.min(xp.min(Ti)))
        g = math.sqrt(sum(x * x for x in self.gravity))
        return abs(self.expansion) * g * span
