"""Cooling-equipment components inside a flow: porous blocks (servers, heat sinks, tiles,
coils), fans and coolers (the coils of CRAH units and heat exchangers).

- :class:`PorousBlock`: fluid cells with a Darcy-Forchheimer momentum sink per axis,
  ``-(a_i + b_i |u_i|) u_i`` (m/s^2) on the superficial velocity ``u_i``, and a heat
  source (W) spread over its volume (a server's components heat the air passing through).
  The coefficients come from a loss coefficient (``dp = K rho u^2 / 2`` across the depth
  ``L``: ``b = K / (2 L)``), from a pressure-drop curve ``dp = c1 Q + c2 Q^2`` over the
  frontal area ``A`` (``a = c1 A / (rho L)``, ``b = c2 A^2 / (rho L)``), or from a
  perforated plate's free-area ratio (Idelchik's thin-plate loss).  Sideways flow is
  blocked (``a`` = 1e6 1/s) unless given: a server's case walls.
- :class:`Fan`: a plane of faces with a fan curve (pressure rise in Pa against volume flow
  in m^3/s), imposed as a momentum source ``dp(Q) / (rho d)`` on the plane's faces with
  ``Q`` the flow through it (lagged by a step); or a fixed flow, imposed as the plane's
  face velocities (the pressure solve then treats them as held).  The operating point is
  the run's ``(Q, dp)``.
- :class:`Cooler`: fluid cells held at a supply temperature (K): the coil of a CRAH unit
  (supply-temperature control) or an immersion tank's heat exchanger.  The heat it removes
  is the net heat flow into its cells.

All SI: m, m/s, Pa, m^3/s, W, K.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from .errors import CaseError

BLOCKED = 1.0e6        # 1/s: sideways leakage u = grad p / (rho a) stays below 1 mm/s at
#                        1 kPa/m (point-implicit: any value is stable)


def perforated_plate_loss(free_area: float) -> float:
    """Loss coefficient K (on the approach velocity) of a thin perforated plate with the
    given free-area ratio: Idelchik, Handbook of Hydraulic Resistance (3rd ed., 1994),
    diagram 8-1, sharp-edged orifices, ``K = (1 + 0.707 sqrt(1 - f) - f)^2 / f^2``."""
    f = float(free_area)
    if not 0 < f <= 1:
        raise CaseError(f"a free-area ratio lies in (0, 1], got {f}")
    return (1.0 + 0.707 * math.sqrt(1.0 - f) - f) ** 2 / (f * f)


@dataclass(frozen=True)
class PorousBlock:
    """A box of fluid with a momentum sink per axis and a heat source.

    linear: a (1/s) per axis; quadratic: b (1/m) per axis; power: W into its fluid."""

    name: str
    lower: tuple
    upper: tuple
    linear: tuple = (0.0, 0.0, 0.0)
    quadratic: tuple = (0.0, 0.0, 0.0)
    power: float = 0.0
    axis: Optional[int] = None          # the through-flow axis (None: isotropic)

    def depth(self, axis: int) -> float:
        return float(self.upper[axis] - self.lower[axis])

    @classmethod
    def with_loss(cls, name, lower, upper, axis: int, loss_coefficient: float = 0.0,
                  curve: Optional[tuple] = None, density: float = 1.2,
                  transverse: Optional[float] = BLOCKED, power: float = 0.0):
        """Flow along ``axis`` with a loss coefficient K or a pressure-drop curve (c1 Pa s/m^3,
        c2 Pa s^2/m^6); ``transverse``: the linear sink across (1/s; None: as along)."""
        L = float(upper[axis] - lower[axis])
        o = [a for a in range(3) if a != axis]
        area = float((upper[o[0]] - lower[o[0]]) * (upper[o[1]] - lower[o[1]]))
        a_ax, b_ax = 0.0, loss_coefficient / (2.0 * L)
        if curve is not None:
            c1, c2 = curve
            a_ax += c1 * area / (density * L)
            b_ax += c2 * area * area / (density * L)
        lin = [a_ax] * 3
        quad = [b_ax] * 3
        if transverse is not None:
            for a in o:
                lin[a], quad[a] = transverse, 0.0
        return cls(name, tuple(lower), tuple(upper), tuple(lin), tuple(quad), power, axis)

    def pressure_drop(self, axis: int, u: float, density: float) -> float:
        """Pressure drop (Pa) across the block at superficial velocity u (m/s) along axis."""
        return density * self.depth(axis) * (self.linear[axis] + self.quadratic[axis]
                                             * abs(u)) * u


@dataclass(frozen=True)
class Fan:
    """A fan plane normal to ``axis`` at coordinate ``position`` (snapped to the nearest
    grid face), over the rectangle ``lower``..``upper`` (the axis entries ignored), blowing
    towards +axis (``direction`` +1) or -axis (-1).  Either ``curve``: (Q m^3/s, dp Pa)
    points with Q increasing (linear between them, extended along the end segments), or
    ``flow``: a fixed volume flow (m^3/s)."""

    name: str
    axis: int
    position: float
    lower: tuple
    upper: tuple
    direction: int = 1
    curve: Optional[tuple] = None
    flow: Optional[float] = None

    def __post_init__(self):
        if (self.curve is None) == (self.flow is None):
            raise CaseError(f"fan '{self.name}': give either a curve or a flow")
        if self.direction not in (1, -1):
            raise CaseError(f"fan '{self.name}': direction is +1 or -1")
        if self.curve is not None:
            q = np.asarray([p[0] for p in self.curve], float)
            if q.size < 2 or np.any(np.diff(q) <= 0):
                raise CaseError(f"fan '{self.name}': the curve needs two or more points with "
                                "the flow increasing")

    def pressure_rise(self, Q: float) -> float:
        """dp (Pa) at volume flow Q (m^3/s) from the curve, linear beyond its ends."""
        q = np.asarray([p[0] for p in self.curve], float)
        dp = np.asarray([p[1] for p in self.curve], float)
        if Q <= q[0]:
            s = (dp[1] - dp[0]) / (q[1] - q[0])
            return float(dp[0] + s * (Q - q[0]))
        if Q >= q[-1]:
            s = (dp[-1] - dp[-2]) / (q[-1] - q[-2])
            return float(dp[-1] + s * (Q - q[-1]))
        return float(np.interp(Q, q, dp))


@dataclass(frozen=True)
class Cooler:
    """Fluid cells in a box held at ``temperature`` (K): a coil with supply-temperature
    control."""

    name: str
    lower: tuple
    upper: tuple
    temperature: float


@dataclass(frozen=True)
class Chip:
    """A compact chip model inside a porous block (a GPU or CPU under its heat sink): its
    ``power`` (W) goes into the air in the box ``lower``..``upper``; its case temperature is
    that air's mean temperature plus ``power x resistance`` (the heat sink's case-to-air
    resistance, K/W, referred to the local mean air temperature), its junction temperature
    that plus ``power x junction_resistance`` (K/W); ``limit``: the largest junction
    temperature allowed (K)."""

    name: str
    lower: tuple
    upper: tuple
    power: float
    resistance: float
    junction_resistance: float = 0.0
    limit: Optional[float] = None
    kind: str = "chip"


@dataclass
class Components:
    """What the components put into a flow solver's arrays (built once, on the host)."""

    porous: list = field(default_factory=list)
    fans: list = field(default_factory=list)
    coolers: list = field(default_factory=list)

    def __bool__(self):
        return bool(self.porous or self.fans or self.coolers)


def box_slices(grid, lower, upper, name: str, what: str):
    """Cell slices of a box; every axis must cover at least one cell centre."""
    sl = []
    for a in range(3):
        i0, i1 = grid.index_range(a, lower[a], upper[a])
        if i1 <= i0:
            raise CaseError(f"{what} '{name}' covers no cell centre along {'xyz'[a]}: refine "
                            "the grid or enlarge it")
        sl.append(slice(i0, i1))
    return tuple(sl)


def fan_faces(grid, fan: Fan):
    """(face index along the axis in padded numbering, slices of the other two axes in
    interior numbering) of a fan plane."""
    a = fan.axis
    f = grid.faces[a]
    i = int(np.argmin(np.abs(f - fan.position)))
    if i == 0 or i == f.size - 1:
        raise CaseError(f"fan '{fan.name}' lies on the domain boundary: place it inside")
    sl = []
    for b in range(3):
        if b == a:
            sl.append(None)
            continue
        i0, i1 = grid.index_range(b, fan.lower[b], fan.upper[b])
        if i1 <= i0:
            raise CaseError(f"fan '{fan.name}' covers no face along {'xyz'[b]}: refine the "
                            "grid or enlarge it")
        sl.append(slice(i0, i1))
    return i + 1, sl


def porous_metrics(block: PorousBlock, sl, vel, pressure, T, grid, fluid) -> dict:
    """Flow (m^3/s), mean superficial velocity (m/s), static pressure drop (Pa), inlet and
    outlet temperatures (K, flow-weighted over its two end faces) and power (W) of a porous
    block, along its through-flow axis (isotropic blocks: the axis of the largest flow)."""
    a = block.axis
    faces = []
    for ax in range(3):
        lo, hi = [slice(s.start, s.stop) for s in sl], [slice(s.start, s.stop) for s in sl]
        lo[ax] = sl[ax].start
        hi[ax] = sl[ax].stop
        faces.append((lo, hi))
    o = lambda ax: [b for b in range(3) if b != ax]  # noqa: E731

    def area(ax):
        b, c = o(ax)
        return np.multiply.outer(grid.spacing(b)[sl[b]], grid.spacing(c)[sl[c]])

    if a is None:
        a = int(np.argmax([abs(float((vel[ax][tuple(faces[ax][0])] * area(ax)).sum()))
                           for ax in range(3)]))
    lo, hi = faces[a]
    A = area(a)
    q_in = vel[a][tuple(lo)] * A
    q_out = vel[a][tuple(hi)] * A
    Q = 0.5 * float(q_in.sum() + q_out.sum())
    sgn = 1.0 if Q >= 0 else -1.0
    first, last = list(sl), list(sl)
    first[a] = slice(sl[a].start, sl[a].start + 1)
    last[a] = slice(sl[a].stop - 1, sl[a].stop)
    n = grid.shape[a]
    before, after = list(sl), list(sl)
    before[a] = slice(max(sl[a].start - 1, 0), max(sl[a].start, 1))
    after[a] = slice(min(sl[a].stop, n - 1), min(sl[a].stop + 1, n))
    up, down = (before, after) if sgn > 0 else (after, before)
    w_up = np.squeeze(np.abs(q_in if sgn > 0 else q_out))
    w_dn = np.squeeze(np.abs(q_out if sgn > 0 else q_in))

    def mean(x, region, w):
        v = np.squeeze(x[tuple(region)])
        return float((v * w).sum() / w.sum()) if w.sum() > 0 else float(v.mean())
    # on the end faces: the mean of the cells either side, flow-weighted
    inside_up, inside_dn = (first, last) if sgn > 0 else (last, first)
    T_in = 0.5 * (mean(T, up, w_up) + mean(T, inside_up, w_up))
    T_out = 0.5 * (mean(T, inside_dn, w_dn) + mean(T, down, w_dn))
    dp = mean(pressure, up, w_up) - mean(pressure, down, w_dn)
    return {"name": block.name, "axis": "xyz"[a], "flow": abs(Q),
            "velocity": abs(Q) / float(A.sum()), "pressure_drop": dp,
            "inlet_temperature": T_in, "outlet_temperature": T_out, "power": block.power,
            "mass_flow": abs(Q) * fluid.density}
