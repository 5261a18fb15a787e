"""``thermosim compare``: the air-cooled, liquid-cooled and immersion layouts at the same IT
load, simulated, turned into a year of facility energy (:mod:`thermosim.facility`), and
written up as a report folder: ``report.md`` and ``report.html`` (energy table, savings
against air in facility and cooling energy with the server fans explicit, the climates,
the assumptions and their sources, a one-line verdict on the claim that liquid cooling cuts
data-centre energy waste by up to 30 %), ``energy.png`` and the sensitivity
plots, each layout's hotspot picture and HDF5 result (``runs/``), and ``results.h5``
(every number of the report).

The claim is read two ways, both reported: the saving in cooling energy (the facility's
fans, pumps, chillers and towers *and* the server fans, which PUE counts as IT) and in
total facility energy; the table adds non-IT energy (PUE's overhead) and the overhead over
the IT load at its rating (which also holds the chips' leakage).  Sensitivity: the
climates always (the energy model over each shipped climate, the same runs); with
``--sensitivity`` also supply temperature, rack power density and chip power, each a new
set of runs.  This module runs the layouts; :mod:`thermosim.compare_report` writes the
report.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import tempfile
from pathlib import Path

import yaml

from .atomic import atomic_path
from .compare_report import LABEL, draw_plots, report_html, report_markdown, \
    savings_against_air, verdict, write_results_h5
from .compare_workers import run_ahead, run_or_reuse
from .errors import CaseError

#: the README's main command, the finest meshes that fit its few minutes on 2 cores: the
#: halls on the grid study's finest mesh (0.2 m / 1.3^2; steady in 777 and 865 outer
#: iterations, 127-167 s and 136-180 s side by side, 2026-12-05: the report in 148 s), the
#: tanks on their quick one (0.05 m: on finer ones they have no steady state, and their
#: time means took 188 s and 558 s in the grid study).  Finer halls: the 0.1 m cold-plate
#: hall's residual was still 7e-2 after 1,000 outer iterations
DEFAULT_CASES = ("air_cooled_medium", "liquid_cooled_medium", "immersion_quick")
#: what ``--resolutions`` refines by its ratio: the quick meshes (0.2 m halls, 0.05 m tanks)
QUICK_CASES = ("air_cooled_quick", "liquid_cooled_quick", "immersion_quick")
MARK = ".thermosim-compare"        # in a report folder: what compare may replace
KINDS = ("air_cooled", "liquid_cooled", "immersion")

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


def _load_layouts(paths, backend: str, method: str | None = None) -> list[tuple]:
    """(path, mapping, case, kind) of each case file, every one checked before any runs:
    a rack layout with chips, its size on ``backend``; one air_cooled layout and at most
    one of each other kind, all at the same IT load.  ``method``: the flow solver's, set
    on every layout (:func:`thermosim.compare_grids.with_method`)."""
    from .case import Case
    from .compare_grids import with_method
    from .sizing import check_case

    loaded = []
    for path in paths:
        data = with_method(_raw(path), method, path)
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
    return loaded


def run_state(run: dict) -> str:
    """``steady``, ``time-averaged`` (no steady state; its mean over a window) or
    ``UNCONVERGED`` (its last iteration)."""
    return "steady" if run["steady"] else "time-averaged" if run.get("averaged") else \
        "UNCONVERGED"


def run_layouts(paths, workdir: Path, backend: str, plant, log, cache: Path | None = None,
                *, loaded: list | None = None, pictures: bool = True,
                method: str | None = None, ahead=frozenset()) -> list[dict]:
    """Simulate each case; save its result and picture under ``workdir/runs``; return one
    record a layout (kind, case, metrics, energy).  With ``cache`` a run of the same case
    and backend kept there is used instead of running again (and each new run is kept).
    ``loaded``: the layouts as :func:`_load_layouts` gives them (then ``paths`` is not
    read); ``pictures`` False draws no hotspot pictures (the coarser meshes of a grid
    study); ``ahead``: the cache keys of the runs made by workers beforehand
    (:mod:`thermosim.compare_workers`)."""
    from .facility import facility_energy

    (workdir / "runs").mkdir(parents=True, exist_ok=True)
    loaded = loaded if loaded is not None else _load_layouts(paths, backend, method)
    records = []
    noted: list = []                    # a picture's fallback note: said once
    for path, data, case, kind in loaded:
        log(f"{LABEL[kind]}: {path.name}, {case.layout['it_power'] / 1e3:.1f} kW of IT")
        run, held = run_or_reuse(path, data, case, kind, workdir, backend, log, cache,
                                 ahead)
        # the picture only after the run is kept: whatever drawing does, the run is not lost
        # (a kept run without its picture, as one left by an interruption, gets it now)
        png = workdir / "runs" / f"{kind}.png"
        if pictures and not png.exists() and \
                _render(workdir / "runs" / f"{kind}.h5", png, log, noted) and held is not None:
            with atomic_path(held / png.name, suffix=".tmp.png") as part:
                shutil.copy2(png, part)
        m = run["metrics"]
        e = facility_energy(m, case.layout, plant)
        batch_energy = [facility_energy(b, case.layout, plant)
                        for b in run.get("batch_metrics", [])]
        unit = "outer iterations" if case.flow.method == "simplec" else "steps"
        log(f"  {run_state(run)} after {run['steps']} {unit}, "
            f"{run['wall']:.0f} s;"
            f" hottest junction {max(c['junction_temperature'] for c in m['chips']) - 273.15:.1f}"
            f" degC; PUE {e['pue']:.3f}")
        records.append({"kind": kind, "path": str(path), "data": data, "case": case,
                        "metrics": m, "energy": e, "wall": run["wall"], "steps": run["steps"],
                        "steady": run["steady"], "stalled": run.get("stalled", ""),
                        "averaged": run.get("averaged", ""),
                        "batch_metrics": run.get("batch_metrics", []),
                        "batch_energy": batch_energy,
                        "png": png.name if png.exists() else None})
    return records


def _climates(records, plant, names):
    """Energy of every layout in every climate (the same runs)."""
    from dataclasses import replace

    from .facility import facility_energy

    from .climate import load

    out = {}
    for name in names:
        p = replace(plant, climate=name)
        out[load(name).name] = {r["kind"]: facility_energy(r["metrics"], r["case"].layout, p)
                                for r in records}
    return out




def sensitivity_runs(records, backend, plant, log, knobs=None, cache: Path | None = None,
                     workers: int | None = 1) -> list[dict]:
    """For each knob and value, every layout re-simulated (or taken from ``cache``; those
    not kept there in up to ``workers`` processes at once, None: one per core); the rows of
    the savings."""
    from dataclasses import asdict

    from .study import case_key, point_key

    energy = asdict(plant)
    points = []                         # (knob, value, record, its variant, the run's key)
    for knob in knobs or SENSITIVITY:
        for value in SENSITIVITY[knob]["values"]:
            for r in records:
                data = variant(r["data"], knob, value)
                key = point_key({"run": case_key(data, backend, r["path"])}, energy)
                points.append((knob, value, r, data, key))
    got = _sensitivity_rows(points, energy, backend, log, cache, workers)
    rows = []
    for i in range(0, len(points), len(records)):
        knob, value = points[i][:2]
        per = {}
        for _, _, r, _, key in points[i:i + len(records)]:
            row = got[key]
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


def _sensitivity_rows(points, energy: dict, backend: str, log, cache: Path | None,
                      workers: int | None) -> dict:
    """Each sensitivity point's run row by its key: kept in ``cache`` before, or run (in
    up to ``workers`` processes when more than one can run at once, else here) and kept.
    A room that does not settle is a finding here, not a failure: its last step, marked
    not steady."""
    import functools

    from .case import Case
    from .compare_workers import worker_count
    from .study import _run_locally, run_point

    got, todo = {}, {}
    for knob, value, r, data, key in points:
        held = cache / f"{key}.json" if cache else None
        if held is not None and held.exists():
            got[key] = json.loads(held.read_text())
            log(f"sensitivity: {knob} = {value:g}, {LABEL[r['kind']]}: run before")
        elif key not in todo:
            todo[key] = (data, r["path"], f"sensitivity: {knob} = {value:g}, "
                                          f"{LABEL[r['kind']]}")

    def finish(key, row):
        got[key] = row
        held = cache / f"{key}.json" if cache else None
        if held is not None and row.get("status") == "ok":
            held.parent.mkdir(parents=True, exist_ok=True)
            held.with_suffix(".tmp").write_text(json.dumps(row))
            os.replace(held.with_suffix(".tmp"), held)

    n = 1 if workers == 1 or len(todo) < 2 else worker_count(
        [Case.from_dict(copy.deepcopy(d), str(p)) for d, p, _ in todo.values()], backend,
        workers)
    if n > 1:
        log(f"sensitivity: {len(todo)} runs in {n} worker processes")
        fn = functools.partial(run_point, unsteady_ok=True)

        def done(key, row):
            finish(key, row)
            log(f"{todo[key][2]}: {row.get('wall_time', 0.0):.0f} s")
        _run_locally(n, list(todo), lambda k: (todo[k][0], energy, backend, todo[k][1]),
                     done, fn)
        return got
    for key, (data, path, label) in todo.items():
        log(label)
        finish(key, run_point(data, energy, backend, path, log=log, unsteady_ok=True))
    return got


def run_meshes(paths, workdir: Path, backend: str, plant, log, cache: Path | None,
               ratio: float, method: str | None = None, workers: int | None = 1
               ) -> list[list[dict]]:
    """Every layout on :data:`thermosim.compare_grids.MESHES` meshes, its cell size divided
    by ``ratio`` from one to the next (the files' own first), coarse to fine; every mesh's
    size checked before the first run.  The finest mesh's runs and pictures go to
    ``workdir/runs`` (the report's), the others' to ``workdir/meshes/meshN/runs``; the
    nine runs in up to ``workers`` processes at once (None: one per core).
    Returns each mesh's records (:func:`run_layouts`), coarse first."""
    from .case import Case
    from .compare_grids import MESHES, mesh_size, refined
    from .sizing import check_case

    base = _load_layouts(paths, backend, method)
    levels = [base]
    for k in range(1, MESHES):
        level = []
        for path, data, _, kind in base:
            d = refined(data, ratio, k)
            case = Case.from_dict(copy.deepcopy(d), str(path))
            check_case(case, backend)          # the finest mesh refused before any run
            level.append((path, d, case, kind))
        levels.append(level)
    dirs = [workdir if k == len(levels) - 1 else workdir / "meshes" / f"mesh{k + 1}"
            for k in range(len(levels))]
    ahead = run_ahead([(*job, d) for loaded, d in zip(levels, dirs) for job in loaded],
                      backend, cache, log, workers)
    out = []
    for k, loaded in enumerate(levels):
        last = k == len(levels) - 1
        log(f"mesh {k + 1} of {len(levels)}: " + ", ".join(
            f"{LABEL[kind]} {mesh_size(case)[0]:,.0f} cells" for _, _, case, kind in loaded))
        out.append(run_layouts(None, dirs[k], backend, plant, log, cache, loaded=loaded,
                               pictures=last, ahead=ahead))
    return out


def _one_mesh(paths, work: Path, backend: str, plant, log, cache: Path, method, workers
              ) -> list[dict]:
    """The layouts' records on their own meshes, the runs side by side in up to
    ``workers`` processes first (:func:`run_layouts`, :func:`run_ahead`)."""
    loaded = _load_layouts(paths, backend, method)
    ahead = run_ahead([(*job, work) for job in loaded], backend, cache, log, workers)
    return run_layouts(None, work, backend, plant, log, cache, loaded=loaded, ahead=ahead)


def compare(cases=None, out="compare_report", backend: str = "auto", plant=None,
            climates=None, sensitivity: bool = False, log=print, fresh: bool = False,
            resolutions: bool = False, ratio: float | None = None,
            method: str | None = None, workers: int | None = 1) -> dict:
    """Run the comparison and write the report folder ``out`` (replaced at the end, never
    left half-written; an existing ``out`` must be an earlier report).  Every run is kept
    in ``.OUT.cache`` beside it: an interrupted comparison, or one with another climate or
    plant, does not run the same layouts again (``fresh``: run everything again); the
    sensitivity runs are kept per plant (another plant or climate runs them again).
    ``resolutions``: every layout on three meshes (:func:`run_meshes`, cell sizes divided
    by ``ratio``), the report the finest's with the grid study added
    (:mod:`thermosim.compare_grids`).  ``method``: the flow solver's for every run.
    ``workers``: the layouts' runs in up to that many processes at once (None: one per
    core; :mod:`thermosim.compare_workers`).
    Returns the records, climate energies, sensitivity rows, verdict and grid study."""
    from .climate import shipped
    from .compare_grids import (DEFAULT_RATIO, check_ratio, grid_study, with_grid_section,
                                write_grid_results)
    from .facility import Plant

    plant = plant or Plant()
    paths = [_case_file(c) for c in (cases or (QUICK_CASES if resolutions else DEFAULT_CASES))]
    climate_names = list(dict.fromkeys([plant.climate, *(climates or shipped())]))
    from .climate import load as load_climate

    for c in climate_names:
        load_climate(c)                         # a bad climate stops before any run
    ratio = check_ratio(DEFAULT_RATIO if ratio is None else ratio) if resolutions else None
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
        levels = run_meshes(paths, work, backend, plant, log, cache, ratio, method,
                            workers) if resolutions else \
            [_one_mesh(paths, work, backend, plant, log, cache, method, workers)]
        records = levels[-1]
        records.sort(key=lambda r: KINDS.index(r["kind"]))
        clim = _climates(records, plant, climate_names)
        sens = sensitivity_runs(records, backend, plant, log,
                                sensitivity if isinstance(sensitivity, (list, tuple)) else None,
                                cache / "sensitivity", workers) if sensitivity else []
        sv = {c: savings_against_air(e) for c, e in clim.items()}
        line = verdict(sv, load_climate(plant.climate).name)
        plots = draw_plots(work, records, clim, sens)
        md = report_markdown(records, plant, clim, sens, plots, line,
                             [load_climate(c) for c in climate_names],
                             sensitivity_steps=SENSITIVITY_STEPS)
        study = grid_study(levels, ratio) if resolutions else None
        if study:
            md = with_grid_section(md, study)
        (work / "report.md").write_text(md)
        (work / "report.html").write_text(report_html(md))
        write_results_h5(work / "results.h5", records, clim, sens, line)
        if study:
            write_grid_results(work, study)
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
            "grid": study,
            "out": out}
