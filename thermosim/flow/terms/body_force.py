"""A uniform driving acceleration of the fluid (m/s^2, a vector): the mean pressure gradient
over density that drives a periodic channel, for instance."""

from __future__ import annotations

import math

from .base import Term


class BodyForce(Term):
    def __init__(self, problem, mesh):
        self.force = tuple(problem.body_force)
        be = mesh.be
        # per component: 1 on the faces whose momentum is computed (fluid on both sides)
        self.mask = [None, None, None]
        for c in range(3):
            if not self.force[c] or mesh.shape[c] < 2:
                continue
            self.mask[c] = be.asarray(mesh.computed_faces(c), mesh.dtype)
        self.be = be

    def add_momentum(self, c, vel, T, rhs) -> None:
        if self.mask[c] is not None:
            self.be.axpy(rhs, self.force[c], self.mask[c])

    def acceleration(self, T) -> float:
        return math.sqrt(sum(x * x for x in self.force))
