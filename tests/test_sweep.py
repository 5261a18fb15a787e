"""``thermosim sweep``: points over case fields, run locally in processes or on a Dask
cluster, resumable, one table in CSV and HDF5."""

import csv
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from thermosim import study
from thermosim.cli import main
from thermosim.errors import CaseError

CASE = Path(__file__).resolve().parents[1] / "thermosim" / "cases" / "default.yaml"
POWERS = [300.0, 500.0, 700.0]


def _sweep(tmp_path, body: str) -> Path:
    shutil.copy(CASE, tmp_path / "package.yaml")
    f = tmp_path / "study.yaml"
    f.write_text("case: package.yaml\n" + body)
    return f


def _linear(rows):
    """Conduction is linear in its sources: the hottest temperature is affine in the die's
    power, so equal power steps give equal temperature steps."""
    t = [r["max_temperature"] for r in sorted(rows, key=lambda r: r["powers.die"])]
    assert t[0] < t[1] < t[2]
    assert (t[2] - t[1]) == pytest.approx(t[1] - t[0], rel=1e-5)


def test_sweep_runs_in_local_processes_and_writes_one_table(tmp_path):
    f = _sweep(tmp_path, f"grid: {{powers.die: {POWERS}}}\nworkers: 2\n")
    spec = study.load_sweep(f)
    assert len(spec["points"]) == 3
    rows = study.run_sweep(spec, tmp_path / "out")
    assert [r["status"] for r in rows] == ["ok"] * 3
    assert [r["powers.die"] for r in rows] == POWERS
    _linear(rows)
    with open(tmp_path / "out" / "results.csv") as fh:
        table = list(csv.DictReader(fh))
    assert [float(r["max_temperature"]) for r in table] == \
        pytest.approx([r["max_temperature"] for r in rows], rel=1e-12)
    with h5py.File(tmp_path / "out" / "results.h5") as h:
        assert np.allclose(h["powers.die"][()], POWERS)
        assert np.allclose(h["max_temperature"][()], [r["max_temperature"] for r in rows])
        assert list(h["status"].asstr()[()]) == ["ok"] * 3


def test_sweep_resumes_without_rerunning_finished_points(tmp_path, monkeypatch):
    """Interrupted after its first point, the sweep keeps it; run again, it computes only
    the other two (counted), and the table has all three."""
    f = _sweep(tmp_path, f"grid: {{powers.die: {POWERS}}}\nworkers: 1\n")
    spec = study.load_sweep(f)
    calls = []
    real = study.run_point

    def counting(*a, **k):
        calls.append(a[0]["powers"] if "powers" in a[0] else a[0]["blocks"][3]["power"])
        return real(*a, **k)

    monkeypatch.setattr(study, "run_point", counting)

    def interrupt(done, total):
        if done == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        study.run_sweep(spec, tmp_path / "out", progress=interrupt)
    assert len(calls) == 1 and len(list((tmp_path / "out" / "runs").glob("*.json"))) == 1
    rows = study.run_sweep(spec, tmp_path / "out")
    assert len(calls) == 3
    assert [r["status"] for r in rows] == ["ok"] * 3
    _linear(rows)
    study.run_sweep(spec, tmp_path / "out")        # all done: nothing runs
    assert len(calls) == 3


def test_interrupted_parallel_sweep_keeps_what_finished(tmp_path):
    """Ctrl-C in a sweep of two processes ends it at once (queued points cancelled); the
    next call runs what is left and the table is whole."""
    f = _sweep(tmp_path, f"grid: {{powers.die: {POWERS + [900.0]}}}\nworkers: 2\n")
    spec = study.load_sweep(f)

    def interrupt(done, total):
        if done == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        study.run_sweep(spec, tmp_path / "out", progress=interrupt)
    kept = len(list((tmp_path / "out" / "runs").glob("*.json")))
    assert 1 <= kept < 4
    rows = study.run_sweep(spec, tmp_path / "out")
    assert [r["status"] for r in rows] == ["ok"] * 4
    _linear(rows[:3])


def test_sweep_on_a_local_dask_cluster_matches_local_processes(tmp_path):
    distributed = pytest.importorskip("distributed")
    f = _sweep(tmp_path, f"list:\n" + "".join(f"  - {{powers.die: {p}}}\n" for p in POWERS))
    spec = study.load_sweep(f)
    local = study.run_sweep(spec, tmp_path / "local", workers=1)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        remote = study.run_sweep(spec, tmp_path / "dask", scheduler=cluster.scheduler_address)
    assert [r["status"] for r in remote] == ["ok"] * 3
    for a, b in zip(local, remote):
        assert b["max_temperature"] == pytest.approx(a["max_temperature"], rel=1e-12)
    _linear(remote)


def test_sweep_mistakes_are_one_line(tmp_path):
    f = _sweep(tmp_path, 'grid: {"blocks[99].power": [1.0]}\n')
    with pytest.raises(CaseError, match=r"study.yaml.*blocks\[99\].power: no item 99"):
        study.load_sweep(f)
    f = _sweep(tmp_path, "grid: {powers.die: [-5.0]}\n")
    with pytest.raises(CaseError, match="point 0 \\(powers.die=-5.0\\).*non-negative"):
        study.load_sweep(f)
    f = _sweep(tmp_path, "grid: {powers.die: [1.0]}\nenergy: {pump_eficiency: 1}\n")
    with pytest.raises(CaseError, match="unknown key"):
        study.load_sweep(f)
    f = _sweep(tmp_path, "grid: {powers.die: [1.0]}\nlist: []\n")
    r = CliRunner().invoke(main, ["sweep", str(f)])
    assert r.exit_code == 2
    assert r.output.count("\n") == 1 and "either grid" in r.output


def test_sweep_command(tmp_path):
    f = _sweep(tmp_path, "grid: {powers.die: [400.0, 600.0]}\nworkers: 1\nname: dies\n")
    r = CliRunner().invoke(main, ["sweep", str(f)])
    assert r.exit_code == 0, r.output
    assert "2 of 2 points done" in r.output
    assert (tmp_path / "dies" / "results.csv").exists()


def test_sweep_of_a_rack_layout_tabulates_its_energy(tmp_path):
    """A layout case's rows carry the facility energy; ``energy.`` keys vary the energy
    model: the same tanks in Miami's hot, humid year need more energy than in Sand Point's
    cool one (fewer free-cooling hours)."""
    f = tmp_path / "tanks.yaml"
    f.write_text("case: immersion_quick\nworkers: 1\n"
                 "grid: {energy.climate: [miami, sand_point]}\n")
    rows = study.run_sweep(study.load_sweep(f), tmp_path / "out")
    assert [r["status"] for r in rows] == ["ok", "ok"]
    # one case, two plants: one run, the energy of each climate from its metrics
    assert len(list((tmp_path / "out" / "runs").glob("*.json"))) == 1
    miami, sand = rows
    assert miami["layout"] == "immersion" and miami["climate"] == "miami"
    assert miami["it_power"] == pytest.approx(66400.0)
    assert miami["max_junction_temperature"] == pytest.approx(sand["max_junction_temperature"])
    assert miami["pue"] > sand["pue"] > 1.0
    assert miami["chiller_kwh"] > sand["chiller_kwh"]
