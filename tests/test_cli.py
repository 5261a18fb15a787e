"""The command line: the main job, validation JSON, and one-line errors for bad input with no
output file left behind."""

import json
import subprocess
import sys

import h5py
import pytest

BASE = """name: base
domain: {max: [0.01, 0.01, 0.002], background: void}
grid: {max_cell: 0.001}
blocks:
  - {name: die, material: silicon, min: [0.002, 0.002, 0.0], max: [0.008, 0.008, 0.001], power: 10}
  - {name: lid, material: copper, min: [0.0, 0.0, 0.001], max: [0.01, 0.01, 0.002]}
boundaries:
  z+: {type: convective, h: 5000, T_ambient: 300}
"""

BAD = {
    "malformed_yaml": (BASE.replace("grid: {max_cell: 0.001}", "grid: {max_cell: 0.001"),
                       "line 4", "malformed YAML"),
    "unknown_material": (BASE.replace("material: silicon", "material: unobtainium"),
                         "blocks[0] (die).material", "unknown material 'unobtainium'"),
    "negative_conductivity": (
        BASE.replace("name: base", "name: base\nmaterials: {weird: {k: -3, rho: 1, cp: 1}}")
        .replace("material: copper", "material: weird"), "materials.weird.k",
        "conductivity must be positive"),
    "block_outside_domain": (BASE.replace("max: [0.008, 0.008, 0.001]",
                                          "max: [0.018, 0.008, 0.001]"),
                             "blocks[0] (die)", "outside the domain"),
    "zero_thickness_block": (BASE.replace("max: [0.008, 0.008, 0.001]",
                                          "max: [0.008, 0.002, 0.001]"),
                             "blocks[0] (die)", "zero or negative thickness"),
    "power_on_missing_block": (BASE + "powers: {gpu0: 700}\n", "powers.gpu0",
                               "no block named 'gpu0'"),
    "unstable_time_step": (BASE + "solver: {mode: transient, transient: {method: explicit, "
                                  "end_time: 1.0, dt: 0.5}}\n", "solver.transient.dt",
                           "exceeds the explicit stability limit"),
    "negative_h": (BASE.replace("h: 5000", "h: -5"), "boundaries.z+", "h must be positive"),
    "grid_too_large": (BASE.replace("grid: {max_cell: 0.001}", "grid: {cells: [5000, 5000, 5000]}"),
                       "grid", "cells need about"),
    "missing_domain_size": (BASE.replace("{max: [0.01, 0.01, 0.002], background: void}",
                                         "{background: void}"), "domain.max", "required"),
}


def thermosim(*args, cwd):
    return subprocess.run([sys.executable, "-m", "thermosim.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_input_one_line_error_and_no_output(name, tmp_path):
    text, key, reason = BAD[name]
    f = tmp_path / f"{name}.yaml"
    f.write_text(text)
    p = thermosim("run", f.name, "-o", "out.h5", cwd=tmp_path)
    assert p.returncode == 2
    lines = [line for line in p.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, p.stderr
    assert "Traceback" not in p.stderr
    assert lines[0].startswith(f"thermosim: error: {f.name}: ")
    assert key in lines[0] and reason in lines[0], lines[0]
    assert sorted(x.name for x in tmp_path.iterdir()) == [f.name]   # nothing written


def test_run_default_case_writes_result(tmp_path):
    p = thermosim("run", "-o", "gpu.h5", "--backend", "cpu", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "max T" in p.stdout and "energy balance" in p.stdout
    with h5py.File(tmp_path / "gpu.h5") as h:
        T = h["fields/T"][...]
        # 700 W die under a 20 kW/(m^2 K) cold plate at 308.15 K: hot, but not absurd
        assert 330.0 < float(h["metrics"].attrs["max_temperature"]) < 420.0
        assert T.shape == tuple(h["grid/x"].shape[0] - 1 for _ in range(1)) + T.shape[1:]
    assert not list(tmp_path.glob("*.tmp"))


def test_run_yaml_case_and_summary(tmp_path):
    (tmp_path / "c.yaml").write_text(BASE)
    p = thermosim("run", "c.yaml", "--backend", "cpu", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "base.h5").exists()
    assert "power in      10 W" in p.stdout


def test_validate_json_rows(tmp_path):
    p = thermosim("validate", "--suite", "conduction", "--quick", "--backend", "cpu",
                  "--json", "rows.json", cwd=tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    rows = json.loads((tmp_path / "rows.json").read_text())
    assert len(rows) >= 10
    for r in rows:
        assert set(r) >= {"case", "reference", "computed", "error", "tolerance", "passed"}
        assert r["passed"] is True


def test_view_refuses_a_file_that_is_not_a_result(tmp_path):
    (tmp_path / "x.h5").write_text("not hdf5")
    p = thermosim("view", "x.h5", "--png", "x.png", cwd=tmp_path)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert p.stderr.strip() == "thermosim: error: x.h5: not an HDF5 file (give a result " \
                               "written by thermosim run)"
    assert not (tmp_path / "x.png").exists()


def test_time_left_follows_the_residuals_the_run_converges_on_and_its_limit():
    """The progress line's estimate: a hall converges on its velocity residual and the heat
    still stored, so a temperature residual on a plateau (2.6e-2, as the 0.154 m
    cold-plate hall's) must not stretch it (it printed 1,009,405 s); the estimate never
    exceeds the time of the iterations left to max_steps."""
    from types import SimpleNamespace

    from thermosim.runner import steady_time_left

    # the velocity residual falls x10 every 200 iterations, checked every 10
    hist = [(s, 0.0, 10.0 ** (-s / 200), 2.6e-2) for s in range(10, 610, 10)]
    solver = SimpleNamespace(stats=SimpleNamespace(history=hist))
    ru, rt = hist[-1][2], hist[-1][3]
    hall = SimpleNamespace(tolerance=1e-4, energy_tolerance=1e-3, max_steps=5000)
    # 0.1 s an iteration: from 1e-3 to 1e-4 takes 200 more iterations, 20 s
    assert steady_time_left(solver, 600, ru, rt, hall, 60.0) == pytest.approx(20.0)
    # the temperature residual is the criterion: its plateau gives no estimate
    other = SimpleNamespace(tolerance=1e-4, energy_tolerance=None, max_steps=5000)
    assert steady_time_left(solver, 600, ru, rt, other, 60.0) is None
    # a limit 50 iterations on caps it at 5 s
    near = SimpleNamespace(tolerance=1e-4, energy_tolerance=1e-3, max_steps=650)
    assert steady_time_left(solver, 600, ru, rt, near, 60.0) == pytest.approx(5.0)


def test_progress_lines_follow_counts_that_jump():
    """The run's progress filter prints the first count and every multiple of 200 passed,
    however the count moves: a time mean's implicit steps add about ten outer iterations
    each, and ``count % 200 == 0`` printed almost nothing for them."""
    from thermosim.cli import crossing

    due = crossing(200)
    counts = [1] + list(range(11, 1000, 11))
    printed = [c for c in counts if due(c)]
    assert printed[0] == 1
    assert [c // 200 for c in printed[1:]] == [1, 2, 3, 4]
    assert all(c - 11 < 200 * (c // 200) for c in printed[1:])     # the first past each
    assert not any(c % 200 == 0 for c in counts)    # the old filter: nothing after 1
    steady = crossing(200)
    assert [c for c in range(1, 801) if steady(c)] == [1, 200, 400, 600, 800]


def test_time_left_during_a_time_means_steps():
    """During a time mean's implicit steps the progress gives their phase and the time
    left at the steps' own pace (the steady estimate extrapolates a residual the steps do
    not reduce: it said 670 s with 20 minutes of steps to go), following the end as the
    settling moves it; outside the steps, nothing."""
    import time
    from types import SimpleNamespace

    from thermosim.runner import steps_time_left

    assert steps_time_left(SimpleNamespace(window=None), 3.0, {}) is None
    w = SimpleNamespace(end_time=20.0, mean=SimpleNamespace(start=10.0))
    solver = SimpleNamespace(window=w)
    mark = {}
    assert steps_time_left(solver, 5.0, mark) == ("settling", 20.0, None)
    mark["steps"] = (time.perf_counter() - 10.0, 5.0)     # 2.5 s of flow in 10 s of wall
    phase, end, left = steps_time_left(solver, 7.5, mark)
    assert phase == "settling" and end == 20.0 and left == pytest.approx(50.0, rel=1e-2)
    w.end_time, w.mean.start = 22.5, 12.5                  # the settling went on
    phase, end, left = steps_time_left(solver, 15.0, mark)
    assert phase == "averaging" and end == 22.5 and left == pytest.approx(7.5 * 10 / 10,
                                                                           rel=1e-2)
