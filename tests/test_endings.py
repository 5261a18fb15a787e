"""Honest endings (issue 17, item 6): a transient cut short by max_steps says so and marks
its result; a run stopped by max_steps continues from its checkpoint with a larger
max_steps (the stopping controls are not part of the checkpoint's fingerprint)."""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np
import yaml
from click.testing import CliRunner

from thermosim.case import Case
from thermosim.checkpoint import fingerprint
from thermosim.cli import main

ROOT = Path(__file__).resolve().parents[1]


def tiny(end_time=None, max_steps=3) -> dict:
    """The shipped channel on a 10 x 4 x 1 grid: a few ms a step."""
    d = yaml.safe_load((ROOT / "meshes" / "server_channel_flow.yaml").read_text())
    d["grid"] = {"cells": [10, 4, 1]}
    d["blocks"] = d["blocks"][:1]
    d["blocks"][0]["max"][1] = 0.005
    d["flow"].pop("end_time", None)
    if end_time is not None:
        d["flow"]["end_time"] = end_time
    d["flow"]["max_steps"] = max_steps
    return d


def run(tmp: Path, data: dict, *args):
    tmp.mkdir(exist_ok=True)
    (tmp / "case.yaml").write_text(yaml.safe_dump(data))
    old = os.getcwd()
    os.chdir(tmp)
    try:
        r = CliRunner().invoke(main, ["run", "case.yaml", "-o", "out.h5", *args])
    finally:
        os.chdir(old)
    return r


def fields(path: Path) -> dict:
    with h5py.File(path, "r") as f:
        return {k: f[k][...] for k in ("fields/T", "staggered/u", "staggered/v", "fields/p")}


def test_transient_cut_short_is_said_and_marked(tmp_path):
    r = run(tmp_path, tiny(end_time=1.0, max_steps=3))
    assert r.exit_code == 0, r.output
    warnings = [ln for ln in r.stderr.splitlines() if "warning:" in ln]
    assert len(warnings) == 1 and "stopped by max_steps (3) at t = " in warnings[0] \
        and "of 1 s" in warnings[0], r.stderr
    assert "stopped by max_steps (3)" in r.stdout            # the summary
    with h5py.File(tmp_path / "out.h5", "r") as f:
        assert f["solver"].attrs["stopped"].startswith("stopped by max_steps (3) at t = ")
        assert int(f["solver"].attrs["steps"]) == 3


def test_transient_reaching_its_end_is_not_marked(tmp_path):
    r = run(tmp_path, tiny(end_time=0.003, max_steps=100))
    assert r.exit_code == 0, r.output
    assert "warning:" not in r.stderr
    with h5py.File(tmp_path / "out.h5", "r") as f:
        assert "stopped" not in f["solver"].attrs
    assert not (tmp_path / "out.h5.checkpoint.h5").exists()


def test_stopping_controls_are_not_in_the_fingerprint():
    a = Case.from_dict(tiny(max_steps=10))
    b = Case.from_dict({**tiny(max_steps=50), "flow": {**tiny(max_steps=50)["flow"],
                                                      "tolerance": 1e-7}})
    assert fingerprint(a) == fingerprint(b)
    c = Case.from_dict({**tiny(), "flow": {**tiny()["flow"], "cfl": 0.3}})
    assert fingerprint(a) != fingerprint(c)                  # the steps taken change
    lay = Case.from_dict({"layout": "air_cooled", "max_steps": 5})
    lay2 = Case.from_dict({"layout": "air_cooled", "max_steps": 500})
    assert fingerprint(lay) == fingerprint(lay2)


def test_transient_resumed_with_more_steps_equals_an_uninterrupted_run(tmp_path):
    end = 0.2
    r1 = run(tmp_path / "a", tiny(end_time=end, max_steps=3))
    assert r1.exit_code == 0 and "stopped by max_steps" in r1.stderr
    assert (tmp_path / "a" / "out.h5.checkpoint.h5").exists()
    r2 = run(tmp_path / "a", tiny(end_time=end, max_steps=1000), "--resume")
    assert r2.exit_code == 0, r2.output
    assert "resuming at step 3" in r2.stderr and "warning:" not in r2.stderr
    ref = run(tmp_path / "b", tiny(end_time=end, max_steps=1000))
    assert ref.exit_code == 0
    with h5py.File(tmp_path / "a" / "out.h5") as fa, h5py.File(tmp_path / "b" / "out.h5") as fb:
        assert fa["solver"].attrs["steps"] == fb["solver"].attrs["steps"] > 3
        assert fa["solver"].attrs["time"] == fb["solver"].attrs["time"]
    a, b = fields(tmp_path / "a" / "out.h5"), fields(tmp_path / "b" / "out.h5")
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_no_steady_state_continues_with_a_larger_max_steps(tmp_path):
    r1 = run(tmp_path / "a", tiny(max_steps=10))
    assert r1.exit_code == 3      # written and marked unconverged (2: a mistake in the input)
    errors = [ln for ln in r1.stderr.splitlines() if ln.startswith("thermosim: error:")]
    assert len(errors) == 1 and "Traceback" not in r1.stderr, r1.stderr
    assert "no steady state after 10 steps" in r1.stderr
    assert "raise flow.max_steps and rerun with --resume" in r1.stderr
    ck = tmp_path / "a" / "out.h5.checkpoint.h5"
    assert ck.exists()
    r2 = run(tmp_path / "a", tiny(max_steps=20), "--resume")
    assert "resuming at step 10" in r2.stderr, r2.output
    assert "no steady state after 20 steps" in r2.stderr       # 10 more, not 20 afresh
    ref = run(tmp_path / "b", tiny(max_steps=20))
    assert "no steady state after 20 steps" in ref.stderr
    with h5py.File(ck) as fa, h5py.File(tmp_path / "b" / "out.h5.checkpoint.h5") as fb:
        assert int(fa.attrs["steps"]) == int(fb.attrs["steps"]) == 20
        for k in ("u", "v", "w", "T", "phi"):
            np.testing.assert_array_equal(fa[k][...], fb[k][...], err_msg=k)
