"""``thermosim compare``: the air-cooled, liquid-cooled and immersion layouts at the same IT
load, simulated, turned into a year of facility energy (:mod:`thermosim.energy`), and
written up as a report folder: ``report.md`` and ``report.html`` (energy table, savings
against air in facility and cooling energy with the server fans explicit, the climates,
the assumptions and their sources, a one-line verdict on the claim that liquid cooling cuts
data-centre energy waste by up to 30 %), ``energy.png`` and the sensitivity
plots, each layout's hotspot picture and HDF5 result (``runs/``), and ``results.h5``
(every number of the report).

The claim is read two ways, both reported: the saving in cooling energy (the facility's
fans, pumps, chillers and towers *and* the server fans, which PUE counts as IT) and in
total facility energy; the table adds non-IT energy (PUE's overhead) and the overhead over
the IT load at its rating (which also holds the chips' leakage).  Sensitivity: the climates always (the energy model over each shipped
climate, the same runs); with ``--sensitivity`` also supply temperature, rack power
density and chip power, each a new set of runs.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

from .atomic import atomic_path
from .errors import CaseError

DEFAULT_CASES = ("air_cooled_quick", "liquid_cooled_quick", "immersion_quick")
MARK = ".thermosim-compare"        # in a report folder: what compare may replace
KINDS = ("air_cooled", "liquid_cooled", "immersion")
LABEL = {"air_cooled": "air", "liquid_cooled": "liquid (cold plates)",
         "immersion": "immersion"}
CLAIM = 0.30

# the sensitivity runs: each layout's parameter(s) for one knob; values are offsets (K)
# for the supply temperatures and factors for the densities and powers
SENSITIVITY = {
    "supply temperature offset (K)": {
        "values": (-5.0, 5.0),
        "keys": {"air_cooled": ["supply_temperature"],
                 "liquid_cooled": ["supply_temperature", "cdu_supply_temperature"],
                 "immersion": ["supply_temperature"]}, "op": "add"},
    "rack power density (servers per rack or tank, x)": {
        "values": (0.5, 1.5),
        "keys": {"air_cooled": ["servers_per_rack"], "liquid_cooled": ["servers_per_rack"],
                 "immersion": ["servers_per_tank"]}, "op": "mul_int"},
    "chip power (x)": {
        "values": (0.7, 1.3),
        "keys": {k: ["gpu_power", "cpu_power"] for k in KINDS}, "op": "mul"},
}


SENSITIVITY_STEPS = 40000


def _case_file(name: str) -> Path:
    from .cases import HERE

    p = Path(name)
    if p.exists():
        return p
    q = HERE / (name if name.endswith(".yaml") else f"{name}.yaml")
    if q.exists():
        return q
    raise CaseError(f"no case file '{name}' (and no shipped case of that name)")


def _raw(path: Path) -> dict:
    from .case import load_case

    from .inputs import check_values, read_yaml

    load_case(path)                      # every mistake reported before anything runs
    # the mapping as the case reads it (temperatures given with units in kelvin, so that
    # the sensitivity variants can add to them)
    return check_values(read_yaml(path), str(path))


def _layout_defaults(kind: str) -> dict:
    from .layouts import AIR_DEFAULTS, IMMERSION_DEFAULTS, LIQUID_DEFAULTS

    return {"air_cooled": AIR_DEFAULTS, "liquid_cooled": LIQUID_DEFAULTS,
            "immersion": IMMERSION_DEFAULTS}[kind]


def variant(data: dict, knob: str, value: float) -> dict:
    """The case mapping ``data`` (a ``layout:`` case) with one sensitivity knob moved."""
    spec = SENSITIVITY[knob]
    kind = data["layout"]
    out = copy.deepcopy(data)
    defaults = _layout_defaults(kind)
    for k in spec["keys"][kind]:
        base = out.get(k, defaults[k])
        if spec["op"] == "add":
            out[k] = float(base) + value
        elif spec["op"] == "mul":
            out[k] = float(base) * value
        else:
            out[k] = max(1, int(round(int(base) * value)))
    # a setting whose room does not settle stops at SENSITIVITY_STEPS (reported as not
    # steady) rather than marching for the layouts' 200,000
    out["max_steps"] = min(int(out.get("max_steps", defaults["max_steps"])), SENSITIVITY_STEPS)
    return out


def _render(h5, png, log, noted: list) -> bool:
    """Draw a layout's picture (VTK in a child process, else matplotlib slices); the note
    of a fallback is logged once a comparison (``noted``), a picture that fails altogether
    one line: the report goes on without it."""
    try:
        from .view import render_layout

        info = render_layout(h5, png)
    except Exception as e:       # noqa: BLE001 (a picture is not worth the report)
        log(f"  picture {png.name} not drawn ({type(e).__name__}: {e})")
        return False
    if info.get("note") and not noted:
        log(f"  {info['note']}")
        noted.append(info["note"])
    return True


def run_layouts(paths, workdir: Path, backend: str, plant, log, cache: Path | None = None
                ) -> list[dict]:
    """Simulate each case; save its result and picture under ``workdir/runs``; return one
    record a layout (kind, case, metrics, energy).  With ``cache`` a run of the same case
    and backend kept there is used instead of running again (and each new run is kept)."""
    from .case import Case
    from .study import case_key, jsonable
    from .energy import facility_energy
    from .sizing import check_case
    from .study import simulate

    (workdir / "runs").mkdir(parents=True, exist_ok=True)
    loaded = []
    for path in paths:
        data = _raw(path)
        case = Case.from_dict(copy.deepcopy(data), str(path))
        kind = (case.layout or {}).get("kind")
        if kind not in KINDS or not isinstance(data.get("layout"), str):
            raise CaseError(f"{path}: not an air_cooled, liquid_cooled or immersion layout "
                            "file (layout: NAME with its parameters; compare needs rack "
                            "layouts)")
        if not case.flow.chips:
            raise CaseError(f"{path}: a layout without chips has no junctions to report")
        check_case(case, backend)      # every layout's size before the first run
        loaded.append((path, data, case, kind))
    kinds = [x[3] for x in loaded]
    if "air_cooled" not in kinds or len(set(kinds)) != len(kinds):
        raise CaseError("compare needs one air_cooled layout (the baseline) and at most one "
                        f"of each other kind (got {', '.join(kinds)})")
    loads = [x[2].layout["it_power"] for x in loaded]
    if max(loads) - min(loads) > 1e-6 * max(loads):
        raise CaseError("the layouts carry different IT loads ("
                        + ", ".join(f"{LABEL[k]} {p / 1e3:.2f} kW" for k, p in zip(kinds, loads))
                        + "): give cases with the same servers and chip powers")
    records = []
    noted: list = []                    # a picture's fallback note: said once
    for path, data, case, kind in loaded:
        log(f"{LABEL[kind]}: {path.name}, {case.layout['it_power'] / 1e3:.1f} kW of IT")
        names = [f"{kind}.h5", f"{kind}.xdmf", f"{kind}.png"]
        held = cache / case_key(data, backend, str(path)) if cache else None
        if held is not None and (held / "run.json").exists():
            run = json.loads((held / "run.json").read_text())
            for n in names:
                if (held / n).exists():
                    shutil.copy2(held / n, workdir / "runs" / n)
            log(f"  the run of {run['when']} (same case): not run again")
        else:
            t0 = time.perf_counter()
            result = simulate(case, backend, log)
            wall = time.perf_counter() - t0
            if not result.stats.converged:
                log(f"  {case.name}: not steady after {result.stats.steps} steps: its numbers "
                    "are those of the last step")
            h5 = workdir / "runs" / names[0]
            result.save(h5)
            run = {"metrics": jsonable(result.metrics()), "wall": wall,
                   "steps": int(result.stats.steps), "steady": bool(result.stats.converged),
                   "when": time.strftime("%Y-%m-%d %H:%M")}
            if held is not None:
                held.mkdir(parents=True, exist_ok=True)
                for n in names[:2]:
                    if (workdir / "runs" / n).exists():
                        shutil.copy2(workdir / "runs" / n, held / n)
                tmp = held / "run.json.tmp"
                tmp.write_text(json.dumps(run))
                os.replace(tmp, held / "run.json")       # last: the run is whole
        # the picture only after the run is kept: whatever drawing does, the run is not lost
        # (a kept run without its picture, as one left by an interruption, gets it now)
        png = workdir / "runs" / names[2]
        if not png.exists() and _render(workdir / "runs" / names[0], png, log, noted) \
                and held is not None:
            with atomic_path(held / names[2], suffix=".tmp.png") as part:
                shutil.copy2(png, part)
        m = run["metrics"]
        e = facility_energy(m, case.layout, plant)
        log(f"  steady={run['steady']} after {run['steps']} steps, {run['wall']:.0f} s;"
            f" hottest junction {max(c['junction_temperature'] for c in m['chips']) - 273.15:.1f}"
            f" degC; PUE {e['pue']:.3f}")
        records.append({"kind": kind, "path": str(path), "data": data, "case": case,
                        "metrics": m, "energy": e, "wall": run["wall"], "steps": run["steps"],
                        "steady": run["steady"], "png": names[2] if png.exists() else None})
    return records


def _climates(records, plant, names):
    """Energy of every layout in every climate (the same runs)."""
    from dataclasses import replace

    from .energy import facility_energy

    from .climate import load

    out = {}
    for name in names:
        p = replace(plant, climate=name)
        out[load(name).name] = {r["kind"]: facility_energy(r["metrics"], r["case"].layout, p)
                                for r in records}
    return out


def _savings(energies: dict) -> dict:
    from .energy import savings

    base = energies["air_cooled"]
    return {k: savings(base, e) for k, e in energies.items() if k != "air_cooled"}


def sensitivity_runs(records, backend, plant, log, knobs=None, cache: Path | None = None
                     ) -> list[dict]:
    """For each knob and value, every layout re-simulated (or taken from ``cache``); the
    rows of the savings."""
    from dataclasses import asdict

    from .study import case_key, point_key, run_point

    rows = []
    energy = asdict(plant)
    for knob in knobs or SENSITIVITY:
        for value in SENSITIVITY[knob]["values"]:
            per = {}
            for r in records:
                data = variant(r["data"], knob, value)
                key = point_key({"run": case_key(data, backend, r["path"])}, energy)
                held = cache / f"{key}.json" if cache else None
                if held is not None and held.exists():
                    row = json.loads(held.read_text())
                    log(f"sensitivity: {knob} = {value:g}, {LABEL[r['kind']]}: run before")
                else:
                    log(f"sensitivity: {knob} = {value:g}, {LABEL[r['kind']]}")
                    # a room that does not settle is a finding here, not a failure: its
                    # last step, marked not steady
                    row = run_point(data, energy, backend, r["path"], log=log,
                                    unsteady_ok=True)
                    if held is not None and row.get("status") == "ok":
                        held.parent.mkdir(parents=True, exist_ok=True)
                        held.with_suffix(".tmp").write_text(json.dumps(row))
                        os.replace(held.with_suffix(".tmp"), held)
                if row.get("status") != "ok":
                    raise CaseError(f"sensitivity run failed ({knob} = {value}): "
                                    f"{row.get('error')}")
                per[r["kind"]] = row
            loads = [row["it_power"] for row in per.values()]
            if max(loads) - min(loads) > 1e-6 * max(loads):
                raise CaseError(f"sensitivity {knob} = {value}: the layouts' IT loads differ "
                                f"({', '.join(f'{x / 1e3:.2f} kW' for x in loads)})")
            base = per["air_cooled"]

            def saving(row, q):
                # a point whose energy could not be had (a chip in thermal runaway) is
                # reported without a saving
                a, b = base.get(f"{q}_kwh"), row.get(f"{q}_kwh")
                return 1 - b / a if a and b is not None else float("nan")
            for kind, row in per.items():
                if kind == "air_cooled":
                    continue
                rows.append({"knob": knob, "value": value, "layout": kind,
                             "it_power": row["it_power"],
                             **{q: saving(row, q) for q in ("facility", "overhead", "non_it",
                                                            "cooling_with_server_fans")},
                             "pue": row.get("pue", float("nan")),
                             "air_pue": base.get("pue", float("nan")),
                             "steady": bool(row.get("converged", False) and
                                            base.get("converged", False)),
                             "note": "; ".join(x for x in (base.get("energy_error"),
                                                           row.get("energy_error")) if x)})
    return rows


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


# -- the report ---------------------------------------------------------------------------

def _plots(out: Path, records, climates, sens_rows) -> list[str]:
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
    sv = {c: _savings(e) for c, e in climates.items()}
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


def report_markdown(records, plant, climates, sens_rows, plots, line, climate_objs=()
                    ) -> str:
    from .energy import SOURCES

    C0 = 273.15
    primary = records[0]["energy"]["climate"]
    sv = _savings({r["kind"]: r["energy"] for r in records})
    mwh = lambda v: f"{v / 1e3:.1f}"     # noqa: E731
    kinds = [r["kind"] for r in records]
    en = {r["kind"]: r["energy"] for r in records}
    rows = []
    for key, label in [("compute", "compute: IT at its rating"),
                       ("leakage_change", "chip leakage change at the run's junctions"),
                       ("server_fans", "**server fans** (inside IT)"), ("it", "IT (PUE's denominator)"),
                       ("crah_fans", "CRAH fans"), ("loop_pumps", "CDU / tank pumps"),
                       ("plant_pumps", "facility water pumps"), ("chiller", "chiller"),
                       ("tower_fans", "cooling tower fans"), ("cooling", "cooling (facility)"),
                       ("cooling_with_server_fans", "**cooling with server fans**"),
                       ("power_losses", "UPS and distribution"),
                       ("facility", "**facility**"), ("non_it", "non-IT (PUE's overhead)"),
                       ("overhead", "facility less the IT load at its rating")]:
        rows.append([label] + [mwh(en[k]["annual_kwh"][key]) for k in kinds])
    rows.append(["PUE"] + [f"{en[k]['pue']:.3f}" for k in kinds])
    for sub in ("cooling", "power", "chiller", "fans_and_pumps"):
        rows.append([f"partial PUE, {sub.replace('_', ' ')}"] +
                    [f"{en[k]['ppue'][sub]:.3f}" for k in kinds])
    rows.append(["ITUE / TUE"] + [f"{en[k]['itue']:.3f} / {en[k]['tue']:.3f}" for k in kinds])
    sims = []
    for r in records:
        m = r["metrics"]
        tj = max(c["junction_temperature"] for c in m["chips"]) - C0
        cl = m["coolant"]
        sims.append([LABEL[r["kind"]], f"{r['steps']:,}" + ("" if r["steady"] else " (not steady)"),
                     f"{m['it_power'] / 1e3:.1f}", f"{m['heat_to_air'] / 1e3:.1f} / "
                     f"{m['heat_to_liquid'] / 1e3:.1f}", f"{tj:.1f}",
                     f"{r['energy']['it']['hottest_junction_with_leakage'] - C0:.1f}",
                     f"{m['server_fan_hydraulic_power']:.0f}",
                     f"{m['unit_fan_hydraulic_power']:.0f}", f"{m['pump_hydraulic_power']:.0f}",
                     (f"{cl['supply_temperature'] - C0:.1f} / {cl['return_temperature'] - C0:.1f}"
                      if cl.get("flow") else "-")])
    streams = []
    for r in records:
        for s in r["energy"]["streams"]:
            streams.append([LABEL[r["kind"]], s["name"], f"{s['heat'] / 1e3:.1f}",
                            f"{s['supply_temperature'] - C0:.1f} / {s['return_temperature'] - C0:.1f}",
                            s["free_hours"], s["partial_hours"], s["chiller_hours"],
                            mwh(s["chiller_kwh"])])
    clim_rows = []
    for c, e in climates.items():
        s = _savings(e)
        clim_rows.append([c] + [f"{e[k]['pue']:.3f}" for k in kinds] + [
            f"{100 * s[k]['cooling_with_server_fans']:.0f} / {100 * s[k]['non_it']:.0f} / "
            f"{100 * s[k]['facility']:.1f}" for k in kinds if k != "air_cooled"])
    parts = [
        "# Air, liquid and immersion cooling: a year of facility energy", "",
        f"Generated by thermosim {_version()} on {time.strftime('%Y-%m-%d %H:%M')}; "
        f"climate {primary}; the same IT load in each layout "
        f"({records[0]['metrics']['it_power'] / 1e3:.1f} kW).", "",
        f"**{line}**", "",
        "## Savings against air", "",
        _md_table(["layout", "cooling with server fans", "cooling without server fans",
                   "non-IT (PUE overhead)", "facility", "facility less rated IT"],
                  [[LABEL[k], *(f"{100 * sv[k][q]:.1f} %" for q in
                                ("cooling_with_server_fans", "cooling", "non_it", "facility",
                                 "overhead"))] for k in sv]), "",
        "Where the facility saving comes from (each part's change against air, in % of "
        "the air layout's facility energy; they add up to the facility saving):", "",
        _md_table(["layout", *(lab for _, lab in DELTAS), "facility"],
                  [[LABEL[k], *(f"{100 * (en['air_cooled']['annual_kwh'][q] - en[k]['annual_kwh'][q]) / en['air_cooled']['annual_kwh']['facility']:.1f}"
                                for q, _ in DELTAS),
                    f"{100 * sv[k]['facility']:.1f}"] for k in sv]), "",
        "## Annual energy (MWh)", "",
        _md_table(["", *(LABEL[k] for k in kinds)], rows), "",
        "![energy](energy.png)", "",
        "## What the runs found", "",
        _md_table(["layout", "steps", "IT kW", "to air / liquid kW", "hottest junction degC",
                   "with leakage degC", "server fans W (hydraulic)", "CRAH fans W (hydraulic)",
                   "pumps W (hydraulic)", "coolant supply / return degC"], sims), "",
        "## Heat rejection", "",
        _md_table(["layout", "stream", "heat kW", "water supply / return degC",
                   "free-cooling hours", "partial hours", "chiller hours", "chiller MWh"],
                  streams), "",
        "## Sensitivity", "",
        "Climates (the same runs; PUE, then the saving in % of cooling with server fans / "
        "non-IT / facility energy):",
        "",
        _md_table(["climate", *(f"PUE {LABEL[k]}" for k in kinds),
                   *(f"{LABEL[k]} saving %" for k in kinds if k != "air_cooled")], clim_rows),
        "", "\n".join(f"- {c.summary()}; {c.source}" for c in climate_objs), "",
        "![climates](sensitivity_climate.png)", ""]
    if sens_rows:
        parts += ["Re-simulated (each row a new run of every layout in "
                  f"{primary}; savings against the air layout at the same setting):", "",
                  _md_table(["knob", "value", "layout", "IT kW", "cooling+fans saving",
                             "non-IT saving", "facility saving", "PUE / air PUE", "steady"],
                            [[r["knob"], f"{r['value']:g}", LABEL[r["layout"]],
                              f"{r['it_power'] / 1e3:.1f}",
                              f"{100 * r['cooling_with_server_fans']:.1f} %",
                              f"{100 * r['non_it']:.1f} %", f"{100 * r['facility']:.1f} %",
                              f"{r['pue']:.3f} / {r['air_pue']:.3f}",
                              ("yes" if r["steady"] else "no (last step)") +
                              (f"; {r['note']}" if r["note"] else "")]
                             for r in sens_rows]), ""]
        parts += [f"![{p}]({p})" for p in plots if p.startswith("sensitivity_") and
                  p != "sensitivity_climate.png"] + [""]
    else:
        parts += ["Supply temperature, rack density and chip power: run "
                  "`thermosim compare --sensitivity` (a new set of runs for each value).", ""]
    parts += ["## Hotspots", ""]
    for r in records:
        if r["png"]:
            parts += [f"### {LABEL[r['kind']]}", "", f"![{r['kind']}](runs/{r['png']})", ""]
    parts += ["## Assumptions and sources", "",
              "The runs give the heat to air and liquid, junction temperatures, fans' and "
              "pumps' hydraulic powers and coolant temperatures "
              "(each layout's parameters and sources: `thermosim/layouts.py`); the energy "
              "model adds (`thermosim/energy.py`):", ""]
    pd = plant.to_dict()
    for k, src in SOURCES.items():
        parts.append(f"- `{k}` = {pd[k]:.4g}: {src}" if isinstance(pd[k], float)
                     else f"- `{k}` = {pd[k]}: {src}")
    parts += ["", "Also assumed (not parameters):", "",
              "- the IT load constant at its rating all year (no utilisation profile);",
              "- heat rejection through a water-side economizer and a water-cooled chiller "
              "for every layout; an air-side (outside-air) economizer, which would give the "
              "air layout more free hours, is not modelled;",
              "- fans at the speeds the layouts set, whatever the chip power or supply "
              "temperature (no fan-speed control: hotter chips run hotter, and leak more);",
              "- sensitivity runs that do not settle within "
              f"{SENSITIVITY_STEPS:,} steps are reported at their last step, marked.",
              "", "Equations: `thermosim/energy.py`'s module text; the HDF5 fields of each run "
              "are in `runs/` (XDMF beside them for ParaView); every number above is in "
              "`results.h5`.", ""]
    return "\n".join(parts)


def _version() -> str:
    from .output import thermosim_version

    return thermosim_version()


def _html(md: str) -> str:
    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark").enable("table").render(md)
    return ("<!doctype html><html><head><meta charset='utf-8'><title>thermosim compare"
            "</title><style>body{font-family:sans-serif;max-width:70em;margin:2em auto}"
            "table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:2px 6px}"
            "img{max-width:100%}</style></head><body>" + body + "</body></html>")


def _results_h5(path: Path, records, climates, sens_rows, line):
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
        cg = f.create_group("climates")
        for c, e in climates.items():
            write_tree(cg.create_group(c), clean({"pue": {k: v["pue"] for k, v in e.items()},
                                                  "savings": _savings(e)}))
        if sens_rows:
            sg = f.create_group("sensitivity")
            for k in sens_rows[0]:
                vals = [r[k] for r in sens_rows]
                sg[k] = np.array(vals, dtype="S") if isinstance(vals[0], str) else np.array(vals)


def compare(cases=None, out="compare_report", backend: str = "auto", plant=None,
            climates=None, sensitivity: bool = False, log=print, fresh: bool = False) -> dict:
    """Run the comparison and write the report folder ``out`` (replaced at the end, never
    left half-written; an existing ``out`` must be an earlier report).  Every run is kept
    in ``.OUT.cache`` beside it: an interrupted comparison, or one with another climate or
    plant, does not run the same layouts again (``fresh``: run everything again); the
    sensitivity runs are kept per plant (another plant or climate runs them again).  Returns the records, climate energies,
    sensitivity rows and verdict."""
    from .climate import shipped
    from .energy import Plant

    plant = plant or Plant()
    paths = [_case_file(c) for c in (cases or DEFAULT_CASES)]
    climate_names = list(dict.fromkeys([plant.climate, *(climates or shipped())]))
    from .climate import load as load_climate

    for c in climate_names:
        load_climate(c)                         # a bad climate stops before any run
    out = Path(out).resolve()
    if out.exists() and not (out / MARK).exists():
        raise CaseError(f"{out} exists and is not a report of thermosim compare: give a new "
                        "folder (an earlier report is replaced, nothing else)")
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    os.chmod(work, 0o755)
    try:
        cache = out.parent / f".{out.name}.cache"
        if fresh:
            shutil.rmtree(cache, ignore_errors=True)
        records = run_layouts(paths, work, backend, plant, log, cache)
        records.sort(key=lambda r: KINDS.index(r["kind"]))
        clim = _climates(records, plant, climate_names)
        sens = sensitivity_runs(records, backend, plant, log,
                                sensitivity if isinstance(sensitivity, (list, tuple)) else None,
                                cache / "sensitivity") if sensitivity else []
        sv = {c: _savings(e) for c, e in clim.items()}
        line = verdict(sv, load_climate(plant.climate).name)
        plots = _plots(work, records, clim, sens)
        md = report_markdown(records, plant, clim, sens, plots, line,
                             [load_climate(c) for c in climate_names])
        (work / "report.md").write_text(md)
        (work / "report.html").write_text(_html(md))
        _results_h5(work / "results.h5", records, clim, sens, line)
        (work / "plant.yaml").write_text(yaml.safe_dump(plant.to_dict(), sort_keys=False))
        (work / MARK).write_text(line + "\n")
        if out.exists():
            # the old report aside first, so that an interruption between the two renames
            # leaves one of them whole (the old one under .NAME.old)
            old = out.with_name(f".{out.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(out, old)
            os.replace(work, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(work, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"records": records, "climates": clim, "sensitivity": sens, "verdict": line,
            "out": out}
