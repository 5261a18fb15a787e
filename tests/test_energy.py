"""The facility energy model (thermosim.facility) and the climates (thermosim.climate)."""

import math

import numpy as np
import pytest

from thermosim.climate import Climate, load, shipped
from thermosim.errors import CaseError
from thermosim.facility import (C0, CHILLER, Plant, chiller_cop, chiller_power,
                                facility_energy, leakage_power, savings)


def test_shipped_climates_are_a_year_of_plausible_weather():
    """Each shipped climate is 8,760 hours; the wet bulb never exceeds the dry bulb; a
    typical year's mean is the station's climate normal (NOAA 1961-1990 normals, the TMY2
    base period: Miami 75.9 degF = 24.4 degC, Greensboro 57.8 degF = 14.3 degC) to 0.5 K;
    Sand Point (Alaska Peninsula, maritime subarctic) between 2 and 7 degC; the hot, humid
    site has the highest wet bulbs (its 1 % wet bulb over 25 degC)."""
    assert set(shipped()) >= {"miami", "greensboro", "sand_point"}
    means = {}
    for name in ("miami", "greensboro", "sand_point"):
        c = load(name)
        assert c.hours == 8760
        assert np.all(c.wet_bulb <= c.dry_bulb + 0.05)
        means[name] = c.dry_bulb.mean() - C0
    assert means["miami"] == pytest.approx(24.4, abs=0.5)
    assert means["greensboro"] == pytest.approx(14.3, abs=0.5)
    assert 2.0 < means["sand_point"] < 7.0
    assert np.percentile(load("miami").wet_bulb - C0, 99) > 25.0


def test_wet_bulb_is_psychrometric():
    """Saturated air's wet bulb is its dry bulb; at 30 degC dry bulb and 20 degC dew point
    (sea level, 55 % relative humidity) the psychrometric chart (ASHRAE Handbook,
    Fundamentals, ch. 1) reads a wet bulb of 23 degC."""
    from thermosim.climate import _wet_bulb

    wb = _wet_bulb([20.0, 30.0], [20.0, 20.0], [101325.0, 101325.0]) - C0
    assert wb[0] == pytest.approx(20.0, abs=0.02)
    assert wb[1] == pytest.approx(23.0, abs=0.2)


def test_epw_file_is_read(tmp_path):
    """An EnergyPlus weather file gives its hours' dry bulb, its missing values (99.9 degC,
    999999 Pa) interpolated from the neighbouring hours; a broken or short one is one
    line naming the file."""
    head = ["LOCATION,Testville,XX,USA,TMY3,000000,0,0,0,0"] + ["X"] * 7

    def row(h, db, p=101325):
        return f"1999,1,1,{h % 24 + 1},0,?,{db:.1f},10.0,50,{p}" + ",0" * 25

    rows = [row(h, 20 + h % 5) for h in range(8760)]
    rows[3] = row(3, 99.9)
    rows[7] = row(7, 22.0, 999999)
    f = tmp_path / "t.epw"
    f.write_text("\n".join(head + rows) + "\n")
    c = load(str(f))
    assert c.hours == 8760 and c.dry_bulb[2] - C0 == pytest.approx(22.0)
    assert c.dry_bulb[3] - C0 == pytest.approx(23.0)          # between 22 and 24 degC
    assert c.wet_bulb[7] == pytest.approx(c.wet_bulb[7 + 5], abs=1e-6)  # same air, 5 h on
    short = tmp_path / "short.epw"
    short.write_text("\n".join(head + rows[:48]) + "\n")
    with pytest.raises(CaseError, match="short.epw: 48 hours"):
        load(str(short))
    bad = tmp_path / "bad.epw"
    bad.write_text("nothing\n")
    with pytest.raises(CaseError, match="bad.epw"):
        load(str(bad))
    with pytest.raises(CaseError, match="neither a shipped climate"):
        load("atlantis")


def test_chiller_at_its_reference_point_and_with_lift():
    """DOE-2 Centrifugal/5.50COP: COP 5.5 at 6.67 degC chilled water and 29.4 degC
    condenser water (to the curves' 0.2 % fit); the COP rises as the lift falls (warmer
    chilled water, cooler condenser water) and the curve limits hold it at their ends."""
    assert chiller_cop(6.67 + C0, 29.4 + C0) == pytest.approx(5.5, rel=2e-3)
    assert chiller_cop(10 + C0, 24 + C0) > chiller_cop(6.67 + C0, 29.4 + C0) > \
        chiller_cop(5 + C0, 35 + C0)
    assert chiller_cop(20 + C0, 15 + C0) == chiller_cop(10 + C0, 24 + C0)
    # part load: more power per watt of cooling below full load at the minimum ratio
    from thermosim.facility import _biquad

    p = chiller_power(np.array([20.0, 100.0]), 6.67 + C0, 29.4 + C0, 100.0)
    cap = 100.0 * _biquad(CHILLER["capft"], 6.67, 29.4)

    def eirfplr(x):
        a, b, c = CHILLER["eirfplr"]
        return a + b * x + c * x * x

    assert p[0] / p[1] == pytest.approx(eirfplr(20 / cap) / eirfplr(100 / cap), rel=1e-9)
    assert p[0] / 20.0 > p[1] / 100.0
    assert chiller_power(0.0, 280.0, 300.0, 100.0) == 0.0


def test_leakage_fixed_point():
    """At the reference junction temperature a chip draws its rating; the fixed point
    satisfies its equation; cooler runs leak less; a chip that cannot reach one (positive
    feedback too strong) is a one-line thermal-runaway error."""
    plant = Plant()
    p, tj = leakage_power(700.0, plant.leakage_reference_temperature, 300.0, plant)
    assert p == pytest.approx(700.0, rel=1e-9)
    beta = math.log(2) / plant.leakage_doubling
    p, tj = leakage_power(700.0, 340.0, 300.0, plant)
    r = 40.0 / 700.0
    assert tj == pytest.approx(300.0 + r * p, rel=1e-12)
    assert p == pytest.approx(700 * (0.8 + 0.2 * math.exp(beta * (tj - 358.15))), rel=1e-9)
    assert p < 700.0
    with pytest.raises(CaseError, match="thermal runaway"):
        leakage_power(700.0, 800.0, 300.0, Plant(leakage_fraction=0.9, leakage_doubling=5.0))


def _metrics(to_air, to_liquid, tj, server_fans=0.0, pumps=0.0, crah=None, coolant=None):
    """A minimal run result: one chip carrying all the power."""
    power = to_air + to_liquid
    chip = {"name": "A01/S1/GPU1", "power": power, "junction_temperature": tj,
            "heat_to_liquid": to_liquid}
    fans = [{"name": "CRAH1", "flow": crah[0], "pressure_rise": crah[1]}] if crah else []
    return {"chips": [chip], "it_power": power, "heat_to_air": to_air,
            "heat_to_liquid": to_liquid, "server_fan_hydraulic_power": server_fans,
            "unit_fan_hydraulic_power": 0.0, "pump_hydraulic_power": pumps, "fans": fans,
            "coolant": coolant or {}}


def _climate(wb_c):
    wb = np.asarray(wb_c, float) + C0
    return Climate("test", "synthetic", wb + 5.0, wb)


AIR = {"kind": "air_cooled", "parameters": {"supply_temperature": 20 + C0}}
NO_LEAK = Plant(leakage_fraction=0.0, ups_efficiency=1.0)


def test_economizer_hours_follow_the_wet_bulb():
    """Air layout, chilled water at 20 - 6 = 14 degC supply, 20.67 return; free cooling
    needs T_wb + 5.56 + 1.5 <= 14, i.e. T_wb <= 6.94 degC; partial below 13.61; so wet
    bulbs 0, 6.9 (free), 10 (partial: the chiller takes (17.06 - 14) / 6.67 = 46 % of the
    load), 15, 25 (chiller alone)."""
    e = facility_energy(_metrics(1e5, 0.0, 330.0), AIR, NO_LEAK, _climate([0, 6.9, 10, 15, 25]))
    (s,) = e["streams"]
    assert (s["free_hours"], s["partial_hours"], s["chiller_hours"]) == (2, 1, 2)
    share = (10 + 5.56 + 1.5 - 14) / 6.67
    full = chiller_power(1e5, 14 + C0, 15 + 5.56 + C0, 1e5)
    part = chiller_power(share * 1e5, 14 + C0, 10 + 5.56 + C0, 1e5)
    top = chiller_power(1e5, 14 + C0, 25 + 5.56 + C0, 1e5)
    assert e["annual_kwh"]["chiller"] == pytest.approx((part + full + top) * 1e-3, rel=1e-9)


def test_energy_adds_up_and_pue_is_its_ratio():
    """Facility = IT + cooling + power losses; IT includes the server fans (hydraulic over
    efficiency); the fans' heat is rejected with the IT heat; PUE = facility / IT; in a
    climate cold enough for free cooling all year no chiller energy."""
    plant = Plant(leakage_fraction=0.0)
    m = _metrics(5e4, 0.0, 340.0, server_fans=600.0, crah=(5.0, 100.0))
    e = facility_energy(m, AIR, plant, _climate([-5.0] * 10))
    a = e["annual_kwh"]
    assert a["server_fans"] == pytest.approx(600.0 / 0.3 * 10 * 1e-3)
    assert a["crah_fans"] == pytest.approx(5.0 * (100.0 + 250.0) / 0.6 * 10 * 1e-3)
    assert a["it"] == pytest.approx((5e4 + 2000.0) * 10 * 1e-3)
    assert a["chiller"] == 0.0
    heat = 5e4 + 2000.0 + 5.0 * 350.0 / 0.6
    assert a["tower_fans"] == pytest.approx(plant.tower_fan_power * heat * 10e-3)
    assert a["facility"] == pytest.approx(a["it"] + a["cooling"] + a["power_losses"])
    assert e["pue"] == pytest.approx(a["facility"] / a["it"])
    assert a["power_losses"] == pytest.approx(a["it"] * (1 / 0.95 - 1))
    assert a["overhead"] == pytest.approx(a["facility"] - 5e4 * 10e-3)


def test_warmer_supply_means_fewer_chiller_hours_and_less_energy():
    """The report's numbers follow the case: a warmer CDU supply in the liquid layout
    gives more free-cooling hours and less chiller energy in the same climate; and the
    liquid layout (warm water, cool chips) needs less energy than the same IT load in air."""
    clim = load("greensboro")
    cool = {"supply_temperature": 20 + C0, "cdu_supply_temperature": 25 + C0}
    warm = dict(cool, cdu_supply_temperature=35 + C0)
    cl = {"supply_temperature": 25 + C0, "return_temperature": 31 + C0}
    m = _metrics(1.6e4, 5e4, 335.0, server_fans=50.0, pumps=200.0, crah=(1.0, 80.0),
                 coolant=cl)
    a = facility_energy(m, {"kind": "liquid_cooled", "parameters": cool}, Plant(), clim)
    b = facility_energy(m, {"kind": "liquid_cooled", "parameters": warm}, Plant(), clim)
    fa, fb = a["streams"][1], b["streams"][1]
    assert fb["free_hours"] > fa["free_hours"]
    assert b["annual_kwh"]["chiller"] < a["annual_kwh"]["chiller"]
    air = facility_energy(_metrics(6.6e4, 0.0, 355.0, server_fans=1500.0, crah=(6.9, 80.0)),
                          AIR, Plant(), clim)
    s = savings(air, a)
    assert 0 < s["facility"] < s["overhead"] < 1


def test_plant_parameters_are_checked():
    assert Plant.from_mapping({"climate": "miami", "pump_efficiency": 0.7}).pump_efficiency == 0.7
    with pytest.raises(CaseError, match="unknown key"):
        Plant.from_mapping({"pump_eficiency": 0.7})
    with pytest.raises(CaseError, match="server_fan_efficiency"):
        Plant.from_mapping({"server_fan_efficiency": 1.5})
    with pytest.raises(CaseError, match="a number"):
        Plant.from_mapping({"tower_approach": "warm"})
    for bad in ({"leakage_doubling": 0}, {"chilled_water_rise": 0}, {"hours": 0},
                {"leakage_fraction": 20}, {"leakage_reference_temperature": 85}):
        with pytest.raises(CaseError, match="out of range"):
            Plant.from_mapping(bad)
