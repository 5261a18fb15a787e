"""Bad input of every kind (case, layout, sweep and --plant files) gets one line per mistake,
``thermosim: error: FILE: KEY: REASON``, exit code 2, no traceback and no file written: the
minimal inputs of issue 17's defects, run through the command line."""

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from thermosim.case import load_case
from thermosim.cli import main

LINE = re.compile(r"thermosim: error: (?P<file>[^:]+): (?P<key>[^:]+): (?P<reason>\S.*)")

from test_cli import BASE  # noqa: E402  (the same small board case the CLI tests use)

FLOW = (Path(__file__).parents[1] / "thermosim" / "cases" / "server_channel.yaml").read_text()


def bad(tmp_path, monkeypatch, args, files, started=False):
    """Run the CLI in ``tmp_path`` holding ``files`` (name: text or bytes); check the
    error contract and return the (file, key, reason) of each error line (``started``: a
    mistake found after the command began to report progress on stderr, whose lines are
    then skipped; otherwise every stderr line is an error)."""
    for name, content in files.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content if isinstance(content, bytes) else content.encode())
    before = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 2, (r.exit_code, r.output, r.exception)
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert "Traceback" not in r.stderr
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    if started:
        lines = [line for line in lines if line.startswith("thermosim: error:")]
    assert lines, r.output
    out = []
    for line in lines:
        m = LINE.fullmatch(line)
        assert m, f"not FILE: KEY: REASON: {line!r}"
        out.append((m["file"], m["key"], m["reason"]))
    after = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    assert after == before, "files left behind"
    return out


def run_bad(tmp_path, monkeypatch, text, name="case.yaml"):
    return bad(tmp_path, monkeypatch, ["run", name, "-o", "out.h5"], {name: text})


def one(lines):
    assert len(lines) == 1, lines
    return lines[0]


# -- encodings, YAML tags, nesting -------------------------------------------------------

def test_non_utf8_byte_in_a_case_names_its_line(tmp_path, monkeypatch):
    text = BASE.replace("name: base", "name: b\xe9se").encode("latin-1")
    f, key, reason = one(run_bad(tmp_path, monkeypatch, text))
    assert (f, key) == ("case.yaml", "line 1, column 8")
    assert "not UTF-8" in reason and "0xe9" in reason and "offset 7" in reason


def test_non_utf8_byte_in_a_sweep_and_a_plant_file(tmp_path, monkeypatch):
    f, key, reason = one(bad(tmp_path, monkeypatch, ["sweep", "s.yaml"], {
        "s.yaml": b"case: default\ngrid: {powers.die: [1, 2]}\n# caf\xe9\n"}))
    assert f == "s.yaml" and key.startswith("line 3") and "not UTF-8" in reason
    f, key, reason = one(bad(tmp_path, monkeypatch, ["compare", "--plant", "p.yaml"], {
        "p.yaml": b"chiller_cop: 5.5\npump_efficiency: \xff\n"}))
    assert f == "p.yaml" and key.startswith("line 2") and "not UTF-8" in reason


def test_blocks_nested_a_thousand_levels(tmp_path, monkeypatch):
    deep = "blocks:\n" + "".join("  " * i + "-\n" for i in range(1000))
    f, key, reason = one(run_bad(tmp_path, monkeypatch, deep))
    assert key.startswith("blocks") and "nested more than 32 levels" in reason
    f, key, reason = one(run_bad(tmp_path, monkeypatch, "blocks: " + "[" * 1000 + "]" * 1000,
                                 "flow.yaml"))
    assert "nested more than" in reason


@pytest.mark.parametrize("tagged", [
    "name: !!int 1.5",
    "name: !!python/object/apply:os.system ['touch pwned']",
    "name: !!python/name:os.system",
    "name: !!binary aGVsbG8=",
    "name: !!timestamp 2024-01-01",
    "name: !local thing",
])
def test_yaml_tags_are_refused_and_never_run(tagged, tmp_path, monkeypatch):
    f, key, reason = one(run_bad(tmp_path, monkeypatch, BASE.replace("name: base", tagged)))
    assert key == "name" and "YAML tags" in reason and "line 1" in reason
    assert not (tmp_path / "pwned").exists()


def test_aliases_that_explode_or_recurse(tmp_path, monkeypatch):
    bomb = "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + "".join(
        f"{c}: &{c} [{', '.join([f'*{p}'] * 10)}]\n" for p, c in zip("abcdefg", "bcdefgh"))
    f, key, reason = one(run_bad(tmp_path, monkeypatch, bomb))
    assert "more than 100,000 values" in reason
    f, key, reason = one(run_bad(tmp_path, monkeypatch, "a: &a [1, *a]\n", "rec.yaml"))
    assert "recursive alias" in reason


def test_duplicate_key(tmp_path, monkeypatch):
    f, key, reason = one(run_bad(tmp_path, monkeypatch, BASE + "name: again\n"))
    assert key == "name" and "duplicate key" in reason


# -- types and non-finite numbers --------------------------------------------------------

@pytest.mark.parametrize("text,key", [
    (BASE + "solver: {mode: transient, transient: {end_time: .inf}}\n",
     "solver.transient.end_time"),
    (BASE + "solver: {mode: transient, transient: {end_time: 1.0e+400, dt: 1.0e-3}}\n",
     "solver.transient.end_time"),
    (BASE + "initial_temperature: .nan\n", "initial_temperature"),
    (BASE.replace("max: [0.01, 0.01, 0.002], background", "max: [.inf, 0.01, 0.002], background"),
     "domain.max[0]"),
    (BASE.replace("h: 5000", "h: -.inf"), "boundaries.z+.h"),
    ("layout: air_cooled\nracks_per_row: .inf\n", "racks_per_row"),
])
def test_non_finite_numbers_are_refused_at_input(text, key, tmp_path, monkeypatch):
    f, k, reason = one(run_bad(tmp_path, monkeypatch, text))
    assert (f, k) == ("case.yaml", key) and "not a finite number" in reason


@pytest.mark.parametrize("change,key,reason", [
    (("gravity: [0, -9.81, 0]", "gravity: [0, .nan, 0]"), "flow.gravity[1]", "finite"),
    (("gravity: [0, -9.81, 0]", "gravity: [0, -9.81, 0]\n  body_force: [.nan, 0, 0]"),
     "flow.body_force[0]", "finite"),
    (("velocity: [0.05, 0, 0]", "velocity: [.inf, 0, 0]"),
     "flow.boundaries.x-.velocity[0]", "finite"),
    (("z+: {type: slip}", "z+: {type: wall, heat_flux: .inf}"),
     "flow.boundaries.z+.heat_flux", "finite"),
    (("z+: {type: slip}", "z+: {type: wall, heat_flux: 1.0e+12}"),
     "flow.boundaries.z+.heat_flux", "beyond any plausible heat flux"),
    (("power: 2.0", "power: 1.0e+305"), "blocks[0] (package).power", "beyond any plausible"),
    (("velocity: [0.05, 0, 0]", "velocity: [1.0e+6, 0, 0]"),
     "flow.boundaries.x-.velocity", "beyond any plausible velocity"),
])
def test_flow_case_values_named_not_solver_trouble(change, key, reason, tmp_path,
                                                   monkeypatch):
    assert change[0] in FLOW
    f, k, r = one(run_bad(tmp_path, monkeypatch, FLOW.replace(*change)))
    assert k == key and reason in r and "cfl" not in r and "CG" not in r


def test_wrong_types(tmp_path, monkeypatch):
    f, key, reason = one(run_bad(tmp_path, monkeypatch, "layout: [air_cooled]\n"))
    assert key == "layout" and "unknown layout ['air_cooled'] (known: air_cooled" in reason
    f, key, reason = one(run_bad(tmp_path, monkeypatch, "- just\n- a list\n", "list.yaml"))
    assert key == "(top level)" and "mapping" in reason
    f, key, reason = one(run_bad(tmp_path, monkeypatch, BASE.replace("power: 10", "power: abc"),
                                 "t.yaml"))
    assert key == "blocks[0] (die).power" and "valid number" in reason and "'abc'" in reason


def test_every_schema_error_at_once(tmp_path, monkeypatch):
    text = (BASE.replace("power: 10", "power: abc").replace("h: 5000", "h: -5")
            .replace("grid: {max_cell: 0.001}", "grid: {max_cell: 0.001, colour: red}"))
    lines = run_bad(tmp_path, monkeypatch, text)
    keys = {k: r for _, k, r in lines}
    assert set(keys) == {"grid.colour", "blocks[0] (die).power", "boundaries.z+"}, lines
    assert "unknown key" in keys["grid.colour"] and "h must be positive" in keys["boundaries.z+"]


def test_every_layout_parameter_mistake_at_once(tmp_path, monkeypatch):
    text = ("layout: air_cooled\nsupply_temperature: 30\nracks_per_row: 2.5\ncell: -1\n"
            "colour: red\ngpu_power: 1.0e+305\nsupply: sideways\n")
    keys = {k: r for _, k, r in run_bad(tmp_path, monkeypatch, text)}
    assert set(keys) == {"supply_temperature", "racks_per_row", "cell", "colour", "gpu_power",
                         "supply"}
    assert "whole number" in keys["racks_per_row"] and "out of range" in keys["cell"]
    assert "not a parameter" in keys["colour"] and "raised_floor" in keys["supply"]


# -- temperatures: kelvin, the floor, units ---------------------------------------------

@pytest.mark.parametrize("text,key", [
    (BASE.replace("T_ambient: 300", "T_ambient: 27"), "boundaries.z+.T_ambient"),
    (BASE.replace("background: void", "background: air") + "initial_temperature: 25\n",
     "initial_temperature"),
    (FLOW.replace("reference_temperature: 300", "reference_temperature: 25"),
     "flow.reference_temperature"),
    (BASE.replace("name: base", "name: base\nmaterials: {c: {fluid: water, T: 1.0}}"),
     "materials.c.T"),
    ("layout: air_cooled\nsupply_temperature: 30\n", "supply_temperature"),
    ("layout: liquid_cooled\ncdu_supply_temperature: 30\n", "cdu_supply_temperature"),
])
def test_celsius_figures_are_refused_with_a_kelvin_hint(text, key, tmp_path, monkeypatch):
    f, k, reason = one(run_bad(tmp_path, monkeypatch, text))
    assert k == key
    assert "below 200 K: temperatures are in kelvin" in reason and "degC" in reason


def test_the_hint_gives_the_kelvin_figure(tmp_path, monkeypatch):
    f, k, reason = one(run_bad(tmp_path, monkeypatch,
                               BASE.replace("T_ambient: 300", "T_ambient: 27")))
    assert reason == ("27 is below 200 K: temperatures are in kelvin; 27 degC is 300.15 K, "
                      "or write '27 degC'")


@pytest.mark.parametrize("written", ["'27 degC'", "'300.15 K'", "'80.6 degF'", "300.15",
                                     "'300.15'"])
def test_temperatures_with_units(written, tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text(BASE.replace("T_ambient: 300", f"T_ambient: {written}")
                 + f"initial_temperature: {written}\n")
    c = load_case(f)
    assert c.boundaries["z+"].T_ambient == pytest.approx(300.15)
    assert c.initial_temperature == pytest.approx(300.15)


def test_layout_temperature_with_units(tmp_path):
    f = tmp_path / "hall.yaml"
    f.write_text("layout: air_cooled\nracks_per_row: 1\nsupply_temperature: '20 degC'\n"
                 "gpu_limit: '87 degC'\n")
    c = load_case(f)
    assert c.flow.coolers[0].temperature == pytest.approx(293.15)
    gpu_limits = [ch.limit for ch in c.flow.chips if ch.kind == "GPU"]
    assert gpu_limits and all(t == pytest.approx(360.15) for t in gpu_limits)


@pytest.mark.parametrize("written,reason", [
    ("'27 C'", "unknown or non-temperature unit 'C'"),
    ("'-300 degC'", "absolute zero"),
    ("'1e9 K'", "above the 2000 K"),
    ("warm", "is not a temperature"),
    ("'10 delta_degC'", "is not a temperature"),
])
def test_bad_temperature_strings(written, reason, tmp_path, monkeypatch):
    f, k, r = one(run_bad(tmp_path, monkeypatch,
                          BASE.replace("T_ambient: 300", f"T_ambient: {written}")))
    assert k == "boundaries.z+.T_ambient" and reason in r


# -- sweeps and energy parameters --------------------------------------------------------

def test_sweep_values_are_checked_with_the_point_named(tmp_path, monkeypatch):
    lines = bad(tmp_path, monkeypatch, ["sweep", "s.yaml"], {
        "s.yaml": "case: air_cooled_quick\ngrid: {supply_temperature: [.nan, 30]}\n"})
    assert {(f, k) for f, k, _ in lines} == {("s.yaml", "grid.supply_temperature[0]"),
                                             ("s.yaml", "grid.supply_temperature[1]")}
    assert "not a finite number" in lines[0][2] and "in kelvin" in lines[1][2]
    f, key, reason = one(bad(tmp_path, monkeypatch, ["sweep", "t.yaml"], {
        "t.yaml": "case: air_cooled_quick\nlist: [{racks_per_row: 2.5}]\n"}))
    assert f == "t.yaml" and key.startswith("point 0 (racks_per_row=2.5)")
    assert "racks_per_row: a whole number" in reason


def test_plant_values(tmp_path, monkeypatch):
    lines = bad(tmp_path, monkeypatch, ["compare", "--plant", "p.yaml"], {
        "p.yaml": "leakage_reference_temperature: 85\nchiller_cop: .nan\npump_efficiency: 2\n"
                  "colour: red\n"})
    keys = {k: r for f, k, r in lines}
    assert {f for f, _, _ in lines} == {"p.yaml"}
    assert set(keys) == {"leakage_reference_temperature", "chiller_cop", "pump_efficiency",
                         "colour"}
    assert "in kelvin" in keys["leakage_reference_temperature"]


# -- errors found while the flow solver is set up name the file ---------------------------

def test_setup_errors_name_the_case_file(tmp_path, monkeypatch):
    thin = FLOW.replace("max: [0.050, 0.0025, 0.01]", "max: [0.050, 0.0001, 0.01]")
    assert thin != FLOW
    f, key, reason = one(bad(tmp_path, monkeypatch, ["run", "thin.yaml", "-o", "out.h5"],
                             {"thin.yaml": thin}, started=True))
    assert f == "thin.yaml" and "package" in key and "covers no cell centre" in reason


# -- options and arguments ------------------------------------------------------------------
@pytest.mark.parametrize("args, option, reason", [
    (["run", "case.yaml", "-o", "."], "-o", "is a directory"),
    (["run", "case.yaml", "--backend", "tpu"], "--backend", "'tpu' is not one of"),
    (["run", "case.yaml", "--threads", "0"], "--threads", "0 is not in the range"),
    (["sweep"], "sweep_file", "Missing argument"),
])
def test_a_bad_option_is_one_line_not_the_usage_text(args, option, reason, tmp_path,
                                                     monkeypatch):
    """click's own checks (a folder for -o, a choice, a range) answer in the same one-line
    form as a case file's mistakes, naming the command and the option."""
    file, key, text = one(bad(tmp_path, monkeypatch, args, {"case.yaml": BASE}))
    assert file == f"thermosim {args[0]}" and key == option
    assert reason in text and f"see thermosim {args[0]} --help" in text


def test_every_case_level_mistake_at_once(tmp_path, monkeypatch):
    """The checks that need the whole case (block geometry, power names) report every
    mistake too, not the first."""
    text = BASE.replace("max: [0.008, 0.008, 0.001], power: 10",
                        "max: [0.008, 0.008, 0.0], power: 10") + "powers: {nosuch: 1.0}\n"
    lines = run_bad(tmp_path, monkeypatch, text)
    keys = [k for _, k, _ in lines]
    assert len(lines) == 2, lines
    assert keys[0].startswith("blocks[0] (die)") and "thickness along z" in lines[0][2]
    assert keys[1] == "powers.nosuch"


def test_a_flow_domain_of_astronomical_size_is_one_line(tmp_path, monkeypatch):
    """Found by the fuzz run: a flow case with fixed cell counts and a domain of 1e308 m
    overflowed in the step estimate (OverflowError) instead of being refused."""
    text = FLOW.replace("max: [0.10,", "max: [1.0e+308,", 1)
    assert text != FLOW
    file, key, reason = run_bad(tmp_path, monkeypatch, text)[0]
    assert key == "domain.max" and "lengths are in metres" in reason


def test_a_vanishing_inflow_speed_is_no_division_by_zero(tmp_path):
    """Found by the fuzz run: an inflow of 1e-300 m/s underflowed in the central-advection
    step bound (ZeroDivisionError)."""
    from thermosim.case import Case
    from thermosim.sizing import estimate, flow_step_estimate
    import yaml

    data = yaml.safe_load(FLOW)
    data["flow"]["boundaries"]["x-"]["velocity"] = [-1.0e-300, 0, 0]
    data["flow"]["advection"] = "central"
    case = Case.from_dict(data, "case.yaml")
    dt, _ = flow_step_estimate(case, estimate(case))
    assert dt is None or dt > 0
