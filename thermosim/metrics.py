"""What a rack-cooling run reports: chip temperatures against their limits, rack inlet
temperatures against the ASHRAE classes, the Rack Cooling Index, where the heat goes (air
or liquid), the coolant loop (flows, supply and return temperatures, pump hydraulic power),
the pressure drops, the fans' operating points and hydraulic power, and the hotspots.

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

import numpy as np

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


def coolant_metrics(chips: list, case=None) -> dict:
    """The liquid loop of cold-plated chips: per rack, the plates' flow (m^3/s), heat (W)
    and mixed return temperature (K); for the coolant distribution unit (CDU), the supply
    and return temperatures, flow and heat; the pump's hydraulic power (W): each plate's
    flow times its pressure drop, plus the total flow times the rest of the loop's drop
    (rack manifolds, hoses, the CDU's heat exchanger: ``loop_pressure_drop`` from the
    layout, Pa).  Plates are fed in parallel from the manifold."""
    plated = [c for c in chips if "coolant_flow" in c]
    racks: dict[str, list] = {}
    for c in plated:
        racks.setdefault(c["name"].split("/")[0], []).append(c)

    def loop(cs):
        flow = sum(c["coolant_flow"] for c in cs)
        heat = sum(c["heat_to_liquid"] for c in cs)
        # mixing cups: flow-weighted (the coolant's properties are those of one fluid)
        t_in = sum(c["coolant_flow"] * c["coolant_inlet_temperature"] for c in cs) / flow
        t_out = sum(c["coolant_flow"] * c["coolant_outlet_temperature"] for c in cs) / flow
        return flow, heat, t_in, t_out

    layout = (getattr(case, "layout", None) or {}) if case is not None else {}
    loop_dp = float(layout.get("coolant_loop_pressure_drop", 0.0))
    if not plated:
        return {"heat": 0.0, "flow": 0.0, "racks": [], "pump_hydraulic_power": 0.0}
    flow, heat, t_in, t_out = loop(plated)
    rows = []
    for name, cs in racks.items():
        f, q, ti, to = loop(cs)
        rows.append({"name": name, "flow": f, "heat": q, "supply_temperature": ti,
                     "return_temperature": to})
    plates = sum(c["coolant_flow"] * c["plate_pressure_drop"] for c in plated)
    return {"heat": heat, "flow": flow, "coolant": plated[0]["coolant"],
            "supply_temperature": t_in, "return_temperature": t_out,
            "max_outlet_temperature": max(c["coolant_outlet_temperature"] for c in plated),
            "plates": len(plated), "loop_pressure_drop": loop_dp,
            "plate_hydraulic_power": plates,
            "pump_hydraulic_power": plates + flow * loop_dp, "racks": rows}


def immersion_loop(result, power: float) -> dict:
    """Immersed servers: every watt goes into the liquid, which the pumps feed in through
    the tanks' inflow faces at the heat exchanger's return temperature and which leaves
    over the weir (the outflow faces) for the heat exchanger.  Reports the loop's flow
    (m^3/s), supply and return temperatures (K, the return from the enthalpy the outflow
    carries), the heat it carries (W), and the pump: the flow times the tank's static
    pressure drop (inflow faces minus outflow faces) plus the external loop's
    ``loop_pressure_drop`` (Pa, from the layout)."""
    from .faces import FACES

    p = result.problem
    fl = p.fluid
    layout = (getattr(p.case, "layout", None) or {}) if getattr(p, "case", None) else {}
    g = p.grid
    flow, t_flow = 0.0, 0.0
    pressure = {"inflow": [0.0, 0.0], "outflow": [0.0, 0.0]}    # sum of p A, sum of A
    for f, b in p.boundaries.items():
        if b.kind not in pressure:
            continue
        axis, side = FACES.index(f) // 2, FACES.index(f) % 2
        vel = (result.u, result.v, result.w)[axis]
        o = [a for a in range(3) if a != axis]
        area = np.multiply.outer(g.spacing(o[0]), g.spacing(o[1]))
        # open faces only (a tank's floor is partly solid): the area-weighted mean pressure
        area = area * result.fluid.take(-1 if side else 0, axis=axis)
        pf = result.phi.take(-1 if side else 0, axis=axis) * fl.density
        pressure[b.kind][0] += float((pf * area).sum())
        pressure[b.kind][1] += float(area.sum())
        if b.kind == "inflow":
            q = abs(float((vel.take(-1 if side else 0, axis=axis) * area).sum()))
            flow += q
            t_flow += q * b.temperature
    t_sup = t_flow / flow if flow > 0 else float("nan")
    # the heat the liquid carries out: what leaves through the weirs less what came in
    # (the datum cancels: the flow conserves mass)
    out = sum(v for k, v in result.heat_flows.items() if "(outflow)" in k or "(inflow)" in k)
    rhoc = fl.volumetric_heat_capacity
    t_ret = t_sup + out / (rhoc * flow) if flow > 0 else float("nan")
    mean = {k: v[0] / v[1] if v[1] > 0 else 0.0 for k, v in pressure.items()}
    dp_tank = mean["inflow"] - mean["outflow"]
    loop = float(layout.get("loop_pressure_drop", 0.0))
    hyd = flow * (dp_tank + loop)
    pump = {"name": "pumps", "flow": flow, "pressure_rise": dp_tank + loop,
            "static_jump": dp_tank, "mode": "loop", "hydraulic_power": hyd}
    return {"heat": power, "flow": flow, "coolant": fl.name, "racks": [], "plates": 0,
            "supply_temperature": t_sup, "return_temperature": t_ret,
            "heat_carried": out, "tank_pressure_drop": dp_tank, "loop_pressure_drop": loop,
            "pump_hydraulic_power": hyd, "pumps": [pump] if flow > 0 else []}


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
    # ASHRAE's classes and the RCI are about air intakes: an immersed server's inlet is
    # reported without them
    from .materials import LIQUIDS

    air = result.problem.fluid.name not in LIQUIDS and result.problem.fluid.density < 100.0
    rci_hi, rci_lo = rack_cooling_index(intakes, ashrae_class) if air else (None, None)
    rack_rows = []
    for name, ss in racks.items():
        t_in = max(s["inlet_temperature"] for s in ss)
        rack_rows.append({"name": name, "max_inlet_temperature": t_in,
                          "mean_inlet_temperature": sum(s["inlet_temperature"] for s in ss)
                          / len(ss),
                          "power": sum(s["power"] for s in ss) + sum(
                              c["power"] for c in chips if c["name"].split("/")[0] == name),
                          "flow": sum(s["flow"] for s in ss),
                          "status": ashrae_status(t_in, ashrae_class) if air else
                          f"in {result.problem.fluid.name}"})
    fan_rows = [{**f, "hydraulic_power": f["flow"] * f["pressure_rise"]} for f in fans]
    pumps = []
    server_fans = [f for f in fan_rows if f["name"].count("/") >= 2]
    other_fans = [f for f in fan_rows if f["name"].count("/") < 2]
    removed = sum(c["heat_removed"] for c in coolers)
    power = result.total_power
    liquid = coolant_metrics(chips, getattr(result.problem, "case", None))
    if not air:
        liquid = immersion_loop(result, power)
        pumps = liquid.pop("pumps")
    hot = sorted(chips, key=lambda c: -c["junction_temperature"])[:hotspots]
    over = [c["name"] for c in chips if c["over_limit"]]
    out = {
        "it_power": power,
        "heat_to_air": power - liquid["heat"],
        "heat_to_liquid": liquid["heat"],
        "coolant": liquid,
        "pump_hydraulic_power": liquid["pump_hydraulic_power"],
        "heat_removed_by_coolers": removed,
        "energy_balance_error": abs(power - removed - sum(
            v for k, v in result.heat_flows.items() if not k.startswith("cooler")))
        / max(abs(power), 1e-300),
        "steady": bool(result.stats.converged),
        # a time mean over a window (thermosim.flow.unsteady): no steady state, its mean
        "time_averaged": bool(getattr(result.stats, "averaged", None)),
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
        "pumps": pumps,
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
               f"time-mean balance error {m['energy_balance_error']:.2e}"
               if m.get("time_averaged") else
               f"{(m['it_power'] - m['heat_removed_by_coolers']) / 1e3:.3f} kW still being "
               "stored: not steady")
    lines = [f"IT power       {m['it_power'] / 1e3:.2f} kW (to air {m['heat_to_air'] / 1e3:.2f}"
             f" kW, to liquid {m['heat_to_liquid'] / 1e3:.2f} kW); coolers remove "
             f"{m['heat_removed_by_coolers'] / 1e3:.3f} kW ({balance})"]
    if m["racks"] and m["rci_hi"] is None:
        lines.append(f"server inlets  hottest {c(m['max_inlet_temperature'])} (immersed: "
                     "no ASHRAE air class)")
        for r in m["racks"]:
            lines.append(f"  tank {r['name']:<8s} inlet max {c(r['max_inlet_temperature'])}, "
                         f"{r['power'] / 1e3:.1f} kW, {r['flow'] * 6e4:.1f} L/min through "
                         "its servers")
    elif m["racks"]:
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
    cl = m.get("coolant", {})
    if cl.get("plates"):
        lines.append(f"coolant        {cl['coolant']}, {cl['plates']} cold plates, "
                     f"{cl['flow'] * 6e4:.1f} L/min; CDU supply {c(cl['supply_temperature'])}, "
                     f"return {c(cl['return_temperature'])}; hottest plate outlet "
                     f"{c(cl['max_outlet_temperature'])}; pump hydraulic power "
                     f"{cl['pump_hydraulic_power']:.1f} W")
        for r in cl["racks"]:
            lines.append(f"  rack {r['name']:<8s} {r['heat'] / 1e3:.2f} kW to liquid, "
                         f"{r['flow'] * 6e4:.1f} L/min, return {c(r['return_temperature'])}")
    if m["servers"]:
        s = m["servers"]
        lines.append(f"servers        {len(s)}; flow {min(x['flow'] for x in s):.3f}-"
                     f"{max(x['flow'] for x in s):.3f} m^3/s, pressure drop "
                     f"{min(x['pressure_drop'] for x in s):.1f}-"
                     f"{max(x['pressure_drop'] for x in s):.1f} Pa")
    for b in m["other_porous"]:
        lines.append(f"  {b['name']:<12s} flow {b['flow']:.3f} m^3/s, pressure drop "
                     f"{b['pressure_drop']:.2f} Pa")
    if m["pumps"]:
        lines.append(f"liquid loop    {cl['coolant']} {cl['flow'] * 6e4:.1f} L/min, supply "
                     f"{c(cl['supply_temperature'])}, return {c(cl['return_temperature'])}; "
                     f"pumps {m['pump_hydraulic_power']:.1f} W hydraulic (tanks "
                     f"{cl['tank_pressure_drop']:.1f} Pa + loop "
                     f"{cl['loop_pressure_drop'] / 1e3:.0f} kPa)")
    if any(f not in m["pumps"] for f in m["fans"]):
        lines.append(f"fans           hydraulic power: server fans "
                     f"{m['server_fan_hydraulic_power']:.1f} W, unit fans "
                     f"{m['unit_fan_hydraulic_power']:.1f} W")
        for f in m["fans"]:
            if f["name"].count("/") < 2 and f not in m["pumps"]:
                lines.append(f"  {f['name']:<12s} {f['flow']:.3f} m^3/s at "
                             f"{f['pressure_rise']:.1f} Pa ({f['mode']})")
    for k in m["coolers"]:
        lines.append(f"  {k['name']:<12s} removes {k['heat_removed'] / 1e3:.3f} kW at "
                     f"{c(k['supply_temperature'])}")
    return "\n".join(lines)
