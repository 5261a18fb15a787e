"""Boundary conditions of the flow as objects, each filling its own face's halo.

A boundary object knows its face (axis and side) and fills the halo layer of the velocity,
temperature and pressure arrays there; what the operators need to know of it (does it hold
the tangential velocity, fix the temperature, leave through an open face) it answers as
properties, so no solver code interprets kind strings.  A periodic pair is filled last, by
the architecture's halo fill (a wrap on one process, an exchange between ranks), so that
edges and corners shared with other faces wrap too.
"""

from __future__ import annotations

import numpy as np

from .problem import FACES, FlowBoundary, FlowProblem


def _at(axis: int, i):
    sl = [slice(None)] * 3
    sl[axis] = i
    return tuple(sl)


class Boundary:
    """One face of the domain; ``spec`` is its :class:`FlowBoundary` (kind, velocity m/s,
    temperature K, heat flux W/m^2)."""

    kind = "wall"
    holds_tangential = True         # the halo takes the face's own tangential velocity
    connected = False               # periodic (or another rank's data) across the face
    open = False                    # fluid crosses the face at a fixed pressure

    def __init__(self, face: str, spec: FlowBoundary, shape: tuple):
        self.face, self.spec = face, spec
        self.axis, self.side = FACES.index(face) // 2, FACES.index(face) % 2
        n = shape[self.axis]
        self.halo = n + 1 if self.side else 0           # halo layer of a cell array
        self.inner = n if self.side else 1              # the interior layer next to it
        self.normal_face = n + 1 if self.side else 1    # boundary face of the normal array
        # the index tuples of those layers, made once: the fills run several times an
        # outer iteration on every face (14,394 velocity fills in the 128^2 cavity's run)
        self.at_halo = _at(self.axis, self.halo)
        self.at_inner = _at(self.axis, self.inner)
        self.at_normal = _at(self.axis, self.normal_face)
        self.at_behind = _at(self.axis, n if self.side else 2)   # the face behind it

    @property
    def fixes_temperature(self) -> bool:
        """Whether the face holds a temperature (K) through a half-cell conductance."""
        return self.spec.temperature is not None and not self.open

    def fill_velocity(self, vel) -> None:
        """Tangential velocities in the halo and the normal velocity on the face."""
        ax, halo = self.axis, self.at_halo
        for c in range(3):
            if c == ax:
                continue
            if self.holds_tangential:
                vel[c][halo] = self.spec.velocity[c]
            else:                                      # slip, outflow: zero gradient
                vel[c][halo] = vel[c][self.at_inner]
        self._fill_normal(vel[ax])

    def _fill_normal(self, u) -> None:
        u[self.at_normal] = 0.0

    def fill_temperature(self, T) -> None:
        if self.open or self.spec.temperature is None:
            T[self.at_halo] = T[self.at_inner]
        else:
            T[self.at_halo] = self.spec.temperature

    def extrapolate(self, vel) -> None:
        """The predicted normal velocity on an open face (none elsewhere)."""

    def fill_pressure(self, phi, mirror: bool) -> None:
        """Pressure halo of an open face (none elsewhere: the halo is never used across a
        closed face)."""


class Wall(Boundary):
    """No slip; the wall's own tangential velocity (m/s) in the halo."""


class Slip(Boundary):
    """No normal flow, no shear."""

    kind = "slip"
    holds_tangential = False


class Inflow(Boundary):
    """A prescribed normal velocity profile (mean ``velocity``, m/s) at the inflow
    temperature; solids on the face take no flow."""

    kind = "inflow"

    def __init__(self, face, spec, shape, profile):
        super().__init__(face, spec, shape)
        self.profile = profile                  # backend array over the face, with halo

    def _fill_normal(self, u) -> None:
        u[self.at_normal] = self.profile


class Outflow(Boundary):
    """Zero pressure on the face, zero gradient of everything else."""

    kind = "outflow"
    holds_tangential = False
    open = True

    def _fill_normal(self, u) -> None:
        pass

    def extrapolate(self, vel) -> None:
        vel[self.axis][self.at_normal] = vel[self.axis][self.at_behind]

    def fill_pressure(self, phi, mirror: bool) -> None:
        # phi = 0 on the face: the halo mirrors the cell inside for the correction, and is
        # zero for the solver
        if mirror:
            phi[self.at_halo] = -phi[self.at_inner]
        else:
            phi[self.at_halo] = 0.0


class Periodic(Boundary):
    """What leaves this face enters through the opposite one: filled by the halo wrap."""

    kind = "periodic"
    holds_tangential = False
    connected = True

    def fill_velocity(self, vel) -> None:
        pass

    def fill_temperature(self, T) -> None:
        pass


class Interface(Periodic):
    """A face this process shares with another (a rank interface of a domain split into
    slabs): its halo holds the neighbour's cells, filled by the architecture's exchange."""

    kind = "interface"


def inflow_profile(problem: FlowProblem, face: str) -> np.ndarray:
    """Dimensionless profile over an inflow face (mean 1), shape of the face's cells."""
    g = problem.grid
    axis = FACES.index(face) // 2
    others = [a for a in range(3) if a != axis]
    shape = [g.shape[a] for a in others]
    prof = np.ones(shape)
    b = problem.boundaries[face]
    if b.profile == "parabolic":
        for n, a in enumerate(others):
            lo, hi = problem.boundaries[FACES[2 * a]], problem.boundaries[FACES[2 * a + 1]]
            if lo.kind == "wall" and hi.kind == "wall":
                f = g.faces[a]
                s = (g.centres(a) - f[0]) / (f[-1] - f[0])
                p1 = 6.0 * s * (1.0 - s)
                prof = prof * (p1[:, None] if n == 0 else p1[None, :])
        area = np.outer(g.spacing(others[0]), g.spacing(others[1]))
        prof = prof * area.sum() / (prof * area).sum()
    return prof


class Boundaries:
    """The six faces' boundary objects and the halo fill of periodic (or exchanged) axes."""

    def __init__(self, problem: FlowProblem, mesh, arch):
        self.mesh, self.arch = mesh, arch
        self.faces = []
        for f, spec in problem.boundaries.items():
            kind = spec.kind
            axis, side = FACES.index(f) // 2, FACES.index(f) % 2
            if mesh.connected[axis][side] and kind != "periodic":
                self.faces.append(Interface(f, spec, mesh.shape))
                continue
            if kind == "inflow":
                b = Inflow(f, spec, mesh.shape, self._inflow(problem, f, mesh))
            else:
                b = {"wall": Wall, "slip": Slip, "outflow": Outflow,
                     "periodic": Periodic}[kind](f, spec, mesh.shape)
            self.faces.append(b)
        self.by_face = {b.face: b for b in self.faces}
        self.open = [b for b in self.faces if b.open]

    @staticmethod
    def _inflow(problem, face, mesh):
        b = problem.boundaries[face]
        axis, side = FACES.index(face) // 2, FACES.index(face) % 2
        prof = inflow_profile(problem, face) * b.velocity[axis]
        fl = mesh.fluid_host[1:-1, 1:-1, 1:-1]
        prof = prof * (fl.take(mesh.shape[axis] - 1 if side else 0, axis=axis) != 0)
        pad = np.zeros(tuple(s + 2 for i, s in enumerate(mesh.shape) if i != axis))
        pad[1:-1, 1:-1] = prof
        return mesh.be.asarray(pad, mesh.dtype)

    def kinds(self, axis: int) -> tuple[str, str]:
        """The kinds of the lower and upper face of ``axis``."""
        return self.by_face[FACES[2 * axis]].kind, self.by_face[FACES[2 * axis + 1]].kind

    def fill(self, vel, T) -> None:
        """Fill the halos of the face velocities (m/s) and the temperature (K)."""
        for b in self.faces:
            b.fill_velocity(vel)
            b.fill_temperature(T)
        if any(lo or hi for lo, hi in self.mesh.connected):
            for a in (*vel, T):
                self.arch.fill_halos(a, self.mesh.periodic)

    def extrapolate(self, vel) -> None:
        """Predicted normal velocity on outflow faces: zero gradient from the face behind."""
        for b in self.open:
            b.extrapolate(vel)

    def fill_pressure(self, phi, mirror: bool) -> None:
        """Mirror phi into outflow halos (zero pressure on the face) for the correction, or
        zero them for the solver; periodic halos wrap (rank interfaces exchange)."""
        self.arch.fill_halos(phi, self.mesh.periodic)
        for b in self.open:
            b.fill_pressure(phi, mirror)
