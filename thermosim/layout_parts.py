"""What every layout is built from: the rack unit, a block's box and a compact chip (a GPU
or CPU from a layout's ``gpu_*``/``cpu_*`` parameters, with its cold plate where the chips
are plated)."""

from __future__ import annotations

U = 0.04445   # m, one rack unit


def box(lo, hi) -> dict:
    """A box's corners (m) as a case item writes them."""
    return {"min": [float(v) for v in lo], "max": [float(v) for v in hi]}


def _plate(p: dict, chip: str) -> dict:
    return {"resistance": p[f"{chip}_plate_resistance"], "flow": p[f"{chip}_plate_flow"],
            "inlet_temperature": p["cdu_supply_temperature"], "coolant": p["coolant"],
            "pressure_drop": p[f"{chip}_plate_pressure_drop"]}


def compact_chip(p: dict, kind: str, name: str, lo, hi, plated: bool = False) -> dict:
    """A compact GPU or CPU (``kind`` gpu or cpu) from the layout's parameters."""
    return {"name": name, "kind": kind.upper(), "power": p[f"{kind}_power"],
            "resistance": p[f"{kind}_resistance"],
            "junction_resistance": p[f"{kind}_junction_resistance"],
            "limit": p[f"{kind}_limit"], **({"cold_plate": _plate(p, kind)} if plated else {}),
            **box(lo, hi)}
