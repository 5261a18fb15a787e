"""``thermosim compare --resolutions`` (thermosim/compare_grids.py): the three meshes of
every layout, the grid study assembled from their figures, and the command end to end with
a fake flow solver (the real halls take minutes a mesh; the study's arithmetic is what is
checked here, against figures manufactured with a known order and limit)."""

import copy
import json
from pathlib import Path
from types import SimpleNamespace

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from thermosim.case import Case
from thermosim.cli import main
from thermosim.compare import _case_file, _raw
from thermosim.compare_grids import (
    grid_markdown,
    grid_study,
    mesh_size,
    refined,
    with_grid_section,
)
from thermosim.errors import CaseError
from thermosim.layouts import DEFAULTS

QUICK = ("air_cooled_quick", "liquid_cooled_quick", "immersion_quick")
RATIO = 1.5


@pytest.fixture(scope="module")
def meshes():
    """The quick layouts' three meshes at ratio 1.5: (kind, mapping, case) per layout, a
    list per mesh, coarse first (cases built, nothing solved)."""
    out = []
    for k in range(3):
        level = []
        for name in QUICK:
            data = refined(_raw(_case_file(name)), RATIO, k)
            level.append((data["layout"], data, Case.from_dict(copy.deepcopy(data), name)))
        out.append(level)
    return out


def test_cell_sizes_divide_by_the_ratio(meshes):
    """0.2 m, 0.133 m, 0.0889 m in the halls (0.05, 0.0333, 0.0222 m in the tanks); the
    quick mesh unchanged, so its runs are shared with a plain comparison's cache."""
    from thermosim.study import case_key

    assert [lv[0][1]["cell"] for lv in meshes] == [0.2, 0.133333, 0.0888889]
    assert [lv[2][1]["cell"] for lv in meshes] == [0.05, 0.0333333, 0.0222222]
    plain = _raw(_case_file("air_cooled_quick"))
    assert case_key(meshes[0][0][1], "cpu", "a") == case_key(plain, "cpu", "a")
    # each mesh finer than the last in its representative size h = (V/N)^(1/3)
    for i in range(3):
        h = [mesh_size(lv[i][2])[2] for lv in meshes]
        assert h[0] > h[1] > h[2]


def _records(meshes, saving, cooling, steady=True):
    """Synthetic records of each mesh: every figure f0 + C h^p of the mesh's
    representative size h (order 2 for the figures), the savings ``saving(h)`` and
    ``cooling(h)`` of the pair's h (the geometric mean of air's and the layout's)."""
    levels = []
    for lv in meshes:
        hs = {kind: mesh_size(case)[2] for kind, _, case in lv}
        recs = []
        for kind, data, case in lv:
            h = hs[kind]
            pair = (hs["air_cooled"] * h) ** 0.5
            base = 1.0e6
            facility = base if kind == "air_cooled" else base * (1 - saving(pair))
            cool = 4.0e5 if kind == "air_cooled" else 4.0e5 * (1 - cooling(pair))
            recs.append({
                "kind": kind, "data": data, "case": case, "steps": 100, "steady": steady,
                "metrics": {"chips": [{"junction_temperature": 350.0 + 60.0 * h ** 2},
                                      {"junction_temperature": 340.0}],
                            "max_inlet_temperature": 300.0 - 10.0 * h ** 2,
                            "server_fan_hydraulic_power": 500.0 + 800.0 * h ** 2,
                            "unit_fan_hydraulic_power": 900.0,
                            "pump_hydraulic_power": 0.0},
                "energy": {"pue": 1.2 + 0.5 * h ** 2,
                           "annual_kwh": {"facility": facility, "cooling": cool,
                                          "cooling_with_server_fans": cool,
                                          "non_it": facility / 5, "overhead": facility / 5}}})
        levels.append(recs)
    return levels


def test_study_recovers_manufactured_figures(meshes):
    """Figures exactly f0 + C h^2: order 2 and the limit f0, per layout and for the
    savings; a figure that does not change is 'unchanged', the band zero."""
    study = grid_study(_records(meshes, lambda h: 0.16 + 0.8 * h ** 2,
                                lambda h: 0.60 - 0.5 * h), RATIO)
    for kind in ("air_cooled", "liquid_cooled", "immersion"):
        tj = study["figures"][kind]["hottest_junction"]
        assert tj["convergence"] == "monotone"
        assert tj["order"] == pytest.approx(2.0, rel=1e-6)
        assert tj["shown"]["extrapolated"] == pytest.approx(350.0 - 273.15, abs=1e-6)
        assert study["figures"][kind]["hottest_inlet"]["shown"]["extrapolated"] == \
            pytest.approx(300.0 - 273.15, abs=1e-6)
        assert study["figures"][kind]["pue"]["extrapolated"] == pytest.approx(1.2, abs=1e-9)
        assert study["figures"][kind]["crah_fans"]["convergence"] == "unchanged"
        assert study["figures"][kind]["pumps"]["uncertainty"] == 0.0
    for kind in ("liquid_cooled", "immersion"):
        fac = study["savings"][kind]["facility"]
        assert fac["order"] == pytest.approx(2.0, rel=1e-6)
        assert fac["shown"]["extrapolated"] == pytest.approx(16.0, abs=1e-6)
        # the band with the layouts' formal order (upwind advection: 1), not the observed
        # 2: Fs |f1 - f2| / (r21 - 1), in percentage points
        v = fac["shown"]["values"]
        assert fac["band_order"] == 1.0
        assert fac["shown"]["uncertainty"] == pytest.approx(
            1.25 * abs(v[2] - v[1]) / (fac["r21"] - 1), rel=1e-9)
        cool = study["savings"][kind]["cooling_with_server_fans"]
        assert cool["order"] == pytest.approx(1.0, rel=1e-6)
        assert cool["shown"]["extrapolated"] == pytest.approx(60.0, abs=1e-6)
    # 0.8 h^2 between h of about 0.116 and 0.083 m: half a point, within one
    assert all(abs(v) < 1 for v in study["facility_move"].values())
    assert any("within one point" in n for n in study["notes"])
    assert "liquid (cold plates) saves" in study["headline"]
    assert "points of the facility energy (extrapolated 16.0 %)" in study["headline"]


def test_a_saving_that_moves_is_said_plainly(meshes):
    """More than one percentage point between the two finest meshes: a sentence saying
    so, in the notes and in the report's section; runs not steady are named."""
    study = grid_study(_records(meshes, lambda h: 0.16 + 3.0 * h ** 2,
                                lambda h: 0.60 - 0.5 * h, steady=False), RATIO)
    moved = [n for n in study["notes"] if "more than one point" in n]
    # (the tanks' meshes are finer: immersion's saving moves less)
    assert moved and "liquid (cold plates)" in moved[0]
    assert study["facility_move"]["liquid_cooled"] < -1
    md = "\n".join(grid_markdown(study))
    assert "not grid-converged at these meshes" in md
    assert "UNCONVERGED" in md and "Not steady" not in md
    assert md.count("| hottest junction (degC) |") == 3
    report = with_grid_section("# t\n\n**verdict**\n\n## Savings against air\n", study)
    assert report.index("## Grid convergence") < report.index("## Savings against air")


def _fake_metrics(case) -> dict:
    """A layout run's metrics with every figure a function of its mesh's h (what the
    energy model and the report read), for the command's end-to-end check."""
    h = mesh_size(case)[2]
    kind = case.layout["kind"]
    drop = {"air_cooled": 0.0, "liquid_cooled": 15.0, "immersion": 10.0}[kind]
    share = 0.9 if kind == "liquid_cooled" else 0.0
    chips = [{"name": c.name, "power": c.power, "heat_to_liquid": share * c.power,
              "junction_temperature": 345.0 - drop + 40.0 * h ** 2} for c in case.flow.chips]
    it = case.layout["it_power"]
    liquid = sum(c["heat_to_liquid"] for c in chips) if kind != "immersion" else it
    return {"chips": chips, "it_power": it, "heat_to_air": it - liquid, "heat_to_liquid": liquid,
            "server_fan_hydraulic_power": (0.0 if kind == "immersion" else 400.0) * (1 + h),
            "unit_fan_hydraulic_power": 0.0 if kind == "immersion" else 300.0 * (1 + h),
            "fans": [] if kind == "immersion" else
            [{"name": "crah1", "flow": 4.0, "pressure_rise": 60.0 * (1 + h)}],
            "pump_hydraulic_power": 0.0 if kind == "air_cooled" else 200.0 * (1 + h),
            "coolant": {"supply_temperature": 303.15, "return_temperature": 313.15,
                        "flow": 0.0 if kind == "air_cooled" else 2e-3},
            "max_inlet_temperature": 296.0 + 10 * h ** 2}


class _FakeRun:
    """What compare reads of a flow result, without solving."""

    def __init__(self, case):
        self.case = case
        self.stats = SimpleNamespace(converged=True, steps=42, stalled="", stopped="")

    def metrics(self):
        return _fake_metrics(self.case)

    def save(self, path):
        with h5py.File(path, "w"):     # (no fields: the picture is skipped, as logged)
            pass


def test_command_runs_three_meshes_with_a_fake_solver(tmp_path, monkeypatch):
    """``thermosim compare --resolutions --ratio 1.5``: nine runs (three layouts on three
    meshes), the report's grid section and verdict, grid_convergence.json and the
    results.h5 group; the headline printed."""
    solved = []

    def fake(case, backend="auto", log=None, quiet_every=1000, unsteady_ok=False):
        solved.append((case.layout["kind"], case.layout["parameters"]["cell"]))
        return _FakeRun(case)

    monkeypatch.setattr("thermosim.study.simulate", fake)
    out = tmp_path / "report"
    res = CliRunner().invoke(main, ["compare", "--resolutions", "--ratio", "1.5", "-o",
                                    str(out), "--backend", "cpu", "--climate", "greensboro",
                                    "--workers", "1"])
    assert res.exit_code == 0, res.output
    assert len(solved) == 9 and ("air_cooled", 0.0888889) in solved
    assert "Grid study (finest mesh, 0.0888889 m cells" in res.output
    md = (out / "report.md").read_text()
    assert "## Grid convergence: three meshes" in md and "| liquid (cold plates) |" in md
    study = json.loads((out / "grid_convergence.json").read_text())
    assert study["ratio"] == 1.5 and len(study["meshes"]) == 3
    with h5py.File(out / "results.h5") as f:
        g = f["grid_convergence/liquid_cooled/figures/hottest_junction"]
        assert g["values"].shape == (3,) and g.attrs["convergence"] == "monotone"
        assert g.attrs["order"] == pytest.approx(2.0, rel=1e-6)
        assert g.attrs["extrapolated"] == pytest.approx(330.0, abs=1e-6)
    assert (out / "meshes" / "mesh1" / "runs" / "air_cooled.h5").is_file()
    assert (out / "runs" / "immersion.h5").is_file()
    # again: every run from the cache
    solved.clear()
    res = CliRunner().invoke(main, ["compare", "--resolutions", "-o", str(out), "--backend",
                                    "cpu", "--workers", "1"])
    assert res.exit_code == 0, res.output
    assert solved == []


@pytest.mark.parametrize("args, words", [
    (["--resolutions", "--ratio", "1.1"], "--ratio: the refinement ratio must be at least 1.3"),
    (["--ratio", "2"], "--ratio: only with --resolutions"),
    (["--method", "rk4"], "--method"),
])
def test_command_mistakes_are_one_line(tmp_path, args, words):
    res = CliRunner().invoke(main, ["compare", *args, "-o", str(tmp_path / "r")])
    assert res.exit_code == 2
    err = res.stderr if hasattr(res, "stderr") else res.output
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("thermosim: error: ") and words in lines[0]


def test_method_reaches_the_layouts_or_is_refused():
    """``--method``: a layout parameter where the layouts take one; otherwise one line
    saying they do not (this thermosim's steady solver not yet selectable per layout)."""
    from thermosim.compare_grids import with_method

    data = _raw(_case_file("air_cooled_quick"))
    assert with_method(data, None, "f") is data
    if "method" in DEFAULTS["air_cooled"]:
        assert with_method(data, "simplec", "f")["method"] == "simplec"
    else:
        with pytest.raises(CaseError, match="takes no method parameter"):
            with_method(data, "simplec", "f")


def test_finest_mesh_too_large_is_refused_before_any_run(tmp_path, monkeypatch):
    """A ratio whose finest mesh exceeds the memory limit stops before the first run."""
    monkeypatch.setenv("THERMOSIM_MEMORY_LIMIT", "200MB")
    monkeypatch.setattr("thermosim.study.simulate",
                        lambda *a, **k: pytest.fail("a run started"))
    from thermosim.compare import compare

    with pytest.raises(CaseError):
        compare(None, tmp_path / "r", "cpu", resolutions=True, ratio=3.0, log=lambda s: None)
    assert not Path(tmp_path / "r").exists()


class _FakeMean(_FakeRun):
    """A fake time mean: no steady state, four parts whose hottest junctions spread by
    +-1 K around the mean."""

    def __init__(self, case, part=None):
        super().__init__(case)
        self.part = part
        self.stats = SimpleNamespace(converged=False, steps=42, stalled="stalled", stopped="",
                                     stall={"unit": "outer iterations"}, unit="steps",
                                     averaged={"window": 10.0, "steps": 40, "time_step": 0.25,
                                               "settle": 5.0, "after": 30})
        self.batches = [] if part is not None else [_FakeMean(case, p) for p in range(4)]

    def metrics(self):
        m = _fake_metrics(self.case)
        if self.part is not None:
            for c in m["chips"]:
                c["junction_temperature"] += (-1.5, -0.5, 0.5, 1.5)[self.part]
        return m


def test_time_means_are_answers_with_their_standard_error(tmp_path, monkeypatch):
    """Runs whose results are time means: compare exits 0, the table says "time mean",
    and each figure's standard error comes from the parts (hottest junction: the parts
    -1.5, -0.5, 0.5, 1.5 K about the mean, s.e. sqrt(5/3) / 2 = 0.65 K)."""
    monkeypatch.setattr("thermosim.study.simulate",
                        lambda case, *a, **k: _FakeMean(case))
    out = tmp_path / "report"
    res = CliRunner().invoke(main, ["compare", "--resolutions", "--ratio", "1.5", "-o",
                                    str(out), "--backend", "cpu", "--climate", "greensboro",
                                    "--workers", "1"])
    assert res.exit_code == 0, res.output
    assert "time mean" in res.output and "UNCONVERGED" not in res.output
    study = json.loads((out / "grid_convergence.json").read_text())
    se = study["figures"]["air_cooled"]["hottest_junction"]["time_mean_error"]
    assert se == pytest.approx(np.std([-1.5, -0.5, 0.5, 1.5], ddof=1) / 2.0)
    md = (out / "report.md").read_text()
    assert "Time means (no steady state" in md and "| yes" not in md
