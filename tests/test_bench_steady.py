"""``thermosim bench CASE --to-steady`` (issue 19, item 5): a case run to its steady state
with the steady solver, its figures printed (device, cells, method, iterations, wall time,
cells x iterations per second, converged, residuals) and written with --json; an
unconverged run says so and exits 3 like ``thermosim run``."""

import json
import re

from click.testing import CliRunner

from thermosim.cli import main
from thermosim.unconverged import EXIT_UNCONVERGED

# Ghia, Ghia & Shin (1982)'s lid-driven cavity at Re = U L / nu = 0.16 * 0.01 / 1.58e-5
# = 101 (air at 300 K), 12 x 12 cells, one cell deep between slip faces: a 2D flow
CAVITY = """name: cavity12
domain: {max: [0.01, 0.01, 0.000833], background: air}
materials:
  air: {fluid: air, T: 300}
grid: {cells: [12, 12, 1]}
flow:
  fluid: air
  gravity: [0, 0, 0]
  boundaries:
    y+: {type: wall, velocity: [0.16, 0, 0]}
    z-: {type: slip}
    z+: {type: slip}
  tolerance: 1.0e-4
"""


def _bench(tmp_path, *args):
    case = tmp_path / "cavity.yaml"
    case.write_text(CAVITY)
    out = tmp_path / "bench.json"
    r = CliRunner().invoke(main, ["bench", str(case), "--to-steady", "--backend", "cpu",
                                  "--json", str(out), *args])
    return r, json.loads(out.read_text())[0]


def _printed(text, label):
    """The first number on the printed line that starts with ``label``."""
    line = next(s for s in text.splitlines() if s.strip().startswith(label))
    return float(re.search(r"[-+]?\d[\d,]*\.?\d*(?:e[-+]?\d+)?", line[len(label) + 2:])
                 .group().replace(",", ""))


def test_cavity_to_steady_with_simplec_prints_consistent_figures(tmp_path):
    r, row = _bench(tmp_path)
    assert r.exit_code == 0, r.output
    assert row["method"] == "simplec" and row["unit"] == "outer iterations"
    assert row["converged"] and "result       converged" in r.output
    assert row["cells"] == 144 and row["device"] and row["device"] in r.output
    # the outer iterations settle the cavity in tens, not the thousands of the march
    assert 2 < row["iterations"] <= 200
    assert row["residual_velocity"] < row["tolerance"]
    assert row["wall_s"] > 0
    assert abs(row["cell_iterations_per_s"] - 144 * row["iterations"] / row["wall_s"]) \
        <= 1e-9 * row["cell_iterations_per_s"]
    # the printed figures are the JSON's (to their printed rounding)
    assert _printed(r.output, "iterations") == row["iterations"]
    assert _printed(r.output, "cells") == 144
    wall = _printed(r.output, "wall time")
    assert abs(wall - row["wall_s"]) <= 0.006
    thr = _printed(r.output, "throughput")
    assert abs(thr - 144 * row["iterations"] / row["wall_s"]) <= 0.006 * thr


def test_unconverged_run_says_so_and_exits_3(tmp_path):
    r, row = _bench(tmp_path, "--method", "march", "--steps", "3")
    assert r.exit_code == EXIT_UNCONVERGED, r.output
    assert row["method"] == "march" and row["unit"] == "steps"
    assert row["iterations"] == 3 and not row["converged"]
    assert row["residual_velocity"] > row["tolerance"]
    assert "NOT CONVERGED after 3 steps" in r.output
    assert "thermosim: error: " in r.output and "flow.max_steps: no steady state after 3 " \
        "steps" in r.output


def test_to_steady_options_misused_get_one_line(tmp_path):
    r = CliRunner().invoke(main, ["bench", "--to-steady"])
    assert r.exit_code == 2 and "--to-steady needs CASES" in r.output
    r = CliRunner().invoke(main, ["bench", "--method", "march"])
    assert r.exit_code == 2 and "--method goes with --to-steady" in r.output


def test_coarse_start_reports_its_coarser_meshes(tmp_path):
    """``flow.start: coarse`` on a 64 x 64 cavity (4,096 cells): the 32 x 32 mesh is solved
    first, and the report names it (cells and iterations) beside the fine iterations."""
    case = tmp_path / "cavity.yaml"
    case.write_text(CAVITY.replace("cells: [12, 12, 1]", "cells: [64, 64, 1]")
                    .replace("0.000833", "0.000156") + "  start: coarse\n"
                    "  multigrid: 'off'\n")
    out = tmp_path / "bench.json"
    r = CliRunner().invoke(main, ["bench", str(case), "--to-steady", "--backend", "cpu",
                                  "--json", str(out)])
    assert r.exit_code == 0, r.output
    row = json.loads(out.read_text())[0]
    assert row["converged"] and [c[0] for c in row["coarse"]] == [32 * 32]
    assert f"after {row['coarse'][0][1]:,} on 1,024 cells" in r.output


def test_multigrid_cycles_report_their_meshes(tmp_path):
    """``flow.multigrid: auto`` on a 64 x 64 cavity (no lagged terms: cycles): the report
    gives the fine mesh's outer iterations, the cycles and each coarser mesh's
    iterations (32^2, 16^2 and 8^2: the meshes halve while they have 256 cells or more)."""
    case = tmp_path / "cavity.yaml"
    case.write_text(CAVITY.replace("cells: [12, 12, 1]", "cells: [64, 64, 1]")
                    .replace("0.000833", "0.000156"))
    out = tmp_path / "bench.json"
    r = CliRunner().invoke(main, ["bench", str(case), "--to-steady", "--backend", "cpu",
                                  "--json", str(out)])
    assert r.exit_code == 0, r.output
    row = json.loads(out.read_text())[0]
    assert row["converged"] and row["cycles"] > 0
    assert row["iterations"] == 4 * row["cycles"]
    assert [c[0] for c in row["coarse"]] == [64, 256, 1024]
    assert f"{row['iterations']:,} outer iterations in {row['cycles']:,} multigrid cycles " \
        f"(with {row['coarse'][-1][1]:,} on 1,024 cells" in r.output


def test_estimate_is_printed_before_the_run(tmp_path):
    """Before anything is built: the cells, the memory and what the solve may take (the
    limit's time at most), ahead of the run's report."""
    r, row = _bench(tmp_path, "--steps", "500")
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    grid = next(i for i, s in enumerate(lines) if "grid" in s and "= 144 cells" in s)
    solve = next(i for i, s in enumerate(lines) if "a steady solve: about" in s)
    report = next(i for i, s in enumerate(lines) if s.endswith(": to steady state"))
    assert grid < report and solve < report, r.output
    assert "of memory" in lines[grid] and "the limit of 500 at most" in lines[solve]


def test_case_that_cannot_fit_is_refused_in_one_line_before_the_run(tmp_path, monkeypatch):
    monkeypatch.setenv("THERMOSIM_MEMORY_LIMIT", "10kB")
    case = tmp_path / "cavity.yaml"
    case.write_text(CAVITY)
    r = CliRunner().invoke(main, ["bench", str(case), "--to-steady", "--backend", "cpu"])
    assert r.exit_code == 2, r.output
    err = [s for s in r.output.splitlines() if s.strip()]
    assert len(err) == 1 and err[0].startswith(f"thermosim: error: {case}: grid: 144 cells "
                                               "need about"), r.output
    assert "Traceback" not in r.output and "to steady state" not in r.output


def test_step_timing_refuses_a_case_that_cannot_fit_before_building_it(tmp_path,
                                                                       monkeypatch):
    """``thermosim bench`` without ``--to-steady`` (it times march steps) is refused in one
    line by the same estimate, for the march's memory: over a limit between the march's
    need and the steady solver's, the step timing runs and the steady bench is refused."""
    from thermosim.case import load_case
    from thermosim.sizing import estimate

    case = tmp_path / "cavity.yaml"
    case.write_text(CAVITY + "  method: simplec\n")
    c = load_case(case)
    steady = estimate(c, "cpu").host_need
    march = estimate(c.model_copy(update={"flow": c.flow.model_copy(
        update={"method": "march"})}), "cpu").host_need
    assert march < steady
    monkeypatch.setenv("THERMOSIM_MEMORY_LIMIT", f"{0.5 * march:.0f}")
    r = CliRunner().invoke(main, ["bench", str(case), "--backend", "cpu", "--steps", "2"])
    assert r.exit_code == 2, r.output
    err = [s for s in r.output.splitlines() if s.strip()]
    assert len(err) == 1 and err[0].startswith(f"thermosim: error: {case}: grid: 144 cells "
                                               "need about"), r.output
    monkeypatch.setenv("THERMOSIM_MEMORY_LIMIT", f"{0.5 * (march + steady):.0f}")
    r = CliRunner().invoke(main, ["bench", str(case), "--backend", "cpu", "--steps", "2"])
    assert r.exit_code == 0 and "Traceback" not in r.output, r.output
    r = CliRunner().invoke(main, ["bench", str(case), "--backend", "cpu", "--to-steady"])
    assert r.exit_code == 2 and "need about" in r.output, r.output


def test_limit_holds_where_the_case_would_average(tmp_path):
    """The quick air hall has ``unsteady: average`` (``thermosim run`` goes on to a time
    mean where no steady state is found); ``--steps 5`` stops it at 5 all the same, and
    the report says the mean was not taken."""
    from pathlib import Path

    hall = Path(__file__).resolve().parents[1] / "meshes" / "air_cooled_quick.yaml"
    out = tmp_path / "bench.json"
    r = CliRunner().invoke(main, ["bench", str(hall), "--to-steady", "--backend", "cpu",
                                  "--steps", "5", "--json", str(out)])
    assert r.exit_code == EXIT_UNCONVERGED, r.output
    row = json.loads(out.read_text())[0]
    assert row["iterations"] == 5 and row["max_iterations"] == 5 and not row["converged"]
    assert "unsteady: average not used" in row["note"]


def test_progress_gives_the_measured_rate_and_the_time_left(tmp_path, capsys):
    from thermosim.bench import bench_to_steady

    case = tmp_path / "cavity.yaml"
    case.write_text(CAVITY)
    row = bench_to_steady(case, "cpu", max_iterations=400, progress_every_s=0.0)
    err = capsys.readouterr().err.splitlines()
    assert row["converged"] and err, err
    # one line a check, each with the measured time an iteration and the rest's bound
    assert all(" an iteration, the limit of 400 in at most " in s for s in err), err


def test_a_case_that_runs_away_is_a_row_and_the_next_still_runs(tmp_path, monkeypatch):
    """``bench --to-steady`` over several cases (the device check's 1e6 and 1e7 halls): a
    case that diverges is reported as a row, with why, and the cases after it still run.
    The quick air hall is made to run away at its first check by a runaway threshold of a
    hundredth of its fans' fastest speed (its largest speed is 0.23 of it), and again in
    its second try (thermosim/flow/retry.py) at that try's first check, the tenth."""
    from pathlib import Path

    import thermosim.flow.solver as solver

    monkeypatch.setattr(solver, "FAN_RUNAWAY", 0.01)
    hall = Path(__file__).resolve().parents[1] / "meshes" / "air_cooled_quick.yaml"
    case = tmp_path / "cavity.yaml"
    case.write_text(CAVITY)
    out = tmp_path / "bench.json"
    r = CliRunner().invoke(main, ["bench", str(hall), str(case), "--to-steady", "--backend",
                                  "cpu", "--json", str(out)])
    assert r.exit_code == EXIT_UNCONVERGED, r.output
    hall_row, cavity_row = json.loads(out.read_text())
    assert not hall_row["converged"] and hall_row["iterations"] == 10
    assert "the velocity ran away to" in hall_row["stalled"]
    assert "the fastest the fans can drive) at outer iteration 10" in hall_row["stalled"]
    assert "(the second try, with SIMPLEC's d consistent with the momentum operator; the " \
        "first diverged after 1 outer iterations)" in hall_row["stalled"]
    assert hall_row["retried"].startswith("the first 1 outer iterations diverged")
    assert cavity_row["converged"]
    assert f"thermosim: error: {hall}: flow: diverged: the velocity ran away to" in r.output, \
        r.output
