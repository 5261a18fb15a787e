"""The report of ``thermosim compare`` (:mod:`thermosim.compare` runs the layouts): the
savings against air and the verdict on the claim, ``report.md`` and ``report.html``, the
energy and sensitivity plots and ``results.h5`` (every number of the report), written from
the comparison's records (one a layout: kind, case, metrics, energy)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

LABEL = {"air_cooled": "air", "liquid_cooled": "liquid (cold plates)",
         "immersion": "immersion"}
CLAIM = 0.30      # the claim judged: liquid cooling cuts data-centre energy waste by 30 %
C0 = 273.15       # K at 0 degC: the report's temperatures are in degC


def savings_against_air(energies: dict) -> dict:
    """Each layout's savings against the air layout (:func:`thermosim.facility.savings`),
    from the layouts' energies (``kind -> facility_energy``)."""
    from .facility import savings

    base = energies["air_cooled"]
    return {k: savings(base, e) for k, e in energies.items() if k != "air_cooled"}


def verdict(savings_by_climate: dict, primary: str) -> str:
    """One line: the savings found against air in cooling energy (server fans included)
    and in facility energy, and in which climates each reaches 30 %."""
    parts = []
    n = len(savings_by_climate)
    for kind in ("liquid_cooled", "immersion"):
        if kind not in savings_by_climate[primary]:
            continue
        s = savings_by_climate[primary][kind]

        def reach(q):
            where = [c for c, sv in savings_by_climate.items() if sv[kind][q] >= CLAIM]
            return ("in every climate" if len(where) == n else
                    f"in {', '.join(where)}" if where else "in no climate")
        parts.append(f"{LABEL[kind]} saves {100 * s['cooling_with_server_fans']:.0f} % of the "
                     f"cooling energy (server fans included; 30 % {reach('cooling_with_server_fans')}"
                     f" of {n}) and {100 * s['facility']:.1f} % of the facility energy (30 % "
                     f"{reach('facility')})")
    return f"Verdict ({primary}): against air, " + "; ".join(parts) + "."



def draw_plots(out: Path, records, climates, sens_rows) -> list[str]:
    """energy.png, sensitivity_climate.png and one sensitivity_N.png a knob in ``out``;
    returns their names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made = []
    parts = [("compute", "compute (IT at rating)"), ("leakage_change", "leakage change"),
             ("server_fans", "server fans"), ("crah_fans", "CRAH fans"),
             ("loop_pumps", "CDU / tank pumps"), ("plant_pumps", "facility pumps"),
             ("chiller", "chiller"), ("tower_fans", "cooling tower fans"),
             ("power_losses", "UPS and distribution")]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    x = np.arange(len(records))
    bottom = np.zeros(len(records))
    for key, label in parts[2:]:
        vals = np.array([r["energy"]["annual_kwh"][key] / 1e3 for r in records])
        ax.bar(x, vals, bottom=bottom, label=label)
        bottom += vals
    ax.set_xticks(x, [f"{LABEL[r['kind']]}\n(chip leakage "
                      f"{r['energy']['annual_kwh']['leakage_change'] / 1e3:+.0f} MWh)"
                      for r in records])
    ax.set_ylabel("MWh a year")
    ax.set_title(f"Server fans, cooling and power losses, {records[0]['energy']['climate']} "
                 f"(IT at rating {records[0]['energy']['annual_kwh']['compute'] / 1e3:.0f} MWh)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "energy.png", dpi=120)
    plt.close(fig)
    made.append("energy.png")

    fig, ax = plt.subplots(figsize=(8, 4.5))
    names = list(climates)
    sv = {c: savings_against_air(e) for c, e in climates.items()}
    w = 0.2
    for j, (kind, what) in enumerate([(k, q) for k in ("liquid_cooled", "immersion")
                                      for q in ("cooling_with_server_fans", "facility")]):
        if kind not in sv[names[0]]:
            continue
        ax.bar(np.arange(len(names)) + (j - 1.5) * w,
               [100 * sv[c][kind][what] for c in names], w,
               label=f"{LABEL[kind]}: {'cooling' if what != 'facility' else 'facility'}")
    ax.axhline(100 * CLAIM, color="k", ls="--", lw=1, label="30 % claim")
    ax.set_xticks(np.arange(len(names)), names)
    ax.set_ylabel("saving against air (%)")
    ax.set_title("Saving by climate (same runs)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "sensitivity_climate.png", dpi=120)
    plt.close(fig)
    made.append("sensitivity_climate.png")

    for i, knob in enumerate(dict.fromkeys(r["knob"] for r in sens_rows)):
        fig, ax = plt.subplots(figsize=(6, 4))
        for kind in ("liquid_cooled", "immersion"):
            rows = sorted([r for r in sens_rows if r["knob"] == knob and r["layout"] == kind],
                          key=lambda r: r["value"])
            if rows:
                ax.plot([r["value"] for r in rows],
                        [100 * r["cooling_with_server_fans"] for r in rows], "o-",
                        label=f"{LABEL[kind]}: cooling")
                ax.plot([r["value"] for r in rows], [100 * r["facility"] for r in rows], "s--",
                        label=f"{LABEL[kind]}: facility")
        ax.axhline(100 * CLAIM, color="k", ls="--", lw=1, label="30 % claim")
        ax.set_xlabel(knob)
        ax.set_ylabel("saving against air (%)")
        ax.legend(fontsize=8)
        fig.tight_layout()
        name = f"sensitivity_{i + 1}.png"
        fig.savefig(out / name, dpi=120)
        plt.close(fig)
        made.append(name)
    return made



def _md_table(head, rows) -> str:
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join(
        ["---"] + ["---:"] * (len(head) - 1)) + " |"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


DELTAS = [("leakage_change", "chip leakage"), ("server_fans", "server fans"),
          ("crah_fans", "CRAH fans"), ("loop_pumps", "CDU / tank pumps"),
          ("plant_pumps", "facility pumps"), ("chiller", "chiller"),
          ("tower_fans", "tower fans"), ("power_losses", "UPS")]



# (key, label) of the annual energy table's rows, top to bottom
ENERGY_ROWS = [("compute", "compute: IT at its rating"),
               ("leakage_change", "chip leakage change at the run's junctions"),
               ("server_fans", "**server fans** (inside IT)"), ("it", "IT (PUE's denominator)"),
               ("crah_fans", "CRAH fans"), ("loop_pumps", "CDU / tank pumps"),
               ("plant_pumps", "facility water pumps"), ("chiller", "chiller"),
               ("tower_fans", "cooling tower fans"), ("cooling", "cooling (facility)"),
               ("cooling_with_server_fans", "**cooling with server fans**"),
               ("power_losses", "UPS and distribution"),
               ("facility", "**facility**"), ("non_it", "non-IT (PUE's overhead)"),
               ("overhead", "facility less the IT load at its rating")]


def _mwh(v) -> str:
    """kWh as MWh, one decimal."""
    return f"{v / 1e3:.1f}"


def report_markdown(records, plant, climates, sens_rows, plots, line, climate_objs=(), *,
                    sensitivity_steps: int) -> str:
    """report.md: the savings against air and where they come from, the annual energy
    table, what the runs found, heat rejection, the sensitivities (``climates``: climate
    -> kind -> energy; ``sens_rows``: the re-simulated rows; ``plots``: the pictures drawn),
    the hotspot pictures and the assumptions with their sources.  ``line`` is the verdict;
    ``sensitivity_steps`` the steps after which a sensitivity run stops unsettled."""
    primary = records[0]["energy"]["climate"]
    kinds = [r["kind"] for r in records]
    en = {r["kind"]: r["energy"] for r in records}
    parts = [
        "# Air, liquid and immersion cooling: a year of facility energy", "",
        f"Generated by thermosim {_version()} on {time.strftime('%Y-%m-%d %H:%M')}; "
        f"climate {primary}; the same IT load in each layout "
        f"({records[0]['metrics']['it_power'] / 1e3:.1f} kW).", "",
        f"**{line}**", ""]
    parts += unconverged_notice(records)
    parts += _savings_section(en)
    parts += ["## Annual energy (MWh)", "",
              _md_table(["", *(LABEL[k] for k in kinds)], _energy_rows(en, kinds)), "",
              "![energy](energy.png)", "",
              "## What the runs found", "",
              _md_table(["layout", "steps", "IT kW", "to air / liquid kW",
                         "hottest junction degC", "with leakage degC",
                         "server fans W (hydraulic)", "CRAH fans W (hydraulic)",
                         "pumps W (hydraulic)", "coolant supply / return degC"],
                        [_run_row(r) for r in records]), "",
              "## Heat rejection", "",
              _md_table(["layout", "stream", "heat kW", "water supply / return degC",
                         "free-cooling hours", "partial hours", "chiller hours", "chiller MWh"],
                        _stream_rows(records)), ""]
    parts += _sensitivity_section(climates, kinds, climate_objs, sens_rows, plots, primary)
    parts += ["## Hotspots", ""]
    for r in records:
        if r["png"]:
            parts += [f"### {LABEL[r['kind']]}", "", f"![{r['kind']}](runs/{r['png']})", ""]
    parts += _assumptions(plant, sensitivity_steps)
    return "\n".join(parts)


def _savings_section(en: dict) -> list[str]:
    """The savings against air in every measure, and each part's share of the facility
    saving (``en``: kind -> energy)."""
    sv = savings_against_air(en)
    air = en["air_cooled"]["annual_kwh"]
    return [
        "## Savings against air", "",
        _md_table(["layout", "cooling with server fans", "cooling without server fans",
                   "non-IT (PUE overhead)", "facility", "facility less rated IT"],
                  [[LABEL[k], *(f"{100 * sv[k][q]:.1f} %" for q in
                                ("cooling_with_server_fans", "cooling", "non_it", "facility",
                                 "overhead"))] for k in sv]), "",
        "Where the facility saving comes from (each part's change against air, in % of "
        "the air layout's facility energy; they add up to the facility saving):", "",
        _md_table(["layout", *(lab for _, lab in DELTAS), "facility"],
                  [[LABEL[k], *(f"{100 * (air[q] - en[k]['annual_kwh'][q]) / air['facility']:.1f}"
                                for q, _ in DELTAS),
                    f"{100 * sv[k]['facility']:.1f}"] for k in sv]), ""]


def _energy_rows(en: dict, kinds: list) -> list[list]:
    """The annual energy table (MWh), its PUEs and partial PUEs, a column a layout."""
    rows = [[label] + [_mwh(en[k]["annual_kwh"][key]) for k in kinds]
            for key, label in ENERGY_ROWS]
    rows.append(["PUE"] + [f"{en[k]['pue']:.3f}" for k in kinds])
    for sub in ("cooling", "power", "chiller", "fans_and_pumps"):
        rows.append([f"partial PUE, {sub.replace('_', ' ')}"] +
                    [f"{en[k]['ppue'][sub]:.3f}" for k in kinds])
    rows.append(["ITUE / TUE"] + [f"{en[k]['itue']:.3f} / {en[k]['tue']:.3f}" for k in kinds])
    return rows


def _run_row(r: dict) -> list:
    """What a layout's run found: steps, heat to air and liquid (kW), the hottest junction
    (degC), hydraulic powers (W) and coolant temperatures (degC)."""
    m = r["metrics"]
    tj = max(c["junction_temperature"] for c in m["chips"]) - C0
    cl = m["coolant"]
    return [LABEL[r["kind"]], f"{r['steps']:,}" + unconverged_mark(r),
            f"{m['it_power'] / 1e3:.1f}", f"{m['heat_to_air'] / 1e3:.1f} / "
            f"{m['heat_to_liquid'] / 1e3:.1f}", f"{tj:.1f}",
            f"{r['energy']['it']['hottest_junction_with_leakage'] - C0:.1f}",
            f"{m['server_fan_hydraulic_power']:.0f}",
            f"{m['unit_fan_hydraulic_power']:.0f}", f"{m['pump_hydraulic_power']:.0f}",
            (f"{cl['supply_temperature'] - C0:.1f} / {cl['return_temperature'] - C0:.1f}"
             if cl.get("flow") else "-")]


def unconverged_mark(r: dict) -> str:
    """A layout run's marker after its step count: nothing for a steady run, `` time mean``
    for one with no steady state whose figures are their mean over a window, else
    `` UNCONVERGED`` (issue 19, item 8)."""
    return "" if r["steady"] else " time mean" if r.get("averaged") else " UNCONVERGED"


def unconverged_notice(records) -> list[str]:
    """Under the verdict, for each run that did not reach a steady state: what stalled,
    that its figures are its last iteration's, and its residual plot (none when all
    converged)."""
    lines = []
    means = [r for r in records if not r["steady"] and r.get("averaged")]
    if means:
        lines += ["**Time means: these runs have no steady state; their figures are means "
                  "over a window of implicit time steps, each with the standard error of "
                  "its parts' means.**", ""]
        for r in means:
            lines.append(f"- {LABEL[r['kind']]}: {r['averaged']}")
        lines.append("")
    bad = [r for r in records if not r["steady"] and not r.get("averaged")]
    if not bad:
        return lines
    lines += ["**UNCONVERGED: the figures of these runs are their last iteration's, not a "
              "steady state; every figure that uses them, savings included, is "
              "uncertain.**", ""]
    for r in bad:
        plot = f"runs/{r['kind']}.residuals.png"
        lines.append(f"- {LABEL[r['kind']]}: no steady state after {r['steps']:,} steps"
                     + (f": {r['stalled']}" if r.get("stalled") else "")
                     + f" (residual history: [{plot}]({plot}))")
    return lines + [""]


def _stream_rows(records) -> list[list]:
    """Each layout's heat streams to the plant: heat (kW), water temperatures (degC),
    hours of free cooling, partial and chiller operation, chiller energy (MWh)."""
    return [[LABEL[r["kind"]], s["name"], f"{s['heat'] / 1e3:.1f}",
             f"{s['supply_temperature'] - C0:.1f} / {s['return_temperature'] - C0:.1f}",
             s["free_hours"], s["partial_hours"], s["chiller_hours"], _mwh(s["chiller_kwh"])]
            for r in records for s in r["energy"]["streams"]]


def _sensitivity_section(climates, kinds, climate_objs, sens_rows, plots, primary
                         ) -> list[str]:
    """The climates (the same runs), then the re-simulated knobs or how to get them."""
    clim_rows = []
    for c, e in climates.items():
        s = savings_against_air(e)
        clim_rows.append([c] + [f"{e[k]['pue']:.3f}" for k in kinds] + [
            f"{100 * s[k]['cooling_with_server_fans']:.0f} / {100 * s[k]['non_it']:.0f} / "
            f"{100 * s[k]['facility']:.1f}" for k in kinds if k != "air_cooled"])
    parts = [
        "## Sensitivity", "",
        "Climates (the same runs; PUE, then the saving in % of cooling with server fans / "
        "non-IT / facility energy):",
        "",
        _md_table(["climate", *(f"PUE {LABEL[k]}" for k in kinds),
                   *(f"{LABEL[k]} saving %" for k in kinds if k != "air_cooled")], clim_rows),
        "", "\n".join(f"- {c.summary()}; {c.source}" for c in climate_objs), "",
        "![climates](sensitivity_climate.png)", ""]
    if not sens_rows:
        return parts + ["Supply temperature, rack density and chip power: run "
                        "`thermosim compare --sensitivity` (a new set of runs for each value).",
                        ""]
    parts += ["Re-simulated (each row a new run of every layout in "
              f"{primary}; savings against the air layout at the same setting):", "",
              _md_table(["knob", "value", "layout", "IT kW", "cooling+fans saving",
                         "non-IT saving", "facility saving", "PUE / air PUE", "steady"],
                        [[r["knob"], f"{r['value']:g}", LABEL[r["layout"]],
                          f"{r['it_power'] / 1e3:.1f}",
                          f"{100 * r['cooling_with_server_fans']:.1f} %",
                          f"{100 * r['non_it']:.1f} %", f"{100 * r['facility']:.1f} %",
                          f"{r['pue']:.3f} / {r['air_pue']:.3f}",
                          ("yes" if r["steady"] else "UNCONVERGED (last step)") +
                          (f"; {r['note']}" if r["note"] else "")]
                         for r in sens_rows]), ""]
    return parts + [f"![{p}]({p})" for p in plots if p.startswith("sensitivity_") and
                    p != "sensitivity_climate.png"] + [""]


def _assumptions(plant, sensitivity_steps: int) -> list[str]:
    """The energy model's parameters with their sources, and what is assumed beside them."""
    from .facility import SOURCES

    parts = ["## Assumptions and sources", "",
             "The runs give the heat to air and liquid, junction temperatures, fans' and "
             "pumps' hydraulic powers and coolant temperatures "
             "(each layout's parameters and sources: `thermosim/layouts.py`); the energy "
             "model adds (`thermosim/facility.py`):", ""]
    pd = plant.to_dict()
    for k, src in SOURCES.items():
        parts.append(f"- `{k}` = {pd[k]:.4g}: {src}" if isinstance(pd[k], float)
                     else f"- `{k}` = {pd[k]}: {src}")
    return parts + [
        "", "Also assumed (not parameters):", "",
        "- the IT load constant at its rating all year (no utilisation profile);",
        "- heat rejection through a water-side economizer and a water-cooled chiller "
        "for every layout; an air-side (outside-air) economizer, which would give the "
        "air layout more free hours, is not modelled;",
        "- fans at the speeds the layouts set, whatever the chip power or supply "
        "temperature (no fan-speed control: hotter chips run hotter, and leak more);",
        "- sensitivity runs that do not settle within "
        f"{sensitivity_steps:,} steps are reported at their last step, marked.",
        "", "Equations: `thermosim/facility.py`'s module text; the HDF5 fields of each run "
        "are in `runs/` (XDMF beside them for ParaView); every number above is in "
        "`results.h5`.", ""]

def _version() -> str:
    from .output import thermosim_version

    return thermosim_version()


def report_html(md: str) -> str:
    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark").enable("table").render(md)
    return ("<!doctype html><html><head><meta charset='utf-8'><title>thermosim compare"
            "</title><style>body{font-family:sans-serif;max-width:70em;margin:2em auto}"
            "table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:2px 6px}"
            "img{max-width:100%}</style></head><body>" + body + "</body></html>")


def write_results_h5(path: Path, records, climates, sens_rows, line):
    import h5py

    from .output import write_tree

    def clean(x):
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items() if v is not None}
        if isinstance(x, list):
            return {str(i): clean(v) for i, v in enumerate(x)}
        return x

    with h5py.File(path, "w") as f:
        f.attrs["verdict"] = line
        for r in records:
            g = f.create_group(r["kind"])
            write_tree(g.create_group("energy"), clean(r["energy"]))
            m = {k: v for k, v in r["metrics"].items()
                 if k in ("it_power", "heat_to_air", "heat_to_liquid", "pump_hydraulic_power",
                          "server_fan_hydraulic_power", "unit_fan_hydraulic_power",
                          "max_inlet_temperature", "energy_balance_error", "steady")}
            write_tree(g.create_group("metrics"), m)
            g.attrs["case"] = r["path"]
            g.attrs["converged"] = bool(r["steady"])
            if r.get("averaged"):
                g.attrs["time_averaged"] = r["averaged"]
            elif not r["steady"]:
                g.attrs["unconverged"] = f"UNCONVERGED: {r.get('stalled') or 'not steady'}"
        cg = f.create_group("climates")
        for c, e in climates.items():
            write_tree(cg.create_group(c), clean({"pue": {k: v["pue"] for k, v in e.items()},
                                                  "savings": savings_against_air(e)}))
        if sens_rows:
            sg = f.create_group("sensitivity")
            for k in sens_rows[0]:
                vals = [r[k] for r in sens_rows]
                sg[k] = np.array(vals, dtype="S") if isinstance(vals[0], str) else np.array(vals)


