"""Mutated case, layout, sweep and plant files through the command line: every one is
refused with one-line errors (``thermosim: error: ...``) or accepted, never a traceback, a
hang or a file left behind.  The mutations are those of ``benchmarks/fuzz_cases.py`` (which
runs any number of them); here hypothesis draws a few hundred, reproducibly.  Accepted cases
stop where their solve would start (the set-up of the grid, the model and the flow solver
runs, the solve does not)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import fuzz_cases as fz  # noqa: E402

SEED = 17
BASES = fz.load_bases()
LAYOUTS = fz.layout_parameters()


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    # one worker process for all examples: thermosim imported once, each case within a
    # time and memory limit (a hang or a runaway allocation fails the example, not CI)
    r = fz.Runner(tmp_path_factory.mktemp("fuzz"), timeout=30.0, max_rss=2048.0, cap=0)
    # compile (or load from Numba's cache) the kernels the flow solver's set-up uses,
    # outside the examples' limits
    for name in ("server_channel", "default", "immersion_quick"):
        base = next(b for b in BASES if b.name == name)
        r.timeout = 600.0
        r.run(fz.Mutant(-1, "case", name, base.text.encode()))
    r.timeout = 30.0
    yield r
    r.close()


def _explain(m: fz.Mutant, res: dict) -> str:
    return (f"mutant {m.index} (seed {SEED}; `python benchmarks/fuzz_cases.py --seed {SEED} "
            f"--show {m.index}`) of {m.kind} {m.base}: {'; '.join(m.ops)}\n"
            f"outcome {res['outcome']}: {res.get('cause')} {res.get('message', '')}\n"
            f"stderr: {res.get('stderr', '')[-600:]}\nleft: {res.get('leftovers')}")


@settings(max_examples=250, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(index=st.integers(min_value=0, max_value=10 ** 9))
def test_mutated_inputs_fail_cleanly_or_run(runner, index):
    m = fz.make_case(index, SEED, BASES, LAYOUTS)
    res = runner.run(m)
    assert res["outcome"] in ("clean error", "accepted"), _explain(m, res)
    assert not res.get("leftovers"), _explain(m, res)
    if res["outcome"] == "clean error" and not res.get("usage"):
        # (an option's value that click refuses, ``-o .``, gets click's usage message)
        lines = [ln for ln in res["stderr"].splitlines() if ln.startswith("thermosim: ")]
        assert lines and all(ln.startswith(fz.ERROR_PREFIX) for ln in lines), \
            _explain(m, res)


def test_mutations_are_reproducible():
    a = fz.make_case(12345, SEED, BASES, LAYOUTS)
    b = fz.make_case(12345, SEED, BASES, LAYOUTS)
    c = fz.make_case(12346, SEED, BASES, LAYOUTS)
    assert (a.content, a.ops) == (b.content, b.ops)
    assert a.content != c.content


def test_every_kind_of_input_is_mutated():
    kinds = {fz.make_case(i, SEED, BASES, LAYOUTS).kind for i in range(200)}
    assert kinds == {"case", "sweep", "plant"}
    assert {b.kind for b in BASES} == {"case", "sweep", "plant"}


def test_the_harness_sees_a_traceback(tmp_path, monkeypatch):
    # the classification itself can fail: an exception escaping the command is a traceback
    # named by its innermost thermosim frame, and a file left after it is a leftover
    import thermosim.cli

    def broken(**kw):
        (Path.cwd() / "out.h5.tmp").write_text("partial")
        raise ValueError("boom")

    from thermosim import flow
    from thermosim import runner as solve_runner

    monkeypatch.setattr(thermosim.cli.run, "callback", broken)
    # the caps patch the solver in this process: put the originals back afterwards, so that
    # the tests that run after this one solve for real
    monkeypatch.setattr(flow.FlowSolver, "step", flow.FlowSolver.step)
    monkeypatch.setattr(flow.outer.OuterIteration, "iterate", flow.outer.OuterIteration.iterate)
    monkeypatch.setattr(solve_runner, "solve", solve_runner.solve)
    fz.install_caps(0)
    base = next(b for b in BASES if b.name == "default")
    res = fz.run_one(fz.Mutant(0, "case", "default", base.text.encode()), tmp_path)
    assert res["outcome"] == "traceback"
    assert res["cause"].startswith("ValueError @ ")
    assert res["leftovers"] == ["out.h5.tmp"]
