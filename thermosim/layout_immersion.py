"""Rows of single-phase immersion tanks as a case builder (:func:`immersion`)."""

from __future__ import annotations

import math

from .errors import CaseError
from .layout_parameters import checked_parameters
from .layout_parts import U, box, compact_chip

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
    energy_tolerance=1e-3, max_steps=200000, method="simplec", precision="float64",
    unsteady="average", average_window=None,
    name="immersion")


def _upright_chips(p: dict, srv: str, xa: float, xb: float, y0: float, y1: float,
                   z_srv: float, z_top_srv: float) -> list[dict]:
    """One upright server's compact chips: the liquid rises through the server, CPUs low
    (first in the flow), GPUs above."""
    chips = []
    mid = z_srv + 0.5 * p["server_depth"]
    ng = int(p["gpus_per_server"])
    cols = 2 if ng > 1 else 1
    rows = max(1, math.ceil(ng / cols))
    for g in range(ng):
        ci, ri = g % cols, g // cols
        gy = (y0 + (y1 - y0) * ci / cols, y0 + (y1 - y0) * (ci + 1) / cols)
        gz = (mid + (z_top_srv - mid) * ri / rows,
              mid + (z_top_srv - mid) * (ri + 1) / rows)
        chips.append(compact_chip(p, "gpu", f"{srv}/GPU{g + 1}", (xa, gy[0], gz[0]),
                                  (xb, gy[1], gz[1])))
    nc = int(p["cpus_per_server"])
    for c in range(nc):
        cy = (y0 + (y1 - y0) * c / nc, y0 + (y1 - y0) * (c + 1) / nc)
        chips.append(compact_chip(p, "cpu", f"{srv}/CPU{c + 1}", (xa, cy[0], z_srv),
                                  (xb, cy[1], mid)))
    return chips


def _tank(p: dict, t: int, xt: float, tank_len: float, Ly: float, Lz: float, c1: float,
          parts: dict) -> None:
    """Tank ``t`` (its low x at ``xt``, m): the wall before it, its servers (porous, with
    their chips) and the floor around them, added to ``parts``.  ``c1`` is a server's
    laminar friction, Pa per m^3/s."""
    ns, slot, m = int(p["servers_per_tank"]), p["server_units"] * U, p["margin"]
    wall = p["cell"]
    y0, y1 = m, m + p["server_width"]
    z_srv = p["floor_space"]
    z_top_srv = z_srv + p["server_depth"]
    tank = f"T{t + 1:02d}"
    if t > 0:
        parts["blocks"].append({"name": f"{tank}/wall", "material": "stainless_steel",
                                **box((xt - wall, 0.0, 0.0), (xt, Ly, Lz))})
    xs0 = xt + m
    for k in range(ns):
        xa, xb = xs0 + k * slot, xs0 + (k + 1) * slot
        srv = f"{tank}/S{k + 1}"
        parts["porous"].append({"name": srv, "axis": "z",
                                "loss_coefficient": p["server_loss_coefficient"],
                                "pressure_drop": [c1, 0.0], "power": p["other_power"],
                                **box((xa, y0, z_srv), (xb, y1, z_top_srv))})
        parts["chips"] += _upright_chips(p, srv, xa, xb, y0, y1, z_srv, z_top_srv)
    # the distributor: the floor is solid but under the servers, so the pumped liquid
    # enters through them
    xs1 = xs0 + ns * slot
    for i, (lo, hi) in enumerate((((xt, 0.0), (xs0, Ly)), ((xs1, 0.0), (xt + tank_len, Ly)),
                                  ((xs0, 0.0), (xs1, y0)), ((xs0, y1), (xs1, Ly)))):
        if hi[0] - lo[0] > 1e-9 and hi[1] - lo[1] > 1e-9:
            parts["blocks"].append({"name": f"{tank}/floor{i + 1}",
                                    "material": "stainless_steel",
                                    **box((lo[0], lo[1], 0.0), (hi[0], hi[1], z_srv))})


def immersion(**params) -> dict:
    """A row of single-phase immersion tanks (see :data:`IMMERSION_DEFAULTS` and the text
    above it); the tanks sit side by side along x, a wall one cell thick between them.
    Returns the case mapping."""
    from .fluid import Fluid

    p = checked_parameters(IMMERSION_DEFAULTS, params)
    nt, ns = int(p["tanks"]), int(p["servers_per_tank"])
    slot = p["server_units"] * U
    m = p["margin"]
    tank_len = m + ns * slot + m
    Ly = p["server_width"] + 2.0 * m
    Lz = p["floor_space"] + p["server_depth"] + p["headspace"]
    wall = p["cell"]
    Lx = nt * tank_len + (nt - 1) * wall
    try:
        liquid = Fluid.from_coolprop(p["fluid"], p["supply_temperature"])
    except CaseError as e:
        raise CaseError(e.reason, "supply_temperature") from None
    rhoc = liquid.density * liquid.specific_heat
    chip_power = p["gpus_per_server"] * p["gpu_power"] + p["cpus_per_server"] * p["cpu_power"]
    server_power = chip_power + p["other_power"]
    it_power = nt * ns * server_power
    q_pump = p["pump_flow"] or ns * server_power / (rhoc * p["design_rise"])
    area = slot * p["server_width"]
    c1 = 12.0 * liquid.viscosity * p["server_depth"] / (
        p["server_porosity"] * p["heat_sink_gap"] ** 2 * area)     # Pa per m^3/s
    parts = {"blocks": [], "porous": [], "chips": []}
    for t in range(nt):
        _tank(p, t, t * (tank_len + wall), tank_len, Ly, Lz, c1, parts)
    # the floor's inflow velocity: each tank's flow over its servers' footprints
    w_in = q_pump / (ns * slot * p["server_width"])
    return {
        "name": p["name"],
        "domain": {"min": [0.0, 0.0, 0.0], "max": [Lx, Ly, Lz], "background": p["fluid"]},
        "grid": {"max_cell": p["cell"], "growth": 1.3},
        "initial_temperature": p["supply_temperature"],
        "solver": {"precision": p["precision"]},
        "blocks": parts["blocks"],
        "flow": {"fluid": p["fluid"], "reference_temperature": p["supply_temperature"],
                 "gravity": [0.0, 0.0, -9.81], "turbulence": p["turbulence"],
                 "advection": p["advection"], "method": p["method"],
                 "unsteady": p["unsteady"], "average_window": p["average_window"],
                 "tolerance": p["tolerance"],
                 "energy_tolerance": p["energy_tolerance"], "max_steps": int(p["max_steps"]),
                 "boundaries": {"z-": {"type": "inflow", "velocity": [0.0, 0.0, w_in],
                                       "T": p["supply_temperature"]},
                                "z+": {"type": "outflow"}},
                 "porous": parts["porous"], "chips": parts["chips"]},
        "layout": {"kind": "immersion", "parameters": dict(p), "it_power": it_power,
                   "pump_flow": q_pump, "tanks": nt,
                   "loop_pressure_drop": p["loop_pressure_drop"]},
    }
