"""The physics terms of the flow model, one module each, behind :class:`~.base.Term`.

=================  =========================================================
``buoyancy``       Boussinesq buoyancy (its coefficient fused into the transport kernel)
``body_force``     a uniform driving acceleration
``fans``           fan planes: fixed flow (held faces) or a pressure-rise curve
``eddy``           LVEL / Smagorinsky eddy viscosity with Spalding's wall function
``porous``         Darcy-Forchheimer sinks and the power of porous blocks
``coolers``        cells held at a supply temperature
``chips``          compact chips and their cold plates
=================  =========================================================
"""

from __future__ import annotations

import numpy as np

from ...errors import CaseError
from .base import Term
from .body_force import BodyForce
from .buoyancy import Buoyancy
from .chips import Chips
from .coolers import Coolers
from .eddy import EddyViscosityTerm
from .fans import Fans
from .porous import PorousSinks

__all__ = ["Term", "TermSet", "build_terms", "Buoyancy", "BodyForce", "Chips", "Coolers",
           "EddyViscosityTerm", "Fans", "PorousSinks"]


class TermSet:
    """The terms of one model in the order their contributions are summed, with the few
    the model asks for by name."""

    def __init__(self, problem, mesh, arch):
        self.problem = problem
        # built in this order so that a case's first mistake is the one reported
        self.porous = PorousSinks(problem, mesh) if problem.porous else None
        self.chips = Chips(problem, mesh) if problem.chips else None
        self.coolers = Coolers(problem, mesh) if problem.coolers else None
        self.fans = Fans(problem, mesh, arch) if problem.fans else None
        self.buoyancy = Buoyancy(problem, mesh, arch)
        self.body_force = BodyForce(problem, mesh)
        self.eddy = None
        self.mesh = mesh
        self._order()
        self._check_fans()

    def _check_fans(self) -> None:
        """A fan may not blow across a porous block's blocked sides (its faces closed)."""
        if self.fans is None or self.porous is None:
            return
        for f, m in zip(self.problem.fans, self.fans.faces):
            closed = self.porous.held_faces(f.axis)
            if closed is not None and (m & closed).any():
                raise CaseError(f"fan '{f.name}' blows across the blocked sides of a porous "
                                "block (give the block's axis along the fan's, or "
                                "transverse: open)", f"fans.{f.name}")

    def _order(self) -> None:
        self.all = [t for t in (self.buoyancy, self.body_force, self.fans, self.eddy,
                                self.porous, self.coolers, self.chips) if t is not None]

    def finish(self, heat) -> None:
        """What needs the heat equation: the eddy viscosity (it raises the conductances);
        and the fans' backend arrays."""
        if self.fans is not None:
            self.fans.build()
        if self.problem.turbulence != "none":
            self.eddy = EddyViscosityTerm(self.problem, self.mesh, heat)
        self._order()

    @property
    def has_sink(self) -> bool:
        return self.porous is not None

    @property
    def components(self) -> bool:
        """Room-scale equipment (porous blocks, fans, coolers, chips) is present."""
        return any(t is not None for t in (self.porous, self.fans, self.coolers, self.chips))

    def held_faces(self, axis: int):
        """Host mask (padded) of the faces normal to ``axis`` some term holds (fixed-flow
        fans, blocked porous blocks' sides), or None."""
        masks = [m for m in (t.held_faces(axis) for t in self.all) if m is not None]
        if not masks:
            return None
        return np.logical_or.reduce(masks)

    def reporting(self) -> list:
        """The terms that report, in the order the result lists them."""
        return [t for t in (self.coolers, self.fans, self.chips, self.porous) if t is not None]


def build_terms(problem, mesh, arch) -> TermSet:
    return TermSet(problem, mesh, arch)
