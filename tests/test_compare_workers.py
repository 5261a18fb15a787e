"""``thermosim compare``'s runs in worker processes (:mod:`thermosim.compare_workers`): the
same figures as a run in this process, each run once, sized to the cores, the memory and
the device."""

import copy

import pytest

from thermosim.case import Case
from thermosim.compare import _case_file, _raw
from thermosim.compare_grids import refined
from thermosim.compare_workers import (pending, run_ahead, run_or_reuse,
                                       worker_count)
from thermosim.sizing import estimate
from thermosim.study import case_key


def _tanks(tmp_path):
    """Two immersion tanks (0.1 m and 0.077 m cells: 1,815 and about 3,000 cells, under a
    second each), as the grid study's jobs: (path, data, case, kind, workdir)."""
    path = _case_file("immersion_quick")
    jobs = []
    for k, ratio in enumerate((0.5, 0.65)):
        data = refined(_raw(path), ratio, 1)
        case = Case.from_dict(copy.deepcopy(data), str(path))
        jobs.append((path, data, case, "immersion", tmp_path / f"mesh{k + 1}"))
    return jobs


def test_two_workers_give_the_runs_of_this_process(tmp_path):
    """Two tanks in two spawned workers: each kept in the cache with the metrics of the same
    run in this process (to 1e-12; each worker a thread, as this process below 100,000
    cells), their progress lines back in the log, and a second call runs nothing."""
    jobs = _tanks(tmp_path)
    assert jobs[0][1]["cell"] != jobs[1][1]["cell"]
    cache = tmp_path / "cache"
    lines = []
    ran = run_ahead(jobs, "cpu", cache, lines.append, 2)
    keys = {case_key(d, "cpu", str(p)) for p, d, *_ in jobs}
    assert ran == keys
    assert lines[0].startswith("2 runs in 2 worker processes, the largest first")
    for _, _, case, _, _ in jobs:
        tag = f"immersion, {estimate(case).cells:,.0f} cells: finished in"
        assert any(tag in line for line in lines), lines
    for path, data, case, kind, workdir in jobs:
        assert (workdir / "runs" / "immersion.h5").is_file()       # the worker's, kept
        kept, _ = run_or_reuse(path, data, case, kind, workdir, "cpu", lines.append, cache,
                               ran)
        here, _ = run_or_reuse(path, data, case, kind, workdir, "cpu", lines.append, None)
        assert kept["steps"] == here["steps"] > 0 and kept["steady"] == here["steady"]
        a, b = kept["metrics"], here["metrics"]
        assert a["pump_hydraulic_power"] == pytest.approx(b["pump_hydraulic_power"],
                                                          rel=1e-12)
        for x, y in zip(a["chips"], b["chips"]):
            assert x["junction_temperature"] == pytest.approx(y["junction_temperature"],
                                                              rel=1e-12)
    # the runs read back from the cache were made by this comparison: no "run before" line
    assert not any("not run again" in line for line in lines)
    assert pending(jobs, "cpu", cache) == []
    assert run_ahead(jobs, "cpu", cache, lines.append, 2) == set()


def test_workers_fit_the_cores_the_memory_and_the_device(tmp_path, monkeypatch):
    jobs = _tanks(tmp_path)
    cases = [j[2] for j in jobs]
    monkeypatch.delenv("THERMOSIM_MEMORY_LIMIT", raising=False)
    assert worker_count(cases, "cpu", 8) == 2          # no more than the runs
    assert worker_count(cases[:1], "cpu", None) == 1
    assert worker_count(cases, "cpu", 1) == 1
    need = sum(estimate(j[2]).host_need for j in jobs)
    monkeypatch.setenv("THERMOSIM_MEMORY_LIMIT", str(int(need * 1.01)))
    assert worker_count(cases, "cpu", 2) == 2
    monkeypatch.setenv("THERMOSIM_MEMORY_LIMIT", str(int(need * 0.99)))
    assert worker_count(cases, "cpu", 2) == 1           # two would not fit together
    monkeypatch.delenv("THERMOSIM_MEMORY_LIMIT")
    assert worker_count(cases, "gpu", 2) == 1           # one device: one run at a time
    # one worker, or no cache to keep the runs in: the comparison runs them itself
    assert run_ahead(jobs, "cpu", tmp_path / "c", print, 1) == set()
    assert run_ahead(jobs, "cpu", None, print, 2) == set()


def _tank_points(tmp_path, knob="supply temperature offset (K)"):
    """The sensitivity points of the 0.1 m tank: its two supply temperatures."""
    from dataclasses import asdict

    from thermosim.compare import SENSITIVITY, variant
    from thermosim.facility import Plant
    from thermosim.study import point_key

    path, data, _, kind, _ = _tanks(tmp_path)[0]
    energy = asdict(Plant())
    rec = {"kind": kind, "path": str(path), "data": data}
    points = []
    for value in SENSITIVITY[knob]["values"]:
        d = variant(data, knob, value)
        points.append((knob, value, rec, d, point_key({"run": case_key(d, "cpu", str(path))},
                                                       energy)))
    return points, energy


def test_sensitivity_runs_in_workers_as_here(tmp_path):
    """The sensitivity runs side by side (two workers) give this process's rows (PUE and
    facility energy to 1e-12), are kept, and are read back the next time."""
    from thermosim.compare import _sensitivity_rows

    points, energy = _tank_points(tmp_path)
    lines = []
    two = _sensitivity_rows(points, energy, "cpu", lines.append, tmp_path / "a", 2)
    assert "sensitivity: 2 runs in 2 worker processes" in lines
    one = _sensitivity_rows(points, energy, "cpu", lines.append, tmp_path / "b", 1)
    assert set(two) == set(one) == {p[4] for p in points}
    for k in one:
        assert two[k]["status"] == one[k]["status"] == "ok"
        assert two[k]["pue"] == pytest.approx(one[k]["pue"], rel=1e-12)
        assert two[k]["facility_kwh"] == pytest.approx(one[k]["facility_kwh"], rel=1e-12)
    assert one[points[0][4]]["facility_kwh"] != one[points[1][4]]["facility_kwh"]
    lines.clear()
    again = _sensitivity_rows(points, energy, "cpu", lines.append, tmp_path / "a", 2)
    assert sum("run before" in x for x in lines) == 2 and again.keys() == two.keys()


@pytest.mark.parametrize("start, args", [
    ("from thermosim.compare_workers import _start", "(ctx.Queue(), 1, os.getpid())"),
    ("from thermosim.study import watch_parent as _start", "(os.getpid(),)")])
def test_a_worker_stops_when_its_comparison_is_killed(tmp_path, start, args):
    """kill -9 of the comparison (or of a sweep): its worker, mid-run, is gone within
    seconds (it watches its parent), not left to run its layout for nobody."""
    import os
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "parent.py"
    script.write_text(
        "import multiprocessing as mp, os, sys, time\n"
        "from concurrent.futures import ProcessPoolExecutor\n"
        f"{start}\n"
        "if __name__ == '__main__':\n"
        "    ctx = mp.get_context('spawn')\n"
        "    pool = ProcessPoolExecutor(1, mp_context=ctx, initializer=_start,\n"
        f"                               initargs={args})\n"
        "    print(pool.submit(os.getpid).result(), flush=True)\n"
        "    pool.submit(time.sleep, 120)\n"
        "    time.sleep(120)\n")
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    worker = int(parent.stdout.readline())
    os.kill(worker, 0)                              # running
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            os.kill(worker, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    os.kill(worker, signal.SIGKILL)
    raise AssertionError("the worker outlived its comparison by 15 s")



def test_a_failed_run_stops_the_comparison_with_its_line(tmp_path, monkeypatch):
    """A worker's run that stops on a mistake (here its step limit, which only the run
    checks: the workers inherit THERMOSIM_MAX_TIME_STEPS) ends the comparison with that one
    line, and nothing of it is kept."""
    from thermosim.errors import ThermosimError

    jobs = _tanks(tmp_path)
    monkeypatch.setenv("THERMOSIM_MAX_TIME_STEPS", "10")
    cache = tmp_path / "cache"
    with pytest.raises(ThermosimError) as e:
        run_ahead(jobs, "cpu", cache, lambda s: None, 2)
    assert "flow.max_steps" in str(e.value) and "\n" not in str(e.value)
    assert pending(jobs, "cpu", cache) == jobs


def _children(pid: int) -> list[str]:
    """The pids of ``pid``'s child processes, from /proc (no procps needed)."""
    from pathlib import Path

    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == str(pid):
            out.append(stat.parent.name)
    return out


def test_a_terminated_comparison_ends_its_workers_and_leaves_no_folder(tmp_path):
    """SIGTERM (a batch scheduler's) to ``thermosim compare`` while its workers run: one
    line, exit status 143, no worker left, no half-made report folder beside the cache."""
    import os
    import signal
    import subprocess
    import sys
    import time

    cases = [str(_case_file(n)) for n in ("air_cooled_quick", "immersion_quick")]
    p = subprocess.Popen([sys.executable, "-m", "thermosim.cli", "compare", *cases, "-o",
                          str(tmp_path / "report"), "--backend", "cpu"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    line = ""
    while "worker processes" not in line and time.monotonic() < deadline:
        line = p.stderr.readline()
    assert "worker processes" in line
    time.sleep(2)                                       # (the pool starts after the line)
    workers = _children(p.pid)
    assert len(workers) >= 2, workers                  # the two workers (and a tracker)
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 143 and "thermosim: error: terminated" in err
    # (the cache, if a run finished; no report, no half-made one)
    assert [x.name for x in tmp_path.iterdir() if x.name != ".report.cache"] == []
    time.sleep(1)
    for w in workers:
        try:
            os.kill(int(w), 0)
        except ProcessLookupError:
            continue
        with open(f"/proc/{w}/stat") as f:       # (a zombie, not yet reaped, is gone)
            assert f.read().split()[2] == "Z", f"worker {w} still running"
