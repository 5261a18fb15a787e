"""Command-line interface: ``thermosim run | view | validate | bench | compare | sweep``."""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import click
import numpy as np

from .cli_errors import Group as _Group, fail as _fail
from .errors import ThermosimError


BACKEND = click.option("--backend", type=click.Choice(["auto", "cpu", "gpu"]), default="auto",
                       show_default=True, help="where to compute")


def _threads(ctx, param, value):
    """Set before anything runs (and before Numba starts its threads); also inherited by
    the processes a sweep starts, through $THERMOSIM_THREADS."""
    from .backends.numba_setup import request_threads, requested_threads

    if value is not None:
        request_threads(value)
    else:
        requested_threads()         # a bad $THERMOSIM_THREADS: one line, before any work
    return value


THREADS = click.option(
    "--threads", type=click.IntRange(min=1), callback=_threads, expose_value=False,
    metavar="N", help="CPU threads per run (or $THERMOSIM_THREADS) [default: one for a grid "
    "under 100,000 cells, else one per core]")


@click.group(cls=_Group)
@click.version_option(package_name="thermosim")
def main():
    """thermosim: finite-volume heat transfer for electronics and data-centre cooling."""


def crossing(every: int):
    """A filter for progress lines: True for the first count and whenever the count
    has passed another multiple of ``every`` since the last True.  (A time mean's implicit
    steps add about ten outer iterations each, so the count seldom lands on a multiple:
    the 0.13 m 20-rack hall printed nothing for 13 minutes with ``count % every == 0``.)"""
    last = [None]

    def due(count: int) -> bool:
        if last[0] is not None and count // every == last[0] // every:
            return False
        last[0] = count
        return True
    return due


def _progress_steady(console, tolerance):
    """Iteration, residual, and the time left estimated from the convergence rate so far
    (in place on a terminal; every tenth iteration as a line in a log)."""
    import math

    start = {}

    def cb(it, res):
        now = time.perf_counter()
        if not start:
            start.update(t=now, it=it, res=res)
        left = ""
        done = it - start["it"]
        if done >= 1 and 0 < res < start["res"]:
            rate = (res / start["res"]) ** (1.0 / done)
            per_it = (now - start["t"]) / done
            if rate < 1 and res > tolerance:
                left = f"  about {math.log(tolerance / res) / math.log(rate) * per_it:.0f} s left"
        line = f"  iteration {it:4d}  residual {res:.3e}{left}"
        if console.is_terminal:
            console.print(line + "   ", end="\r")
        elif it % 10 == 0:
            console.print(line)
    return cb


@main.command()
@click.argument("case", required=False, type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="HDF5 file to write (default: CASE_NAME.h5)")
@BACKEND
@THREADS
@click.option("--png", type=click.Path(dir_okay=False), help="also render the hotspot picture")
@click.option("--quiet", is_flag=True, help="print only the summary")
@click.option("--resume", is_flag=True,
              help="continue from OUTPUT.checkpoint.h5 left by an interrupted run")
@click.option("--checkpoint-every", type=float, default=60.0, show_default=True,
              help="seconds of wall time between checkpoints")
def run(case, output, backend, png, quiet, resume, checkpoint_every):
    """Solve CASE (a YAML file); without CASE, the built-in 700 W GPU package."""
    from rich.console import Console

    from .case import load_case
    from .cases import DEFAULT
    from .conduction import build_model
    from .conduction_run import preflight
    from .runner import solve

    console = Console(stderr=True, quiet=quiet)
    path = Path(case) if case else DEFAULT
    c = load_case(path)
    out = Path(output) if output else Path(f"{c.name}.h5")
    est = _check_sizes(c, out, png, backend)
    if c.flow is not None:
        return _run_flow(c, path, output, backend, png, console, resume, checkpoint_every,
                         est)
    model = build_model(c)          # every case mistake is reported before any output
    preflight(model)
    _announce(est, console, c.source_file)
    console.print(f"[bold]thermosim[/] {path}  ->  {out}")
    ckpt = out.with_name(out.name + ".checkpoint.h5")
    if ckpt.exists() and not resume:
        console.print(f"note: {ckpt} exists from an interrupted run; add --resume to continue "
                      "from it (it is replaced otherwise)")
    opts = dict(checkpoint=ckpt, checkpoint_every=checkpoint_every, resume=resume)

    if c.solver.mode == "steady":
        progress = _progress_steady(console, c.solver.tolerance)
        result = solve(model, backend, progress=progress, **opts)
    elif not console.is_terminal:
        t0 = time.perf_counter()

        def progress(n, total, t):
            if n == total or n % max(1, total // 10) == 0:
                left = (time.perf_counter() - t0) * (total - n) / n
                console.print(f"  time step {n}/{total}  t = {t:.4g} s  about {left:.0f} s left")

        result = solve(model, backend, progress=progress, **opts)
    else:
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        with Progress(TextColumn("time step"), BarColumn(), TextColumn("{task.completed}/"
                      "{task.total}  t = {task.fields[t]:.4g} s"), TimeRemainingColumn(),
                      console=console, transient=True) as bar:
            task = bar.add_task("steps", total=None, t=0.0)

            def progress(n, total, t):
                bar.update(task, completed=n, total=total, t=t)

            result = solve(model, backend, progress=progress, **opts)
    if console.is_terminal:
        console.print(" " * 72, end="\r")
    _report(result, out, png)


def _warn(file, message: str) -> None:
    click.echo(f"thermosim: warning: {file}: {message}" if file else
               f"thermosim: warning: {message}", err=True)


def _check_sizes(c, out, png, backend):
    """Before anything is allocated or solved: the output paths (suffix, a folder that
    takes a new file), the cells and the memory they need on the backend, runaway step
    counts.  Returns the estimate (:func:`thermosim.sizing.check_case`)."""
    from .output_paths import check_output_file
    from .sizing import check_case

    check_output_file(out, "-o")
    if png:
        check_output_file(png, "--png", (".png",))
    return check_case(c, backend)


def _announce(est, console, file):
    """The estimate, and a warning for a run that max_steps will cut far short (once the
    case has passed every check, so that a refused case gets its one line alone)."""
    console.print(est.describe(), highlight=False, markup=False)
    for note in est.notes:
        console.print(f"note: {note}", highlight=False, markup=False)
    for w in est.warnings:
        _warn(file, w)


def _report(result, out, png):
    """Print the summary, save the result (and the picture) and say where."""
    click.echo(result.summary())
    written = result.save(out)
    click.echo(f"written       {written}")
    if png:
        info = _render(written, png)
        click.echo(f"picture       {info['png']}")


def _run_flow(c, path, output, backend, png, console, resume=False, checkpoint_every=60.0,
              est=None):
    """``thermosim run`` for a case with a flow section."""
    from .checkpoint import Checkpointer
    from .flow import FlowSolver, problem_from_case
    from .runner import steady_time_left, steps_time_left
    from .unconverged import EXIT_UNCONVERGED, NotSteady, unconverged_line

    problem = problem_from_case(c)        # (sizes checked by _check_sizes before this)
    if est is not None:
        _announce(est, console, c.source_file)
    out = Path(output) if output else Path(f"{c.name}.h5")
    console.print(f"[bold]thermosim[/] {path}  ->  {out}  (flow)")
    spec = c.flow
    dtype = np.float32 if c.solver.precision == "float32" else np.float64
    solver = FlowSolver(problem, backend, dtype, cfl=spec.cfl, diffusion=spec.diffusion,
                        advection=spec.advection)
    ckpt = Checkpointer(out.with_name(out.name + ".checkpoint.h5"), c, checkpoint_every)
    if ckpt.path.exists() and not resume:
        console.print(f"note: {ckpt.path} exists from an interrupted run; add --resume to "
                      "continue from it (it is replaced otherwise)")
    saved = ckpt.load_state() if resume else None
    if saved is not None:
        solver.load_state(*saved, file=str(ckpt.path))
        console.print(f"  resuming at step {solver.stats.steps}, t = {solver.stats.time:.4g} s")
    t0 = time.perf_counter()
    steps0, time0 = solver.stats.steps, solver.stats.time      # (after a resume: not 0)
    steady = spec.end_time is None

    due = crossing(200)
    mark: dict = {}

    def progress(step, t, ru, rt):
        if not due(step):
            return
        el = time.perf_counter() - t0
        if steady:
            steps = steps_time_left(solver, t, mark)
            if steps is not None:       # a time mean's steps: their phase and pace
                phase, end, s = steps
                when = f"t = {t:.4g} of {end:.4g} s, {phase}"
            else:
                s = steady_time_left(solver, step, ru, rt, spec, el, steps0)
                when = f"t = {t:.4g} s"
            left = f"  about {s:.0f} s left" if s is not None else ""
            what = "outer iteration" if solver.stats.unit == "outer iterations" else "step"
            console.print(f"  {what} {step}  {when}  residuals {ru:.2e} (velocity) "
                          f"{rt:.2e} (temperature), target {spec.tolerance:.0e}{left}")
        else:
            left = el * (spec.end_time - t) / max(t - time0, 1e-300)
            console.print(f"  step {step}  t = {t:.4g} / {spec.end_time:g} s  about "
                          f"{left:.0f} s left")

    try:
        result = solver.run(steady=steady, end_time=spec.end_time, tolerance=spec.tolerance,
                            max_steps=spec.max_steps, progress=progress, checkpoint=ckpt,
                            energy_tolerance=spec.energy_tolerance,
                            **spec.solver_options())
    except NotSteady as e:
        # written, marked and plotted, then one error line and exit status 3
        _report(e.result, out, png)
        _fail(unconverged_line(c.source_file, e, out), EXIT_UNCONVERGED)
    if result.stats.stopped:
        # a transient cut short: said, marked in the result, and its state kept so that a
        # larger max_steps continues from it
        ckpt.save_state(*solver.state())
        _warn(c.source_file, f"flow.max_steps: {result.stats.stopped}; the result is marked "
              "so (raise flow.max_steps and rerun with --resume to reach the end time)")
    else:
        ckpt.remove()
    _report(result, out, png)


def _render(h5, png, **kw):
    """Draw the picture of a result file (VTK in a child process, matplotlib slices when
    that fails, with a one-line note on stderr); a picture that cannot be drawn at all is
    one line that says the result file itself is fine."""
    import h5py

    from .view import render, render_layout

    if not h5py.is_hdf5(h5):
        raise ThermosimError(f"{h5}: not an HDF5 file (give a result written by thermosim run)")
    with h5py.File(h5, "r") as f:
        layout = isinstance(f.get("metrics/hotspots"), h5py.Group) and \
            kw.get("field", "T") == "T"
    try:
        if layout:
            info = render_layout(h5, png)
            info["hotspot"] = {"T": info["hotspots"][0]["junction_temperature"],
                               "block": info["hotspots"][0]["name"]} if info["hotspots"] \
                else {"T": float("nan"), "block": "-"}
        else:
            info = render(h5, png, **kw)
    except (ValueError, KeyError) as e:
        raise ThermosimError(f"{h5}: cannot render: {e}") from None
    except Exception as e:          # (VTK's failures stay in its child: this is the fallback)
        raise ThermosimError(f"cannot draw {png} ({type(e).__name__}: {e}); the result "
                             f"file {h5} is complete: open it in ParaView") from None
    if info.get("note"):
        click.echo(info["note"], err=True)
    return info


@main.command()
@click.argument("h5", type=click.Path(exists=True, dir_okay=False))
@click.option("--png", type=click.Path(dir_okay=False), required=True, help="PNG to write")
@click.option("--field", default="T", show_default=True, help="field to colour by")
def view(h5, png, field):
    """Render slices through the hottest cell of a result file to a PNG (off-screen; in 3D
    with VTK, as flat matplotlib slices with a note where VTK cannot draw)."""
    info = _render(h5, png, field=field)
    hs = info["hotspot"]
    click.echo(f"max T {hs['T']:.3f} K in '{hs['block']}'; picture {info['png']}")


@main.command()
@click.option("--suite", type=click.Choice(["conduction", "flow"]), default="conduction",
              show_default=True)
@BACKEND
@click.option("--json", "json_file", type=click.Path(dir_okay=False),
              help="also write the rows as a JSON list")
@click.option("--quick", is_flag=True, help="smaller grids (what pytest runs)")
@click.option("--case", "cases", multiple=True, metavar="NAME",
              help="run only this case of the suite, in the order given (repeatable)")
def validate(suite, backend, json_file, quick, cases):
    """Run the verification cases and print the comparison table."""
    from rich.console import Console
    from rich.table import Table

    from .backends import get_backend
    from .verification import run_suite

    be = get_backend(backend)
    console = Console() if sys.stdout.isatty() else Console(width=160)
    console.print(f"suite {suite} on {be.name}: {be.device_name}")
    rows = []

    def show(row):
        rows.append(row)
        mark = "[green]pass[/]" if row.passed else "[red]FAIL[/]"
        console.print(f"  {mark} {row.case}: {row.quantity}: {row.computed:.6g} "
                      f"(reference {row.reference:.6g}, error {row.error:.3g}, "
                      f"tolerance {row.tolerance:.3g})")

    t0 = time.perf_counter()
    try:
        run_suite(suite, be, quick=quick, on_row=show, only=cases or None)
    except KeyError as e:
        raise click.BadParameter(str(e.args[0]), param_hint="--case") from None
    table = Table(title=f"thermosim validate --suite {suite} ({be.name})")
    for col in ("case", "quantity", "reference", "computed", "error", "tolerance", "passed"):
        table.add_column(col)
    for r in rows:
        table.add_row(r.case, r.quantity, f"{r.reference:.6g}", f"{r.computed:.6g}",
                      f"{r.error:.3g}", f"{r.tolerance:.3g}",
                      "yes" if r.passed else "[red]NO[/]")
    console.print(table)
    npass = sum(r.passed for r in rows)
    console.print(f"{npass} passed, {len(rows) - npass} failed "
                  f"({time.perf_counter() - t0:.1f} s)")
    if json_file:
        from .atomic import atomic_write_text

        atomic_write_text(json_file, json.dumps([r.as_dict() for r in rows], indent=2))
    sys.exit(0 if npass == len(rows) else 1)


@main.command()
@click.argument("cases", nargs=-1, type=click.Path(dir_okay=False))
@click.option("--size", "sizes", type=int, multiple=True,
              help="cube edge N (repeatable); default: 64 128 256 (CPU) or 256 512 (GPU)")
@BACKEND
@click.option("--steps", type=int, default=0, help="timed repetitions (0: automatic); with "
              "--to-steady, the iteration limit (0: the case's flow.max_steps)")
@click.option("--precision", type=click.Choice(["float32", "float64"]), default=None,
              help="flow cases: override the case's precision")
@click.option("--json", "json_file", type=click.Path(dir_okay=False))
@click.option("--to-steady", is_flag=True, help="run each of CASES to its steady state: "
              "iterations, wall time, cells x iterations per second (--steps: the limit)")
@click.option("--method", type=click.Choice(["simplec", "march"]), default=None,
              help="with --to-steady: the steady solver [default: simplec]")
def bench(cases, sizes, backend, steps, precision, json_file, to_steady, method):
    """Throughput of the conduction step and of a steady solver iteration; with CASES
    (flow case files such as meshes/air_cooled_1e6.yaml), time per step and cell-steps
    per second of each; with --to-steady, each case's run to its steady state."""
    if method and not to_steady:
        raise click.UsageError("--method goes with --to-steady")
    if to_steady:
        from .bench import cases_to_steady
        from .unconverged import EXIT_UNCONVERGED

        if not cases:
            raise click.UsageError("--to-steady needs CASES (flow case or layout files)")
        report, unconverged = cases_to_steady(cases, backend, method or "simplec",
                                              precision, steps)
        if json_file:
            from .atomic import atomic_write_text

            atomic_write_text(json_file, json.dumps(report, indent=2))
        for line in unconverged:
            click.echo(f"thermosim: error: {line}", err=True)
        sys.exit(EXIT_UNCONVERGED if unconverged else 0)
    if cases:
        from .bench import bench_case, print_case_report

        report = []
        for c in cases:
            report.append(bench_case(c, backend, steps, precision))
            print_case_report(report[-1:])
    else:
        from .bench import print_report, run_benchmarks

        report = run_benchmarks(backend=backend, sizes=sizes or None, repeats=steps or None)
        print_report(report)
    if json_file:
        from .atomic import atomic_write_text

        atomic_write_text(json_file, json.dumps(report, indent=2))


def _plant(plant_file, climate):
    """The energy model's parameters: a YAML mapping (``--plant``), then ``--climate``."""
    from .facility import Plant
    from .errors import CaseError
    from .inputs import read_mapping, value_problems

    problems = []
    data = {}
    if plant_file:
        # every mistake at once: non-finite numbers and temperatures (value_problems),
        # then the plant's own checks of the other keys
        data, problems = value_problems(read_mapping(plant_file, "energy-model parameters",
                                                     check=False), plant_file)
        data = {k: v for k, v in data.items() if k not in {p.key for p in problems}}
    if climate:
        data["climate"] = climate
    try:
        plant = Plant.from_mapping(data, plant_file or "energy")
    except CaseError as e:
        problems += e.problems or [e]
    if problems:
        raise CaseError.several(problems)
    return plant


@main.command()
@click.argument("cases", nargs=-1, type=click.Path(dir_okay=False))
@click.option("-o", "--output", default="compare_report", show_default=True,
              type=click.Path(file_okay=False), help="report folder to write")
@BACKEND
@THREADS
@click.option("--climate", help="climate of the headline figures: a shipped name "
              "(miami, greensboro, sand_point) or an EPW/TMY3/TMY2 file [default: greensboro]")
@click.option("--plant", "plant_file", type=click.Path(dir_okay=False),
              help="YAML of energy-model parameters (thermosim/facility.py, Plant)")
@click.option("--sensitivity", is_flag=True,
              help="also re-run every layout at other supply temperatures, rack densities "
              "and chip powers (a new set of runs per value)")
@click.option("--fresh", is_flag=True, help="run every case again (by default runs of the "
              "same case kept in .OUTPUT.cache from an earlier or interrupted comparison "
              "are used)")
@click.option("--resolutions", is_flag=True, help="run every layout on three meshes, its "
              "cell size divided by --ratio from one to the next, and report each figure's "
              "Richardson-extrapolated value and grid-convergence index (the report is the "
              "finest mesh's)")
@click.option("--ratio", type=float, metavar="R", help="refinement ratio of --resolutions, "
              "at least 1.3 [default: 1.5: the quick halls' 0.2 m cells, then 0.133 m and "
              "0.0889 m]")
@click.option("--method", type=click.Choice(["march", "simplec"]), help="the flow solver's "
              "method for every run, where the layouts take one [default: the layouts']")
@click.option("--workers", type=click.IntRange(min=1), help="layout runs at once, each in "
              "its own process [default: one per core on the CPU, as many as the memory "
              "holds; one on a GPU]")
def compare(cases, output, backend, climate, plant_file, sensitivity, fresh, resolutions,
            ratio, method, workers):
    """Run the air-cooled, liquid-cooled and immersion layouts at the same IT load and write
    a report folder (Markdown and HTML, energy table, savings, plots, hotspot pictures,
    HDF5).  CASES default to air_cooled_medium and liquid_cooled_medium (0.118 m cells)
    and immersion_quick (0.05 m); with --resolutions, to the quick meshes (air_cooled_quick,
    liquid_cooled_quick, immersion_quick), refined from there."""
    from rich.console import Console

    from .compare import compare as run_compare
    from .output_paths import check_output_dir

    console = Console(stderr=True, soft_wrap=True)
    check_output_dir(output, "-o")         # before any run, not after them all
    plant = _plant(plant_file, climate)
    t0 = time.perf_counter()
    if ratio is not None and not resolutions:
        _fail("thermosim compare: --ratio: only with --resolutions (see thermosim compare --help)")
    res = run_compare(list(cases) or None, output, backend, plant, sensitivity=sensitivity,
                      log=lambda s: console.print(s, highlight=False, markup=False), fresh=fresh,
                      resolutions=resolutions, ratio=ratio, method=method, workers=workers)
    for r in res["records"]:
        e = r["energy"]
        a = e["annual_kwh"]
        click.echo(f"{r['kind']:14s} PUE {e['pue']:.3f}  facility {a['facility'] / 1e3:8.1f} MWh"
                   f"  cooling+server fans {a['cooling_with_server_fans'] / 1e3:7.1f} MWh"
                   f"  non-IT {a['non_it'] / 1e3:7.1f} MWh"
                   + ("" if r["steady"] else "  time mean" if r.get("averaged")
                      else "  UNCONVERGED"))
    click.echo(res["verdict"])
    if res.get("grid"):
        click.echo(res["grid"]["headline"])
        for note in res["grid"]["notes"]:
            click.echo(note)
    click.echo(f"report        {Path(res['out']) / 'report.md'} (and report.html), "
               f"{time.perf_counter() - t0:.0f} s")
    # (a time mean is an answer: a flow with no steady state, averaged)
    bad = [r for r in res["records"] if not r["steady"] and not r.get("averaged")]
    if bad:
        from .unconverged import EXIT_UNCONVERGED

        # the report is written, but its figures are not all steady states: said, and the
        # exit status of an unconverged run
        _fail(f"{', '.join(Path(r['path']).name for r in bad)}: flow.max_steps: no steady "
              f"state in {len(bad)} of the {len(res['records'])} runs (" + "; ".join(
                  f"{Path(r['path']).name}: {r.get('stalled') or 'not steady'}" for r in bad)
              + f"); the report marks them UNCONVERGED, residual histories in "
              f"{Path(res['out']) / 'runs'}", EXIT_UNCONVERGED)


@main.command()
@click.argument("sweep_file", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(file_okay=False),
              help="results folder [default: SWEEP_NAME next to the sweep file]")
@click.option("--scheduler", help="address of a Dask scheduler (tcp://host:8786): run the "
              "points there instead of in local processes")
@click.option("--workers", type=int, help="local processes (default: the sweep's, or one a "
              "core)")
@THREADS
def sweep(sweep_file, output, scheduler, workers):
    """Run every point of SWEEP_FILE (a grid or list of values over case fields); points
    finished before (in the results folder) are not rerun.  Writes results.csv and
    results.h5."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, \
        TimeElapsedColumn, TimeRemainingColumn

    from .study import load_sweep, need_cluster, run_sweep

    from .output_paths import check_output_dir

    console = Console(stderr=True, soft_wrap=True)
    if scheduler:
        need_cluster()                  # the extra 'cluster', before anything is read
    if output:
        check_output_dir(output, "-o")     # before the points are even read
    spec = load_sweep(sweep_file)
    out = Path(output) if output else Path(sweep_file).with_name(spec["name"])
    check_output_dir(out, "-o")
    console.print(f"[bold]thermosim sweep[/] {sweep_file}: {len(spec['points'])} points "
                  f"of {spec['base']}  ->  {out}  (progress: distinct runs)"
                  + (f"  (Dask at {scheduler})" if scheduler else ""), highlight=False)
    with Progress(TextColumn("runs"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(),
                  console=console) as bar:
        task = bar.add_task("points", total=len(spec["points"]))

        def progress(done, total):
            bar.update(task, completed=done, total=total)

        rows = run_sweep(spec, out, scheduler, workers, progress,
                         log=lambda s: console.print(s, highlight=False, markup=False))
    bad = [r for r in rows if r.get("status") != "ok"]
    click.echo(f"{len(rows) - len(bad)} of {len(rows)} points done; table "
               f"{out / 'results.csv'} and {out / 'results.h5'}")
    for r in bad:
        click.echo(f"  point {r['point']}: {r.get('error')}")
    sys.exit(1 if bad else 0)


@main.command()
@click.option("--markdown", is_flag=True,
              help="print the case-file reference page (docs/case-file.md) instead")
def schema(markdown):
    """Print the JSON Schema of a case file (a case, or a layout and its parameters), with a
    description and an SI unit for every key."""
    from . import schema as case_schema

    if markdown:
        click.echo(case_schema.markdown(), nl=False)
    else:
        click.echo(json.dumps(case_schema.schema(), indent=2))


if __name__ == "__main__":
    main()
