"""Rack layouts as case builders: a data hall of server racks cooled by air
(:func:`air_cooled`), the same hall with cold plates on the chips (:func:`liquid_cooled`),
and rows of single-phase immersion tanks (:func:`immersion`).

:func:`air_cooled` returns a case mapping (what a YAML case file holds), so that a layout can
be written out, edited and run like any other case.  A YAML file with ``layout:
air_cooled`` and the builder's parameters is expanded by :func:`expand` when it is loaded.

The hall (x along the rows, y across them, z up; metres):

- a raised floor: a supply plenum ``plenum_height`` deep under a floor slab one cell thick,
  perforated tiles (porous, free-area ratio ``tile_free_area``) along the cold aisle; or,
  with ``supply: overhead``, the same plenum over a ceiling with diffusers (the tiles) over
  the cold aisle, the racks on the room's floor and the CRAH units drawing return air in
  at their foot and blowing it up into the ceiling plenum;
- two rows of racks facing the cold aisle, hot aisles behind them against the walls;
- each rack a stack of servers (porous blocks, front to back, sideways blocked) with a fan
  plane on their front face (a fan curve), the unused rack space blanked (solid);
- in each server, compact GPU and CPU models (power into the air around them, case
  temperature from the heat sink's resistance) and the rest of its power spread through it;
- CRAH units at both ends of the hall: return air enters at their top, crosses a coil that
  holds the supply temperature, and a fixed-flow fan blows it down into the plenum.

Defaults describe an air-cooled GPU server of today's kind: 8 GPUs at 700 W and 2 CPUs at
350 W under heat sinks, 2 kW of other loads (memory, network, storage, power conversion),
8U high, moved by fans whose curve and the server's loss coefficient put the operating
point near 0.75 m^3/s (about 9 K rise at 8.3 kW).  These are representative round figures,
not one vendor's data: give a real server's curve, loss and powers where known.
"""

from __future__ import annotations

import math

U = 0.04445   # m, one rack unit

AIR_DEFAULTS = dict(
    racks_per_row=4, servers_per_rack=2, server_units=8, rack_width=0.6, rack_depth=1.2,
    rack_height=2.0, gpus_per_server=8, gpu_power=700.0, cpus_per_server=2,
    cpu_power=350.0, other_power=2000.0, gpu_resistance=0.05, gpu_junction_resistance=0.02,
    gpu_limit=360.15, cpu_resistance=0.10, cpu_junction_resistance=0.03,
    cpu_limit=368.15, server_loss_coefficient=36.0,
    server_fan_curve=((0.0, 500.0), (0.8, 250.0), (1.6, 0.0)), server_fan_speed=1.0,
    supply_temperature=293.15, supply="raised_floor", crah_units=2, crah_flow=None,
    crah_oversupply=1.15,
    crah_loss_coefficient=5.0, tile_free_area=0.56, cold_aisle_width=1.2,
    hot_aisle_width=1.0, plenum_height=0.6, room_height=3.0, end_space=1.4, cell=0.1,
    turbulence="lvel", advection="upwind", air_changes=0.0, tolerance=1e-4, energy_tolerance=1e-3,
    max_steps=200000,
    precision="float64", name="air_cooled")


def _box(lo, hi):
    return {"min": [float(v) for v in lo], "max": [float(v) for v in hi]}


def server_operating_flow(curve, loss: float, area: float, density: float = 1.2) -> float:
    """Flow (m^3/s) where the fan curve meets the server's loss ``dp = K rho (Q/A)^2 / 2``
    (bisection on the curve's piecewise-linear pressure rise)."""
    q = [p[0] for p in curve]
    dp = [p[1] for p in curve]

    def rise(Q):
        for i in range(len(q) - 1):
            if Q <= q[i + 1] or i == len(q) - 2:
                s = (dp[i + 1] - dp[i]) / (q[i + 1] - q[i])
                return dp[i] + s * (Q - q[i])

    lo, hi = 0.0, q[-1]
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        if rise(mid) > loss * density * (mid / area) ** 2 / 2:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


# The same hall with direct-to-chip liquid cooling: cold plates on every GPU and CPU fed in
# parallel from rack manifolds by a CDU, the rest of each server's power (memory, network,
# storage, power conversion) still to air.  With the chips' heat gone to the liquid the
# server fans slow down: by the fan laws the curve's flow scales with the speed and its
# pressure with its square, so the operating point through the same server flows in
# proportion and the fans' power goes with the cube (the CRAH flow follows).
# ``server_fan_speed: null`` sets the speed to the airflow the air-side heat needs at the
# air-cooled server's air rise, speed = (air-side heat) / (server power) (a plated chip's
# air share estimated as R_plate / (R_plate + R_air)): 0.25 here.  The default is 0.5,
# twice that airflow: at 0.25 the quick hall's room air (a quarter of the air-cooled
# flow, buoyant plumes over the racks) did not settle in 22,000 steps.
LIQUID_DEFAULTS = dict(
    AIR_DEFAULTS, name="liquid_cooled", server_fan_speed=0.5,
    gpu_resistance=2.0, cpu_resistance=2.0,
    coolant="propylene_glycol_25", cdu_supply_temperature=303.15,
    gpu_plate_resistance=0.02, gpu_plate_flow=1.5 / 6e4, gpu_plate_pressure_drop=15e3,
    cpu_plate_resistance=0.03, cpu_plate_flow=1.0 / 6e4, cpu_plate_pressure_drop=10e3,
    coolant_loop_pressure_drop=100e3)


# -- parameter checks: each parameter's type and range, so that a mistake is named by its
# key (``racks_per_row: ...``) before the builder computes with it.  Sizes (how many cells
# a hall makes) are judged on the built case.

def _range_text(lo, hi, lo_open, hi_open) -> str:
    if lo is not None and hi is not None:
        return f"in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
    if lo is not None:
        return f"{'>' if lo_open else '>='} {lo:g}"
    return f"{'<' if hi_open else '<='} {hi:g}"


def _number(unit: str, lo=None, hi=None, lo_open=False, hi_open=False, optional=False):
    """A rule: a finite number (``unit``) in the range; None too where ``optional``."""
    def rule(v):
        if v is None and optional:
            return v
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ValueError(f"a number{f' ({unit})' if unit else ''}"
                             f"{', or null' if optional else ''}, not {v!r}")
        if not math.isfinite(v):
            raise ValueError(f"{v!r} is not a finite number")
        if (lo is not None and (v < lo or (lo_open and v == lo))) or \
                (hi is not None and (v > hi or (hi_open and v == hi))):
            raise ValueError(f"{v!r} is out of range: {_range_text(lo, hi, lo_open, hi_open)}"
                             f"{f' {unit}' if unit else ''}")
        return v
    return rule


def _whole(lo: int):
    """A rule: a whole number of at least ``lo``."""
    def rule(v):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) \
                or v != int(v):
            raise ValueError(f"a whole number, not {v!r}")
        if v < lo:
            raise ValueError(f"{v!r} is out of range: a whole number >= {lo}")
        return int(v)
    return rule


def _choice(*options, label: str | None = None):
    def rule(v):
        if not isinstance(v, str) or v not in options:
            told = f"{label} is {', '.join(options[:-1])} or {options[-1]}" if label else \
                f"one of {', '.join(options)}"
            raise ValueError(f"{told}, not {v!r}")
        return v
    return rule


def _fluid(v):
    from .materials import fluid_names

    if not isinstance(v, str) or v not in fluid_names():
        raise ValueError(f"a fluid ({', '.join(fluid_names())}), not {v!r}")
    return v


def _text(v):
    if not isinstance(v, str) or not v.strip():
        raise ValueError(f"a name (text), not {v!r}")
    return v


def _temperature(v):
    from .inputs import kelvin

    return kelvin(v)


def _curve(v):
    ok = isinstance(v, (list, tuple)) and len(v) >= 2 and all(
        isinstance(pt, (list, tuple)) and len(pt) == 2 and all(
            isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
            and x >= 0 for x in pt) for pt in v)
    if not ok or any(b[0] <= a[0] for a, b in zip(v, v[1:])):
        raise ValueError("a fan curve: two or more [Q m^3/s, dp Pa] pairs of non-negative "
                         "numbers with Q increasing")
    return v


def _rules() -> dict:
    from .inputs import MAX_POWER

    length = _number("m", 0, 1e4, lo_open=True)        # 10 km: no hall is larger
    space = _number("m", 0, 1e4)
    count1, count0 = _whole(1), _whole(0)
    power = _number("W", 0, MAX_POWER)
    resistance = _number("K/W", 0)
    loss = _number("", 0)
    fraction = _number("", 0, 1, lo_open=True)
    tolerance = _number("", 0, 1, lo_open=True, hi_open=True)
    flow = _number("m^3/s", 0, lo_open=True)
    pressure = _number("Pa", 0)
    return dict(
        racks_per_row=count1, servers_per_rack=count1, server_units=count1,
        rack_width=length, rack_depth=length, rack_height=length,
        gpus_per_server=count0, gpu_power=power, cpus_per_server=count0, cpu_power=power,
        other_power=power, gpu_resistance=resistance, gpu_junction_resistance=resistance,
        gpu_limit=_temperature, cpu_resistance=resistance,
        cpu_junction_resistance=resistance, cpu_limit=_temperature,
        server_loss_coefficient=loss, server_fan_curve=_curve,
        server_fan_speed=_number("fraction of the rated speed", 0, 2, lo_open=True,
                                 optional=True),
        supply_temperature=_temperature, supply=_choice("raised_floor", "overhead", label="supply"),
        crah_units=count1, crah_flow=_number("m^3/s", 0, lo_open=True, optional=True),
        crah_oversupply=_number("", 0, lo_open=True), crah_loss_coefficient=loss,
        tile_free_area=fraction, cold_aisle_width=length, hot_aisle_width=length,
        plenum_height=length, room_height=length, end_space=space, cell=length,
        turbulence=_choice("none", "lvel", "smagorinsky"),
        advection=_choice("central", "upwind"), air_changes=_number("hall volumes", 0),
        tolerance=tolerance, energy_tolerance=_number("", 0, 1, lo_open=True, hi_open=True,
                                                      optional=True),
        max_steps=count1, precision=_choice("float64", "float32"), name=_text,
        # liquid_cooled
        coolant=_fluid, cdu_supply_temperature=_temperature,
        gpu_plate_resistance=_number("K/W", 0, lo_open=True), gpu_plate_flow=flow,
        gpu_plate_pressure_drop=pressure, cpu_plate_resistance=_number("K/W", 0, lo_open=True),
        cpu_plate_flow=flow, cpu_plate_pressure_drop=pressure,
        coolant_loop_pressure_drop=pressure,
        # immersion
        tanks=count1, servers_per_tank=count1, server_depth=length, server_width=length,
        heat_sink_gap=length, server_porosity=fraction, fluid=_fluid,
        design_rise=_number("K", 0, 1000, lo_open=True),
        pump_flow=_number("m^3/s", 0, lo_open=True, optional=True),
        loop_pressure_drop=pressure, floor_space=length, headspace=space, margin=space,
        # cold_plate
        channels=count1, channel_width=length, channel_height=length, fin_thickness=length,
        base_thickness=length, heater_thickness=length, lid_thickness=length, length=length,
        manifold_length=length, power=power, flow=flow, inlet_temperature=_temperature,
        material=_text, cells_across=count1, cell_along=length)


def _parameters(defaults: dict, params: dict) -> dict:
    """The builder's parameters: ``defaults`` updated with ``params``, each checked (type
    and range) and temperatures given with units converted to kelvin; every mistake is
    reported at once, keyed by the parameter's name."""
    from .errors import CaseError

    problems = [CaseError(f"not a parameter of this layout (known: "
                          f"{', '.join(sorted(defaults))})", str(k))
                for k in params if k not in defaults]
    rules = _rules()
    out = dict(defaults)
    for k, v in params.items():
        if k not in defaults:
            continue
        try:
            out[k] = rules[k](v) if k in rules else v
        except ValueError as e:
            problems.append(CaseError(str(e), k))
    if problems:
        raise CaseError.several(problems)
    return out


def air_cooled(**params) -> dict:
    """A raised-floor data hall with two rows of air-cooled racks (see the module's text);
    parameters as in :data:`AIR_DEFAULTS`.  Returns the case mapping."""
    return _hall(_parameters(AIR_DEFAULTS, params), "air_cooled")


def liquid_cooled(**params) -> dict:
    """The air-cooled hall with cold plates on every GPU and CPU (see
    :data:`LIQUID_DEFAULTS`); ``gpu_resistance``/``cpu_resistance`` are then the plated
    chips' remaining paths to the air.  Returns the case mapping."""
    return _hall(_parameters(LIQUID_DEFAULTS, params), "liquid_cooled")


def _plate(p: dict, chip: str) -> dict:
    return {"resistance": p[f"{chip}_plate_resistance"], "flow": p[f"{chip}_plate_flow"],
            "inlet_temperature": p["cdu_supply_temperature"], "coolant": p["coolant"],
            "pressure_drop": p[f"{chip}_plate_pressure_drop"]}


def _chip(p: dict, kind: str, name: str, lo, hi, plated: bool = False) -> dict:
    """A compact GPU or CPU (``kind`` gpu or cpu) from the layout's parameters."""
    return {"name": name, "kind": kind.upper(), "power": p[f"{kind}_power"],
            "resistance": p[f"{kind}_resistance"],
            "junction_resistance": p[f"{kind}_junction_resistance"],
            "limit": p[f"{kind}_limit"], **({"cold_plate": _plate(p, kind)} if plated else {}),
            **_box(lo, hi)}


def _hall(p: dict, kind: str) -> dict:
    liquid = kind == "liquid_cooled"
    n = int(p["racks_per_row"])
    W, D = p["rack_width"], p["rack_depth"]
    sh = p["server_units"] * U
    ns = int(p["servers_per_rack"])
    cell = p["cell"]
    # z levels: the supply plenum under a floor slab (raised floor) or over a ceiling
    # (overhead: the same plenum, slab, tiles and CRAH column mirrored to the top); each
    # slab one cell thick
    overhead = p["supply"] == "overhead"
    if p["supply"] not in ("raised_floor", "overhead"):
        from .errors import CaseError

        raise CaseError(f"supply is raised_floor or overhead, not '{p['supply']}'")
    if overhead:
        z_room = 0.0
        z_slab = (p["room_height"], p["room_height"] + cell)
        z_top = z_slab[1] + p["plenum_height"]
    else:
        z_slab = (p["plenum_height"], p["plenum_height"] + cell)
        z_room = z_slab[1]
        z_top = z_room + p["room_height"]
    z_srv = z_room + cell                        # a one-cell plinth under the servers
    z_rack = z_room + p["rack_height"]
    if z_srv + ns * sh > z_rack + 1e-9:
        from .errors import CaseError

        raise CaseError(f"{ns} servers of {p['server_units']}U do not fit a rack "
                        f"{p['rack_height']} m high", "servers_per_rack")
    # y bands: hot aisle | row A | cold aisle | row B | hot aisle
    ha, ca = p["hot_aisle_width"], p["cold_aisle_width"]
    yA0, yA1 = ha, ha + D
    yC0, yC1 = yA1, yA1 + ca
    yB0, yB1 = yC1, yC1 + D
    Ly = yB1 + ha
    x0 = p["end_space"]
    x1 = x0 + n * W
    Lx = x1 + p["end_space"]
    rho = 1.2                     # kg/m^3, air: the fan curve meets the server loss
    blocks, porous, fans, coolers, chips = [], [], [], [], []
    it_power = 0.0
    server_area = W * sh
    speed = p["server_fan_speed"]
    if speed is None:
        server = p["gpus_per_server"] * p["gpu_power"] + p["cpus_per_server"] * p["cpu_power"]
        to_air = p["other_power"] + sum(
            p[f"{k}s_per_server"] * p[f"{k}_power"] * (
                p[f"{k}_plate_resistance"] / (p[f"{k}_plate_resistance"] + p[f"{k}_resistance"])
                if liquid else 1.0) for k in ("gpu", "cpu"))
        speed = to_air / (server + p["other_power"])
    if not 0.0 < speed <= 2.0:
        from .errors import CaseError

        raise CaseError(f"server_fan_speed is a fraction of the rated speed in (0, 2], "
                        f"not {speed}", "server_fan_speed")
    p["server_fan_speed"] = speed
    fan_curve = tuple((q * speed, dp * speed * speed) for q, dp in p["server_fan_curve"])
    q_server = server_operating_flow(fan_curve, p["server_loss_coefficient"],
                                     server_area, rho)
    for row, (yb, yf, direction) in (("A", (yA0, yA1, -1)), ("B", (yB1, yB0, 1))):
        y_lo, y_hi = min(yb, yf), max(yb, yf)
        for r in range(n):
            rack = f"{row}{r + 1:02d}"
            xa, xb = x0 + r * W, x0 + (r + 1) * W
            blocks.append({"name": f"{rack}/plinth", "material": "steel",
                           **_box((xa, y_lo, z_room), (xb, y_hi, z_srv))})
            top = z_srv + ns * sh
            if top < z_rack - 1e-9:
                blocks.append({"name": f"{rack}/blanking", "material": "steel",
                               **_box((xa, y_lo, top), (xb, y_hi, z_rack))})
            for s in range(ns):
                za, zb = z_srv + s * sh, z_srv + (s + 1) * sh
                srv = f"{rack}/S{s + 1}"
                chip_power = p["gpus_per_server"] * p["gpu_power"] + \
                    p["cpus_per_server"] * p["cpu_power"]
                porous.append({"name": srv, "axis": "y",
                               "loss_coefficient": p["server_loss_coefficient"],
                               "power": p["other_power"], **_box((xa, y_lo, za), (xb, y_hi, zb))})
                fans.append({"name": f"{srv}/fans", "axis": "y", "position": yf,
                             "direction": direction,
                             "curve": [list(c) for c in fan_curve],
                             **_box((xa, y_lo, za), (xb, y_hi, zb))})
                it_power += chip_power + p["other_power"]
                # GPUs in the rear half (air reaches them after the CPUs), CPUs in front
                depth = y_hi - y_lo
                front = yf
                rear_half = (front + direction * 0.5 * depth, yb)   # towards the back
                front_half = (front, front + direction * 0.5 * depth)
                ng = int(p["gpus_per_server"])
                cols = max(1, math.ceil(ng / 2))
                for g in range(ng):
                    ci, ri = g % cols, g // cols
                    gx = (xa + W * ci / cols, xa + W * (ci + 1) / cols)
                    ys = sorted(rear_half)
                    half = 0.5 * (ys[1] - ys[0])
                    gy = (ys[0] + ri * half, ys[0] + (ri + 1) * half)
                    chips.append(_chip(p, "gpu", f"{srv}/GPU{g + 1}", (gx[0], gy[0], za),
                                       (gx[1], gy[1], zb), liquid))
                nc = int(p["cpus_per_server"])
                for c in range(nc):
                    cx = (xa + W * c / nc, xa + W * (c + 1) / nc)
                    ys = sorted(front_half)
                    chips.append(_chip(p, "cpu", f"{srv}/CPU{c + 1}", (cx[0], ys[0], za),
                                       (cx[1], ys[1], zb), liquid))
    # CRAH units: at the hall's ends, over the cold aisle's line, open to the plenum
    nu = int(p["crah_units"])
    total_server_flow = 2 * n * ns * q_server
    q_crah = p["crah_flow"] or p["crah_oversupply"] * total_server_flow / max(nu, 1)
    crah_boxes = []
    cw = 0.8
    for k in range(nu):
        end = k % 2
        xa, xb = (0.2, 0.2 + cw) if end == 0 else (Lx - 0.2 - cw, Lx - 0.2)
        span = (yC0 - 0.4, yC1 + 0.4)
        name = f"CRAH{k + 1}"
        crah_boxes.append(((xa, span[0]), (xb, span[1])))
        if overhead:
            # return air enters the column's foot, 0.4 m over the floor, crosses the coil
            # and is blown up into the ceiling plenum
            z_lo, z_hi = 0.4, z_slab[1]
            fan_z, direction = z_slab[0] - 0.3, 1
            coil = (z_lo + cell, z_lo + 2 * cell)
        else:
            # return air enters the column's top, 2 m over the floor, and is blown down
            z_lo, z_hi = z_slab[0], z_room + 2.0
            fan_z, direction = z_room + 0.3, -1
            coil = (z_hi - 2 * cell, z_hi - cell)
        porous.append({"name": name, "axis": "z", "loss_coefficient": p["crah_loss_coefficient"],
                       **_box((xa, span[0], z_lo), (xb, span[1], z_hi))})
        fans.append({"name": f"{name}/fan", "axis": "z", "position": fan_z,
                     "direction": direction, "flow": q_crah,
                     **_box((xa, span[0], z_lo), (xb, span[1], z_hi))})
        coolers.append({"name": f"{name}/coil", "temperature": p["supply_temperature"],
                        **_box((xa, span[0], coil[0]), (xb, span[1], coil[1]))})
    # the floor (or ceiling) slab, less the tiles (over the cold aisle along the racks'
    # span) and the CRAHs
    tile = ((x0, yC0), (x1, yC1))
    holes = [tile] + crah_boxes
    xs = sorted({0.0, Lx, *[h[0][0] for h in holes], *[h[1][0] for h in holes]})
    ys = sorted({0.0, Ly, *[h[0][1] for h in holes], *[h[1][1] for h in holes]})
    k = 0
    for i in range(len(xs) - 1):
        for j in range(len(ys) - 1):
            cx, cy = 0.5 * (xs[i] + xs[i + 1]), 0.5 * (ys[j] + ys[j + 1])
            if any(h[0][0] <= cx <= h[1][0] and h[0][1] <= cy <= h[1][1] for h in holes):
                continue
            k += 1
            blocks.append({"name": f"{'ceiling' if overhead else 'floor'}{k}",
                           "material": "steel",
                           **_box((xs[i], ys[j], z_slab[0]), (xs[i + 1], ys[j + 1], z_slab[1]))})
    porous.append({"name": "tiles", "axis": "z", "free_area": p["tile_free_area"],
                   **_box((x0, yC0, z_slab[0]), (x1, yC1, z_slab[1]))})
    T_s = p["supply_temperature"]
    # A steady march by default (with upwind momentum advection the hall settles: the quick
    # mesh in about 9,000 steps); air_changes > 0 asks for a transient over that many hall
    # volumes of CRAH air instead, reporting its last state.
    volume = Lx * Ly * z_top
    end_time = p["air_changes"] * volume / (q_crah * max(nu, 1)) if p["air_changes"] else None
    return {
        "name": p["name"],
        "domain": {"min": [0.0, 0.0, 0.0], "max": [Lx, Ly, z_top], "background": "air"},
        "grid": {"max_cell": cell, "growth": 1.3},
        "initial_temperature": T_s,
        "solver": {"precision": p["precision"]},
        "blocks": blocks,
        "flow": {"fluid": "air", "reference_temperature": T_s,
                 "gravity": [0.0, 0.0, -9.81], "turbulence": p["turbulence"],
                 "advection": p["advection"],
                 "tolerance": p["tolerance"], "energy_tolerance": p["energy_tolerance"],
                 "max_steps": int(p["max_steps"]),
                 **({"end_time": end_time} if end_time else {}),
                 "porous": porous, "fans": fans, "coolers": coolers, "chips": chips},
        "layout": {"kind": kind, "parameters": {k_: (list(map(list, v)) if k_ ==
                                                     "server_fan_curve" else v)
                                                for k_, v in p.items()},
                   "it_power": it_power, "server_flow_estimate": q_server,
                   "crah_flow": q_crah,
                   **({"coolant_loop_pressure_drop": p["coolant_loop_pressure_drop"]}
                      if liquid else {})},
    }


# Single-phase immersion: each tank a bath of dielectric liquid with the servers standing
# on end in slots (a server's 8U height along the tank's length, its depth vertical).  The
# pump feeds the liquid in through the tank's floor (a distributor) at the heat exchanger's
# set return temperature ``supply_temperature`` under each server (a distributor); it
# rises through the servers, pushed and by natural convection, and overflows at the
# surface (the weir) to the external heat
# exchanger and pump, whose loop adds ``loop_pressure_drop`` (Pa) to the tank's own.  Each
# tank's pump flow (``pump_flow``, m^3/s per tank; default: the flow that gives the design
# rise ``design_rise`` (K) across the tank at its power).
# Chips keep compact models with immersion heat sinks (0.04 K/W GPU, 0.06 K/W CPU:
# representative, liquid at a few mm/s rather than air at metres a second).  Fluids:
# ``hydrocarbon_oil`` (a PAO) or ``fc40`` (an engineered fluorocarbon), properties and
# sources in thermosim/materials.py.  The flow is laminar (server Reynolds numbers near
# 100).  A server resists the slow viscous liquid mostly by friction in its heat sinks'
# fin gaps: plane Poiseuille flow in gaps ``heat_sink_gap`` wide over the server's depth,
# at the superficial velocity over ``server_porosity``, dp = 12 mu L u / (phi s^2), plus
# the form loss ``server_loss_coefficient``.  The servers fill the tank (``margin`` (m) of
# open liquid around them otherwise): gaps beside them are dead ends whose slow natural
# convection against the through-flow keeps a coarse tank from settling.
IMMERSION_DEFAULTS = dict(
    tanks=4, servers_per_tank=4, server_units=8, server_depth=0.8, server_width=0.45,
    gpus_per_server=8, gpu_power=700.0, cpus_per_server=2, cpu_power=350.0,
    other_power=2000.0, gpu_resistance=0.04, gpu_junction_resistance=0.02,
    gpu_limit=360.15, cpu_resistance=0.06, cpu_junction_resistance=0.03, cpu_limit=368.15,
    server_loss_coefficient=36.0, heat_sink_gap=0.002, server_porosity=0.5,
    fluid="hydrocarbon_oil", supply_temperature=303.15, design_rise=10.0, pump_flow=None,
    loop_pressure_drop=50e3, floor_space=0.1, headspace=0.05, margin=0.0,
    cell=0.05, turbulence="none", advection="upwind", tolerance=1e-4,
    energy_tolerance=1e-3, max_steps=200000, precision="float64", name="immersion")


def immersion(**params) -> dict:
    """A row of single-phase immersion tanks (see :data:`IMMERSION_DEFAULTS` and the text
    above it); the tanks sit side by side along x, a wall one cell thick between them.
    Returns the case mapping."""
    from .flow import Fluid

    from .errors import CaseError

    p = _parameters(IMMERSION_DEFAULTS, params)
    nt, ns = int(p["tanks"]), int(p["servers_per_tank"])
    cell = p["cell"]
    slot = p["server_units"] * U
    m = p["margin"]
    tank_len = m + ns * slot + m
    Ly = p["server_width"] + 2.0 * m
    z_srv = p["floor_space"]
    z_top_srv = z_srv + p["server_depth"]
    Lz = z_top_srv + p["headspace"]
    wall = cell
    Lx = nt * tank_len + (nt - 1) * wall
    try:
        liquid = Fluid.from_coolprop(p["fluid"], p["supply_temperature"])
    except CaseError as e:
        raise CaseError(e.reason, "supply_temperature") from None
    rhoc = liquid.density * liquid.specific_heat
    y0, y1 = m, m + p["server_width"]
    blocks, porous, chips = [], [], []
    chip_power = p["gpus_per_server"] * p["gpu_power"] + p["cpus_per_server"] * p["cpu_power"]
    server_power = chip_power + p["other_power"]
    it_power = nt * ns * server_power
    q_pump = p["pump_flow"] or ns * server_power / (rhoc * p["design_rise"])
    area = slot * p["server_width"]
    c1 = 12.0 * liquid.viscosity * p["server_depth"] / (
        p["server_porosity"] * p["heat_sink_gap"] ** 2 * area)     # Pa per m^3/s
    for t in range(nt):
        tank = f"T{t + 1:02d}"
        xt = t * (tank_len + wall)
        if t > 0:
            blocks.append({"name": f"{tank}/wall", "material": "stainless_steel",
                           **_box((xt - wall, 0.0, 0.0), (xt, Ly, Lz))})
        xs0 = xt + m
        for k in range(ns):
            xa, xb = xs0 + k * slot, xs0 + (k + 1) * slot
            srv = f"{tank}/S{k + 1}"
            porous.append({"name": srv, "axis": "z",
                           "loss_coefficient": p["server_loss_coefficient"],
                           "pressure_drop": [c1, 0.0], "power": p["other_power"],
                           **_box((xa, y0, z_srv), (xb, y1, z_top_srv))})
            # the liquid rises through the server: CPUs low (first in the flow), GPUs above
            mid = z_srv + 0.5 * p["server_depth"]
            ng = int(p["gpus_per_server"])
            cols = 2 if ng > 1 else 1
            rows = max(1, math.ceil(ng / cols))
            for g in range(ng):
                ci, ri = g % cols, g // cols
                gy = (y0 + (y1 - y0) * ci / cols, y0 + (y1 - y0) * (ci + 1) / cols)
                gz = (mid + (z_top_srv - mid) * ri / rows,
                      mid + (z_top_srv - mid) * (ri + 1) / rows)
                chips.append(_chip(p, "gpu", f"{srv}/GPU{g + 1}", (xa, gy[0], gz[0]),
                                   (xb, gy[1], gz[1])))
            nc = int(p["cpus_per_server"])
            for c in range(nc):
                cy = (y0 + (y1 - y0) * c / nc, y0 + (y1 - y0) * (c + 1) / nc)
                chips.append(_chip(p, "cpu", f"{srv}/CPU{c + 1}", (xa, cy[0], z_srv),
                                   (xb, cy[1], mid)))
        # the distributor: the floor is solid but under the servers, so the pumped liquid
        # enters through them
        xs1 = xs0 + ns * slot
        for i, (lo, hi) in enumerate((((xt, 0.0), (xs0, Ly)), ((xs1, 0.0), (xt + tank_len, Ly)),
                                      ((xs0, 0.0), (xs1, y0)), ((xs0, y1), (xs1, Ly)))):
            if hi[0] - lo[0] > 1e-9 and hi[1] - lo[1] > 1e-9:
                blocks.append({"name": f"{tank}/floor{i + 1}", "material": "stainless_steel",
                               **_box((lo[0], lo[1], 0.0), (hi[0], hi[1], z_srv))})
    # the floor's inflow velocity: each tank's flow over its servers' footprints
    w_in = q_pump / (ns * slot * p["server_width"])
    return {
        "name": p["name"],
        "domain": {"min": [0.0, 0.0, 0.0], "max": [Lx, Ly, Lz], "background": p["fluid"]},
        "grid": {"max_cell": cell, "growth": 1.3},
        "initial_temperature": p["supply_temperature"],
        "solver": {"precision": p["precision"]},
        "blocks": blocks,
        "flow": {"fluid": p["fluid"], "reference_temperature": p["supply_temperature"],
                 "gravity": [0.0, 0.0, -9.81], "turbulence": p["turbulence"],
                 "advection": p["advection"], "tolerance": p["tolerance"],
                 "energy_tolerance": p["energy_tolerance"], "max_steps": int(p["max_steps"]),
                 "boundaries": {"z-": {"type": "inflow", "velocity": [0.0, 0.0, w_in],
                                       "T": p["supply_temperature"]},
                                "z+": {"type": "outflow"}},
                 "porous": porous, "chips": chips},
        "layout": {"kind": "immersion", "parameters": dict(p), "it_power": it_power,
                   "pump_flow": q_pump, "tanks": nt,
                   "loop_pressure_drop": p["loop_pressure_drop"]},
    }


# A resolved channel cold plate: copper, ``channels`` parallel rectangular channels between
# fins under a lid, over a base whose lowest ``heater_thickness`` carries the chip's
# ``power`` (a uniform flux, as a die's); the coolant enters through a polymer manifold
# ``manifold_length`` long at ``inlet_temperature`` with ``flow`` (m^3/s, the whole
# plate's) and leaves through another.  The sides are symmetry planes, so ``channels: 1``
# is the unit cell of a wide plate.  Cells: ``cells_across`` per channel width across and
# through the plate, ``cell_along`` (m) along the flow.  Defaults: a mini-channel plate in
# the laminar regime (Re_Dh about 25), where the compact model's fully developed Nusselt
# number holds over most of the length.
COLD_PLATE_DEFAULTS = dict(
    channels=1, channel_width=1.0e-3, channel_height=3.0e-3, fin_thickness=1.0e-3,
    base_thickness=2.0e-3, heater_thickness=0.5e-3, lid_thickness=1.0e-3, length=0.04,
    manifold_length=0.005, power=1.0, flow=4.0e-8, coolant="water",
    inlet_temperature=303.15, material="copper", cells_across=4, cell_along=1.0e-3,
    tolerance=1e-6, name="cold_plate")


def cold_plate(**params) -> dict:
    """A resolved channel cold plate (see :data:`COLD_PLATE_DEFAULTS` and the text above
    it).  Returns the case mapping; its ``layout`` entry holds the compact model's
    resistance from the same geometry (:func:`thermosim.components.plate_resistance`)."""
    from .components import plate_resistance
    from .flow import Fluid
    from .materials import lookup

    p = _parameters(COLD_PLATE_DEFAULTS, params)
    n = int(p["channels"])
    w, H, t = p["channel_width"], p["channel_height"], p["fin_thickness"]
    tb, th, tl = p["base_thickness"], p["heater_thickness"], p["lid_thickness"]
    L, Lm = p["length"], p["manifold_length"]
    pitch = w + t
    W = n * pitch
    x0, x1 = Lm, Lm + L
    z_ch, z_lid = tb, tb + H
    Lz = z_lid + tl
    mat = p["material"]
    blocks = [
        {"name": "heater", "material": mat, "power": p["power"], **_box((x0, 0, 0), (x1, W, th))},
        {"name": "base", "material": mat, **_box((x0, 0, th), (x1, W, tb))},
        {"name": "lid", "material": mat, **_box((x0, 0, z_lid), (x1, W, Lz))},
    ]
    # fins: half fins at the symmetry planes, whole ones between channels
    edges = [(0.0, 0.5 * t)] + [((j + 1) * pitch - 0.5 * t, (j + 1) * pitch + 0.5 * t)
                                for j in range(n - 1)] + [(W - 0.5 * t, W)]
    for j, (a, b) in enumerate(edges):
        blocks.append({"name": f"fin{j + 1}", "material": mat,
                       **_box((x0, a, z_ch), (x1, b, z_lid))})
    for side, (a, b) in (("in", (0.0, x0)), ("out", (x1, x1 + Lm))):
        blocks.append({"name": f"manifold_{side}_low", "material": "manifold",
                       **_box((a, 0, 0), (b, W, z_ch))})
        blocks.append({"name": f"manifold_{side}_high", "material": "manifold",
                       **_box((a, 0, z_lid), (b, W, Lz))})
    from .errors import CaseError

    try:
        liquid = Fluid.from_coolprop(p["coolant"], p["inlet_temperature"])
    except CaseError as e:
        raise CaseError(e.reason, "inlet_temperature") from None
    try:
        k = lookup(mat).conductivity[0]
    except CaseError as e:
        raise CaseError(e.reason, "material") from None
    compact = plate_resistance(n, w, H, t, tb, th, tl, L, k, liquid.conductivity)
    u_in = p["flow"] / (W * H)
    dx = w / int(p["cells_across"])
    return {
        "name": p["name"],
        "domain": {"min": [0.0, 0.0, 0.0], "max": [x1 + Lm, W, Lz], "background": p["coolant"]},
        "materials": {"manifold": {"k": 0.2, "rho": 1200.0, "cp": 1200.0}},
        "grid": {"max_cell": [p["cell_along"], dx, dx], "growth": 1.2},
        "initial_temperature": p["inlet_temperature"],
        "blocks": blocks,
        "flow": {"fluid": p["coolant"], "reference_temperature": p["inlet_temperature"],
                 "gravity": [0.0, 0.0, 0.0], "tolerance": p["tolerance"],
                 "boundaries": {"x-": {"type": "inflow", "velocity": [u_in, 0.0, 0.0],
                                       "T": p["inlet_temperature"]},
                                "x+": {"type": "outflow"},
                                "y-": {"type": "slip"}, "y+": {"type": "slip"}}},
        "layout": {"kind": "cold_plate", "parameters": dict(p),
                   "compact": {**compact, "capacity_rate": liquid.density * p["flow"]
                               * liquid.specific_heat}},
    }


def cold_plate_resistance(result) -> dict:
    """The resolved plate's resistance from the case (the heated layer's mean temperature)
    to the coolant inlet, (T_case - T_in) / P (K/W), beside the compact model's from the
    same geometry (:func:`thermosim.components.plate_mean_rise` with the geometry's R and
    axial conductance) and its two limits."""
    import numpy as np

    from .components import plate_mean_rise

    case = result.problem.case
    lay = case.layout
    par = lay["parameters"]
    names = [b.name for b in result.problem.blocks]
    m = result.block_index == names.index("heater")
    vol = result.grid.cell_volumes()
    t_case = float((result.T[m] * vol[m]).sum() / vol[m].sum())
    comp = lay["compact"]
    P = par["power"]
    R, C = comp["resistance"], comp["capacity_rate"]
    r_res = (t_case - par["inlet_temperature"]) / P
    r_cmp = plate_mean_rise(R, C, comp["axial_conductance"])
    return {"case_temperature": t_case, "resolved": r_res, "compact": r_cmp,
            "uniform_flux": plate_mean_rise(R, C, None),
            "isothermal": 1.0 / (C * -np.expm1(-1.0 / (R * C))), "compact_R": R,
            "capacity_rate": C, "axial_conductance": comp["axial_conductance"],
            "error": r_res / r_cmp - 1.0}


BUILDERS = {"air_cooled": air_cooled, "liquid_cooled": liquid_cooled, "immersion": immersion,
            "cold_plate": cold_plate}
DEFAULTS = {"air_cooled": AIR_DEFAULTS, "liquid_cooled": LIQUID_DEFAULTS,
            "immersion": IMMERSION_DEFAULTS, "cold_plate": COLD_PLATE_DEFAULTS}


def parameter_problems(data, file: str | None = None, skip=()) -> list:
    """The mistakes in a layout file's parameters (none for a file that is not a layout),
    leaving out the keys in ``skip`` (found wanting already)."""
    from .errors import CaseError

    kind = data.get("layout") if isinstance(data, dict) else None
    if not isinstance(kind, str) or kind not in DEFAULTS:
        return []
    params = {k: v for k, v in data.items() if k != "layout" and k not in skip}
    try:
        _parameters(DEFAULTS[kind], params)
    except CaseError as e:
        return [CaseError(p.reason, p.key, file) for p in (e.problems or [e])]
    return []


def expand(data: dict, file: str | None = None) -> dict:
    """A case mapping with ``layout: NAME`` (and the builder's parameters beside it) turned
    into the full case; any other mapping is returned as it is."""
    from .errors import CaseError

    if not isinstance(data, dict) or "layout" not in data or isinstance(data["layout"], dict):
        return data
    kind = data["layout"]
    if not isinstance(kind, str) or kind not in BUILDERS:
        raise CaseError(f"unknown layout {kind!r} (known: {', '.join(sorted(BUILDERS))})",
                        "layout", file)
    params = {k: v for k, v in data.items() if k != "layout"}
    bad = [k for k in params if not isinstance(k, str)]
    if bad:
        raise CaseError(f"a layout's parameters are named, not {bad[0]!r}", str(bad[0]), file)
    from .sizing import check_layout

    check_layout(kind, params, file)     # its parts and cells, before any is made
    try:
        return BUILDERS[kind](**params)
    except CaseError as e:
        problems = e.problems or [e]
        raise CaseError.several([CaseError(p.reason, p.key or "layout", p.file or file)
                                 for p in problems]) from None
    except (TypeError, ValueError, ArithmeticError) as e:
        raise CaseError(f"bad layout parameter: {e}", "layout", file) from None
