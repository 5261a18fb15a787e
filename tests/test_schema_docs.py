"""`thermosim schema` describes every key of a case file, and docs/case-file.md is what it
generates."""

import json
from pathlib import Path

import yaml
from click.testing import CliRunner

from thermosim import layouts
from thermosim import schema as case_schema
from thermosim.cli import main

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "case-file.md"
REGENERATE = "thermosim schema --markdown > docs/case-file.md"


def _keys(node, path=""):
    """Every key under a JSON Schema node (its own walk, independent of thermosim.schema's):
    each property, and the values of free-form mappings, through every sub-schema."""
    if isinstance(node, list):
        for item in node:
            yield from _keys(item, path)
        return
    if not isinstance(node, dict):
        return
    for name, sub in (node.get("properties") or {}).items():
        yield f"{path}.{name}".lstrip("."), sub
        yield from _keys(sub, f"{path}.{name}")
    if isinstance(node.get("additionalProperties"), dict):
        yield f"{path}.*".lstrip("."), node["additionalProperties"]
        yield from _keys(node["additionalProperties"], f"{path}.*")
    for k, sub in node.items():
        if k not in ("properties", "additionalProperties", "default", "const", "enum"):
            yield from _keys(sub, path)


def _missing(schema):
    return sorted({p for p, n in _keys(schema)
                   if not (isinstance(n.get("description"), str) and n["description"].strip()
                           and isinstance(n.get("unit"), str) and n["unit"].strip())})


def _printed_schema():
    r = CliRunner().invoke(main, ["schema"])
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


def test_every_key_has_a_description_and_a_unit():
    s = _printed_schema()
    paths = [p for p, _ in _keys(s)]
    # the case, its nested sections and the layouts' parameters are all there
    for p in ("domain.max", "blocks.boundaries.*.h", "flow.chips.cold_plate.resistance",
              "powers.*", "grid.faces.*", "racks_per_row", "cdu_supply_temperature",
              "heat_sink_gap", "channel_width"):
        assert p in paths, p
    assert len(paths) > 250
    missing = _missing(s)
    assert not missing, (f"keys without a description or unit: {missing}; add them to "
                         f"KEYS or LAYOUT_KEYS in thermosim/schema.py, then {REGENERATE}")


def test_units_are_si_names():
    units = {n["unit"] for _, n in _keys(_printed_schema())}
    assert {"K", "W", "m", "W/(m^2 K)", "1", "-"} <= units
    assert not units & {"degC", "mm", "kW", "L/min", "C"}


def test_a_new_key_without_text_is_caught(monkeypatch):
    """A layout parameter (or case key) added without a text fails the check above."""
    monkeypatch.setitem(layouts.AIR_DEFAULTS, "raised_floor_leakage", 0.05)
    s = case_schema.schema()
    assert "raised_floor_leakage" in _missing(s)
    assert case_schema.undocumented(s) == ["raised_floor_leakage"]


def test_no_stale_texts():
    assert case_schema.unused_texts() == []


def test_shipped_case_files_use_only_schema_keys():
    """Every top-level key of the shipped cases is in the schema (of a case, or of its
    layout), so the schema is the case files' vocabulary, not a guess at it."""
    s = case_schema.schema()
    case, *lays = s["anyOf"]
    by_kind = {ls["properties"]["layout"]["const"]: ls for ls in lays}
    files = sorted((ROOT / "thermosim" / "cases").glob("*.yaml")) + \
        sorted((ROOT / "meshes").glob("*.yaml"))
    assert len(files) > 10
    for f in files:
        data = yaml.safe_load(f.read_text())
        target = by_kind[data["layout"]] if isinstance(data.get("layout"), str) else case
        assert set(data) <= set(target["properties"]), (f.name, set(data) -
                                                          set(target["properties"]))


def test_case_file_page_is_generated_from_the_schema():
    r = CliRunner().invoke(main, ["schema", "--markdown"])
    assert r.exit_code == 0, r.output
    assert r.output == case_schema.markdown()
    assert PAGE.exists(), f"docs/case-file.md is missing: run `{REGENERATE}`"
    assert PAGE.read_text() == r.output, (f"docs/case-file.md is stale (the case schema or "
                                          f"thermosim/schema.py changed): run `{REGENERATE}`")
    for kind in layouts.BUILDERS:
        assert f"### {kind}" in r.output
