"""Cooling-equipment components inside a flow: porous blocks (servers, heat sinks, tiles,
coils), fans and coolers (the coils of CRAH units and heat exchangers).

- :class:`PorousBlock`: fluid cells with a Darcy-Forchheimer momentum sink per axis,
  ``-(a_i + b_i |u_i|) u_i`` (m/s^2) on the superficial velocity ``u_i``, and a heat
  source (W) spread over its volume (a server's components heat the air passing through).
  The coefficients come from a loss coefficient (``dp = K rho u^2 / 2`` across the depth
  ``L``: ``b = K / (2 L)``), from a pressure-drop curve ``dp = c1 Q + c2 Q^2`` over the
  frontal area ``A`` (``a = c1 A / (rho L)``, ``b = c2 A^2 / (rho L)``), or from a
  perforated plate's free-area ratio (Idelchik's thin-plate loss).  Sideways flow is
  blocked unless given (``a`` = :data:`BLOCKED`, a server's case walls): the flow model
  closes those faces (:mod:`thermosim.flow.terms.porous`).
- :class:`Fan`: a plane of faces with a fan curve (pressure rise in Pa against volume flow
  in m^3/s), imposed as a momentum source ``dp(Q) / (rho d)`` on the plane's faces with
  ``Q`` the flow through it (lagged by a step); or a fixed flow, imposed as the plane's
  face velocities (the pressure solve then treats them as held).  The operating point is
  the run's ``(Q, dp)``.
- :class:`ColdPlate`: a liquid cold plate on a :class:`Chip` (compact model: a thermal
  resistance and the coolant's energy balance); the chip's heat splits between the coolant
  and the air around it.
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

BLOCKED = 1.0e6        # 1/s: the marker of a blocked axis; the flow model closes its faces
#                        (as a sink, the leakage u = grad p / (rho a) would be 1 mm/s at 1 kPa/m)


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

    def driving_speed(self, density: float, area: float | None = None) -> float:
        """The fastest air speed (m/s) this fan can drive: a curve's highest pressure rise
        all turned into speed, sqrt(2 dp / rho) (Bernoulli; a 500 Pa server fan in air
        29 m/s), or a fixed flow over ``area`` (m^2, its open faces'; None: its whole
        rectangle's)."""
        if self.curve is not None:
            return math.sqrt(2.0 * max(max(p[1] for p in self.curve), 0.0) / density)
        if area is None:
            a = [self.upper[b] - self.lower[b] for b in range(3) if b != self.axis]
            area = a[0] * a[1]
        return abs(self.flow) / max(area, 1e-30)

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


def plate_mean_rise(resistance: float, capacity_rate: float,
                    axial_conductance: Optional[float] = None) -> float:
    """Mean case temperature over the heated length above the coolant inlet, per watt
    (K/W), of a plate heated uniformly along the flow: the plate's metal conducts along the
    flow with ``axial_conductance`` G = k A / L (W/K), gives its heat to the coolant through
    ``resistance`` R (K/W, spread evenly along the length), and the coolant (``capacity_rate``
    C = m c_p, W/K) warms as it takes it.  With theta = T_case - T_coolant in units of P/C,
    x along the plate over its length, N = 1 / (R C) and beta = G / C, the balances give
    ``beta theta'' + beta N theta' - N theta = -1`` with no conduction out of either end
    (``N theta + theta' = 0`` there), solved in closed form.  Limits: G -> 0, a uniform
    flux, ``R + 1 / (2 C)`` (Incropera et al., 7th ed., section 8.3.1); G -> infinity, an
    isothermal case, the heat exchanger ``1 / (eps C)``, eps = 1 - exp(-N)."""
    R, C = float(resistance), float(capacity_rate)
    if axial_conductance is None or axial_conductance <= 0:
        return R + 0.5 / C
    N, b = 1.0 / (R * C), float(axial_conductance) / C
    if b * N > 1e8:               # isothermal to round-off (and the roots lose digits)
        return 1.0 / (C * -math.expm1(-N))
    disc = math.sqrt((b * N) ** 2 + 4.0 * b * N)
    # r1 > 0 > r2; r1 in the form without cancellation (r1 r2 = -N / b)
    r1, r2 = 2.0 * N / (b * N + disc), (-b * N - disc) / (2 * b)
    # theta = 1/N + A' exp(r1 (x - 1)) + B exp(r2 x): both exponentials at most 1
    e1, e2 = math.exp(-r1), math.exp(r2)
    m = np.array([[(N + r1) * e1, N + r2], [N + r1, (N + r2) * e2]])
    A, B = np.linalg.solve(m, [-1.0, -1.0])
    i1 = -math.expm1(-r1) / r1            # mean of exp(r1 (x - 1))
    i2 = math.expm1(r2) / r2              # mean of exp(r2 x)
    theta = 1.0 / N + A * i1 + B * i2
    # F = integral of N theta: mean of F = N (1 / (2 N) + A' m1 + B m2), m the means of the
    # exponentials' integrals from 0
    # mean over x of (exp(r1 (x-1)) - exp(-r1)) / r1, = (1 - (1 + r1) e^-r1) / r1^2 (a
    # series where that cancels: a plate conducting far better than its coolant carries)
    m1 = (i1 - e1) / r1 if r1 > 1e-4 else 0.5 - r1 / 3.0 + r1 * r1 / 8.0
    m2 = (i2 - 1.0) / r2
    F = 0.5 + N * (A * m1 + B * m2)
    return (F + theta) / C


@dataclass(frozen=True)
class ColdPlate:
    """A liquid cold plate on a chip, as a compact model: ``resistance`` (K/W) from the case
    to the coolant around it (base conduction and channel convection together, at the
    rated flow), ``flow`` (m^3/s) of ``coolant`` entering at ``inlet_temperature`` (K, the
    rack manifold's supply), ``pressure_drop`` (Pa) at that flow; ``axial_conductance``
    (W/K, k A / L of the plate's metal along the flow; None: none, the case follows the
    coolant).  The coolant's properties (``density`` kg/m^3, ``specific_heat`` J/(kg K))
    are filled in from the coolant's name when the case is built.

    The chip heats the plate with a nearly uniform flux, the coolant warms along it and the
    metal evens the case temperature out along the flow as far as its conductance allows:
    the effective resistance from the mean case temperature to the coolant inlet is
    :func:`plate_mean_rise`, between ``R + 1 / (2 m c_p)`` (no axial conduction) and the
    isothermal case's ``1 / (eps m c_p)``; the two meet when R m c_p >> 1, as for cold
    plates at their rated flows.  The resolved plate of :func:`thermosim.layouts.cold_plate`
    checks it (``thermosim validate --suite flow --case cold_plate_compact``)."""

    resistance: float
    flow: float
    inlet_temperature: float
    coolant: str = "water"
    pressure_drop: float = 0.0
    density: float = 0.0
    specific_heat: float = 0.0
    axial_conductance: Optional[float] = None

    def __post_init__(self):
        for k in ("resistance", "flow", "density", "specific_heat"):
            v = getattr(self, k)
            if not (math.isfinite(v) and v > 0):
                raise CaseError(f"cold plate: {k} must be positive, got {v} (density and "
                                "specific_heat: the coolant's, at its inlet temperature)")

    @property
    def capacity_rate(self) -> float:
        """m c_p of the coolant stream (W/K)."""
        return self.density * self.flow * self.specific_heat

    @property
    def effective_resistance(self) -> float:
        """Mean case to coolant inlet (K/W), :func:`plate_mean_rise`."""
        return plate_mean_rise(self.resistance, self.capacity_rate, self.axial_conductance)


def cold_plate_split(power: float, plate: "ColdPlate", air_resistance: float,
                     air_temperature: float) -> dict:
    """Where a cold-plated chip's power goes, the case between two paths: to the coolant
    through the plate's effective resistance R_e (from the inlet temperature T_in), to the
    air through ``air_resistance`` R_a (the plate's and board's exposed surfaces, from the
    local air temperature T_a).  The case temperature solves the balance
    ``P = (T_c - T_in) / R_e + (T_c - T_a) / R_a``, so the air takes
    ``(P R_e + T_in - T_a) / (R_e + R_a)`` (negative: the plate cools the air) and the rest
    goes to the liquid, which leaves at ``T_in + Q_liquid / (m c_p)``."""
    Re = plate.effective_resistance
    Ra = air_resistance
    if math.isinf(Ra):
        q_air = 0.0
    else:
        q_air = (power * Re + plate.inlet_temperature - air_temperature) / (Re + Ra)
    q_liq = power - q_air
    case = plate.inlet_temperature + q_liq * Re
    return {"heat_to_air": q_air, "heat_to_liquid": q_liq, "case_temperature": case,
            "coolant_outlet_temperature": plate.inlet_temperature
            + q_liq / plate.capacity_rate}


# Fully developed laminar Nusselt numbers of rectangular ducts on the hydraulic diameter,
# walls at a uniform temperature, against the sides' ratio b/a (>= 1): Incropera et al.,
# 7th ed., Table 8.1 (from Shah & London 1978); b/a -> infinity: parallel plates.
NU_RECTANGULAR_T = ((1.0, 2.98), (1.43, 3.08), (2.0, 3.39), (3.0, 3.96), (4.0, 4.44),
                    (8.0, 5.60), (math.inf, 7.54))


def duct_nusselt(width: float, height: float) -> float:
    """Nu_T of a rectangular channel (linear in a/b between the table's rows)."""
    a, b = sorted((width, height))
    r = a / b
    pts = sorted((1.0 / ba, nu) for ba, nu in NU_RECTANGULAR_T)      # against a/b
    return float(np.interp(r, [p[0] for p in pts], [p[1] for p in pts]))


def plate_resistance(channels: int, channel_width: float, channel_height: float,
                     fin_thickness: float, base_thickness: float, heater_thickness: float,
                     lid_thickness: float, length: float, conductivity: float,
                     coolant_conductivity: float) -> dict:
    """The compact model's case-to-coolant resistance R (K/W) of a channel cold plate from
    its geometry (the plate of :func:`thermosim.layouts.cold_plate`): ``channels``
    parallel rectangular channels ``channel_width`` x ``channel_height`` (m) between fins
    ``fin_thickness`` thick, over a base ``base_thickness`` thick whose lowest
    ``heater_thickness`` carries the chip's heat, under a lid ``lid_thickness`` thick,
    ``length`` along the flow, solid
    ``conductivity`` and coolant ``coolant_conductivity`` (W/(m K)).

    - convection: h = Nu_T k / D_h, fully developed (:func:`duct_nusselt`), over each
      channel's floor and, through the fins, its two sides and its lid: fin efficiency
      tanh(m H_c) / (m H_c), m = sqrt(2 h / (k t)), the fin lengthened by half the lid's
      span to carry the lid's share (H_c = H + w / 2: a modelling choice in the spirit of
      Incropera section 3.6.4's corrected length L + t / 2 for an active tip);
    - conduction across the base from the heated layer's mean (a layer with uniform heating
      over an adiabatic face is t / 3 warmer on average than its top);
    - and the axial conductance k A / L of base, fins and lid (for :func:`plate_mean_rise`)."""
    w, H, t = channel_width, channel_height, fin_thickness
    Dh = 2.0 * w * H / (w + H)
    nu = duct_nusselt(w, H)
    h = nu * coolant_conductivity / Dh
    m = math.sqrt(2.0 * h / (conductivity * t))
    Hc = H + 0.5 * w
    eta = math.tanh(m * Hc) / (m * Hc)
    area = channels * length * (w + eta * (2.0 * H + w))
    footprint = channels * (w + t) * length
    r_base = (base_thickness - 2.0 * heater_thickness / 3.0) / (conductivity * footprint)
    r_conv = 1.0 / (h * area)
    # the metal's cross-section along the flow: base, fins and lid
    section = channels * ((w + t) * (base_thickness + lid_thickness) + t * H)
    return {"resistance": r_base + r_conv, "convection": r_conv, "base": r_base,
            "axial_conductance": conductivity * section / length,
            "h": h, "nusselt": nu, "hydraulic_diameter": Dh, "fin_efficiency": eta}


@dataclass(frozen=True)
class Chip:
    """A compact chip model inside a porous block (a GPU or CPU under its heat sink): its
    ``power`` (W) goes into the air in the box ``lower``..``upper``; its case temperature is
    that air's mean temperature plus ``power x resistance`` (the heat sink's case-to-air
    resistance, K/W, referred to the local mean air temperature), its junction temperature
    that plus ``power x junction_resistance`` (K/W); ``limit``: the largest junction
    temperature allowed (K).  With a ``cold_plate`` the case is cooled by the coolant and
    ``resistance`` is the remaining path to the air (see :func:`cold_plate_split`); the air
    in the box then takes only that path's share of the power."""

    name: str
    lower: tuple
    upper: tuple
    power: float
    resistance: float
    junction_resistance: float = 0.0
    limit: Optional[float] = None
    kind: str = "chip"
    cold_plate: Optional[ColdPlate] = None


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
            section = {"porous block": "porous", "chip": "chips", "cooler": "coolers"}.get(
                what, what)
            raise CaseError(f"{what} '{name}' covers no cell centre along {'xyz'[a]}: refine "
                            "the grid or enlarge it", f"flow.{section} ({name})")
        sl.append(slice(i0, i1))
    return tuple(sl)


def fan_faces(grid, fan: Fan):
    """(face index along the axis in padded numbering, slices of the other two axes in
    interior numbering) of a fan plane."""
    a = fan.axis
    f = grid.faces[a]
    i = int(np.argmin(np.abs(f - fan.position)))
    if i == 0 or i == f.size - 1:
        raise CaseError(f"fan '{fan.name}' lies on the domain boundary: place it inside",
                        f"flow.fans ({fan.name})")
    sl = []
    for b in range(3):
        if b == a:
            sl.append(None)
            continue
        i0, i1 = grid.index_range(b, fan.lower[b], fan.upper[b])
        if i1 <= i0:
            raise CaseError(f"fan '{fan.name}' covers no face along {'xyz'[b]}: refine the "
                            "grid or enlarge it", f"flow.fans ({fan.name})")
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
