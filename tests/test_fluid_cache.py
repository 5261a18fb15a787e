"""CoolProp's answers kept on disk (:mod:`thermosim.fluid_cache`): the same numbers as
CoolProp's own, and a second process gets them without importing CoolProp (2.9 s)."""

import json
import subprocess
import sys

import pytest

from thermosim.errors import CaseError
from thermosim.fluid import Fluid
from thermosim.fluid_cache import KEYS, cache_file


def test_kept_states_are_coolprops_and_skip_its_import(tmp_path, monkeypatch):
    from CoolProp.CoolProp import PropsSI

    kept = tmp_path / "props.json"
    monkeypatch.setenv("THERMOSIM_FLUID_CACHE", str(kept))
    assert cache_file() == kept
    water = Fluid.from_coolprop("water", 320.0)
    assert water.density == PropsSI("D", "T", 320.0, "P", 101325.0, "Water")
    assert water.conductivity == PropsSI("L", "T", 320.0, "P", 101325.0, "Water")
    assert water.expansion == PropsSI("isobaric_expansion_coefficient", "T", 320.0, "P",
                                      101325.0, "Water")
    # a mixture without CoolProp's expansion coefficient: the density slope, kept as well
    Fluid.from_coolprop("propylene_glycol_25", 303.15)
    data = json.loads(kept.read_text())
    assert len(data) == 2 and all(set(v) == set(KEYS) for v in data.values())
    code = ("import sys; from thermosim.fluid import Fluid; "
            "f = Fluid.from_coolprop('water', 320.0); "
            "print(repr(f.density), repr(f.viscosity), 'CoolProp' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**__import__("os").environ,
                                          "THERMOSIM_FLUID_CACHE": str(kept)}).stdout.split()
    assert out == [repr(water.density), repr(water.viscosity), "False"]


def test_refused_or_broken_is_asked_again(tmp_path, monkeypatch):
    kept = tmp_path / "props.json"
    monkeypatch.setenv("THERMOSIM_FLUID_CACHE", str(kept))
    kept.write_text('{"Water|320.0|101325.0": {"D": 1')        # left half-written
    assert Fluid.from_coolprop("water", 320.0).density == pytest.approx(989.4, abs=0.2)
    with pytest.raises(CaseError, match="water"):
        Fluid.from_coolprop("water", 200.0)                    # ice, not water
    assert list(json.loads(kept.read_text())) == ["Water|320.0|101325.0"]
