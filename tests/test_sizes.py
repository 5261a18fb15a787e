"""Sizes are checked before they are spent (issue 17, item 5) and output paths before the
solve (item 4): each defect answers with one line, exit 2, quickly, without a big
allocation and without writing anything."""

from __future__ import annotations

import glob
import time
import tracemalloc
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from thermosim import sizing
from thermosim.case import Case, load_case
from thermosim.cli import main
from thermosim.errors import CaseError
from thermosim.meshing import make_grid

ROOT = Path(__file__).resolve().parents[1]
CHANNEL = ROOT / "meshes" / "server_channel_flow.yaml"
SOLID = {"domain": {"max": [0.04, 0.04, 0.01], "background": "aluminium"},
         "boundaries": {"z+": {"type": "temperature", "T": 300.0}}}


def invoke(args, cwd: Path):
    """Run the CLI in-process in ``cwd``: (exit code, stdout, stderr, seconds, peak traced
    bytes)."""
    import os

    runner = CliRunner()
    tracemalloc.start()
    t0 = time.perf_counter()
    old = os.getcwd()
    os.chdir(cwd)
    try:
        r = runner.invoke(main, [str(a) for a in args])
    finally:
        os.chdir(old)
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return r.exit_code, r.stdout, r.stderr, seconds, peak


def assert_one_line_refusal(code, out, err, seconds, peak, *words):
    lines = err.strip().splitlines()
    assert code == 2, (code, out, err)
    assert len(lines) == 1 and lines[0].startswith("thermosim: error: "), err
    assert "Traceback" not in err + out
    for w in words:
        assert w in lines[0], (w, lines[0])
    assert seconds < 2.0, f"answered in {seconds:.1f} s"
    assert peak < 200e6, f"allocated {peak / 1e6:.0f} MB before refusing"


def write_case(tmp_path: Path, data: dict, name="case.yaml") -> Path:
    p = tmp_path / name
    p.write_text(yaml.safe_dump(data))
    return p


@pytest.fixture(scope="module", autouse=True)
def _warm():
    # the first CLI call imports rich, pydantic models, CoolProp: not the check's time
    import thermosim.flow  # noqa: F401
    CliRunner().invoke(main, ["run", "--help"])


BIG = {
    "long_domain": ({"domain": {"max": [0.04, 0.04, 2.5e6]}, "grid": {"max_cell": 0.004}},
                    ["6.25e+10 cells", "TB", "on the cpu backend", "available"]),
    "nanometre_cells": ({"grid": {"max_cell": 1.0e-9}}, ["cells need about", "grid.max_cell"]),
    "trillion_cells": ({"grid": {"cells": [1000000000000, 1, 1]}},
                       ["grid: 1e+12 cells", "TB", "lower grid.cells"]),
    "domain_1e308": ({"domain": {"max": [1e308, 1, 1]}},
                     ["domain.max", "1e+308 m along x", "lengths are in metres"]),
    "transient_1e300_steps": ({"solver": {"mode": "transient", "transient": {
        "end_time": 1.0e300, "dt": 1.0e-300, "method": "implicit_euler"}}},
        ["solver.transient", "time steps", "10,000,000"]),
}


@pytest.mark.parametrize("name", list(BIG))
def test_absurd_case_refused_at_once(tmp_path, name):
    change, words = BIG[name]
    data = yaml.safe_load(yaml.safe_dump(SOLID))
    for k, v in change.items():
        data[k] = {**data.get(k, {}), **v} if isinstance(v, dict) and k == "domain" else v
    data["domain"].setdefault("background", "aluminium")
    case = write_case(tmp_path, data)
    res = invoke(["run", case, "-o", tmp_path / "out.h5", "--backend", "cpu"], tmp_path)
    assert_one_line_refusal(*res, *words)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case.yaml"]


def test_huge_layout_refused_before_it_is_built(tmp_path):
    case = write_case(tmp_path, {"layout": "air_cooled", "racks_per_row": 1000000})
    res = invoke(["run", case, "-o", tmp_path / "out.h5"], tmp_path)
    assert_one_line_refusal(*res, "layout", "parts", "200,000")
    case = write_case(tmp_path, {"layout": "air_cooled", "racks_per_row": 1000, "cell": 0.01},
                      "fine.yaml")
    res = invoke(["run", case, "-o", tmp_path / "out.h5"], tmp_path)
    assert_one_line_refusal(*res, "layout", "cells", "available")


def test_huge_sweep_refused_before_expanding(tmp_path):
    # (100 values an axis: reading 3,000 YAML numbers alone takes seconds, the million
    # points are what must not be made)
    vals = list(range(100))
    sweep = tmp_path / "s.yaml"
    sweep.write_text(yaml.safe_dump({"case": "server_channel", "grid": {
        "initial_temperature": [300.0 + v * 1e-3 for v in vals],
        "flow.cfl": [0.1 + v * 1e-4 for v in vals],
        "flow.tolerance": [1e-5 + v * 1e-9 for v in vals]}}))
    res = invoke(["sweep", sweep, "-o", tmp_path / "res"], tmp_path)
    assert_one_line_refusal(*res, "1,000,000 points", "100 x 100 x 100", "10,000")
    assert not (tmp_path / "res").exists()


OUTPUTS = {
    "proc": ("/proc/out.h5", "cannot write in /proc"),
    "parent_is_file": ("afile.txt/out.h5", "is a file, not a folder"),
    "xmf": ("out.xmf", "ending in .h5"),
}
# (a folder for the file, or a file for the folder, click's own path checks refuse: exit 2
# with its usage text, before anything runs)
CLICK_REFUSES = {("run", "."), ("compare", "afile.txt"), ("sweep", "afile.txt")}


@pytest.mark.parametrize("name", list(OUTPUTS))
def test_run_output_checked_before_the_solve(tmp_path, name):
    target, words = OUTPUTS[name]
    (tmp_path / "afile.txt").write_text("x")
    res = invoke(["run", CHANNEL, "-o", target], tmp_path)
    assert_one_line_refusal(*res, words)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile.txt"]


def test_png_checked_before_the_solve(tmp_path):
    (tmp_path / "afile.txt").write_text("x")
    res = invoke(["run", CHANNEL, "-o", "out.h5", "--png", "afile.txt/p.png"], tmp_path)
    assert_one_line_refusal(*res, "--png", "is a file, not a folder")


@pytest.mark.parametrize("command", ["compare", "sweep"])
@pytest.mark.parametrize("target", ["afile.txt/report", "afile.txt", "/proc/report"])
def test_folder_outputs_checked_first(tmp_path, command, target):
    (tmp_path / "afile.txt").write_text("x")
    sweep = tmp_path / "s.yaml"
    sweep.write_text(yaml.safe_dump({"case": "server_channel",
                                     "list": [{"flow.cfl": 0.4}]}))
    args = ["compare", "-o", target] if command == "compare" else ["sweep", sweep, "-o", target]
    res = invoke(args, tmp_path)
    if (command, target) in CLICK_REFUSES:
        assert res[0] == 2 and "Traceback" not in res[2] and res[3] < 2.0
    else:
        assert_one_line_refusal(*res, "-o")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile.txt", "s.yaml"]


# -- the estimate against the real grids ---------------------------------------------------
SHIPPED = sorted(glob.glob(str(ROOT / "meshes" / "*.yaml")))


@pytest.mark.parametrize("path", [p for p in SHIPPED if "1e8" not in p],
                         ids=lambda p: Path(p).stem)
def test_estimate_matches_the_built_grid(path):
    """Stated tolerance 0.5 % per axis (the counts use the grid's own rule; only
    round-off at a ceiling could move one)."""
    case = load_case(path)
    est = sizing.estimate(case)
    grid = make_grid(case)
    for n_est, n in zip(est.axis_cells, grid.shape):
        assert abs(n_est - n) <= 0.005 * n, (est.axis_cells, grid.shape)
    assert abs(est.cells / grid.ncells - 1) < 0.015


def test_estimate_of_the_largest_meshes_is_fast_and_bounded(monkeypatch):
    # (a machine with less memory refuses to expand these layouts at all: allowed here)
    monkeypatch.setenv("THERMOSIM_MEMORY_LIMIT", "1TB")
    for path in [p for p in SHIPPED if "1e8" in p]:
        case = load_case(path)
        t0 = time.perf_counter()
        est = sizing.estimate(case)
        assert time.perf_counter() - t0 < 1.0
        assert 0.5e8 < est.cells < 2e8          # the name says 1e8 cells


def test_memory_figures_follow_backend_and_precision():
    case = Case.from_dict({**SOLID, "grid": {"cells": [100, 100, 100]}})
    e64 = sizing.estimate(case, "cpu")
    assert e64.cells == 1e6
    assert e64.host_bytes == 1e6 * sizing.HOST_BYTES_PER_CELL[("conduction", "float64")]
    e32 = sizing.estimate(case.model_copy(update={"solver": case.solver.model_copy(
        update={"precision": "float32"})}), "cpu")
    assert e32.host_bytes < e64.host_bytes
    gpu = sizing.estimate(case, "gpu")
    assert gpu.device_bytes > 0 and gpu.host_bytes < e64.host_bytes


def test_steady_solver_memory_is_counted_and_its_refusal_names_the_march(monkeypatch):
    """The outer iterations' history is in the estimate (a hall's: Anderson over 100
    iterates of five unknowns in single precision; measured on the 0.1 m air hall 4,795
    B a cell (3,978 before the temperature joined its vector) against the march's 490,
    sizing.py), and a case it does not fit is refused with the march as
    one way out.  A hall of 0.05 m cells under a 2 GB limit."""
    from thermosim.layouts import expand

    def hall(method):
        return Case.from_dict(expand({"layout": "air_cooled", "racks_per_row": 2,
                                      "cell": 0.05, "method": method}))
    march, simplec = sizing.estimate(hall("march")), sizing.estimate(hall("simplec"))
    # both may go on to a time mean (the layouts' unsteady: average): on top of the
    # march's arrays, in place of the steady solver's (freed at the stall)
    mean = sizing.TIME_MEAN_EXTRA_BYTES_PER_CELL["float64"]
    assert simplec.host_bytes / march.host_bytes == pytest.approx(
        (500 + sizing.HALL_SIMPLEC_EXTRA_BYTES_PER_CELL["float64"]) / (500 + mean))
    # over the measured 4,795 B a cell steady (3,569-3,634 with the time mean, measured
    # before the temperature joined), not a quarter over
    assert 4795 < simplec.host_bytes / simplec.cells < 1.25 * 4795
    monkeypatch.setenv("THERMOSIM_MEMORY_LIMIT", f"{1.2 * march.host_need:.0f}")
    sizing.check_case(hall("march"), "cpu")
    with pytest.raises(CaseError, match="use flow.method: march"):
        sizing.check_case(hall("simplec"), "cpu")


def test_time_mean_and_the_process_are_counted(monkeypatch):
    """A hall that may go on to a time mean (``unsteady: average``, the layouts' default)
    needs the mean's arrays on top of a march's and of a GPU run's host arrays, but on a
    CPU in place of the steady solver's, freed at the stall (measured, the 0.1 m air hall:
    3,622 B a cell steady, 3,569 with the mean; 4,116 when they were held, sizing.py); and
    every run needs the process itself (Python, NumPy, the loaded kernels: 250 MB), which
    a small case's own arrays are far under: a limit under it refuses even 144 cells."""
    from thermosim.layouts import expand

    def hall(unsteady, method="simplec"):
        return Case.from_dict(expand({"layout": "air_cooled", "racks_per_row": 2,
                                      "cell": 0.2, "method": method,
                                      "unsteady": unsteady}))
    extra = sizing.TIME_MEAN_EXTRA_BYTES_PER_CELL["float64"]
    stop, mean = sizing.estimate(hall("stop")), sizing.estimate(hall("average"))
    assert mean.host_bytes == stop.host_bytes
    for backend, method in (("cpu", "march"), ("gpu", "simplec")):
        stop = sizing.estimate(hall("stop", method), backend)
        mean = sizing.estimate(hall("average", method), backend)
        assert mean.host_bytes - stop.host_bytes == pytest.approx(stop.cells * extra)
    assert mean.host_need == mean.host_bytes + sizing.PROCESS_BYTES
    small = Case.from_dict({**SOLID, "grid": {"cells": [12, 12, 1]}})
    assert sizing.estimate(small).host_bytes < 1e6
    monkeypatch.setenv("THERMOSIM_MEMORY_LIMIT", "200MB")
    with pytest.raises(CaseError, match="144 cells need about 250 MB"):
        sizing.check_case(small, "cpu")
    monkeypatch.setenv("THERMOSIM_MEMORY_LIMIT", "300MB")
    assert sizing.check_case(small, "cpu").cells == 144


def test_limits_can_be_overridden(monkeypatch):
    case = Case.from_dict({**SOLID, "grid": {"cells": [1000, 1000, 100]}})   # 1e8 cells
    monkeypatch.setenv("THERMOSIM_MEMORY_LIMIT", "1GB")
    with pytest.raises(CaseError, match="THERMOSIM_MEMORY_LIMIT allows 1 GB"):
        sizing.check_case(case, "cpu")
    monkeypatch.setenv("THERMOSIM_MEMORY_LIMIT", "1TB")
    assert sizing.check_case(case, "cpu").cells == 1e8        # no grid is made
    monkeypatch.setenv("THERMOSIM_GPU_MEMORY_LIMIT", "2GB")
    with pytest.raises(CaseError, match="of GPU memory; THERMOSIM_GPU_MEMORY_LIMIT"):
        sizing.check_case(case, "gpu")


def test_runaway_flow_steps_warned_with_the_estimate():
    data = yaml.safe_load(CHANNEL.read_text())
    data["flow"]["boundaries"]["x-"]["velocity"] = [200.0, 0, 0]
    data["flow"]["end_time"] = 100.0
    est = sizing.check_case(Case.from_dict(data), "cpu")
    assert len(est.warnings) == 1 and "steps of" in est.warnings[0] \
        and "max_steps 200,000 will stop the run" in est.warnings[0], est.warnings
    data["flow"]["max_steps"] = 10 ** 9
    with pytest.raises(CaseError, match="flow.max_steps: 1,000,000,000 steps are more"):
        sizing.check_case(Case.from_dict(data), "cpu")


def test_explicit_auto_step_runaway_refused(tmp_path):
    """dt: auto on an explicit transient: the stability limit of a fine grid over a long
    end time; refused before the first step, with the count."""
    data = {**SOLID, "grid": {"cells": [40, 40, 10]}, "solver": {
        "mode": "transient", "transient": {"method": "explicit", "end_time": 1.0e7}}}
    res = invoke(["run", write_case(tmp_path, data), "-o", "o.h5"], tmp_path)
    code, out, err = res[:3]
    assert code == 2 and "explicit stability limit" in err and "time steps" in err, err
    assert len(err.strip().splitlines()) == 1


def test_multigrid_cycles_memory_is_counted_apart():
    """A steady run in multigrid cycles (``multigrid: on``) is counted at their measured
    2,204 B a cell (Anderson over 10 iterates, the coarse meshes' solvers), not the single
    mesh's 3,670 (``off``); ``auto`` keeps the single mesh for a conjugate channel (solid
    blocks) and a hall (lagged terms)."""
    from thermosim.layouts import expand

    def box(**flow):
        data = yaml.safe_load(CHANNEL.read_text())
        data["flow"].update(method="simplec", end_time=None, **flow)
        return Case.from_dict(data)
    cycles, one = sizing.estimate(box(multigrid="on")), sizing.estimate(box(multigrid="off"))
    assert 2000 < cycles.host_bytes / cycles.cells < 2600 < one.host_bytes / one.cells
    assert not sizing.in_cycles(box())
    hall = Case.from_dict(expand({"layout": "air_cooled", "racks_per_row": 2, "cell": 0.2,
                                  "method": "simplec"}))
    assert not sizing.in_cycles(hall)
    assert sizing.estimate(hall).host_bytes / sizing.estimate(hall).cells > 3000


def test_steady_solve_time_is_told_before_the_run():
    """A steady ``simplec`` case gets a note with the time of an outer iteration on one
    core and the bound its iteration limit sets; the march (whose steps are counted by its
    own check) gets none."""
    from thermosim.layouts import expand

    def hall(method):
        return Case.from_dict(expand({"layout": "air_cooled", "racks_per_row": 2,
                                      "cell": 0.2, "method": method, "max_steps": 3000}))
    notes = sizing.check_case(hall("simplec"), "cpu").notes
    assert len(notes) == 1 and notes[0].startswith("a steady solve: about ") \
        and "the limit of 3,000 at most" in notes[0], notes
    assert not any("steady solve" in n for n in sizing.check_case(hall("march"), "cpu").notes)
