"""``thermosim compare``: the three quick layouts at the same IT load, their year of facility
energy, and the report folder (what the README's main command produces)."""

import copy
from pathlib import Path

import h5py
import pytest
import yaml
from click.testing import CliRunner

from conftest import QUICK_HALLS
from thermosim.cli import main
from thermosim.compare import QUICK_CASES, SENSITIVITY, compare, variant
from thermosim.facility import Plant, facility_energy
from thermosim.errors import CaseError

MESHES = Path(__file__).resolve().parents[1] / "meshes"


@pytest.fixture(scope="module")
def report(tmp_path_factory, simulate_once):
    """The comparison of the three quick halls (the README's main command takes the halls on
    finer cells, and CI runs it).  Their steady runs come from the
    session's shared solves (conftest.simulate_once: the halls' own tests assert their
    energy balances on the same runs); everything after the solve -- saving, keeping in the
    cache, pictures, energy, report -- runs as it does for a user."""
    out = tmp_path_factory.mktemp("compare") / "report"
    lines = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("thermosim.study.simulate", simulate_once)
        res = compare(QUICK_CASES, out, "cpu", Plant(), log=lines.append)
    return res, out, lines


@QUICK_HALLS
def test_report_folder_holds_everything(report):
    res, out, _ = report
    for f in ("report.md", "report.html", "energy.png", "sensitivity_climate.png",
              "results.h5", "plant.yaml", "runs/air_cooled.h5", "runs/liquid_cooled.h5",
              "runs/immersion.h5", "runs/air_cooled.xdmf"):
        assert (out / f).is_file(), f
    md = (out / "report.md").read_text()
    assert res["verdict"] in md and res["verdict"].startswith("Verdict (greensboro): against air")
    assert "30 %" in res["verdict"]
    assert "**server fans** (inside IT)" in md and "## Assumptions and sources" in md
    assert "<table>" in (out / "report.html").read_text()
    with h5py.File(out / "results.h5") as f:
        assert f.attrs["verdict"] == res["verdict"]
        for k in ("air_cooled", "liquid_cooled", "immersion"):
            assert f[f"{k}/energy"].attrs["pue"] == pytest.approx(
                next(r for r in res["records"] if r["kind"] == k)["energy"]["pue"])
    # no temporary folders left beside the report; its runs kept for the next comparison
    assert sorted(p.name for p in out.parent.iterdir()) == [".report.cache", "report"]


@QUICK_HALLS
def test_another_climate_reuses_the_runs(report, tmp_path):
    """A second comparison into the same folder with a weather file of one's own reuses
    the kept runs (nothing is simulated) and reports that climate by its file's name."""
    from thermosim.climate import load

    res, out, _ = report
    g = load("greensboro")
    head = ["LOCATION,Elsewhere,XX,USA,TMY3,000000,0,0,0,0"] + ["X"] * 7
    rows = [f"1999,1,1,{h % 24 + 1},0,?,{db - 273.15 + 3:.1f},{wb - 273.15:.1f},50,101325"
            + ",0" * 25 for h, (db, wb) in enumerate(zip(g.dry_bulb, g.wet_bulb))]
    epw = tmp_path / "warmer.epw"
    epw.write_text("\n".join(head + rows) + "\n")
    lines = []
    again = compare(QUICK_CASES, out, "cpu", Plant(climate=str(epw)), climates=["greensboro"],
                    log=lines.append)
    assert sum("not run again" in x for x in lines) == 3
    # no progress lines (a march's steps, the steady solver's outer iterations): no runs
    assert not any(": step " in x or ": outer iteration " in x for x in lines)
    assert again["verdict"].startswith("Verdict (warmer)")
    md = (out / "report.md").read_text()
    assert "- warmer: " in md and "| warmer |" in md
    # 3 K warmer air, dew points as greensboro's wet bulbs: a drier, warmer year
    air = {r["kind"]: r for r in again["records"]}["air_cooled"]["energy"]
    assert air["climate"] == "warmer"


@QUICK_HALLS
def test_energy_follows_the_runs(report):
    """Each layout's year: the same compute energy (same IT load); IT holds the server fans
    at the run's hydraulic power over their efficiency; facility = IT + cooling + power
    losses; the heat every plant stream rejects is the run's heat plus the fans' and pumps'
    (energy is conserved through the plant)."""
    res, _, _ = report
    recs = {r["kind"]: r for r in res["records"]}
    compute = {k: r["energy"]["annual_kwh"]["compute"] for k, r in recs.items()}
    assert compute["liquid_cooled"] == pytest.approx(compute["air_cooled"], rel=1e-9)
    assert compute["immersion"] == pytest.approx(compute["air_cooled"], rel=1e-9)
    plant = Plant()
    for k, r in recs.items():
        e, m = r["energy"], r["metrics"]
        a = e["annual_kwh"]
        assert a["server_fans"] == pytest.approx(
            m["server_fan_hydraulic_power"] / plant.server_fan_efficiency * 8760e-3, rel=1e-9)
        assert a["facility"] == pytest.approx(a["it"] + a["cooling"] + a["power_losses"])
        rejected = sum(s["heat"] for s in e["streams"])
        p = e["powers"]
        assert rejected == pytest.approx(e["it"]["chips"] + e["it"]["other"] + p["server_fans"]
                                         + p["crah_fans"] + p["loop_pumps"], rel=1e-9)
        assert r["steady"], k
    # immersion and cold plates take the chips' heat in warm water: no server fans in the
    # tanks, and fewer chiller hours than the chilled water of the air layout
    assert recs["immersion"]["energy"]["annual_kwh"]["server_fans"] == 0.0
    air_chw = recs["air_cooled"]["energy"]["streams"][0]
    warm = recs["liquid_cooled"]["energy"]["streams"][1]
    assert warm["free_hours"] > air_chw["free_hours"]


@QUICK_HALLS
def test_report_numbers_follow_the_case(simulate_once):
    """A warmer immersion supply (35 degC instead of 30), run again: hotter junctions
    (more leakage) and more free-cooling hours (less chiller energy) in the same climate.
    (At 30 degC the case is the quick tanks as shipped: the session's run of them.)"""
    from thermosim.case import Case

    data = yaml.safe_load((MESHES / "immersion_quick.yaml").read_text())
    out = {}
    for t in (303.15, 308.15):
        d = dict(copy.deepcopy(data), supply_temperature=t)
        c = Case.from_dict(d)
        r = simulate_once(c, "cpu")
        out[t] = facility_energy(r.metrics(), c.layout, Plant())
    a, b = out[303.15], out[308.15]
    assert b["it"]["hottest_junction_with_leakage"] > a["it"]["hottest_junction_with_leakage"] + 4
    assert b["it"]["leakage_change"] > a["it"]["leakage_change"]
    assert b["streams"][0]["free_hours"] > a["streams"][0]["free_hours"]
    assert b["annual_kwh"]["chiller"] < a["annual_kwh"]["chiller"]


def test_sensitivity_variants_keep_the_it_load_equal():
    """The knobs move each layout's own parameters so the three keep one IT load."""
    from thermosim.case import Case

    raw = {k: yaml.safe_load((MESHES / f"{k}_quick.yaml").read_text())
           for k in ("air_cooled", "liquid_cooled", "immersion")}
    for knob, spec in SENSITIVITY.items():
        for v in spec["values"]:
            loads = [Case.from_dict(variant(d, knob, v)).layout["it_power"] for d in raw.values()]
            assert max(loads) == pytest.approx(min(loads), rel=1e-9), (knob, v)
    hot = Case.from_dict(variant(raw["liquid_cooled"], "supply temperature offset (K)", 5.0))
    assert hot.layout["parameters"]["cdu_supply_temperature"] == pytest.approx(308.15)


def test_compare_mistakes_are_one_line(tmp_path):
    a = tmp_path / "big.yaml"
    a.write_text("layout: immersion\ntanks: 3\ncell: 0.05\n")
    r = CliRunner().invoke(main, ["compare", str(MESHES / "air_cooled_quick.yaml"), str(a),
                                  "-o", str(tmp_path / "rep")])
    assert r.exit_code == 2 and "different IT loads" in r.output
    assert r.output.count("\n") == 1
    r = CliRunner().invoke(main, ["compare", "--climate", "atlantis", "-o", str(tmp_path / "x")])
    assert r.exit_code == 2 and "neither a shipped climate" in r.output
    assert not (tmp_path / "rep").exists() and not (tmp_path / "x").exists()
    with pytest.raises(CaseError, match="one air_cooled layout"):
        compare([str(MESHES / "immersion_quick.yaml")], tmp_path / "y", "cpu")
    # an existing folder that is not an earlier report is never replaced
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("x")
    r = CliRunner().invoke(main, ["compare", "-o", str(mine)])
    assert r.exit_code == 2 and "is not a report of thermosim compare" in r.output
    assert (mine / "thesis.tex").read_text() == "x"
