"""Each layout parameter's type and range, checked before a builder computes with it
(:func:`checked_parameters`), so that a mistake is named by its key (``racks_per_row:
...``); every mistake of a layout is reported at once.  Sizes (how many cells a hall
makes) are judged on the built case and, before it is built, by
:func:`thermosim.sizing.check_layout`.
"""

from __future__ import annotations

import math

from .errors import CaseError
from .inputs import MAX_POWER, kelvin
from .materials import fluid_names


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
    if not isinstance(v, str) or v not in fluid_names():
        raise ValueError(f"a fluid ({', '.join(fluid_names())}), not {v!r}")
    return v


def _text(v):
    if not isinstance(v, str) or not v.strip():
        raise ValueError(f"a name (text), not {v!r}")
    return v


def _temperature(v):
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
        crah_wall_gap=space,
        tile_free_area=fraction, cold_aisle_width=length, hot_aisle_width=length,
        plenum_height=length, room_height=length, end_space=space, cell=length,
        turbulence=_choice("none", "lvel", "smagorinsky"),
        advection=_choice("central", "upwind"), method=_choice("march", "simplec"),
        air_changes=_number("hall volumes", 0),
        unsteady=_choice("stop", "average"),
        average_window=_number("s", 0, lo_open=True, optional=True),
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


def checked_parameters(defaults: dict, params: dict) -> dict:
    """The builder's parameters: ``defaults`` updated with ``params``, each checked (type
    and range) and temperatures given with units converted to kelvin; every mistake is
    reported at once, keyed by the parameter's name."""
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
