"""The README's and docs' examples run as printed, their case files load, and their links
lead somewhere."""

import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from thermosim.case import load_case
from thermosim.runner import solve

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PAGES = [README] + sorted((ROOT / "docs").glob("*.md"))
FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```", flags=re.S | re.M)


def _fenced(lang, pages=PAGES):
    """(page, fence info after the language, code) of every ```LANG block on the pages."""
    out = []
    for page in pages:
        for info, code in FENCE.findall(page.read_text()):
            words = info.split()
            if words and words[0] == lang:
                out.append((page, " ".join(words[1:]), code))
    return out


def _blocks(lang, pages=PAGES):
    return [code for _, _, code in _fenced(lang, pages)]


PYTHON = _fenced("python")


def _id(item):
    page, _, code = item
    n = [c for p, _, c in PYTHON if p == page].index(code) + 1
    return f"{page.relative_to(ROOT)}#{n}"


def test_the_examples_are_found():
    """The collector sees the examples (a broken pattern would make the test below vacuous)."""
    pages = {p.relative_to(ROOT).as_posix() for p, _, _ in PYTHON}
    assert {"README.md", "docs/python.md"} <= pages
    assert len(PYTHON) >= 4
    # no block is exempted: a fence marker would have to be justified here
    assert all(info == "" for _, info, _ in PYTHON), [(p.name, i) for p, i, _ in PYTHON if i]


def _check_outcome(ns, tmp_path):
    """What each example is about, beyond not raising."""
    case, result = ns["case"], ns.get("result")
    if case.name == "chip_on_spreader":                      # README
        assert result.max_temperature == pytest.approx(325.6, abs=0.5)
        assert (tmp_path / "chip.h5").exists() and (tmp_path / "chip.xdmf").exists()
    elif case.name == "chip_warm_up":                        # docs/python.md, transient
        assert [t for t, _ in result.snapshots] == pytest.approx([1.0, 2.0])
        early, late = (np.nanmax(T) for _, T in result.snapshots)
        assert 300.0 < early < late < 400.0
        chip = result.block_temperatures()["chip"]
        assert chip["mean"] <= chip["max"]
    elif case.name == "heated_block":                        # docs/python.md, flow
        assert np.asarray(result.T).shape == (40, 8, 1)
        assert 300.0 < float(np.max(result.T)) < 320.0
        assert 0.1 < float(ns["speed"].max()) < 0.5          # the inflow's 0.1 m/s, sped up
        assert ns["saved"]["T"] == pytest.approx(result.T)
        assert (tmp_path / "heated_block.h5").exists()
        assert (tmp_path / "heated_block.xdmf").exists()
    elif case.name == "air_cooled":                          # docs/python.md, layout
        written = load_case(tmp_path / "hall.yaml")
        shipped = load_case(ROOT / "meshes" / "air_cooled_quick.yaml")
        assert len(written.flow.chips) == len(shipped.flow.chips) == 80
        assert written.domain.max == shipped.domain.max
    else:
        pytest.fail(f"an example without a check of its outcome: case '{case.name}' "
                    "(add one to _check_outcome)")


@pytest.mark.parametrize("item", PYTHON, ids=_id)
def test_python_example_runs_as_printed(item, tmp_path, monkeypatch):
    page, _, code = item
    monkeypatch.chdir(tmp_path)
    ns = {"__name__": "__main__"}
    exec(compile(code, str(page.relative_to(ROOT)), "exec"), ns)
    _check_outcome(ns, tmp_path)


def test_every_yaml_case_loads(tmp_path):
    """Every YAML block that is a whole case (a domain, or a layout) is a valid case."""
    n = 0
    for page, _, text in _fenced("yaml"):
        data = yaml.safe_load(text)
        if isinstance(data, dict) and ("domain" in data or "layout" in data):
            f = tmp_path / "case.yaml"
            f.write_text(text)
            load_case(f)
            n += 1
    assert n >= 2


def test_readme_layout_yaml_is_the_quick_mesh(tmp_path):
    """The layouts page's case is what meshes/air_cooled_quick.yaml holds."""
    (text,) = [b for b in _blocks("yaml") if b.startswith("layout:")]
    f = tmp_path / "hall.yaml"
    f.write_text(text)
    c = load_case(f)
    shipped = load_case(README.parent / "meshes" / "air_cooled_quick.yaml")
    assert c.layout["kind"] == "air_cooled"
    for key in ("racks_per_row", "servers_per_rack", "supply_temperature", "cell",
                "air_changes"):
        assert c.layout["parameters"][key] == shipped.layout["parameters"][key], key


def test_yaml_case_runs(tmp_path):
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


def test_sweep_file_loads(tmp_path):
    """The energy page's sweep file is a valid study: 3 supply temperatures x 3 climates."""
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


def test_readme_commands_are_the_quick_start():
    """The README's first two bash blocks are the two commands CI runs
    (.ci/readme_commands.py), exactly."""
    first, second = _blocks("bash", [README])[:2]
    assert first.strip() == ("python3 -m venv .venv && . .venv/bin/activate && "
                             "pip install -e . && thermosim compare -o compare_report")
    assert second.strip() == ("python3 -m venv .venv && . .venv/bin/activate && "
                              "pip install -e \".[test]\" && python -m pytest -q -n auto "
                              "--dist loadgroup")


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(page: Path) -> set:
    text = FENCE.sub("", page.read_text())
    return {_slug(m) for m in re.findall(r"^#+ (.*)$", text, flags=re.M)}


def test_links_lead_somewhere():
    """Every relative link of the README and the docs names a file that exists, and an
    anchor names a heading of that file."""
    bad, checked = [], 0
    for page in PAGES:
        text = FENCE.sub("", page.read_text())
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue
            checked += 1
            path, _, anchor = target.partition("#")
            dest = (page.parent / path).resolve() if path else page
            if not dest.exists():
                bad.append(f"{page.name}: {target} (no such file)")
            elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
                bad.append(f"{page.name}: {target} (no such heading)")
    assert checked >= 20
    assert not bad, bad


def test_readme_picture_is_small():
    png = ROOT / "docs" / "img" / "gpu_package.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size < 200_000
