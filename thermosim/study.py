"""Running cases for studies: one point (a case mapping, perhaps varied) to a row of
results, and ``thermosim sweep`` (a grid or list of values over any case field, run in
parallel locally or on a Dask cluster, resumable, one table in CSV and HDF5).

A sweep file::

    case: air_cooled_quick.yaml      # the base case: a path (relative to this file) or a
                                     # case shipped with thermosim (air_cooled_quick, ...)
    grid:                            # every combination (or ``list:``, one mapping a point)
      supply_temperature: [291.15, 295.15, 299.15]
      gpu_power: [500.0, 700.0]
    energy: {climate: greensboro}    # the facility energy model's parameters (thermosim.facility)
    workers: 2                       # local processes (default: one a core, at most the points)
    backend: cpu                     # auto | cpu | gpu

Keys are dotted paths into the case file (``blocks[2].power``, ``powers.die``,
``flow.tolerance``) or into the energy model (``energy.climate``).
"""

from __future__ import annotations

import copy
import csv
import hashlib
import json
import os
import re
import time
from pathlib import Path

import numpy as np

from .errors import CaseError
from .sizing import check_case, check_sweep_points

_KEY = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _path_parts(key: str) -> list:
    parts = []
    for name, index in _KEY.findall(key):
        parts.append(int(index) if index else name)
    if not parts or "".join(str(p) for p in parts) == "":
        raise CaseError(f"'{key}' is not a dotted key (a.b[2].c)")
    return parts


def set_field(data: dict, key: str, value, where: str = "sweep") -> None:
    """Set ``key`` (a dotted path with [i] indices) in the nested mapping ``data``; missing
    mapping keys are added (``powers.die`` where the case has no ``powers`` yet: the case's
    own checks then judge the result), a missing list item is an error."""
    parts = _path_parts(key)
    node = data
    for i, p in enumerate(parts[:-1]):
        if isinstance(node, dict) and isinstance(p, str) and p not in node:
            node[p] = {}
        try:
            node = node[p]
        except (KeyError, IndexError, TypeError):
            raise CaseError(f"{where}: {key}: " + (f"no item {p}" if isinstance(p, int) else
                                                   f"the case has no '{p}' here")) from None
    last = parts[-1]
    if isinstance(last, int):
        if not isinstance(node, list) or last >= len(node):
            raise CaseError(f"{where}: {key}: no item {last}")
    elif not isinstance(node, dict):
        raise CaseError(f"{where}: {key}: '{parts[-2]}' is not a mapping")
    node[last] = value


def point_key(case: dict, energy: dict) -> str:
    """A stable name for a point: the hash of its case and energy parameters."""
    text = json.dumps({"case": case, "energy": energy}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def case_key(case_data: dict, backend: str, file: str | None = None) -> str:
    """The name of a run: the hash of the case as thermosim expands it (a layout's
    defaults included, so a changed default is a new run), the backend and the version."""
    from .case import Case
    from .output import thermosim_version

    full = Case.from_dict(copy.deepcopy(case_data), file).model_dump(mode="json")
    return point_key(full, {"backend": backend, "version": thermosim_version()})


def simulate(case, backend: str = "auto", log=None, quiet_every: int = 1000,
             unsteady_ok: bool = False):
    """Solve a :class:`~thermosim.case.Case` (flow, layout or conduction) and return its
    result: :func:`thermosim.solve` (the public entry point, ``thermosim.simulate`` being
    this alias) with the batch runners' defaults: ``log(str)`` gets a line every
    ``quiet_every`` steps of a flow run; a steady flow run that does not settle within its
    ``max_steps`` raises, unless ``unsteady_ok``: then its last step is the result
    (``stats.converged`` False).  A conduction case is checked (:func:`preflight`) before
    any kernel is compiled."""
    from .conduction import build_model
    from .conduction_run import preflight
    from .runner import solve

    if case.flow is None:
        case = build_model(case)
        preflight(case)
    return solve(case, backend, log=log, quiet_every=quiet_every, unsteady_ok=unsteady_ok)


def summarize(result, case, plant_data: dict | None = None) -> dict:
    """A flat row of a run's results: temperatures (K), powers (W), and for rack layouts
    the facility energy (kWh a year, PUE) under ``plant_data`` (see :func:`energy_row`)."""
    row = run_row(result, case)
    metrics = row.pop("metrics", None)
    if metrics is not None:
        row.update(energy_row(metrics, case.layout, plant_data))
    return row


def energy_row(metrics: dict, layout: dict, plant_data: dict | None) -> dict:
    """The facility energy of a layout run's metrics as row fields; a plant that cannot
    be evaluated (a chip in thermal runaway) gives ``energy_error`` instead."""
    from .facility import Plant, facility_energy

    try:
        e = facility_energy(metrics, layout, Plant.from_mapping(plant_data))
    except CaseError as err:
        return {"energy_error": "; ".join(err.lines())}
    return {"climate": e["climate"], "pue": e["pue"], "tue": e["tue"],
            **{f"{k}_kwh": v for k, v in e["annual_kwh"].items()}}


def run_row(result, case) -> dict:
    """What a run gives a table (and, for rack layouts, its ``metrics`` as JSON for the
    energy model)."""
    row = {"max_temperature": float(result.hotspot()["T"] if case.flow is not None
                                    else result.max_temperature),
           "energy_balance_error": float(result.energy_balance_error)}
    if case.flow is not None:
        row["steps"] = int(result.stats.steps)
        row["converged"] = bool(result.stats.converged)
    layout = case.layout or {}
    if case.flow is not None and layout.get("kind") in ("air_cooled", "liquid_cooled",
                                                        "immersion"):
        m = result.metrics()
        row.update({
            "layout": layout["kind"], "it_power": m["it_power"],
            "heat_to_air": m["heat_to_air"], "heat_to_liquid": m["heat_to_liquid"],
            "max_junction_temperature": max((c["junction_temperature"] for c in m["chips"]),
                                            default=float("nan")),
            "max_inlet_temperature": m["max_inlet_temperature"],
            "server_fan_hydraulic_power": m["server_fan_hydraulic_power"],
            "pump_hydraulic_power": m["pump_hydraulic_power"],
            "metrics": jsonable(m)})
    return row


def jsonable(x):
    """Numpy scalars and arrays to Python numbers and lists (for JSON)."""
    if isinstance(x, dict):
        return {k: jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple, np.ndarray)):
        return [jsonable(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    return x


def run_point(case_data: dict, energy: dict | None, backend: str = "cpu",
              file: str | None = None, threads: int | None = None, log=None,
              unsteady_ok: bool = False) -> dict:
    """One run, in whatever process runs it: the row of :func:`summarize` (``energy``
    None: of :func:`run_row`, the metrics kept for the energy model), or ``{"status":
    "error", "error": ...}`` for a case that is invalid or a run that failed."""
    if threads:
        # this worker's share of the cores: at most that many threads for a large grid (a
        # small one runs on one; --threads / THERMOSIM_THREADS, inherited, set the count)
        from .backends.numba_setup import share_threads

        share_threads(threads)
    from .case import Case
    from .errors import ThermosimError

    t0 = time.perf_counter()
    try:
        case = Case.from_dict(copy.deepcopy(case_data), file)
        result = simulate(case, backend, log, unsteady_ok=unsteady_ok)
        row = run_row(result, case) if energy is None else summarize(result, case, energy)
        row["status"] = "ok"
    except ThermosimError as e:
        row = {"status": "error", "error": "; ".join(e.lines())}   # one line a row
    except Exception as e:       # noqa: BLE001 (one failed point must not end a long sweep)
        row = {"status": "error", "error": f"{type(e).__name__}: {e}"}
    row["wall_time"] = time.perf_counter() - t0
    return row


# -- the sweep file ---------------------------------------------------------------------

def _shipped_case(name: str) -> Path | None:
    from .cases import HERE

    p = HERE / (name if name.endswith(".yaml") else f"{name}.yaml")
    return p if p.exists() else None


def read_mapping(path, what: str) -> dict:
    """A YAML file that must hold a mapping (``what`` says of what), read and its values
    checked as every input file is (:mod:`thermosim.inputs`); one line per mistake."""
    from .inputs import read_mapping as read

    return read(path, what)


_SWEEP_KEYS = ("case", "grid", "list", "energy", "workers", "backend", "name")


def load_sweep(path) -> dict:
    """Read and check a sweep file; returns the base case mapping, the points (list of
    {key: value}), the energy parameters and the options."""
    path = Path(path)
    file = str(path)
    spec = read_mapping(path, "sweep keys (case, grid or list, energy, workers)")
    unknown = set(spec) - set(_SWEEP_KEYS)
    if unknown:
        raise CaseError(f"unknown key(s) {', '.join(sorted(unknown))} (known: case, grid, "
                        "list, energy, workers, backend, name)", None, file)
    if "case" not in spec:
        raise CaseError("the base case is missing", "case", file)
    base_path = path.parent / str(spec["case"])
    if not base_path.exists():
        base_path = _shipped_case(str(spec["case"]))
        if base_path is None:
            raise CaseError(f"no file '{spec['case']}' (beside the sweep) and no shipped "
                            "case of that name", "case", file)
    base = read_mapping(base_path, "case keys")
    points = _sweep_points(spec, file)
    energy = spec.get("energy") or {}
    if not isinstance(energy, dict):
        raise CaseError("a mapping of energy-model parameters", "energy", file)
    cases = []
    for i, pt in enumerate(points):
        data = copy.deepcopy(base)
        en = dict(energy)
        for k, v in pt.items():
            if str(k).startswith("energy."):
                en[str(k)[len("energy."):]] = v
            else:
                set_field(data, str(k), v, f"{file}: {'grid' if 'grid' in spec else 'list'}"
                                           f"[{i}]")
        cases.append((pt, data, en))
    run_on = spec.get("backend") if spec.get("backend") in ("auto", "cpu", "gpu") else "cpu"
    _check_points(cases, base_path, run_on, file)
    _load_climates(cases, path.parent)
    name = spec.get("name", path.stem)
    if not isinstance(name, str) or not name or "/" in name or name in (".", ".."):
        raise CaseError("a plain folder name for the results", "name", file)
    workers = spec.get("workers")
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise CaseError("a positive whole number of processes", "workers", file)
    backend = spec.get("backend", "cpu")
    if backend not in ("auto", "cpu", "gpu"):
        raise CaseError("auto, cpu or gpu", "backend", file)
    return {"name": name, "base": str(base_path), "points": cases,
            "workers": workers, "backend": backend}


def _sweep_points(spec: dict, file: str) -> list[dict]:
    """The points ({key: value} each) of a sweep file's ``grid`` (every combination) or
    ``list``, counted before they are made (1000 x 1000 x 1000 values: one line)."""
    if ("grid" in spec) == ("list" in spec):
        raise CaseError("give either grid (every combination) or list (the points)",
                        None, file)
    if "grid" in spec:
        grid = spec["grid"]
        if not isinstance(grid, dict) or not grid or not all(
                isinstance(v, list) and v for v in grid.values()):
            raise CaseError("a mapping of keys to non-empty lists of values", "grid", file)
        keys = list(grid)
        check_sweep_points([len(v) for v in grid.values()], "grid", file)
        points = [{}]
        for k in keys:
            points = [{**p, k: v} for p in points for v in grid[k]]
        return points
    points = spec["list"]
    if not isinstance(points, list) or not points or not all(
            isinstance(p, dict) for p in points):
        raise CaseError("a list of mappings, one a point", "list", file)
    check_sweep_points([len(points)], "list", file)
    return points


def _check_points(cases: list, base_path: Path, run_on: str, file: str) -> None:
    """Every point's case (its cells and memory on ``run_on`` too: a point that cannot fit
    stops the sweep now) and energy parameters, checked before anything runs; a point's
    mistakes are reported a line each, after the sweep file and the point."""
    from .case import Case
    from .facility import Plant

    # each distinct case and energy mapping is checked once: points of a grid repeat them
    # (a 30 x 300 grid over a case key and an energy key has 30 cases), and a case's check
    # costs milliseconds
    seen_cases, seen_energy = set(), set()
    for i, (pt, data, en) in enumerate(cases):
        where = ", ".join(f"{k}={v}" for k, v in pt.items())
        case_id = json.dumps(data, sort_keys=True, default=repr)
        energy_id = json.dumps(en, sort_keys=True, default=repr)
        try:
            if case_id not in seen_cases:
                check_case(Case.from_dict(copy.deepcopy(data), str(base_path)), run_on)
                seen_cases.add(case_id)
            if energy_id not in seen_energy:
                Plant.from_mapping(en, f"{file}: energy")
                seen_energy.add(energy_id)
        except CaseError as e:
            where = where if len(where) <= 80 else where[:77] + "..."
            raise CaseError.several([
                CaseError(p._line(), f"point {i} ({where})", file)
                for p in (e.problems or [e])]) from None


def _load_climates(cases: list, folder: Path) -> None:
    """Each point's climate loaded once (a bad one stops the sweep now); a weather file's
    path is taken relative to the sweep file's ``folder``, as the case's is."""
    from .climate import load as load_climate

    loaded = set()
    for _, _, en in cases:
        clim = en.get("climate")
        if clim is not None:
            p = Path(str(clim))
            if not p.is_absolute() and (folder / p).exists():
                en["climate"] = str((folder / p).resolve())
            if str(en["climate"]) not in loaded:
                load_climate(str(en["climate"]))
                loaded.add(str(en["climate"]))


def _columns(rows: list[dict]) -> list[str]:
    first = ["point", "key"]
    seen = []
    for r in rows:
        for k in r:
            if k not in seen and k not in first:
                seen.append(k)
    return first + seen


def write_table(rows: list[dict], csv_path: Path, h5_path: Path) -> None:
    """The sweep's table as CSV and as HDF5 (one dataset a column, attributes for units),
    each written to a temporary name and renamed."""
    import h5py

    cols = _columns(rows)
    tmp = csv_path.with_name(csv_path.name + ".tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k, "") for k in cols})
    os.replace(tmp, csv_path)
    tmp = h5_path.with_name(h5_path.name + ".tmp")
    with h5py.File(tmp, "w") as f:
        f.attrs["points"] = len(rows)
        for k in cols:
            vals = [r.get(k) for r in rows]
            if all(isinstance(v, (bool, np.bool_)) for v in vals if v is not None):
                f[k] = np.array([bool(v) for v in vals])
            elif all(isinstance(v, (int, float)) and not isinstance(v, bool)
                     for v in vals if v is not None):
                f[k] = np.array([float("nan") if v is None else float(v) for v in vals])
            else:
                f[k] = np.array(["" if v is None else str(v) for v in vals], dtype="S")
    os.replace(tmp, h5_path)


def need_cluster() -> None:
    """Refuse ``--scheduler`` in one line where Dask's distributed (the extra ``cluster``)
    is not installed; local sweeps never import it."""
    import importlib.util

    try:
        found = importlib.util.find_spec("distributed") is not None
    except (ImportError, ValueError):   # a module blocked or half-installed
        found = False
    if not found:
        raise CaseError("needs Dask's distributed, the extra 'cluster': pip install "
                        "'thermosim[cluster]' (local sweeps need none of it)", "--scheduler")


def run_sweep(spec: dict, out: Path, scheduler: str | None = None, workers: int | None = None,
              progress=None, log=None) -> list[dict]:
    """Run every distinct case of the sweep not already run in ``out`` (``out/runs/KEY.json``,
    KEY the expanded case's hash: points that differ only in energy parameters share one
    run), locally in processes or on the Dask cluster at ``scheduler``; then the energy of
    every point from its run's metrics; write ``out/results.csv`` and ``out/results.h5``.
    ``progress(done, total)`` counts runs.  Failed runs are not kept (the next call tries
    them again); an interruption keeps every finished run."""
    out = Path(out)
    runs = out / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    points = spec["points"]
    backend = spec["backend"]
    file = spec["base"]
    keys = [case_key(d, backend, file) for _, d, _ in points]
    first = {}
    for i, k in enumerate(keys):
        first.setdefault(k, i)
    todo = [k for k in first if not (runs / f"{k}.json").exists()]
    failed: dict[str, dict] = {}
    done = len(first) - len(todo)
    if log and done:
        log(f"{done} of {len(first)} runs finished before: not run again")
    if progress:
        progress(done, len(first))

    def finish(k, row):
        nonlocal done
        if row.get("status") == "ok":
            f = runs / f"{k}.json"
            tmp = f.with_name(f.name + ".tmp")
            tmp.write_text(json.dumps(row, default=float))
            os.replace(tmp, f)
        else:
            failed[k] = row
            if log:
                log(f"point {first[k]}: {row.get('error')}")
        done += 1
        if progress:
            progress(done, len(first))

    def args(k):
        _, d, _ = points[first[k]]
        return d, None, backend, file

    if todo and scheduler:
        _run_on_cluster(scheduler, todo, args, finish)
    elif todo:
        n = workers or spec["workers"] or min(os.cpu_count() or 1, len(todo))
        _run_locally(max(1, min(n, len(todo))), todo, args, finish)
    rows = _table_rows(points, keys, runs, failed, file)
    write_table(rows, out / "results.csv", out / "results.h5")
    return rows


def _lost(e: BaseException) -> dict:
    """The row of a run whose worker died (killed, out of memory)."""
    return {"status": "error", "error": f"the worker was lost ({type(e).__name__}: {e})"}


def _run_on_cluster(scheduler: str, todo: list, args, finish) -> None:
    """The runs ``todo`` (case keys; ``args(key)``: :func:`run_point`'s arguments) on the
    Dask cluster at ``scheduler``, each row handed to ``finish(key, row)`` as it comes;
    an interruption cancels what is left."""
    need_cluster()
    from distributed import Client, as_completed
    try:
        client = Client(scheduler, timeout="10s")
    except (OSError, TimeoutError, ValueError) as e:
        raise CaseError(f"no Dask scheduler at {scheduler} ({e})") from None
    with client:
        futs = {client.submit(run_point, *args(k), 1, pure=False): k for k in todo}
        try:
            for fut in as_completed(futs):
                try:
                    row = fut.result()
                except Exception as e:     # noqa: BLE001 (a killed worker)
                    row = _lost(e)
                finish(futs[fut], row)
        except KeyboardInterrupt:
            client.cancel(list(futs))
            raise


def _run_locally(n: int, todo: list, args, finish, fn=None) -> None:
    """The runs ``todo`` in ``n`` local processes (in this one for ``n`` = 1), each with
    its share of the cores, each row handed to ``finish(key, row)`` as it comes.  ``fn``:
    what runs ``args(key)`` and the thread count (default :func:`run_point`; a picklable
    callable, a ``functools.partial`` of it)."""
    fn = fn or run_point
    threads = max(1, (os.cpu_count() or 1) // n)
    if n == 1:
        for k in todo:
            finish(k, fn(*args(k), threads))
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed as done_first

    # spawned workers, each with its share of the cores (Numba's threads in
    # processes that share cores slow each other many times over)
    pool = ProcessPoolExecutor(n, mp_context=mp.get_context("spawn"),
                               initializer=watch_parent, initargs=(os.getpid(),))
    try:
        futs = {pool.submit(fn, *args(k), threads): k for k in todo}
        for fut in done_first(futs):
            try:
                row = fut.result()
            except Exception as e:     # noqa: BLE001 (a worker that died)
                row = _lost(e)
            finish(futs[fut], row)
    except KeyboardInterrupt:
        # stop now: queued points are cancelled, running workers ended (what
        # finished is kept; the next call runs the rest)
        end_pool(pool)
        raise
    pool.shutdown()


def watch_parent(parent: int) -> None:
    """A pool worker's watch on the process that started it (pid ``parent``): a worker
    whose sweep or comparison was killed (not interrupted: then it is ended with it)
    stops within a second or two instead of running its case to the end for nobody."""
    import threading

    threading.Thread(target=_watch, args=(parent,), daemon=True).start()


def _watch(parent: int, every: float = 1.0) -> None:
    while os.getppid() == parent:
        time.sleep(every)
    os._exit(1)


def end_pool(pool) -> None:
    """Stop a process pool now: its queued work cancelled, its running workers ended."""
    for p in list(getattr(pool, "_processes", {}).values()):
        p.terminate()
    pool.shutdown(wait=False, cancel_futures=True)


def _table_rows(points: list, keys: list, runs: Path, failed: dict, file: str) -> list[dict]:
    """A row a point: its values, its run's row (kept in ``runs``, or failed, or not run)
    and, for a layout run, the facility energy under the point's energy parameters."""
    rows = []
    for i, ((pt, data, en), k) in enumerate(zip(points, keys)):
        f = runs / f"{k}.json"
        run = json.loads(f.read_text()) if f.exists() else failed.get(
            k, {"status": "error", "error": "not run"})
        row = {"point": i, "key": k, **pt, **{x: v for x, v in run.items() if x != "metrics"}}
        if run.get("status") == "ok" and run.get("metrics") is not None:
            from .case import Case

            case = Case.from_dict(copy.deepcopy(data), file)
            row.update(energy_row(run["metrics"], case.layout, en))
        rows.append(row)
    return rows
