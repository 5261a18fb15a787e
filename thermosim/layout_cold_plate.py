"""A resolved channel cold plate as a case builder (:func:`cold_plate`), and its
resistance beside the compact model's (:func:`cold_plate_resistance`)."""

from __future__ import annotations

import numpy as np

from .errors import CaseError
from .layout_parameters import checked_parameters
from .layout_parts import box
from .materials import lookup

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
    from .fluid import Fluid

    p = checked_parameters(COLD_PLATE_DEFAULTS, params)
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
        {"name": "heater", "material": mat, "power": p["power"], **box((x0, 0, 0), (x1, W, th))},
        {"name": "base", "material": mat, **box((x0, 0, th), (x1, W, tb))},
        {"name": "lid", "material": mat, **box((x0, 0, z_lid), (x1, W, Lz))},
    ]
    # fins: half fins at the symmetry planes, whole ones between channels
    edges = [(0.0, 0.5 * t)] + [((j + 1) * pitch - 0.5 * t, (j + 1) * pitch + 0.5 * t)
                                for j in range(n - 1)] + [(W - 0.5 * t, W)]
    for j, (a, b) in enumerate(edges):
        blocks.append({"name": f"fin{j + 1}", "material": mat,
                       **box((x0, a, z_ch), (x1, b, z_lid))})
    for side, (a, b) in (("in", (0.0, x0)), ("out", (x1, x1 + Lm))):
        blocks.append({"name": f"manifold_{side}_low", "material": "manifold",
                       **box((a, 0, 0), (b, W, z_ch))})
        blocks.append({"name": f"manifold_{side}_high", "material": "manifold",
                       **box((a, 0, z_lid), (b, W, Lz))})
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
