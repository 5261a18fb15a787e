"""Failure to converge is told, not hidden (issue 19, item 8): a steady run stopped by its
iteration limit names the equation that stalled, its value against its tolerance and what
to change, writes its result marked UNCONVERGED with the residual history drawn beside it,
and ``thermosim run`` exits 3."""

from __future__ import annotations

import math

import h5py
import pytest

from thermosim.case import Case
from thermosim.compare_report import unconverged_mark, unconverged_notice
from thermosim.errors import SolverError
from thermosim.unconverged import EXIT_UNCONVERGED, NotSteady, diagnose

from test_endings import run, tiny

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def history(ru, rt, steps=range(10, 1001, 10)):
    """History rows (step, time, velocity residual, temperature residual) of the
    functions ``ru(step)`` and ``rt(step)``."""
    return [(s, 1e-3 * s, ru(s), rt(s)) for s in steps]


def test_a_residual_falling_a_decade_per_100_steps_needs_200_more_for_two_decades():
    """Exponential decay: velocity residual 1e8 x 10^(-step/100), 1e-2 at step 1000, two
    decades above its tolerance 1e-4: exactly 200 steps more (the least-squares fit of
    log10 of the residual is exact on an exponential)."""
    h = history(lambda s: 1e8 * 10 ** (-s / 100), lambda s: 1e-9)
    stall = diagnose(h, 1e-4, steps=1000)
    assert h[-1][2] == pytest.approx(1e-2)
    (c,) = stall.unmet
    assert c.equation == "momentum" and c.trend == "falling"
    assert c.window == 490                          # the last half: steps 510 to 1000
    assert c.factor == pytest.approx(10 ** -4.9, rel=1e-9)
    assert c.more == 200
    assert "raise flow.max_steps to about 1,200" in stall.advice()
    assert stall.describe().startswith("the momentum equation is still converging: "
                                       "velocity residual 1.0e-02 against 1e-04")


def test_the_equation_that_stalled_is_named_before_one_still_falling():
    """The velocity flat at 1e-2 (a wiggle of 10 %), the temperature still falling: the
    momentum equation stalled, and a larger max_steps is not the advice."""
    h = history(lambda s: 1e-2 * (1 + 0.1 * math.sin(s / 37)),
                lambda s: 1e3 * 10 ** (-s / 200))
    stall = diagnose(h, 1e-4, steps=1000)
    assert [c.equation for c in stall.unmet] == ["momentum", "energy"]
    assert stall.worst.trend == "flat" and stall.unmet[1].trend == "falling"
    assert "the momentum equation stalled" in stall.describe()
    advice = stall.advice("out.h5.checkpoint.h5")
    assert advice.startswith("if the flow is unsteady")
    assert "unlikely to help while it is not falling" in advice
    assert "--resume to continue from step 1,000 (saved in out.h5.checkpoint.h5)" in advice


def test_a_rising_residual_asks_for_a_smaller_step_and_the_stored_heat_is_judged():
    """Energy criterion on: the velocity converged, the heat still stored 5e-3 of the power
    against 1e-3, the temperature residual (its stand-in trend) rising."""
    h = history(lambda s: 1e-6, lambda s: 1e-4 * 10 ** (s / 300))
    stall = diagnose(h, 1e-4, energy_tolerance=1e-3, stored_fraction=5e-3, steps=1000)
    (c,) = stall.unmet
    assert c.key == "flow.energy_tolerance" and c.value == 5e-3 and c.trend == "rising"
    assert stall.advice().startswith("lower flow.cfl")
    assert "outer iteration" in diagnose(h, 1e-4, 1e-3, 5e-3, unit="outer iterations"
                                         ).advice("ck.h5")


def test_thermosim_run_writes_marks_plots_and_exits_3(tmp_path):
    r = run(tmp_path, tiny(max_steps=10))
    assert r.exit_code == EXIT_UNCONVERGED == 3, r.output
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("thermosim: error:")]
    assert len(errors) == 1 and "Traceback" not in r.stderr, r.stderr
    line = errors[0]
    assert line.startswith("thermosim: error: case.yaml: flow.max_steps: no steady state "
                           "after 10 steps: the ")
    assert "out.residuals.png" in line and "marked UNCONVERGED" in line
    assert "UNCONVERGED" in r.stdout                    # the summary's state line
    png = tmp_path / "out.residuals.png"
    assert png.read_bytes()[:8] == PNG_MAGIC and png.stat().st_size > 5_000
    with h5py.File(tmp_path / "out.h5") as f:
        assert f.attrs["unconverged"].startswith("UNCONVERGED: the ")
        s = f["solver"].attrs
        assert not s["converged"] and int(s["steps"]) == 10
        assert s["stalled_value"] > s["stalled_tolerance"] == 1e-5
        # the equation named is the one furthest from its tolerance (trend unknown after
        # two history rows): velocity or temperature residual, whichever is larger
        worse = "momentum" if s["residual_velocity"] > s["residual_temperature"] \
            else "energy"
        assert s["stalled"] == worse and f"the {worse} equation" in line
        hist = f["solver/residual_history"][()]
        assert hist.shape == (2, 4) and list(hist[:, 0]) == [1, 10]


def test_the_api_raises_with_the_result_or_returns_it_marked(tmp_path):
    import thermosim as ts

    case = Case.from_dict(tiny(max_steps=10))
    with pytest.raises(SolverError, match="no steady state after 10 steps") as err:
        ts.solve(case, backend="cpu")
    assert isinstance(err.value, NotSteady) and err.value.stall.equation in ("momentum",
                                                                               "energy")
    r = ts.solve(case, backend="cpu", unsteady_ok=True)
    assert not r.stats.converged and r.stats.stalled.startswith("the ")
    assert "UNCONVERGED" in r.summary()
    r.save(tmp_path / "api.h5")
    assert (tmp_path / "api.residuals.png").read_bytes()[:8] == PNG_MAGIC


def test_the_compare_report_marks_an_unconverged_run():
    good = {"kind": "air_cooled", "steady": True, "steps": 6230}
    bad = {"kind": "immersion", "steady": False, "steps": 500,
           "stalled": "the momentum equation stalled: velocity residual 1.7e-02 ..."}
    assert unconverged_mark(good) == "" and unconverged_mark(bad) == " UNCONVERGED"
    assert unconverged_notice([good]) == []
    text = "\n".join(unconverged_notice([good, bad]))
    assert text.startswith("**UNCONVERGED") and "no steady state after 500 steps: the " \
        "momentum equation stalled" in text and "runs/immersion.residuals.png" in text
