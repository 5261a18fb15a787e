"""Rack layouts as case builders: a data hall of server racks cooled by air.

:func:`air_cooled` returns a case mapping (what a YAML case file holds), so that a layout can
be written out, edited and run like any other case.  A YAML file with ``layout:
air_cooled`` and the builder's parameters is expanded by :func:`expand` when it is loaded.

The hall (x along the rows, y across them, z up; metres):

- a raised floor: a supply plenum ``plenum_height`` deep under a floor slab one cell thick,
  perforated tiles (porous, free-area ratio ``tile_free_area``) along the cold aisle;
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
    server_fan_curve=((0.0, 500.0), (0.8, 250.0), (1.6, 0.0)),
    supply_temperature=293.15, crah_units=2, crah_flow=None, crah_oversupply=1.15,
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


def air_cooled(**params) -> dict:
    """A raised-floor data hall with two rows of air-cooled racks (see the module's text);
    parameters as in :data:`AIR_DEFAULTS`.  Returns the case mapping."""
    unknown = set(params) - set(AIR_DEFAULTS)
    if unknown:
        from .errors import CaseError

        raise CaseError(f"unknown layout parameter(s): {', '.join(sorted(unknown))} "
                        f"(known: {', '.join(sorted(AIR_DEFAULTS))})")
    p = {**AIR_DEFAULTS, **params}
    n = int(p["racks_per_row"])
    W, D = p["rack_width"], p["rack_depth"]
    sh = p["server_units"] * U
    ns = int(p["servers_per_rack"])
    cell = p["cell"]
    # z levels
    z_floor = p["plenum_height"]
    z_room = z_floor + cell                      # the floor slab is one cell thick
    z_top = z_room + p["room_height"]
    z_srv = z_room + cell                        # a one-cell plinth under the servers
    z_rack = z_room + p["rack_height"]
    if z_srv + ns * sh > z_rack + 1e-9:
        from .errors import CaseError

        raise CaseError(f"{ns} servers of {p['server_units']}U do not fit a rack "
                        f"{p['rack_height']} m high")
    # y bands: hot aisle | row A | cold aisle | row B | hot aisle
    ha, ca = p["hot_aisle_width"], p["cold_aisle_width"]
    yA0, yA1 = ha, ha + D
    yC0, yC1 = yA1, yA1 + ca
    yB0, yB1 = yC1, yC1 + D
    Ly = yB1 + ha
    x0 = p["end_space"]
    x1 = x0 + n * W
    Lx = x1 + p["end_space"]
    rho, cp = 1.2, 1006.0
    blocks, porous, fans, coolers, chips = [], [], [], [], []
    it_power = 0.0
    server_area = W * sh
    q_server = server_operating_flow(p["server_fan_curve"], p["server_loss_coefficient"],
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
                             "curve": [list(c) for c in p["server_fan_curve"]],
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
                    chips.append({"name": f"{srv}/GPU{g + 1}", "kind": "GPU",
                                  "power": p["gpu_power"], "resistance": p["gpu_resistance"],
                                  "junction_resistance": p["gpu_junction_resistance"],
                                  "limit": p["gpu_limit"],
                                  **_box((gx[0], gy[0], za), (gx[1], gy[1], zb))})
                nc = int(p["cpus_per_server"])
                for c in range(nc):
                    cx = (xa + W * c / nc, xa + W * (c + 1) / nc)
                    ys = sorted(front_half)
                    chips.append({"name": f"{srv}/CPU{c + 1}", "kind": "CPU",
                                  "power": p["cpu_power"], "resistance": p["cpu_resistance"],
                                  "junction_resistance": p["cpu_junction_resistance"],
                                  "limit": p["cpu_limit"],
                                  **_box((cx[0], ys[0], za), (cx[1], ys[1], zb))})
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
        z_hi = z_room + 2.0
        name = f"CRAH{k + 1}"
        crah_boxes.append(((xa, span[0]), (xb, span[1])))
        porous.append({"name": name, "axis": "z", "loss_coefficient": p["crah_loss_coefficient"],
                       **_box((xa, span[0], z_floor), (xb, span[1], z_hi))})
        fans.append({"name": f"{name}/fan", "axis": "z", "position": z_room + 0.3,
                     "direction": -1, "flow": q_crah,
                     **_box((xa, span[0], z_floor), (xb, span[1], z_hi))})
        coolers.append({"name": f"{name}/coil", "temperature": p["supply_temperature"],
                        **_box((xa, span[0], z_hi - 2 * cell), (xb, span[1], z_hi - cell))})
    # the floor slab, less the tiles (the cold aisle over the racks' span) and the CRAHs
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
            blocks.append({"name": f"floor{k}", "material": "steel",
                           **_box((xs[i], ys[j], z_floor), (xs[i + 1], ys[j + 1], z_room))})
    porous.append({"name": "tiles", "axis": "z", "free_area": p["tile_free_area"],
                   **_box((x0, yC0, z_floor), (x1, yC1, z_room))})
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
        "layout": {"kind": "air_cooled", "parameters": {k_: (list(map(list, v)) if k_ ==
                                                              "server_fan_curve" else v)
                                                         for k_, v in p.items()},
                   "it_power": it_power, "server_flow_estimate": q_server,
                   "crah_flow": q_crah},
    }


BUILDERS = {"air_cooled": air_cooled}


def expand(data: dict, file: str | None = None) -> dict:
    """A case mapping with ``layout: NAME`` (and the builder's parameters beside it) turned
    into the full case; any other mapping is returned as it is."""
    from .errors import CaseError

    if not isinstance(data, dict) or "layout" not in data or isinstance(data["layout"], dict):
        return data
    kind = data["layout"]
    if kind not in BUILDERS:
        raise CaseError(f"unknown layout '{kind}' (known: {', '.join(sorted(BUILDERS))})",
                        "layout", file)
    params = {k: v for k, v in data.items() if k != "layout"}
    try:
        return BUILDERS[kind](**params)
    except CaseError as e:
        raise CaseError(e.reason, e.key or "layout", file) from None
    except (TypeError, ValueError) as e:
        raise CaseError(f"bad layout parameter: {e}", "layout", file) from None
