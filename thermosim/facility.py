"""The facility energy model: from a rack-cooling run's results to a year of electricity.

The run gives the heat to air and to liquid, the chips' junction temperatures, the fans'
and pumps' hydraulic powers and the coolant temperatures; this module adds what the
simulated room does not hold (fan and pump efficiencies, the heat rejection plant, the
climate, the power chain) and sums a year hour by hour.  Every number below is either
from the run or a :class:`Plant` parameter with its source in :data:`SOURCES`.

Model, per layout (SI units: W, K, m^3/s, Pa; energies in kWh a year):

1. **IT power with leakage.**  A chip's power at junction temperature ``T_j`` is
   ``P = P_rated ((1 - f) + f exp(beta (T_j - T_ref)))``: its rated power at ``T_ref``
   of which a share ``f`` is leakage, growing exponentially with temperature (the
   subthreshold current's temperature dependence; Liao, He and Lepak, IEEE TCAD 24(7),
   2005).  The run solves the chips at their rated power; the leakage-corrected power
   solves ``P = P(T_s + R (P))``, ``R = (T_j,run - T_s) / P_rated`` the chip's
   supply-to-junction resistance in the run (temperatures rise in proportion to the
   heat at fixed flows) and ``T_s`` the layout's supply temperature.
2. **Server fans** are IT power (The Green Grid's PUE puts them there, which is why PUE
   alone hides them): their simulated hydraulic power, flow times pressure rise at the
   operating points the run found, over the fan-motor efficiency.  The layouts set the
   fans' speed from the airflow the air-side heat needs (fan laws), see
   :mod:`thermosim.layouts`.
3. **CRAH fans**: the simulated flow times (simulated pressure rise plus the unit's
   internal drop, filters and coil, which the room model does not hold) over the
   efficiency.  **Pumps**: the simulated hydraulic power (plates, tanks and loop) over
   the pump efficiency; the facility's water pumps at ASHRAE 90.1 Appendix G's specific
   powers for the flows the heat and the design rises need.
4. **Heat rejection**, per heat stream (the CRAH coils' chilled water; the CDUs' or tank
   heat exchangers' warm water): the water must reach ``T_supply - approach`` of the
   stream.  A cooling tower (wet-bulb ``T_wb`` plus its approach) through a plate heat
   exchanger (its approach) is the economizer: full free cooling when that reaches the
   required supply, a partial economizer (the tower pre-cools the return, the chiller
   trims) while it is below the return, the chiller alone otherwise.  The chiller is
   DOE-2's electric-EIR model (EnergyPlus Chiller:Electric:EIR, curves DOE-2
   Centrifugal/5.50COP): ``P = Q_cap CAPFT / COP_ref EIRFT EIRFPLR(PLR)``, its condenser
   fed at ``T_wb`` + tower approach; curve inputs held to their ranges (EnergyPlus's
   curve limits).  Tower fans take a fixed power per heat rejected (90.1's minimum
   efficiency for axial open towers), the chiller's power rejected too.
5. **Power chain**: UPS and distribution losses on the IT power.
6. A year: every hour of the climate at the constant IT load; PUE = facility / IT,
   partial PUE of each subsystem = (IT + subsystem) / IT (The Green Grid, White Paper 49,
   2012), ITUE = IT / (IT less server fans) and TUE = ITUE PUE (Patterson et al., ISC
   2013: the IT's own infrastructure, here its fans, counted against it); *non-IT*
   energy is facility less IT (what PUE counts); the *overhead* is facility less the
   *compute* energy, the IT load at its rating (chips at T_ref plus the servers' other
   loads, the same in every layout of a comparison), so it also holds the server fans
   and the leakage above or below the rating.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import numpy as np

from .climate import load as load_climate
from .errors import CaseError
from .inputs import kelvin

C0 = 273.15
GPM = 6.30902e-5          # m^3/s per US gallon per minute
HP = 745.7                # W per horsepower
HOURS = 8760

# DOE-2 Centrifugal/5.50COP (EnergyPlus DataSets/Chillers.idf, as in the Modelica
# Buildings library's Buildings.Fluid.Chillers.Data.ElectricEIR.DOE_2_Centrifugal_5_50COP):
# reference 6.67 degC leaving chilled water, 29.4 degC entering condenser water; curves in
# degC, valid 5-10 degC leaving chilled water and 24-35 degC entering condenser water
CHILLER = dict(
    cop=5.5, t_chw=6.67, t_cond=29.4, t_chw_range=(5.0, 10.0), t_cond_range=(24.0, 35.0),
    capft=(0.257896, 0.0389016, -0.00021708, 0.0468684, -0.00094284, -0.00034344),
    eirft=(0.933884, -0.058212, 0.00450036, 0.00243, 0.000486, -0.001215),
    eirfplr=(0.222903, 0.313387, 0.463710), plr_min=0.1)


@dataclass(frozen=True)
class Plant:
    """What the energy model adds to a run (see :data:`SOURCES` for each default)."""
    climate: str = "greensboro"
    leakage_fraction: float = 0.2
    leakage_reference_temperature: float = 358.15
    leakage_doubling: float = 30.0
    server_fan_efficiency: float = 0.3
    crah_fan_efficiency: float = 0.6
    crah_internal_pressure_drop: float = 250.0
    pump_efficiency: float = 0.6
    crah_coil_approach: float = 6.0
    chilled_water_rise: float = 6.67
    cdu_approach: float = 3.0
    economizer_approach: float = 1.5
    tower_approach: float = 5.56
    tower_fan_power: float = HP / (40.2 * GPM * 1000.0 * 4186.0 * 5.556)
    condenser_water_rise: float = 5.556
    chilled_water_pump_power: float = 22.0 / GPM
    condenser_water_pump_power: float = 19.0 / GPM
    chiller_cop: float = CHILLER["cop"]
    ups_efficiency: float = 0.95
    hours: int = HOURS

    @classmethod
    def from_mapping(cls, data: dict | None, where: str = "energy") -> "Plant":
        """A plant from a mapping of its parameters (``--plant`` file, a sweep's
        ``energy:``); one-line errors for bad keys and values."""
        if data is not None and not isinstance(data, dict):
            raise CaseError(f"a mapping of energy-model parameters, not {data!r:.60}",
                            "(top level)", where)
        data = dict(data or {})
        known = {f.name: f for f in fields(cls)}
        problems = [CaseError(f"unknown key (known: {', '.join(sorted(known))})", str(k),
                              where) for k in data if k not in known]
        out = {}
        for k, v in data.items():
            if k not in known:
                continue
            if k == "climate":
                if not isinstance(v, str) or not v.strip():
                    problems.append(CaseError(f"a climate name or weather file, not {v!r}",
                                              k, where))
                out[k] = str(v)
                continue
            if k.endswith("_temperature"):
                try:
                    v = kelvin(v)        # kelvin, or with units: "85 degC"
                except ValueError as e:
                    problems.append(CaseError(f"out of range: {e}", k, where))
                    continue
            try:
                if isinstance(v, bool):
                    raise ValueError
                x = float(v)
            except (ValueError, TypeError, OverflowError):
                problems.append(CaseError(f"a number, not {v!r}", k, where))
                continue
            if not math.isfinite(x) or x < 0 or (k.endswith("efficiency") and not 0 < x <= 1) \
                    or (k in POSITIVE and x <= 0) or (k == "leakage_fraction" and x > 1) \
                    or (k == "hours" and x < 1):
                problems.append(CaseError(f"{v!r} is out of range ({RANGES.get(k, '>= 0')})",
                                          k, where))
                continue
            out[k] = int(x) if k == "hours" else x
        if problems:
            raise CaseError.several(problems)
        return cls(**out)

    def to_dict(self) -> dict:
        return asdict(self)


POSITIVE = {"leakage_doubling", "chilled_water_rise", "condenser_water_rise", "chiller_cop",
            "tower_approach"}
RANGES = {"leakage_fraction": "a fraction, 0 to 1",
          "leakage_reference_temperature": "kelvin, > 200",
          **{k: "> 0" for k in POSITIVE}, "hours": ">= 1",
          **{f"{k}_efficiency": "a fraction in (0, 1]"
             for k in ("server_fan", "crah_fan", "pump", "ups")}}

SOURCES = {
    "climate": "hourly typical meteorological year (NREL TMY2/TMY3; thermosim.climate)",
    "leakage_fraction": "assumption: leakage share of a GPU's or CPU's rated power at "
                        "T_ref, 20 % (a few tens of percent in today's high-power parts)",
    "leakage_reference_temperature": "assumption: the rating's junction temperature, 85 degC",
    "leakage_doubling": "assumption: leakage doubles every 30 K (beta = ln 2 / 30 K); "
                        "exponential in T after Liao, He, Lepak, IEEE TCAD 24(7) 2005",
    "server_fan_efficiency": "assumption: small axial fans with motor and driver, wire to "
                             "air 30 %",
    "crah_fan_efficiency": "assumption: EC plug fans, wire to air 60 %",
    "crah_internal_pressure_drop": "assumption: filters and chilled-water coil, 250 Pa, on "
                                   "top of the run's CRAH column (its K = 5 takes about "
                                   "14 Pa at the quick hall's flow: a 5 % overlap)",
    "pump_efficiency": "assumption: wire-to-water 60 % for the CDU and tank pumps",
    "crah_coil_approach": "assumption: chilled water 6 K below the supply air",
    "chilled_water_rise": "ASHRAE 90.1-2016 Appendix G (G3.1.3.8): 44 degF supply, 56 degF "
                          "return, 12 degF = 6.67 K",
    "cdu_approach": "assumption: CDU / tank heat exchanger, facility water 3 K below the "
                    "secondary supply",
    "economizer_approach": "assumption: plate heat exchanger between tower and loop, 1.5 K",
    "tower_approach": "ASHRAE 90.1-2016 Table 6.8.1-7 rating: 95 degF to 85 degF at "
                      "75 degF wet bulb, a 10 degF = 5.56 K approach",
    "tower_fan_power": "ASHRAE 90.1-2016 Table 6.8.1-7: axial-fan open-circuit towers "
                       ">= 40.2 gpm/hp at the rating (10 degF range): 0.0127 W per W",
    "condenser_water_rise": "ASHRAE 90.1-2016 Table 6.8.1-7 rating range, 10 degF",
    "chilled_water_pump_power": "ASHRAE 90.1-2016 Appendix G (G3.1.3.10): 22 W/gpm",
    "condenser_water_pump_power": "ASHRAE 90.1-2016 Appendix G (G3.1.3.11): 19 W/gpm",
    "chiller_cop": "DOE-2 Centrifugal/5.50COP (EnergyPlus Chiller:Electric:EIR dataset): "
                   "COP 5.5 at 6.67 degC chilled water, 29.4 degC condenser water; "
                   "CAPFT, EIRFT, EIRFPLR curves of the same record",
    "ups_efficiency": "assumption: double-conversion UPS and distribution, 95 %",
    "hours": "a year of constant IT load",
}


def _biquad(c, x, y):
    return c[0] + c[1] * x + c[2] * x * x + c[3] * y + c[4] * y * y + c[5] * x * y


def chiller_power(load, t_chw, t_cond, capacity, cop=CHILLER["cop"]):
    """Electric power (W) of the DOE-2 electric-EIR chiller carrying ``load`` (W) with
    leaving chilled water ``t_chw`` and entering condenser water ``t_cond`` (K), sized
    ``capacity`` (W) at the reference point; arrays broadcast.  Below the minimum part
    load ratio it cycles (power in proportion to the load)."""
    te = np.clip(np.asarray(t_chw, float) - C0, *CHILLER["t_chw_range"])
    tc = np.clip(np.asarray(t_cond, float) - C0, *CHILLER["t_cond_range"])
    cap = capacity * _biquad(CHILLER["capft"], te, tc)
    load = np.asarray(load, float)
    plr = np.where(cap > 0, load / np.maximum(cap, 1e-300), 0.0)
    run = np.maximum(plr, CHILLER["plr_min"])
    a, b, c = CHILLER["eirfplr"]
    p = cap / cop * _biquad(CHILLER["eirft"], te, tc) * (a + b * run + c * run * run)
    # cycling below PLR_min: the fraction of the hour it runs
    return np.where(load > 0, p * np.minimum(plr / run, 1.0), 0.0)


def chiller_cop(t_chw, t_cond, cop=CHILLER["cop"]):
    """The chiller's COP carrying its reference capacity (part load ratio 1 / CAPFT) at
    leaving chilled water and entering condenser water temperatures (K)."""
    return float(1.0 / (chiller_power(1.0, t_chw, t_cond, 1.0, cop)))


def leakage_power(rated, t_j, t_s, plant: Plant) -> tuple[float, float]:
    """(power W, junction temperature K) of a chip rated ``rated`` (W) at the plant's
    leakage reference whose run gave junction ``t_j`` at supply ``t_s`` (K): the fixed
    point of P = P_rated ((1-f) + f exp(beta (T_s + R P - T_ref))).  Raises when there is
    none (thermal runaway)."""
    f, beta = plant.leakage_fraction, math.log(2.0) / plant.leakage_doubling
    if rated <= 0 or f == 0:
        return rated, t_j
    r = (t_j - t_s) / rated

    def g(p):
        return rated * ((1 - f) + f * math.exp(beta * (t_s + r * p - plant.leakage_reference_temperature))) - p

    # g(0) > 0; g is convex: its first root is where Newton from 0 converges
    p = 0.0
    for _ in range(100):
        e = rated * f * math.exp(beta * (t_s + r * p - plant.leakage_reference_temperature))
        dg = e * beta * r - 1.0
        if dg >= 0:
            raise CaseError(f"thermal runaway: a {rated:.0f} W chip at {t_j - C0:.1f} degC "
                            "has no steady leakage power; cool it harder or lower the leakage")
        step = g(p) / dg
        p -= step
        if abs(step) < 1e-9 * rated:
            return p, t_s + r * p
    return p, t_s + r * p


def _supply_temperatures(layout: dict) -> dict:
    par = layout.get("parameters", {})
    kind = layout.get("kind")
    out = {}
    if kind in ("air_cooled", "liquid_cooled"):
        out["air"] = float(par["supply_temperature"])
    if kind == "liquid_cooled":
        out["liquid"] = float(par["cdu_supply_temperature"])
    if kind == "immersion":
        out["liquid"] = float(par["supply_temperature"])
    return out


def it_power(metrics: dict, layout: dict, plant: Plant) -> dict:
    """Chip powers with leakage at their junction temperatures, the servers' other loads,
    and how the heat splits between air and liquid (W)."""
    supply = _supply_temperatures(layout)
    rated = actual = 0.0
    to_liquid = to_air = 0.0
    hottest = -1.0
    for c in metrics["chips"]:
        liquid_share = c.get("heat_to_liquid", 0.0) / c["power"] if c["power"] > 0 else 0.0
        if layout.get("kind") == "immersion":
            liquid_share = 1.0
        t_s = supply["liquid"] if liquid_share > 0.5 else supply.get("air", supply.get("liquid"))
        p, tj = leakage_power(c["power"], c["junction_temperature"], t_s, plant)
        rated += c["power"]
        actual += p
        to_liquid += p * liquid_share
        to_air += p * (1 - liquid_share)
        hottest = max(hottest, tj)
    other = metrics["it_power"] - rated
    liquid_other = other if layout.get("kind") == "immersion" else 0.0
    return {"chips_rated": rated, "chips": actual, "leakage_change": actual - rated,
            "other": other, "compute": rated + other, "heat_to_air": to_air + other - liquid_other,
            "heat_to_liquid": to_liquid + liquid_other,
            "hottest_junction_with_leakage": hottest}


def _stream(name, heat, t_supply, t_return, climate, plant: Plant, chilled: bool) -> dict:
    """Hour-by-hour heat rejection of one water stream carrying ``heat`` (W) at supply and
    return ``t_supply``/``t_return`` (K): economizer, chiller, tower, pumps (W arrays)."""
    wb = climate.wet_bulb
    t_tower = wb + plant.tower_approach
    t_free = t_tower + plant.economizer_approach
    span = max(t_return - t_supply, 1e-9)
    chiller_share = np.clip((t_free - t_supply) / span, 0.0, 1.0)
    load = heat * chiller_share
    p_ch = chiller_power(load, t_supply, t_tower, heat, plant.chiller_cop)
    rejected = heat + p_ch
    tower = plant.tower_fan_power * rejected
    flow = heat / (1000.0 * 4186.0 * span)
    cond_flow = rejected / (1000.0 * 4186.0 * plant.condenser_water_rise)
    pumps = plant.chilled_water_pump_power * flow + plant.condenser_water_pump_power * cond_flow
    return {"name": name, "heat": heat, "supply_temperature": t_supply,
            "return_temperature": t_return, "chilled": chilled,
            "chiller": p_ch, "tower": tower, "pumps": pumps * np.ones_like(wb),
            "free_hours": int((chiller_share == 0).sum()),
            "partial_hours": int(((chiller_share > 0) & (chiller_share < 1)).sum()),
            "chiller_hours": int((chiller_share >= 1).sum()),
            "water_flow": flow}


def facility_energy(metrics: dict, layout: dict, plant: Plant | None = None,
                    climate=None) -> dict:
    """A year of a layout's electricity from its run's ``metrics`` (see
    :func:`thermosim.metrics.rack_metrics`) and ``layout`` (the case's layout mapping).
    Powers in W (annual means), energies in kWh; see the module's text."""
    plant = plant or Plant()
    climate = climate or load_climate(plant.climate)
    hours = min(plant.hours, climate.hours)
    if hours < climate.hours:
        climate = type(climate)(climate.name, climate.source, climate.dry_bulb[:hours],
                                climate.wet_bulb[:hours])
    it = it_power(metrics, layout, plant)
    server_fans = metrics["server_fan_hydraulic_power"] / plant.server_fan_efficiency
    crah = 0.0
    for f in metrics["fans"]:
        if f["name"].count("/") < 2 and "pump" not in f["name"]:
            crah += f["flow"] * (f["pressure_rise"] + plant.crah_internal_pressure_drop) \
                / plant.crah_fan_efficiency
    loop_pumps = metrics["pump_hydraulic_power"] / plant.pump_efficiency
    it_total = it["chips"] + it["other"] + server_fans
    powers = {"server_fans": server_fans, "crah_fans": crah, "loop_pumps": loop_pumps,
              "it": it_total, "power_losses": it_total * (1.0 / plant.ups_efficiency - 1.0)}
    streams = _heat_streams(metrics, layout, plant, climate, it, powers)
    return _year(metrics, layout, climate, hours, it, powers, streams)


def _heat_streams(metrics: dict, layout: dict, plant: Plant, climate, it: dict,
                  powers: dict) -> list[dict]:
    """The heat the plant rejects, per stream (the CRAH coils' chilled water, the CDUs' or
    tank heat exchangers' water), with its hourly chiller, tower and pump powers (W)."""
    supply = _supply_temperatures(layout)
    streams = []
    # fans' power ends as heat in the air; the loop pumps' in the liquid
    air_heat = it["heat_to_air"] + powers["server_fans"] + powers["crah_fans"]
    if "air" in supply and air_heat > 0:
        t_chw = supply["air"] - plant.crah_coil_approach
        streams.append(_stream("CRAH chilled water", air_heat, t_chw,
                               t_chw + plant.chilled_water_rise, climate, plant, True))
    liquid_heat = it["heat_to_liquid"] + powers["loop_pumps"]
    if "liquid" in supply and liquid_heat > 0:
        cl = metrics["coolant"]
        rise = max(cl["return_temperature"] - cl["supply_temperature"], 0.5)
        t_fw = supply["liquid"] - plant.cdu_approach
        streams.append(_stream("CDU facility water" if layout.get("kind") == "liquid_cooled"
                               else "tank heat exchanger water", liquid_heat, t_fw,
                               t_fw + rise, climate, plant, False))
    return streams


def _year(metrics: dict, layout: dict, climate, hours: int, it: dict, powers: dict,
          streams: list[dict]) -> dict:
    """The year's energies (kWh), mean powers (W) and the efficiency ratios (PUE, partial
    PUEs, ITUE, TUE) of :func:`facility_energy`."""
    server_fans, crah = powers["server_fans"], powers["crah_fans"]
    loop_pumps, it_total, ups = powers["loop_pumps"], powers["it"], powers["power_losses"]
    chiller = sum(s["chiller"] for s in streams) if streams else np.zeros(hours)
    tower = sum(s["tower"] for s in streams) if streams else np.zeros(hours)
    plant_pumps = sum(s["pumps"] for s in streams) if streams else np.zeros(hours)
    kwh = 1e-3   # W over an hour -> kWh
    annual = {
        "compute": it["compute"] * hours * kwh,
        "leakage_change": it["leakage_change"] * hours * kwh,
        "chips": it["chips"] * hours * kwh,
        "other_it": it["other"] * hours * kwh,
        "server_fans": server_fans * hours * kwh,
        "it": it_total * hours * kwh,
        "crah_fans": crah * hours * kwh,
        "loop_pumps": loop_pumps * hours * kwh,
        "plant_pumps": float(plant_pumps.sum()) * kwh,
        "chiller": float(chiller.sum()) * kwh,
        "tower_fans": float(tower.sum()) * kwh,
        "power_losses": ups * hours * kwh,
    }
    annual["cooling"] = (annual["crah_fans"] + annual["loop_pumps"] + annual["plant_pumps"]
                         + annual["chiller"] + annual["tower_fans"])
    annual["cooling_with_server_fans"] = annual["cooling"] + annual["server_fans"]
    annual["facility"] = annual["it"] + annual["cooling"] + annual["power_losses"]
    annual["non_it"] = annual["facility"] - annual["it"]
    annual["overhead"] = annual["facility"] - annual["compute"]
    it_e = annual["it"]
    return {
        "layout": layout.get("kind"), "climate": climate.name, "hours": hours,
        "it_power_rated": metrics["it_power"], "it": it,
        "powers": {"server_fans": server_fans, "crah_fans": crah, "loop_pumps": loop_pumps,
                   "it": it_total, "power_losses": ups,
                   "chiller_mean": float(chiller.mean()), "tower_fans_mean": float(tower.mean()),
                   "plant_pumps_mean": float(plant_pumps.mean())},
        "annual_kwh": annual,
        "pue": annual["facility"] / it_e,
        "ppue": {"cooling": (it_e + annual["cooling"]) / it_e,
                 "power": (it_e + annual["power_losses"]) / it_e,
                 "chiller": (it_e + annual["chiller"]) / it_e,
                 "fans_and_pumps": (it_e + annual["crah_fans"] + annual["loop_pumps"]
                                    + annual["plant_pumps"] + annual["tower_fans"]) / it_e},
        "itue": it_e / (it_e - annual["server_fans"]),
        "tue": annual["facility"] / (it_e - annual["server_fans"]),
        "streams": [{k: v for k, v in s.items()
                     if k not in ("chiller", "tower", "pumps")} |
                    {"chiller_kwh": float(s["chiller"].sum()) * kwh,
                     "tower_kwh": float(s["tower"].sum()) * kwh,
                     "pumps_kwh": float(s["pumps"].sum()) * kwh} for s in streams],
    }


def savings(base: dict, other: dict) -> dict:
    """Fractions of ``base``'s annual energy ``other`` saves: facility, cooling with and
    without the server fans, non-IT (PUE's overhead) and overhead (facility less the IT
    load at its rating)."""
    a, b = base["annual_kwh"], other["annual_kwh"]
    return {k: (a[k] - b[k]) / a[k] if a[k] > 0 else float("nan")
            for k in ("facility", "cooling_with_server_fans", "cooling", "non_it", "overhead")}
