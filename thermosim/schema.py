"""The case file's JSON Schema with a description and a unit for every key, and the
case-file reference page generated from it (docs/case-file.md).

The schema is pydantic's ``Case.model_json_schema()`` with every ``$ref`` inlined (so that a
key's description can depend on where it sits) and the texts of :data:`KEYS` merged in, plus
one schema per layout builder (``layout: NAME`` and the builder's parameters, from the
builder's defaults in :mod:`thermosim.layouts` and the texts of :data:`LAYOUT_KEYS`).

Units are SI; ``1`` marks a dimensionless number and ``-`` a key that is not a quantity (a
name, a choice, a section).  A key added to the case or to a layout without a text here
makes ``tests/test_schema_docs.py`` fail.  The walk over a schema's keys is
:mod:`thermosim.schema_tree`, the Markdown page :mod:`thermosim.schema_markdown`.

    python -m thermosim.schema              # the JSON Schema
    python -m thermosim.schema --markdown   # docs/case-file.md
"""

from __future__ import annotations

import copy
import json
import sys

from .schema_markdown import page
from .schema_tree import AXIS, FACE, NAME, canonical, inline, walk

KEYS: dict[str, tuple[str, str]] = {
    "name": ("-", "Name of the case; the default output file is NAME.h5."),
    "domain": ("-", "The box that is meshed and what fills the space no block occupies."),
    "domain.min": ("m", "Lower corner [x, y, z]."),
    "domain.max": ("m", "Upper corner [x, y, z]; larger than `min` on every axis."),
    "domain.background": ("-", "Material around the blocks: `void` (not solved), a fluid "
                          "(`air`, `water`, ...: still, for conduction; the flowing fluid of "
                          "a flow case) or any material name."),
    "grid": ("-", "Grid controls: a graded grid from `max_cell`, `growth` and "
             "`min_cells_per_layer` (block faces lie on grid lines), or `cells`, or `faces`."),
    "grid.cells": ("1", "A uniform grid of [nx, ny, nz] cells (instead of the graded one)."),
    "grid.faces": ("-", "Face coordinates listed per axis, replacing the graded spacing on "
                   "that axis."),
    f"grid.faces.{AXIS}": ("m", "Increasing face coordinates along the axis, from the "
                           "domain's min to its max."),
    "grid.max_cell": ("m", "Largest cell size: one value or [x, y, z]."),
    "grid.growth": ("1", "Largest ratio between neighbouring cell sizes, in [1, 3]: one value "
                    "or [x, y, z]."),
    "grid.min_cells_per_layer": ("1", "Fewest cells across every layer between block faces: "
                                 "one value or [x, y, z]."),
    "materials": ("-", "User-defined materials by name, used by `blocks[].material` and "
                  "`domain.background` beside the built-in ones."),
    f"materials.{NAME}": ("-", "A solid (`k`, `rho`, `cp`) or a still fluid from CoolProp "
                          "(`fluid`, `T`, `p`)."),
    f"materials.{NAME}.k": ("W/(m K)", "Thermal conductivity: one value or [kx, ky, kz] "
                            "(orthotropic)."),
    f"materials.{NAME}.rho": ("kg/m^3", "Density."),
    f"materials.{NAME}.cp": ("J/(kg K)", "Specific heat capacity."),
    f"materials.{NAME}.fluid": ("-", "A CoolProp fluid (`air`, `water`, `nitrogen`, "
                                "`propylene_glycol_25`) whose properties are taken at `T` "
                                "and `p`."),
    f"materials.{NAME}.T": ("K", "Temperature at which the fluid's properties are evaluated "
                            "(default: the case's initial temperature)."),
    f"materials.{NAME}.p": ("Pa", "Pressure at which the fluid's properties are evaluated."),
    "blocks": ("-", "Axis-aligned blocks; a later block overwrites the cells of an earlier "
               "one."),
    "blocks[].name": ("-", "Unique name (used by `powers`, the reports and the pictures)."),
    "blocks[].material": ("-", "A built-in material (`copper`, `aluminium`, `silicon`, `fr4`, "
                          "`tim`, ...) or a name under `materials`."),
    "blocks[].min": ("m", "Lower corner [x, y, z], inside the domain."),
    "blocks[].max": ("m", "Upper corner [x, y, z], larger than `min` on every axis."),
    "blocks[].power": ("W", "Heat generated, spread uniformly over the block's volume."),
    "blocks[].contact_resistance": ("m^2 K/W", "Thermal contact resistance on the faces the "
                                    "block shares with other blocks."),
    "blocks[].boundaries": ("-", "Boundary conditions on the block's faces that border void, "
                            "per face; the same keys as `boundaries`."),
    "boundaries": ("-", "Thermal boundary conditions of the domain's faces (conduction "
                   "cases; a flow case gives `flow.boundaries`); a face left out is "
                   "adiabatic."),
    f"boundaries.{FACE}": ("-", "One condition, or a list of conditions each limited to its "
                           "`region`."),
    f"boundaries.{FACE}.type": ("-", "`temperature` (needs `T`), `heat_flux` (`q`), "
                                "`convective` (`h`, `T_ambient`) or `adiabatic`."),
    f"boundaries.{FACE}.T": ("K", "Fixed surface temperature (`type: temperature`)."),
    f"boundaries.{FACE}.q": ("W/m^2", "Heat flux into the body (`type: heat_flux`)."),
    f"boundaries.{FACE}.h": ("W/(m^2 K)", "Heat transfer coefficient (`type: convective`)."),
    f"boundaries.{FACE}.T_ambient": ("K", "Temperature the face convects to "
                                     "(`type: convective`)."),
    f"boundaries.{FACE}.region": ("-", "Limits the condition to the part of the face inside "
                                  "this box."),
    f"boundaries.{FACE}.region.min": ("m", "Lower corner [x, y, z] of the box."),
    f"boundaries.{FACE}.region.max": ("m", "Upper corner [x, y, z] of the box."),
    "powers": ("-", "Block powers by block name, overriding `blocks[].power`."),
    f"powers.{NAME}": ("W", "Power of the block of that name."),
    "initial_temperature": ("K", "Initial temperature everywhere; also the reference of the "
                            "solved temperature rise."),
    "solver": ("-", "Solver settings of a conduction case."),
    "solver.mode": ("-", "`steady` or `transient` (needs `transient`)."),
    "solver.precision": ("-", "`float64` or `float32` (about twice as fast on a GPU)."),
    "solver.tolerance": ("1", "Relative residual at which the linear solves stop (default "
                         "1e-8 in float64, 1e-6 in float32)."),
    "solver.max_iterations": ("1", "Most conjugate-gradient iterations per solve."),
    "solver.transient": ("-", "Time stepping of a transient run."),
    "solver.transient.method": ("-", "`implicit_euler`, `crank_nicolson` or `explicit`."),
    "solver.transient.end_time": ("s", "Simulated time at which the run ends."),
    "solver.transient.dt": ("s", "Time step, or `auto` (explicit: 0.9 times the stability "
                            "limit; implicit: end_time / 100)."),
    "solver.transient.snapshots": ("s", "Times at which the temperature field is stored."),
    "flow": ("-", "Makes the case a flow and heat-transfer case: the domain's background is "
             "the flowing fluid, every block a conducting solid in it."),
    "flow.fluid": ("-", "The flowing fluid: a CoolProp fluid (`air`, `water`, `nitrogen`, "
                   "`propylene_glycol_25`) or a constant-property liquid (`hydrocarbon_oil`, "
                   "`fc40`); equal to `domain.background`."),
    "flow.reference_temperature": ("K", "Temperature of the fluid's properties and the "
                                   "Boussinesq reference."),
    "flow.gravity": ("m/s^2", "Gravity vector [gx, gy, gz]."),
    "flow.body_force": ("m/s^2", "A uniform driving acceleration [ax, ay, az] (a mean "
                        "pressure gradient over density: drives a periodic channel)."),
    "flow.boundaries": ("-", "Flow boundaries of the domain's faces; a face left out is an "
                        "adiabatic no-slip wall."),
    f"flow.boundaries.{FACE}": ("-", "What the face does to the flow and to heat."),
    f"flow.boundaries.{FACE}.type": ("-", "`wall` (no-slip), `slip`, `inflow`, `outflow` "
                                     "(zero pressure, zero gradient) or `periodic` (both "
                                     "faces of an axis)."),
    f"flow.boundaries.{FACE}.velocity": ("m/s", "Inflow velocity [u, v, w] (its mean with a "
                                         "parabolic profile), or a wall's own tangential "
                                         "velocity."),
    f"flow.boundaries.{FACE}.T": ("K", "Inflow temperature (required on an inflow), or a "
                                  "wall's fixed temperature."),
    f"flow.boundaries.{FACE}.heat_flux": ("W/m^2", "Heat flux into the domain through a wall "
                                          "(neither `T` nor this: adiabatic)."),
    f"flow.boundaries.{FACE}.profile": ("-", "Inflow profile: `uniform` or `parabolic` "
                                        "(same mean)."),
    "flow.end_time": ("s", "Simulated time of a transient; left out, the run marches to a "
                      "steady state."),
    "flow.tolerance": ("1", "Steady criterion: the largest scaled rate of change of "
                       "velocity and temperature."),
    "flow.cfl": ("1", "Fraction of the stable explicit time step taken, in (0, 1]."),
    "flow.max_steps": ("1", "Most time steps; a steady march that has not converged by then "
                       "stops and says so."),
    "flow.diffusion": ("-", "`auto` (implicit viscosity and conduction in a steady march "
                       "where they limit the step), `implicit` or `explicit`."),
    "flow.turbulence": ("-", "`none` (laminar), `lvel` (algebraic, with wall functions) or "
                        "`smagorinsky` (LES)."),
    "flow.advection": ("-", "Momentum advection: `central` (second order) or `upwind` "
                       "(first order, bounded; the layouts' choice)."),
    "flow.method": ("-", "Steady solver: `march` (in time, the step stability-limited) or "
                    "`simplec` (outer iterations: implicit momentum and energy, "
                    "Anderson-accelerated; `max_steps` then counts them)."),
    "flow.start": ("-", "Start of the `simplec` outer iterations: `rest`, or `coarse` (from "
                   "the answer on meshes with half the cells across, recursively: fewer "
                   "iterations where the slow part is the domain-wide flow, such as a "
                   "lid-driven cavity)."),
    "flow.multigrid": ("-", "`simplec` outer iterations in multigrid cycles over those "
                       "coarser meshes (full approximation scheme: iteration counts flat "
                       "in the mesh; always started from the coarser meshes' answers, "
                       "whatever `start`): `on`, `off`, or `auto` (on where no fans, "
                       "porous blocks, coolers, chips or eddy viscosity lag the flow and "
                       "no solid blocks conduct)."),
    "flow.unsteady": ("-", "What a steady run that finds no steady state does: `stop` "
                      "(its last iteration written, marked unconverged, exit status 3) or "
                      "`average` (it continues in implicit time steps and its result is "
                      "the time mean over `average_window`, marked time-averaged)."),
    "flow.average_window": ("s", "Window of the time mean after a stall (null: four "
                            "turnover times, L over the fluid's mean speed), after a "
                            "settling time of half of it."),
    "flow.time_step": ("s", "Implicit time step of a transient with `method: simplec`, or "
                       "of the time mean after a stall (null: the outer iterations' "
                       "pseudo-step, at most a fiftieth of the turnover time, and no "
                       "more than 400 steps to the end)."),
    "flow.average_from": ("s", "A transient with `method: simplec`: its result is the "
                          "mean over [average_from, end_time] of implicit steps."),
    "flow.energy_tolerance": ("1", "Steady criterion on energy instead of the temperature "
                              "residual: heat still being stored over the power."),
    "flow.porous": ("-", "Porous blocks: servers, heat sinks, perforated tiles, coils."),
    "flow.porous[].name": ("-", "Unique name."),
    "flow.porous[].min": ("m", "Lower corner [x, y, z]."),
    "flow.porous[].max": ("m", "Upper corner [x, y, z]."),
    "flow.porous[].axis": ("-", "Flow direction through the block: `x`, `y` or `z`."),
    "flow.porous[].loss_coefficient": ("1", "Loss coefficient K: dp = K rho u^2 / 2 across "
                                       "the block, u the superficial velocity."),
    "flow.porous[].pressure_drop": ("[Pa s/m^3, Pa s^2/m^6]", "[c1, c2] of dp = c1 Q + c2 Q^2 "
                                    "with Q (m^3/s) through the frontal area."),
    "flow.porous[].free_area": ("1", "A perforated plate's open-area ratio in (0, 1] "
                                "(Idelchik's loss)."),
    "flow.porous[].transverse": ("-", "`blocked` (case walls: no flow sideways) or `open` "
                                 "(the same resistance across)."),
    "flow.porous[].power": ("W", "Heat into the fluid passing through."),
    "flow.fans": ("-", "Fan planes."),
    "flow.fans[].name": ("-", "Unique name."),
    "flow.fans[].axis": ("-", "Axis normal to the fan plane: `x`, `y` or `z`."),
    "flow.fans[].position": ("m", "Coordinate of the plane along `axis`."),
    "flow.fans[].min": ("m", "Lower corner of the fan's rectangle (the `axis` entry "
                        "ignored)."),
    "flow.fans[].max": ("m", "Upper corner of the fan's rectangle (the `axis` entry "
                        "ignored)."),
    "flow.fans[].direction": ("1", "Blowing direction along `axis`: 1 or -1."),
    "flow.fans[].curve": ("[m^3/s, Pa]", "Fan curve [[Q, dp], ...], Q increasing (give "
                          "`curve` or `flow`)."),
    "flow.fans[].flow": ("m^3/s", "A fixed volume flow instead of a curve."),
    "flow.coolers": ("-", "Cooling coils."),
    "flow.coolers[].name": ("-", "Unique name."),
    "flow.coolers[].min": ("m", "Lower corner [x, y, z] of the coil."),
    "flow.coolers[].max": ("m", "Upper corner [x, y, z] of the coil."),
    "flow.coolers[].temperature": ("K", "Temperature at which the air leaves the coil."),
    "flow.chips": ("-", "Chips under heat sinks, as compact models."),
    "flow.chips[].name": ("-", "Unique name."),
    "flow.chips[].min": ("m", "Lower corner [x, y, z] of the box whose air the chip heats."),
    "flow.chips[].max": ("m", "Upper corner [x, y, z] of that box."),
    "flow.chips[].power": ("W", "Heat generated by the chip."),
    "flow.chips[].resistance": ("K/W", "Case to the local air (the heat sink); with a cold "
                                "plate, the case's remaining path to the air."),
    "flow.chips[].junction_resistance": ("K/W", "Junction to case."),
    "flow.chips[].limit": ("K", "Largest junction temperature allowed (reported when "
                           "exceeded)."),
    "flow.chips[].kind": ("-", "A label: `GPU`, `CPU`, ..."),
    "flow.chips[].cold_plate": ("-", "A liquid cold plate on the chip (compact model): most "
                                "of the power then goes to its coolant."),
    "flow.chips[].cold_plate.resistance": ("K/W", "Case to coolant at the rated flow."),
    "flow.chips[].cold_plate.flow": ("m^3/s", "Rated coolant flow through the plate."),
    "flow.chips[].cold_plate.inlet_temperature": ("K", "Coolant temperature at the plate's "
                                                  "inlet."),
    "flow.chips[].cold_plate.coolant": ("-", "Coolant: `water`, `propylene_glycol_25`, ... "
                                        "(CoolProp)."),
    "flow.chips[].cold_plate.pressure_drop": ("Pa", "Pressure drop across the plate at the "
                                              "rated flow."),
    "flow.chips[].cold_plate.axial_conductance": ("W/K", "k A / L of the plate's metal along "
                                                  "the flow; left out, the case follows the "
                                                  "coolant."),
    "layout": ("-", "Written by a layout builder into the case it makes (its kind and "
               "parameters); in a case file, `layout: NAME` instead selects a layout "
               "(see Layouts)."),
}

# Layout parameters: LAYOUT_KEYS[param] for every builder, LAYOUT_KEYS["kind.param"] where
# a builder means something else by it.
LAYOUT_KEYS: dict[str, tuple[str, str]] = {
    "layout": ("-", "The builder: `air_cooled`, `liquid_cooled`, `immersion` or "
               "`cold_plate`."),
    "name": ("-", "Name of the case (and of the default output file)."),
    "racks_per_row": ("1", "Racks in each of the two rows."),
    "servers_per_rack": ("1", "Servers stacked in each rack."),
    "server_units": ("1", "Height of a server in rack units (44.45 mm)."),
    "rack_width": ("m", "Width of a rack along the row."),
    "rack_depth": ("m", "Depth of a rack, front to back."),
    "rack_height": ("m", "Height of a rack; the space over the servers is blanked."),
    "gpus_per_server": ("1", "GPUs in each server."),
    "gpu_power": ("W", "Power of one GPU."),
    "cpus_per_server": ("1", "CPUs in each server."),
    "cpu_power": ("W", "Power of one CPU."),
    "other_power": ("W", "The rest of a server's power (memory, network, storage, power "
                    "conversion), spread through it."),
    "gpu_resistance": ("K/W", "GPU case to the local coolant (the heat sink)."),
    "gpu_junction_resistance": ("K/W", "GPU junction to case."),
    "gpu_limit": ("K", "Largest GPU junction temperature allowed."),
    "cpu_resistance": ("K/W", "CPU case to the local coolant (the heat sink)."),
    "cpu_junction_resistance": ("K/W", "CPU junction to case."),
    "cpu_limit": ("K", "Largest CPU junction temperature allowed."),
    "server_loss_coefficient": ("1", "A server's loss coefficient K (dp = K rho u^2 / 2 at "
                                "its face velocity)."),
    "server_fan_curve": ("[m^3/s, Pa]", "The server fans' curve at rated speed, [[Q, dp], "
                         "...] with Q increasing."),
    "server_fan_speed": ("1", "Fan speed as a fraction of rated, in (0, 2] (fan laws: flow "
                         "times the speed, pressure times its square); null: the speed whose "
                         "airflow carries the air-side heat at the air-cooled server's "
                         "rise."),
    "supply_temperature": ("K", "Supply air temperature, held by the CRAH coils."),
    "supply": ("-", "`raised_floor` (plenum under the floor, perforated tiles) or "
               "`overhead` (plenum over a ceiling, diffusers over the cold aisle)."),
    "crah_units": ("1", "CRAH units, alternating between the hall's ends, side by side "
                        "(2 m wide each) at an end."),
    "crah_flow": ("m^3/s", "Air flow of each CRAH unit; null: `crah_oversupply` times the "
                  "servers' flow."),
    "crah_oversupply": ("1", "CRAH flow over the servers' total flow (when `crah_flow` is "
                        "null)."),
    "crah_loss_coefficient": ("1", "Loss coefficient of a CRAH unit's column."),
    "crah_wall_gap": ("m", "Gap between a CRAH unit's back and the hall's end wall: 0, the "
                           "unit against the wall as installed (a gap is a deep cavity the "
                           "unit's intake drives)."),
    "tile_free_area": ("1", "Open-area ratio of the perforated tiles (or diffusers)."),
    "cold_aisle_width": ("m", "Width of the cold aisle between the rows."),
    "hot_aisle_width": ("m", "Width of each hot aisle behind a row."),
    "plenum_height": ("m", "Depth of the supply plenum."),
    "room_height": ("m", "Height of the room over the floor."),
    "end_space": ("m", "Space between the rows' ends and the hall's walls (where the CRAH "
                  "units stand)."),
    "cell": ("m", "Largest cell size."),
    "turbulence": ("-", "Turbulence model: `lvel`, `smagorinsky` or `none`."),
    "advection": ("-", "Momentum advection: `upwind` or `central`."),
    "method": ("-", "Steady solver (`flow.method`): `march` or `simplec`."),
    "unsteady": ("-", "No steady state found: `average` (the time mean, the layouts' "
                 "default) or `stop` (`flow.unsteady`)."),
    "average_window": ("s", "Window of that time mean (`flow.average_window`; null: four "
                       "turnover times)."),
    "air_changes": ("1", "0: march to a steady state; N > 0: a transient of N hall volumes "
                    "of CRAH air."),
    "tolerance": ("1", "Steady criterion on the velocity residual (`flow.tolerance`)."),
    "energy_tolerance": ("1", "Steady criterion: heat still being stored over the power "
                         "(`flow.energy_tolerance`)."),
    "max_steps": ("1", "Most time steps (`flow.max_steps`)."),
    "precision": ("-", "`float64` or `float32`."),
    # liquid_cooled
    "coolant": ("-", "Coolant of the cold plates (CoolProp name)."),
    "cdu_supply_temperature": ("K", "Coolant temperature the CDU supplies to the plates."),
    "gpu_plate_resistance": ("K/W", "A GPU cold plate's case-to-coolant resistance."),
    "gpu_plate_flow": ("m^3/s", "Coolant flow through one GPU plate."),
    "gpu_plate_pressure_drop": ("Pa", "Pressure drop across one GPU plate."),
    "cpu_plate_resistance": ("K/W", "A CPU cold plate's case-to-coolant resistance."),
    "cpu_plate_flow": ("m^3/s", "Coolant flow through one CPU plate."),
    "cpu_plate_pressure_drop": ("Pa", "Pressure drop across one CPU plate."),
    "coolant_loop_pressure_drop": ("Pa", "The loop's pressure drop besides the plates "
                                   "(manifolds, hoses, quick disconnects, the CDU's heat "
                                   "exchanger), for the pump power."),
    "liquid_cooled.gpu_resistance": ("K/W", "A plated GPU case's remaining path to the air "
                                     "(the plate's exposed surfaces, the board)."),
    "liquid_cooled.cpu_resistance": ("K/W", "A plated CPU case's remaining path to the air."),
    # immersion
    "tanks": ("1", "Tanks side by side along x."),
    "servers_per_tank": ("1", "Servers standing on end in each tank."),
    "server_depth": ("m", "A server's depth, vertical in the tank."),
    "server_width": ("m", "A server's width, across the tank."),
    "heat_sink_gap": ("m", "Gap between the heat sinks' fins (plane Poiseuille friction)."),
    "server_porosity": ("1", "Open fraction of a server's frontal area."),
    "fluid": ("-", "Immersion liquid: `hydrocarbon_oil` (PAO 4) or `fc40`."),
    "design_rise": ("K", "Temperature rise across a tank at its power, which sets the pump "
                    "flow when `pump_flow` is null."),
    "pump_flow": ("m^3/s", "Pump flow per tank; null: the flow giving `design_rise`."),
    "loop_pressure_drop": ("Pa", "Pressure drop of the loop outside the tank (heat "
                           "exchanger, piping), for the pump power."),
    "floor_space": ("m", "Height of the distributor under the servers."),
    "headspace": ("m", "Depth of liquid over the servers."),
    "margin": ("m", "Open liquid around the servers (0: the servers fill the tank)."),
    "immersion.supply_temperature": ("K", "Liquid temperature at the tank's inlet (the heat "
                                     "exchanger's set return)."),
    "immersion.gpu_resistance": ("K/W", "GPU case to the liquid (immersion heat sink)."),
    "immersion.cpu_resistance": ("K/W", "CPU case to the liquid (immersion heat sink)."),
    "immersion.server_loss_coefficient": ("1", "A server's form loss coefficient, besides "
                                          "the fin gaps' friction."),
    # cold_plate
    "channels": ("1", "Parallel channels (1: the unit cell of a wide plate, symmetry planes "
                 "at the sides)."),
    "channel_width": ("m", "Width of a channel."),
    "channel_height": ("m", "Height of a channel (and of the fins)."),
    "fin_thickness": ("m", "Thickness of a fin between channels."),
    "base_thickness": ("m", "Thickness of the base under the channels."),
    "heater_thickness": ("m", "The base's lowest layer, which carries the chip's power."),
    "lid_thickness": ("m", "Thickness of the lid over the channels."),
    "length": ("m", "Length of the plate along the flow."),
    "manifold_length": ("m", "Length of the inlet and outlet manifolds."),
    "power": ("W", "The chip's power into the plate."),
    "flow": ("m^3/s", "Coolant flow through the whole plate."),
    "inlet_temperature": ("K", "Coolant inlet temperature."),
    "material": ("-", "Material of the plate (a built-in solid)."),
    "cells_across": ("1", "Cells across a channel's width."),
    "cell_along": ("m", "Cell size along the flow."),
    "cold_plate.coolant": ("-", "Coolant (CoolProp name)."),
    "cold_plate.tolerance": ("1", "Steady criterion (`flow.tolerance`)."),
}

# Types that a builder's default does not tell.
_NULLABLE_NUMBER = {"anyOf": [{"type": "number"}, {"type": "null"}]}
LAYOUT_TYPES: dict[str, dict] = {
    "server_fan_speed": _NULLABLE_NUMBER,
    "crah_flow": _NULLABLE_NUMBER,
    "pump_flow": _NULLABLE_NUMBER,
    "server_fan_curve": {"type": "array", "items": {"type": "array", "minItems": 2,
                                                    "maxItems": 2,
                                                    "items": {"type": "number"}}},
    "supply": {"enum": ["raised_floor", "overhead"]},
    "turbulence": {"enum": ["none", "lvel", "smagorinsky"]},
    "advection": {"enum": ["central", "upwind"]},
    "method": {"enum": ["march", "simplec"]},
    "unsteady": {"enum": ["stop", "average"]},
    "average_window": _NULLABLE_NUMBER,
    "precision": {"enum": ["float64", "float32"]},
}

# Case fields that are not case-file keys (set by the program).
_INTERNAL = ("source_file",)


def case_schema() -> dict:
    """The schema of a case (not a layout), inlined, with descriptions and units."""
    from .case import Case

    raw = Case.model_json_schema()
    s = inline(raw, raw.get("$defs", {}))
    for key in _INTERNAL:
        s.get("properties", {}).pop(key, None)
    for path, node in walk(s):
        text = KEYS.get(path) or KEYS.get(canonical(path))
        if text is not None:
            node["unit"], node["description"] = text
        _temperature_units(path, node)
    return s


def _temperature_reader():
    """thermosim.inputs' test for a temperature key and its floor (K), where case files
    take temperatures with units ("27 degC"); None where they do not."""
    try:
        from .inputs import FLOOR_K, is_temperature_key
    except ImportError:
        return None
    return is_temperature_key, FLOOR_K


def _temperature_units(path: str, node: dict) -> None:
    """Let a temperature key's schema take a string with units beside the number (what the
    case reader converts to kelvin)."""
    reader = _temperature_reader()
    if reader is None or node.get("unit") != "K" or not reader[0](path):
        return
    branches = node.get("anyOf")
    if branches is not None:
        if not any(b.get("type") == "string" for b in branches):
            rest = [b for b in branches if b.get("type") != "null"]
            node["anyOf"] = rest + [{"type": "string"}] + [b for b in branches
                                                           if b.get("type") == "null"]
    elif node.get("type") == "number":
        del node["type"]
        node["anyOf"] = [{"type": "number"}, {"type": "string"}]


def _type_of(value) -> dict:
    if isinstance(value, bool):
        return {"type": "boolean"}
    if isinstance(value, int):
        return {"type": "integer"}
    if isinstance(value, float):
        return {"type": "number"}
    if isinstance(value, str):
        return {"type": "string"}
    if isinstance(value, (list, tuple)):
        return {"type": "array"}
    return {}


def layout_schema(kind: str) -> dict:
    """The schema of ``layout: KIND`` and that builder's parameters (its defaults)."""
    from .layouts import AIR_DEFAULTS, COLD_PLATE_DEFAULTS, IMMERSION_DEFAULTS, \
        LIQUID_DEFAULTS

    known = {"air_cooled": AIR_DEFAULTS, "liquid_cooled": LIQUID_DEFAULTS,
             "immersion": IMMERSION_DEFAULTS, "cold_plate": COLD_PLATE_DEFAULTS}
    if kind not in known:         # a new builder: its parameters must be described too
        raise KeyError(f"layout '{kind}': add its defaults to layout_schema and its "
                       "parameters to LAYOUT_KEYS in thermosim/schema.py")
    defaults = known[kind]
    props = {"layout": {"const": kind}}
    for key, value in defaults.items():
        node = copy.deepcopy(LAYOUT_TYPES.get(key) or _type_of(value))
        node["default"] = [list(v) for v in value] if isinstance(value, tuple) else value
        props[key] = node
    for key, node in props.items():
        text = LAYOUT_KEYS.get(f"{kind}.{key}") or LAYOUT_KEYS.get(key)
        if text is not None:
            node["unit"], node["description"] = text
        _temperature_units(key, node)
    return {"title": f"layout: {kind}", "type": "object", "properties": props,
            "required": ["layout"], "additionalProperties": False,
            "description": f"A {kind} layout: `layout: {kind}` and any of the builder's "
                           f"parameters (thermosim.layouts.{kind})."}


def layout_kinds() -> list[str]:
    from .layouts import BUILDERS

    return list(BUILDERS)


def schema() -> dict:
    """The JSON Schema of a case file: a case, or a layout with its parameters."""
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "thermosim case file",
            "description": "A thermosim case (SI units; `unit` names each key's unit, `1` "
                           "dimensionless, `-` not a quantity), or `layout: NAME` and that "
                           "builder's parameters.",
            "anyOf": [case_schema()] + [layout_schema(k) for k in layout_kinds()]}


def undocumented(s: dict | None = None) -> list[str]:
    """Paths of the keys that lack a description or a unit (empty when all have both)."""
    s = schema() if s is None else s
    return sorted({p for p, node in walk(s) if not (node.get("description")
                                                     and node.get("unit"))})


def unused_texts() -> list[str]:
    """Entries of :data:`KEYS` and :data:`LAYOUT_KEYS` that describe no key (stale)."""
    paths = {q for p, _ in walk(case_schema()) for q in (p, canonical(p))}
    stale = [k for k in KEYS if k not in paths]
    params = {(kind, p) for kind in layout_kinds()
              for p in layout_schema(kind)["properties"]}
    for k in LAYOUT_KEYS:
        kind, _, p = k.rpartition(".")
        if not any(p == q and (not kind or kind == kk) for kk, q in params):
            stale.append(f"layout {k}")
    return stale


def markdown() -> str:
    """docs/case-file.md: the case's keys, then each layout's parameters
    (:func:`thermosim.schema_markdown.page`)."""
    reader = _temperature_reader()
    return page(case_schema(), [(kind, layout_schema(kind)) for kind in layout_kinds()], KEYS,
                None if reader is None else reader[1])


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv == ["--markdown"]:
        sys.stdout.write(markdown())
    elif not argv:
        sys.stdout.write(json.dumps(schema(), indent=2) + "\n")
    else:
        sys.stderr.write("usage: python -m thermosim.schema [--markdown]\n")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
