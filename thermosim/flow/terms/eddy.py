"""Turbulence: an eddy viscosity (:class:`~thermosim.turbulence.LVEL` or
:class:`~thermosim.turbulence.Smagorinsky`, each its own object) with Spalding's wall
function (:class:`~thermosim.turbulence.WallFunction`) on no-slip surfaces, as a term: it
adds ``div(nu_t grad u)`` and the wall shear to the momentum, raises the heat equation's
face conductances by the eddy conductivity, and limits the explicit step by its diffusion
rate."""

from __future__ import annotations

from ...turbulence import eddy_viscosity
from .base import Term


class EddyViscosityTerm(Term):
    def __init__(self, problem, mesh, heat):
        self.mesh = mesh
        self.model = eddy_viscosity(mesh, heat, problem.turbulence)
        # the faces whose momentum is computed (fluid both sides; not a wall-bounded axis's
        # first face)
        self.computed = [None if mesh.shape[c] < 2 else
                         mesh.be.asarray(mesh.computed_faces(c), mesh.dtype) for c in range(3)]

    @property
    def nut(self):
        """The eddy viscosity (m^2/s, padded cells)."""
        return self.model.nut

    def update(self, vel, T) -> None:
        self.model.update(vel)

    def add_momentum(self, c, vel, T, rhs) -> None:
        self.model.add_momentum(c, vel, rhs, self.computed[c])

    def stable_rate(self) -> float:
        return self.model.rate + self.model.wall_rate
