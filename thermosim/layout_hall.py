"""The air-cooled data hall (:func:`air_cooled`) and the same hall with cold plates on the
chips (:func:`liquid_cooled`), as case builders.

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
from dataclasses import dataclass

from .errors import CaseError
from .layout_parameters import checked_parameters
from .layout_parts import U, box, compact_chip

AIR_DEFAULTS = dict(
    racks_per_row=4, servers_per_rack=2, server_units=8, rack_width=0.6, rack_depth=1.2,
    rack_height=2.0, gpus_per_server=8, gpu_power=700.0, cpus_per_server=2,
    cpu_power=350.0, other_power=2000.0, gpu_resistance=0.05, gpu_junction_resistance=0.02,
    gpu_limit=360.15, cpu_resistance=0.10, cpu_junction_resistance=0.03,
    cpu_limit=368.15, server_loss_coefficient=36.0,
    server_fan_curve=((0.0, 500.0), (0.8, 250.0), (1.6, 0.0)), server_fan_speed=1.0,
    supply_temperature=293.15, supply="raised_floor", crah_units=2, crah_flow=None,
    crah_oversupply=1.15, crah_wall_gap=0.0,
    crah_loss_coefficient=5.0, tile_free_area=0.56, cold_aisle_width=1.2,
    hot_aisle_width=1.0, plenum_height=0.6, room_height=3.0, end_space=1.4, cell=0.1,
    turbulence="lvel", advection="upwind", air_changes=0.0, tolerance=1e-4, energy_tolerance=1e-3,
    max_steps=200000, method="simplec",
    unsteady="average", average_window=None,
    precision="float64", name="air_cooled")


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


def air_cooled(**params) -> dict:
    """A raised-floor data hall with two rows of air-cooled racks (see the module's text);
    parameters as in :data:`AIR_DEFAULTS`.  Returns the case mapping."""
    return _hall(checked_parameters(AIR_DEFAULTS, params), "air_cooled")


def liquid_cooled(**params) -> dict:
    """The air-cooled hall with cold plates on every GPU and CPU (see
    :data:`LIQUID_DEFAULTS`); ``gpu_resistance``/``cpu_resistance`` are then the plated
    chips' remaining paths to the air.  Returns the case mapping."""
    return _hall(checked_parameters(LIQUID_DEFAULTS, params), "liquid_cooled")



@dataclass(frozen=True)
class HallFrame:
    """Where the hall's parts sit (m).  z levels: the supply plenum under a floor slab
    (raised floor) or over a ceiling (overhead: the same plenum, slab, tiles and CRAH column
    mirrored to the top), each slab one cell thick, a one-cell plinth under the servers.
    y bands: hot aisle | row A | cold aisle | row B | hot aisle; x: the end space, the
    racks, the end space."""

    overhead: bool
    z_room: float         # the room's floor
    z_slab: tuple         # the floor (or ceiling) slab's bottom and top
    z_top: float          # the domain's top
    z_srv: float          # the lowest server's bottom (on its plinth)
    z_rack: float         # the racks' top
    yA: tuple             # row A's back and front
    yC: tuple             # the cold aisle
    yB: tuple             # row B's front and back
    Ly: float
    x0: float             # the rows' first rack's side ...
    x1: float             # ... and the last one's
    Lx: float


def _frame(p: dict) -> HallFrame:
    """The hall's levels and bands from its parameters; refuses servers that do not fit
    their rack."""
    D, cell = p["rack_depth"], p["cell"]
    sh = p["server_units"] * U
    ns = int(p["servers_per_rack"])
    overhead = p["supply"] == "overhead"
    if p["supply"] not in ("raised_floor", "overhead"):
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
        raise CaseError(f"{ns} servers of {p['server_units']}U do not fit a rack "
                        f"{p['rack_height']} m high", "servers_per_rack")
    ha, ca = p["hot_aisle_width"], p["cold_aisle_width"]
    yA0, yA1 = ha, ha + D
    yC0, yC1 = yA1, yA1 + ca
    yB0, yB1 = yC1, yC1 + D
    x0 = p["end_space"]
    x1 = x0 + int(p["racks_per_row"]) * p["rack_width"]
    return HallFrame(overhead, z_room, z_slab, z_top, z_srv, z_rack, (yA0, yA1), (yC0, yC1),
                     (yB0, yB1), yB1 + ha, x0, x1, x1 + p["end_space"])


def _fan_speed(p: dict, liquid: bool) -> float:
    """The server fans' speed (a fraction of the rated one): the parameter, or (null) the
    share of the server's power that goes to the air (a plated chip's air share estimated
    as R_plate / (R_plate + R_air))."""
    speed = p["server_fan_speed"]
    if speed is None:
        server = p["gpus_per_server"] * p["gpu_power"] + p["cpus_per_server"] * p["cpu_power"]
        to_air = p["other_power"] + sum(
            p[f"{k}s_per_server"] * p[f"{k}_power"] * (
                p[f"{k}_plate_resistance"] / (p[f"{k}_plate_resistance"] + p[f"{k}_resistance"])
                if liquid else 1.0) for k in ("gpu", "cpu"))
        speed = to_air / (server + p["other_power"])
    if not 0.0 < speed <= 2.0:
        raise CaseError(f"server_fan_speed is a fraction of the rated speed in (0, 2], "
                        f"not {speed}", "server_fan_speed")
    return speed


def _server_chips(p: dict, srv: str, xa: float, za: float, zb: float, front: float,
                  back: float, direction: int, liquid: bool) -> list[dict]:
    """One server's compact chips: GPUs in the rear half (air reaches them after the CPUs),
    CPUs in the front half, each a column of the server's height."""
    W = p["rack_width"]
    chips = []
    depth = abs(back - front)
    rear_half = (front + direction * 0.5 * depth, back)   # towards the back
    front_half = (front, front + direction * 0.5 * depth)
    ng = int(p["gpus_per_server"])
    cols = max(1, math.ceil(ng / 2))
    for g in range(ng):
        ci, ri = g % cols, g // cols
        gx = (xa + W * ci / cols, xa + W * (ci + 1) / cols)
        ys = sorted(rear_half)
        half = 0.5 * (ys[1] - ys[0])
        gy = (ys[0] + ri * half, ys[0] + (ri + 1) * half)
        chips.append(compact_chip(p, "gpu", f"{srv}/GPU{g + 1}", (gx[0], gy[0], za),
                                  (gx[1], gy[1], zb), liquid))
    nc = int(p["cpus_per_server"])
    for c in range(nc):
        cx = (xa + W * c / nc, xa + W * (c + 1) / nc)
        ys = sorted(front_half)
        chips.append(compact_chip(p, "cpu", f"{srv}/CPU{c + 1}", (cx[0], ys[0], za),
                                  (cx[1], ys[1], zb), liquid))
    return chips


def _racks(p: dict, f: HallFrame, fan_curve, liquid: bool, parts: dict) -> float:
    """The two rows of racks (plinths, blanking, servers with their fans and chips) added
    to ``parts``; returns the IT power (W)."""
    n, W = int(p["racks_per_row"]), p["rack_width"]
    sh = p["server_units"] * U
    ns = int(p["servers_per_rack"])
    it_power = 0.0
    for row, (yb, yf, direction) in (("A", (*f.yA, -1)), ("B", (f.yB[1], f.yB[0], 1))):
        y_lo, y_hi = min(yb, yf), max(yb, yf)
        for r in range(n):
            rack = f"{row}{r + 1:02d}"
            xa, xb = f.x0 + r * W, f.x0 + (r + 1) * W
            parts["blocks"].append({"name": f"{rack}/plinth", "material": "steel",
                                    **box((xa, y_lo, f.z_room), (xb, y_hi, f.z_srv))})
            top = f.z_srv + ns * sh
            if top < f.z_rack - 1e-9:
                parts["blocks"].append({"name": f"{rack}/blanking", "material": "steel",
                                        **box((xa, y_lo, top), (xb, y_hi, f.z_rack))})
            for s in range(ns):
                za, zb = f.z_srv + s * sh, f.z_srv + (s + 1) * sh
                srv = f"{rack}/S{s + 1}"
                chip_power = p["gpus_per_server"] * p["gpu_power"] + \
                    p["cpus_per_server"] * p["cpu_power"]
                parts["porous"].append({"name": srv, "axis": "y",
                                        "loss_coefficient": p["server_loss_coefficient"],
                                        "power": p["other_power"],
                                        **box((xa, y_lo, za), (xb, y_hi, zb))})
                parts["fans"].append({"name": f"{srv}/fans", "axis": "y", "position": yf,
                                      "direction": direction,
                                      "curve": [list(c) for c in fan_curve],
                                      **box((xa, y_lo, za), (xb, y_hi, zb))})
                it_power += chip_power + p["other_power"]
                parts["chips"] += _server_chips(p, srv, xa, za, zb, yf, yb, direction, liquid)
    return it_power


def _crahs(p: dict, f: HallFrame, q_crah: float, parts: dict) -> list:
    """The CRAH units (at the hall's ends, over the cold aisle's line, open to the plenum:
    casing, fan and coil) added to ``parts``; returns their footprints ((x, y) corners)."""
    cell = p["cell"]
    crah_boxes = []
    cw = 0.8
    # against the end wall by default, as units are installed.  A gap is a cavity as deep
    # as the unit is tall, open only at its top, beside the intake, whose flow drags it: on
    # meshes of two to four cells across it, the steady iterations waited there (issue
    # 19, stop 49, with 0.2 m: worst residual in the gap over the first 300 outer
    # iterations of the 0.1 m cold-plate and 0.11 m 20-rack halls; against the wall
    # those halls' counts, 0.2 to 0.1 m cells: docs/layouts.md)
    gap = p["crah_wall_gap"]
    if gap + cw > p["end_space"]:
        raise CaseError(f"a CRAH unit {cw} m deep {gap} m from the end wall does not fit the "
                        f"end space of {p['end_space']} m", "crah_wall_gap")
    n = int(p["crah_units"])
    # the units alternate between the ends; those at one end stand side by side, each as
    # wide as the cold aisle and 0.4 m either side, centred on the aisle's line
    width = f.yC[1] - f.yC[0] + 0.8
    per_end = (n + 1) // 2
    if per_end * width > f.Ly + 1e-9:
        raise CaseError(f"{per_end} CRAH units {width:g} m wide side by side at an end do "
                        f"not fit the hall's width, {f.Ly:g} m", "crah_units")
    for k in range(n):
        end, j = k % 2, k // 2
        xa, xb = (gap, gap + cw) if end == 0 else (f.Lx - gap - cw, f.Lx - gap)
        beside = (n - end + 1) // 2                    # the units at this end
        y0 = 0.5 * (f.yC[0] + f.yC[1]) + (j - 0.5 * beside) * width
        span = (y0, y0 + width)
        name = f"CRAH{k + 1}"
        crah_boxes.append(((xa, span[0]), (xb, span[1])))
        if f.overhead:
            # return air enters the column's foot, 0.4 m over the floor, crosses the coil
            # and is blown up into the ceiling plenum
            z_lo, z_hi = 0.4, f.z_slab[1]
            fan_z, direction = f.z_slab[0] - 0.3, 1
            coil = (z_lo + cell, z_lo + 2 * cell)
        else:
            # return air enters the column's top, 2 m over the floor, and is blown down
            z_lo, z_hi = f.z_slab[0], f.z_room + 2.0
            fan_z, direction = f.z_room + 0.3, -1
            coil = (z_hi - 2 * cell, z_hi - cell)
        parts["porous"].append({"name": name, "axis": "z",
                                "loss_coefficient": p["crah_loss_coefficient"],
                                **box((xa, span[0], z_lo), (xb, span[1], z_hi))})
        parts["fans"].append({"name": f"{name}/fan", "axis": "z", "position": fan_z,
                              "direction": direction, "flow": q_crah,
                              **box((xa, span[0], z_lo), (xb, span[1], z_hi))})
        parts["coolers"].append({"name": f"{name}/coil", "temperature": p["supply_temperature"],
                                 **box((xa, span[0], coil[0]), (xb, span[1], coil[1]))})
    return crah_boxes


def _slab(p: dict, f: HallFrame, crah_boxes: list, parts: dict) -> None:
    """The floor (or ceiling) slab, less the tiles (over the cold aisle along the racks'
    span) and the CRAHs, as solid pieces; the tiles as one porous block."""
    tile = ((f.x0, f.yC[0]), (f.x1, f.yC[1]))
    holes = [tile] + crah_boxes
    xs = sorted({0.0, f.Lx, *[h[0][0] for h in holes], *[h[1][0] for h in holes]})
    ys = sorted({0.0, f.Ly, *[h[0][1] for h in holes], *[h[1][1] for h in holes]})
    k = 0
    for i in range(len(xs) - 1):
        for j in range(len(ys) - 1):
            cx, cy = 0.5 * (xs[i] + xs[i + 1]), 0.5 * (ys[j] + ys[j + 1])
            if any(h[0][0] <= cx <= h[1][0] and h[0][1] <= cy <= h[1][1] for h in holes):
                continue
            k += 1
            parts["blocks"].append({"name": f"{'ceiling' if f.overhead else 'floor'}{k}",
                                    "material": "steel",
                                    **box((xs[i], ys[j], f.z_slab[0]),
                                          (xs[i + 1], ys[j + 1], f.z_slab[1]))})
    parts["porous"].append({"name": "tiles", "axis": "z", "free_area": p["tile_free_area"],
                            **box((f.x0, f.yC[0], f.z_slab[0]), (f.x1, f.yC[1], f.z_slab[1]))})


def _hall(p: dict, kind: str) -> dict:
    """The hall's case mapping (``kind`` air_cooled or liquid_cooled) from checked
    parameters ``p``; ``p["server_fan_speed"]`` is set to the speed used."""
    liquid = kind == "liquid_cooled"
    f = _frame(p)
    rho = 1.2                     # kg/m^3, air: the fan curve meets the server loss
    parts = {"blocks": [], "porous": [], "fans": [], "coolers": [], "chips": []}
    server_area = p["rack_width"] * p["server_units"] * U
    speed = _fan_speed(p, liquid)
    p["server_fan_speed"] = speed
    fan_curve = tuple((q * speed, dp * speed * speed) for q, dp in p["server_fan_curve"])
    q_server = server_operating_flow(fan_curve, p["server_loss_coefficient"],
                                     server_area, rho)
    it_power = _racks(p, f, fan_curve, liquid, parts)
    nu = int(p["crah_units"])
    total_server_flow = 2 * int(p["racks_per_row"]) * int(p["servers_per_rack"]) * q_server
    q_crah = p["crah_flow"] or p["crah_oversupply"] * total_server_flow / max(nu, 1)
    _slab(p, f, _crahs(p, f, q_crah, parts), parts)
    T_s = p["supply_temperature"]
    # A steady march by default (with upwind momentum advection the hall settles: the quick
    # mesh in about 9,000 steps); air_changes > 0 asks for a transient over that many hall
    # volumes of CRAH air instead, reporting its last state.
    volume = f.Lx * f.Ly * f.z_top
    end_time = p["air_changes"] * volume / (q_crah * max(nu, 1)) if p["air_changes"] else None
    return {
        "name": p["name"],
        "domain": {"min": [0.0, 0.0, 0.0], "max": [f.Lx, f.Ly, f.z_top], "background": "air"},
        "grid": {"max_cell": p["cell"], "growth": 1.3},
        "initial_temperature": T_s,
        "solver": {"precision": p["precision"]},
        "blocks": parts["blocks"],
        "flow": {"fluid": "air", "reference_temperature": T_s,
                 "gravity": [0.0, 0.0, -9.81], "turbulence": p["turbulence"],
                 "advection": p["advection"], "method": p["method"],
                 "unsteady": p["unsteady"], "average_window": p["average_window"],
                 "tolerance": p["tolerance"], "energy_tolerance": p["energy_tolerance"],
                 "max_steps": int(p["max_steps"]),
                 **({"end_time": end_time} if end_time else {}),
                 "porous": parts["porous"], "fans": parts["fans"],
                 "coolers": parts["coolers"], "chips": parts["chips"]},
        "layout": {"kind": kind, "parameters": {k_: (list(map(list, v)) if k_ ==
                                                     "server_fan_curve" else v)
                                                for k_, v in p.items()},
                   "it_power": it_power, "server_flow_estimate": q_server,
                   "crah_flow": q_crah,
                   **({"coolant_loop_pressure_drop": p["coolant_loop_pressure_drop"]}
                      if liquid else {})},
    }
