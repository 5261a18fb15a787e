"""Rack layouts as case builders: a data hall of server racks cooled by air
(:func:`air_cooled`), the same hall with cold plates on the chips (:func:`liquid_cooled`),
rows of single-phase immersion tanks (:func:`immersion`) and a resolved channel cold plate
(:func:`cold_plate`).

A builder returns a case mapping (what a YAML case file holds), so that a layout can be
written out, edited and run like any other case.  A YAML file with ``layout: air_cooled``
and the builder's parameters is expanded by :func:`expand` when it is loaded.

The builders live in their own modules, each with its defaults and the text that explains
them: :mod:`thermosim.layout_hall` (the air- and liquid-cooled hall),
:mod:`thermosim.layout_immersion`, :mod:`thermosim.layout_cold_plate`; the parameters'
checks in :mod:`thermosim.layout_parameters`, the parts they share (rack unit, boxes,
compact chips) in :mod:`thermosim.layout_parts`.  This module names them all.
"""

from __future__ import annotations

from .errors import CaseError
from .layout_cold_plate import COLD_PLATE_DEFAULTS, cold_plate, cold_plate_resistance
from .layout_hall import AIR_DEFAULTS, LIQUID_DEFAULTS, air_cooled, liquid_cooled, \
    server_operating_flow
from .layout_immersion import IMMERSION_DEFAULTS, immersion
from .layout_parameters import checked_parameters
from .layout_parts import U
from .sizing import check_layout

__all__ = ["AIR_DEFAULTS", "BUILDERS", "COLD_PLATE_DEFAULTS", "DEFAULTS", "IMMERSION_DEFAULTS",
           "LIQUID_DEFAULTS", "U", "air_cooled", "cold_plate", "cold_plate_resistance",
           "expand", "immersion", "liquid_cooled", "parameter_problems",
           "server_operating_flow"]

BUILDERS = {"air_cooled": air_cooled, "liquid_cooled": liquid_cooled, "immersion": immersion,
            "cold_plate": cold_plate}
DEFAULTS = {"air_cooled": AIR_DEFAULTS, "liquid_cooled": LIQUID_DEFAULTS,
            "immersion": IMMERSION_DEFAULTS, "cold_plate": COLD_PLATE_DEFAULTS}


def parameter_problems(data, file: str | None = None, skip=()) -> list:
    """The mistakes in a layout file's parameters (none for a file that is not a layout),
    leaving out the keys in ``skip`` (found wanting already)."""
    kind = data.get("layout") if isinstance(data, dict) else None
    if not isinstance(kind, str) or kind not in DEFAULTS:
        return []
    params = {k: v for k, v in data.items() if k != "layout" and k not in skip}
    try:
        checked_parameters(DEFAULTS[kind], params)
    except CaseError as e:
        return [CaseError(p.reason, p.key, file) for p in (e.problems or [e])]
    return []


def expand(data: dict, file: str | None = None) -> dict:
    """A case mapping with ``layout: NAME`` (and the builder's parameters beside it) turned
    into the full case; any other mapping is returned as it is."""
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
    check_layout(kind, params, file)     # its parts and cells, before any is made
    try:
        return BUILDERS[kind](**params)
    except CaseError as e:
        problems = e.problems or [e]
        raise CaseError.several([CaseError(p.reason, p.key or "layout", p.file or file)
                                 for p in problems]) from None
    except (TypeError, ValueError, ArithmeticError) as e:
        raise CaseError(f"bad layout parameter: {e}", "layout", file) from None
