"""The README's examples run as written."""

import re
from pathlib import Path

import pytest

from thermosim.case import load_case
from thermosim.simulation import solve

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks(lang):
    return re.findall(rf"```{lang}\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_layout_yaml_loads(tmp_path):
    """The README's layout case is what meshes/air_cooled_quick.yaml holds."""
    (text,) = [b for b in _blocks("yaml") if b.startswith("layout:")]
    f = tmp_path / "hall.yaml"
    f.write_text(text)
    c = load_case(f)
    shipped = load_case(README.parent / "meshes" / "air_cooled_quick.yaml")
    assert c.layout["kind"] == "air_cooled"
    for key in ("racks_per_row", "servers_per_rack", "supply_temperature", "cell",
                "air_changes"):
        assert c.layout["parameters"][key] == shipped.layout["parameters"][key], key


def test_readme_yaml_case_runs(tmp_path):
    (text,) = [b for b in _blocks("yaml") if "domain:" in b]
    f = tmp_path / "case.yaml"
    f.write_text(text)
    r = solve(load_case(f), "cpu")
    # in: 45 W (the powers override) + the 500 W/m^2 patch on x-; out: the convective bottom
    # and the chip's convective top face
    assert r.model.total_power == pytest.approx(45.0 + 500.0 * 0.01 * 0.003)
    assert set(r.heat_flows) == {"z- (convective)", "chip z+ (convective)"}
    assert r.energy_balance_error < 1e-7
    assert 300.0 < r.max_temperature < 400.0


def test_readme_python_example_runs(tmp_path, monkeypatch):
    code = [b for b in _blocks("python") if "ts.solve" in b][0]
    monkeypatch.chdir(tmp_path)
    ns = {}
    exec(compile(code, "README.md", "exec"), ns)
    r = ns["result"]
    assert r.max_temperature == pytest.approx(325.6, abs=0.5)
    assert (tmp_path / "chip.h5").exists()


def test_readme_sweep_file_loads(tmp_path):
    """The README's sweep file is a valid study: 3 supply temperatures x 3 climates."""
    from thermosim.study import load_sweep

    (text,) = [b for b in _blocks("yaml") if b.startswith("# study.yaml")]
    f = tmp_path / "study.yaml"
    f.write_text(text)
    spec = load_sweep(f)
    assert len(spec["points"]) == 9 and spec["workers"] == 2
    supplies = {d["supply_temperature"] for _, d, _ in spec["points"]}
    climates = {e["climate"] for _, _, e in spec["points"]}
    assert supplies == {298.15, 303.15, 308.15}
    assert climates == {"miami", "greensboro", "sand_point"}


def test_readme_main_command_is_the_comparison():
    """The quick start's first command installs and writes the comparison report."""
    first = _blocks("bash")[0]
    assert "pip install -e ." in first and "thermosim compare -o compare_report" in first
