"""Golden results: the flow and conduction solvers give today's numbers, to 1e-12.

tests/golden/*.npz were written by tests/golden/record.py from the code before the flow
solver was restructured (issue 18; the commit is in each file).  Every case of
tests/golden_cases.py (verification flows stepped explicitly, steady marches with implicit
and automatic diffusion, upwind advection, a transient, both turbulence models, components
in a duct, the three quick halls, a checkpoint round trip, steady and transient conduction)
is run again on the CPU in float64 and must reproduce every field with its halos (u, v, w,
T, phi), the counters of FlowStats (steps and iteration counts exactly), the heat flows and
every number of the components and layout metrics: relative 1e-12, with an absolute floor of
1e-12 times the largest magnitude of the same quantity.  A restructure that changes no
numerics passes unchanged; one that does must say why and rerecord (see record.py).
"""

from __future__ import annotations

import numpy as np
import pytest

import golden_cases as gc
import thermosim

CASES = list(gc.CASES)


@pytest.fixture(autouse=True)
def _one_thread(monkeypatch):
    # the CPU's parallel dot products sum in an order set by the thread count: the
    # references were written on one thread
    monkeypatch.setenv("THERMOSIM_THREADS", "1")


@pytest.mark.parametrize("name", CASES)
def test_run_gives_the_golden_result(name):
    case = gc.CASES[name]
    want = gc.load(case.golden)
    got = gc.snapshot(*case.run("cpu"))
    bad = gc.differences(got, want[:2])
    assert not bad, f"{name} ({case.what}) differs from tests/golden/{case.golden}.npz " \
                    f"(recorded at {want[2]['commit']}):\n  " + "\n  ".join(bad[:40])


def test_solve_gives_the_golden_flow():
    """thermosim.solve on the server channel's case mapping: the result's interior fields
    are the golden transient's."""
    import yaml

    data = yaml.safe_load(gc.SERVER_CHANNEL.format(extra="  end_time: 0.05"))
    r = thermosim.solve(data, "cpu")
    want, _, _ = gc.load("server_channel_transient")
    n = r.T.shape
    inner = lambda a, ax=None: a[tuple(slice(1, m + (2 if b == ax else 1))  # noqa: E731
                                       for b, m in enumerate(n))]
    for k, got, ref in (("u", r.u, inner(want["field/u"], 0)),
                        ("v", r.v, inner(want["field/v"], 1)),
                        ("w", r.w, inner(want["field/w"], 2)),
                        ("T", r.T, inner(want["field/T"]))):
        np.testing.assert_allclose(got, ref, rtol=gc.RTOL,
                                   atol=gc.RTOL * np.abs(ref).max(), err_msg=k)
    assert r.stats.steps == int(want["stats/steps"])
    assert r.stats.pressure_iterations == int(want["stats/pressure_iterations"])
    for k, q in r.heat_flows.items():
        assert q == pytest.approx(float(want[f"heat/{k}"]), rel=1e-12,
                                  abs=1e-12 * float(want["power/total"]))


def test_every_reference_belongs_to_a_case_and_all_are_compact():
    stored = {p.stem for p in gc.GOLDEN.glob("*.npz")}
    recorded = {c.golden for c in gc.CASES.values()}
    assert stored == recorded, (sorted(stored - recorded), sorted(recorded - stored))
    total = sum(p.stat().st_size for p in gc.GOLDEN.glob("*.npz"))
    assert total < 2_000_000, f"{total} bytes of references"


def test_comparison_catches_a_small_change():
    """One cell off by 1e-10 of the field's scale, an iteration more, a word changed or a
    number dropped: each is reported; a change at 1e-14 is not."""
    arrays, text, _ = gc.load("channel")
    assert gc.differences((arrays, text), (arrays, text)) == []

    def changed(key, fn):
        a = {k: v.copy() for k, v in arrays.items()}
        a[key] = fn(a[key])
        return gc.differences((a, text), (arrays, text))

    scale = np.abs(arrays["field/u"]).max()

    def nudge(eps):
        def fn(u):
            u[3, 2, 2] += eps * scale
            return u
        return fn
    bad = changed("field/u", nudge(1e-10))
    assert len(bad) == 1 and bad[0].startswith("field/u: max |difference|")
    assert changed("field/u", nudge(1e-14)) == []
    assert changed("stats/pressure_iterations", lambda x: x + 1)
    a = dict(arrays)
    del a["field/T"]
    assert gc.differences((a, text), (arrays, text)) == ["field/T: missing"]
    t = {**text, "stats/converged": "True"}
    assert gc.differences((arrays, t), (arrays, text))
