"""What a rack-cooling run reports: chip temperatures against their limits, rack inlet
temperatures against the ASHRAE classes, the Rack Cooling Index, where the heat goes, the
pressure drops, the fans' operating points and hydraulic power, and the hotspots.

Servers are the porous blocks named ``RACK/SERVER`` (what the layout builders make); their
inlets are the rack's intakes.  Temperatures are reported in kelvin; the printed summary
adds degrees Celsius.

Sources:
- ASHRAE TC 9.9, Thermal Guidelines for Data Processing Environments, 5th ed. (2021):
  recommended inlet range 18-27 degC for classes A1-A4; allowable A1 15-32, A2 10-35,
  A3 5-40, A4 5-45 degC.
- M. K. Herrlin, "Rack cooling effectiveness in data centers and telecom central offices:
  the Rack Cooling Index (RCI)", ASHRAE Transactions 111(2), 2005:
  RCI_HI = (1 - sum (T_x - T_max,rec)_{T_x > T_max,rec} / (n (T_max,all - T_max,rec))) 100 %,
  RCI_LO = (1 - sum (T_min,rec - T_x)_{T_x < T_min,rec} / (n (T_min,rec - T_min,all))) 100 %,
  over the n intake temperatures T_x; 100 % means every intake within the recommended range.
"""

from __future__ import annotations

C0 = 273.15
RECOMMENDED = (18.0 + C0, 27.0 + C0)
ALLOWABLE = {"A1": (15.0 + C0, 32.0 + C0), "A2": (10.0 + C0, 35.0 + C0),
             "A3": (5.0 + C0, 40.0 + C0), "A4": (5.0 + C0, 45.0 + C0)}


def rack_cooling_index(intakes, ashrae_class: str = "A1") -> tuple[float, float]:
    """(RCI_HI, RCI_LO) in percent over the intake temperatures (K), Herrlin (2005)."""
    lo_rec, hi_rec = RECOMMENDED
    lo_all, hi_all = ALLOWABLE[ashrae_class]
    n = len(intakes)
    if n == 0:
        return 100.0, 100.0
    over = sum(max(t - hi_rec, 0.0) for t in intakes)
    under = sum(max(lo_rec - t, 0.0) for t in intakes)
    return (100.0 * (1.0 - over / (n * (hi_all - hi_rec))),
            100.0 * (1.0 - under / (n * (lo_rec - lo_all))))


def ashrae_status(t: float, ashrae_class: str = "A1") -> str:
    """``recommended``, ``allowable`` (class) or ``out of range`` for an inlet temperature."""
    if RECOMMENDED[0] <= t <= RECOMMENDED[1]:
        return "recommended"
    lo, hi = ALLOWABLE[ashrae_class]
    return "allowable" if lo <= t <= hi else "out of range"


def rack_metrics(result, ashrae_class: str = "A1", hotspots: int = 5) -> dict:
    """The metrics of a flow result with components (see the module's text)."""
    comps = result.components
    chips = comps.get("chips", [])
    porous = comps.get("porous", [])
    fans = comps.get("fans", [])
    coolers = comps.get("coolers", [])
    servers = [b for b in porous if "/" in b["name"]]
    racks: dict[str, list] = {}
    for s in servers:
        racks.setdefault(s["name"].split("/")[0], []).append(s)
    intakes = [s["inlet_temperature"] for s in servers]
    rci_hi, rci_lo = rack_cooling_index(intakes, ashrae_class)
    rack_rows = []
    for name, ss in racks.items():
        t_in = max(s["inlet_temperature"] for s in ss)
        rack_rows.append({"name": name, "max_inlet_temperature": t_in,
                          "mean_inlet_temperature": sum(s["inlet_temperature"] for s in ss)
                          / len(ss),
                          "power": sum(s["power"] for s in ss) + sum(
                              c["power"] for c in chips if c["name"].split("/")[0] == name),
                          "flow": sum(s["flow"] for s in ss),
                          "status": ashrae_status(t_in, ashrae_class)})
    fan_rows = [{**f, "hydraulic_power": f["flow"] * f["pressure_rise"]} for f in fans]
    server_fans = [f for f in fan_rows if f["name"].count("/") >= 2]
    other_fans = [f for f in fan_rows if f["name"].count("/") < 2]
    removed = sum(c["heat_removed"] for c in coolers)
    power = result.total_power
    hot = sorted(chips, key=lambda c: -c["junction_temperature"])[:hotspots]
    over = [c["name"] for c in chips if c["over_limit"]]
    out = {
        "it_power": power,
        "heat_to_air": power,          # every source heats the air (no liquid path yet)
        "heat_to_liquid": 0.0,
        "heat_removed_by_coolers": removed,
        "energy_balance_error": abs(power - removed - sum(
            v for k, v in result.heat_flows.items() if not k.startswith("cooler")))
        / max(abs(power), 1e-300),
        "steady": bool(result.stats.converged),
        "ashrae_class": ashrae_class,
        "rci_hi": rci_hi, "rci_lo": rci_lo,
        "max_inlet_temperature": max(intakes) if intakes else float("nan"),
        "racks": rack_rows,
        "chips": chips,
        "chips_over_limit": over,
        "servers": servers,
        "other_porous": [b for b in porous if "/" not in b["name"]],
        "fans": fan_rows,
        "server_fan_hydraulic_power": sum(f["hydraulic_power"] for f in server_fans),
        "unit_fan_hydraulic_power": sum(f["hydraulic_power"] for f in other_fans),
        "coolers": coolers,
        "hotspots": [{"name": c["name"], "kind": c["kind"],
                      "junction_temperature": c["junction_temperature"],
                      "position": c["position"]} for c in hot],
    }
    return out


def format_metrics(m: dict) -> str:
    """The metrics as the lines ``thermosim run`` prints."""
    c = lambda t: f"{t:.2f} K ({t - C0:.1f} degC)"  # noqa: E731
    balance = (f"balance error {m['energy_balance_error']:.2e}" if m["steady"] else
               f"{(m['it_power'] - m['heat_removed_by_coolers']) / 1e3:.3f} kW still being "
               "stored: not steady")
    lines = [f"IT power       {m['it_power'] / 1e3:.2f} kW (to air {m['heat_to_air'] / 1e3:.2f}"
             f" kW, to liquid {m['heat_to_liquid'] / 1e3:.2f} kW); coolers remove "
             f"{m['heat_removed_by_coolers'] / 1e3:.3f} kW ({balance})"]
    if m["racks"]:
        lines.append(f"rack inlets    hottest {c(m['max_inlet_temperature'])}; RCI_HI "
                     f"{m['rci_hi']:.1f} %, RCI_LO {m['rci_lo']:.1f} % (ASHRAE "
                     f"{m['ashrae_class']})")
        for r in m["racks"]:
            lines.append(f"  rack {r['name']:<8s} inlet max {c(r['max_inlet_temperature'])} "
                         f"{r['status']}, {r['power'] / 1e3:.1f} kW, {r['flow']:.3f} m^3/s")
    if m["chips"]:
        worst = m["hotspots"][0]
        lines.append(f"chips          {len(m['chips'])}; hottest junction "
                     f"{c(worst['junction_temperature'])} ({worst['name']}); over limit: "
                     f"{', '.join(m['chips_over_limit']) or 'none'}")
        for h in m["hotspots"]:
            pos = ", ".join(f"{v:.2f}" for v in h["position"])
            lines.append(f"  hotspot {h['name']:<18s} {h['kind']:<4s} "
                         f"{c(h['junction_temperature'])} at ({pos}) m")
    if m["servers"]:
        s = m["servers"]
        lines.append(f"servers        {len(s)}; flow {min(x['flow'] for x in s):.3f}-"
                     f"{max(x['flow'] for x in s):.3f} m^3/s, pressure drop "
                     f"{min(x['pressure_drop'] for x in s):.1f}-"
                     f"{max(x['pressure_drop'] for x in s):.1f} Pa")
    for b in m["other_porous"]:
        lines.append(f"  {b['name']:<12s} flow {b['flow']:.3f} m^3/s, pressure drop "
                     f"{b['pressure_drop']:.2f} Pa")
    if m["fans"]:
        lines.append(f"fans           hydraulic power: server fans "
                     f"{m['server_fan_hydraulic_power']:.1f} W, unit fans "
                     f"{m['unit_fan_hydraulic_power']:.1f} W")
        for f in m["fans"]:
            if f["name"].count("/") < 2:
                lines.append(f"  {f['name']:<12s} {f['flow']:.3f} m^3/s at "
                             f"{f['pressure_rise']:.1f} Pa ({f['mode']})")
    for k in m["coolers"]:
        lines.append(f"  {k['name']:<12s} removes {k['heat_removed'] / 1e3:.3f} kW at "
                     f"{c(k['supply_temperature'])}")
    return "\n".join(lines)
