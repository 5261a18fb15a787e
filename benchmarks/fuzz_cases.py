#!/usr/bin/env python
"""Fuzz thermosim's input path with mutated case, layout, sweep and plant files.

    python benchmarks/fuzz_cases.py --cases 10000 --seed 1 --workers 2 --timeout 30 \
        --out fuzz_report/report.json

Each case is a shipped case file (thermosim/cases, the small meshes, the README's examples),
a sweep file or a ``--plant`` file, mutated at the YAML-data level (keys deleted or added,
types swapped, numbers made 0 / negative / huge / tiny / NaN / infinite, temperatures typed
in Celsius, strings with units, deep nesting, YAML tags, alias bombs, layout parameters,
sweeps of many points) and at the text/byte level (non-UTF-8 bytes, truncation, an empty
file, a BOM, tabs, random bytes).  It is run as ``thermosim run CASE -o out.h5`` (or
``sweep`` / ``compare --plant``) in a worker process that imported thermosim once; the
solves themselves are cut short inside the worker (a few steps or iterations, then the case
counts as accepted), so every check, the grid, the model and the solver set-up and the first
steps run, but no full solve.

Every case ends as one of:

- clean error: exit 2, every error line ``thermosim: error: ...``, no traceback;
- accepted: exit 0, or stopped by the harness after its first steps;
- traceback: any other exception or output (the cause: the exception type and the innermost
  thermosim frame);
- hang: over ``--timeout`` twice (the worker is killed and replaced; a case is retried once
  in a fresh worker, so a first-time kernel compile is not a hang);
- leftovers: a file left in the output folder after a failure;
- memory: the worker's resident memory above ``--max-rss`` (MB).

The table, the distinct causes and the smallest input seen for each (saved beside the
report under ``causes/``) are printed; the exit status is 1 when any case was a traceback,
a hang, left files or ran out of memory.  ``tests/test_fuzz.py`` imports the mutation code
from here.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import random
import re
import shutil
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]

# -- the inputs ---------------------------------------------------------------------------

#: shipped cases small enough to set up in well under a second each
CASE_FILES = ["default", "gpu_package", "gpu_package_warmup", "server_channel",
              "air_cooled_quick", "air_cooled_overhead_quick", "liquid_cooled_quick",
              "immersion_quick"]
MESH_FILES = ["gpu_package_700W_coarse", "server_channel_flow", "immersion_quick"]

SWEEP_TEXTS = [
    """# conduction points, one a list item
case: default
list:
  - {powers.die: 500.0}
  - {solver.tolerance: 1.0e-6, "blocks[2].power": 600.0}
workers: 1
backend: cpu
""",
    """# the README's study: a layout's parameter and the climate
case: immersion_quick
grid:
  supply_temperature: [298.15, 303.15, 308.15]
  energy.climate: [miami, greensboro, sand_point]
workers: 2
""",
    """case: server_channel
grid:
  flow.boundaries.x-.velocity: [[0.05, 0, 0], [0.1, 0, 0]]
  initial_temperature: [300.0, 310.0]
name: channel_study
""",
]

PLANT_TEXTS = [
    """climate: miami
pump_efficiency: 0.7
chiller_cop: 6.0
ups_efficiency: 0.96
""",
    """leakage_fraction: 0.2
leakage_reference_temperature: 358.15
crah_internal_pressure_drop: 250.0
economizer_approach: 1.5
hours: 8760
""",
]


@dataclass
class Base:
    """One unmutated input: its kind (case, sweep, plant), a name and its text."""

    kind: str
    name: str
    text: str
    data: object = None

    def __post_init__(self):
        self.data = yaml.safe_load(self.text)


def _readme_cases(root: Path) -> list[Base]:
    """The YAML examples of the README and docs/ that are case or sweep files."""
    out = []
    for md in [root / "README.md", *sorted((root / "docs").glob("*.md"))]:
        if not md.exists():
            continue
        for i, block in enumerate(re.findall(r"```yaml\n(.*?)```", md.read_text(), re.S)):
            try:
                data = yaml.safe_load(block)
            except yaml.YAMLError:
                continue
            if not isinstance(data, dict):
                continue
            if "case" in data and ("grid" in data or "list" in data):
                out.append(Base("sweep", f"{md.stem}_{i}", block))
            elif "name" in data or "layout" in data:
                out.append(Base("case", f"{md.stem}_{i}", block))
    return out


def load_bases(root: Path = ROOT) -> list[Base]:
    """Every unmutated input, cases first (most of the mutations go to case files)."""
    bases = []
    for n in CASE_FILES:
        p = root / "thermosim" / "cases" / f"{n}.yaml"
        if p.exists():
            bases.append(Base("case", n, p.read_text()))
    for n in MESH_FILES:
        p = root / "meshes" / f"{n}.yaml"
        if p.exists():
            bases.append(Base("case", f"meshes_{n}", p.read_text()))
    bases += _readme_cases(root)
    bases += [Base("sweep", f"sweep_{i}", t) for i, t in enumerate(SWEEP_TEXTS)]
    bases += [Base("plant", f"plant_{i}", t) for i, t in enumerate(PLANT_TEXTS)]
    return bases


def layout_parameters() -> dict[str, dict]:
    """Every layout builder's parameters and defaults (thermosim.layouts)."""
    try:
        from thermosim import layouts
    except Exception:       # noqa: BLE001 (the generator works without them)
        return {}
    return {"air_cooled": layouts.AIR_DEFAULTS, "liquid_cooled": layouts.LIQUID_DEFAULTS,
            "immersion": layouts.IMMERSION_DEFAULTS}


# -- mutations ----------------------------------------------------------------------------

class Raw(str):
    """YAML text put in verbatim where a value goes (tags, aliases, deep nesting)."""


TAGS = [
    "!!python/object/apply:os.system ['touch PWNED']",
    "!!python/object/apply:builtins.exec ['open(\"PWNED\", \"w\").close()']",
    "!!python/object:thermosim.case.Case {}",
    "!!python/name:os.system",
    "!!int 1.5", "!!int abc", "!!float abc", "!!float 1e400", "!!bool maybe",
    "!!binary aGVsbG8gd29ybGQ=", "!!binary '////'", "!!timestamp 2001-12-14",
    "!!set {a, b}", "!!omap [a: 1, b: 2]", "!!str 5", "!custom 1", "!!null x",
    "!!map [1, 2]", "!!seq {a: 1}",
]
UNIT_STRINGS = ["27 degC", "0.5 mm", "300 K", "300 kelvin", "1e3 W", "20 kW/(m^2 K)",
                "80 degF", "1.2 m", "5 s", "-5 degC", "abc", "", " ", "1,5", "0x10", "1_000",
                "nan", "inf", "300K", "1e", "++1"]
SPECIAL_NUMBERS = [0, 0.0, -1, -1.0, 1e308, -1e308, 1e-300, -1e-300, math.nan, math.inf,
                   -math.inf, 10 ** 30, 2 ** 63, -(2 ** 63), 1e12, 1e6, 0.5, 1, 2, 3]
OTHER_TYPES = ["text", [], [1, 2, 3], {}, {"a": 1}, True, False, None, [[1, 2], [3]],
               [None], {"min": 1}]
TEMPERATURE_KEY = re.compile(r"(^T$|^T_|temperature|_limit$|^T[A-Za-z]*$)")
SWEEP_KEYS = ["powers.die", "blocks[0].power", "blocks[99].power", "solver.tolerance",
              "a..b", "[0]", ".", "", "grid.max_cell", "supply_temperature",
              "racks_per_row", "cell", "energy.climate", "energy.pump_efficiency",
              "energy.unknown", "flow.max_steps", "domain.max[2]", "name", "layout",
              "initial_temperature", "blocks[-1].power", "0", "energy."]
CLIMATES = ["miami", "greensboro", "sand_point", "nowhere", "", "/dev/null", "/etc/passwd",
            "/proc/self/status", ".", "../../x.epw", "x.tm2", "x.csv", 7, None, [1], {}]
OUTPUT_PATHS = ["/proc/fuzz_out.h5", "no_such_dir/sub/out.h5", "out.xmf", "afile.txt/out.h5",
                ".", "out.h5/", ""]
#: output paths no run can write: they must be refused before the solve
UNWRITABLE = {"/proc/fuzz_out.h5", "afile.txt/out.h5"}


def _nodes(x, path=()):
    """Every (path, value) in a nested structure, the root included."""
    yield path, x
    if isinstance(x, dict):
        for k, v in x.items():
            yield from _nodes(v, path + (k,))
    elif isinstance(x, list):
        for i, v in enumerate(x):
            yield from _nodes(v, path + (i,))


def _get(x, path):
    for p in path:
        x = x[p]
    return x


def _set(root, path, value):
    if not path:
        return value
    _get(root, path[:-1])[path[-1]] = value
    return root


def _path_text(path) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".") \
        or "<root>"


def _number_variant(rng: random.Random, v):
    x = v if isinstance(v, (int, float)) and not isinstance(v, bool) else 1.0
    choices = SPECIAL_NUMBERS + [-x, x * 1e6, x * 1e-6, x - 273.15, x * 1000, -x * 1e308
                                 if x else -1e308]
    return rng.choice(choices)


def _deep(rng: random.Random) -> Raw:
    n = rng.choice([50, 200, 1000, 5000])
    if rng.random() < 0.5:
        return Raw("[" * n + "1" + "]" * n)
    return Raw("{a: " * n + "1" + "}" * n)


def mutate_data(rng: random.Random, base: Base, layouts: dict) -> tuple[object, list[str]]:
    """1 to 3 data-level mutations of ``base.data``; returns (data, descriptions)."""
    import copy

    data = copy.deepcopy(base.data)
    ops = []
    for _ in range(rng.choice([1, 1, 1, 2, 2, 3])):
        nodes = list(_nodes(data))
        path, node = rng.choice(nodes)
        leaves = [(p, v) for p, v in nodes if not isinstance(v, (dict, list))]
        dicts = [(p, v) for p, v in nodes if isinstance(v, dict)]
        numbers = [(p, v) for p, v in leaves if isinstance(v, (int, float))
                   and not isinstance(v, bool)]
        op = rng.choice(["delete", "unknown", "type", "number", "number", "number",
                         "celsius", "units", "deep", "tag", "tag", "list", "rename",
                         "kind", "scale", "scale", "scale"])
        if op == "delete" and dicts:
            p, d = rng.choice(dicts)
            if d:
                k = rng.choice(list(d))
                del d[k]
                ops.append(f"delete {_path_text(p + (k,))}")
                continue
        if op == "unknown" and dicts:
            p, d = rng.choice(dicts)
            k = rng.choice(["zz_unknown", "Name", "power ", "T", "max_steps", "1", "type"])
            d[k] = rng.choice(OTHER_TYPES + [1.0])
            ops.append(f"add {_path_text(p + (k,))} = {d[k]!r}")
            continue
        if op == "type" and path:
            v = rng.choice(OTHER_TYPES)
            data = _set(data, path, v)
            ops.append(f"set {_path_text(path)} = {v!r}")
            continue
        if op in ("number", "units", "celsius") and numbers:
            if op == "celsius":
                temps = [(p, v) for p, v in numbers if p and isinstance(p[-1], str)
                         and TEMPERATURE_KEY.search(p[-1])]
                if temps:
                    p, v = rng.choice(temps)
                    c = rng.choice([v - 273.15, 25, 27.0, 1.0, 0.0, -40.0])
                    data = _set(data, p, c)
                    ops.append(f"set {_path_text(p)} = {c!r} (Celsius)")
                    continue
            p, v = rng.choice(numbers)
            new = rng.choice(UNIT_STRINGS) if op == "units" else _number_variant(rng, v)
            data = _set(data, p, new)
            ops.append(f"set {_path_text(p)} = {new!r}")
            continue
        if op == "scale" and numbers:
            # a plausible value (same sign and type, another size): these pass the checks
            # and reach the grid, the model and the solver set-up
            p, v = rng.choice(numbers)
            f = rng.choice([0.01, 0.1, 0.5, 0.9, 1.1, 2, 10, 100])
            new = max(1, round(v * f)) if isinstance(v, int) and v > 0 else v * f
            data = _set(data, p, new)
            ops.append(f"set {_path_text(p)} = {new!r} (x {f:g})")
            continue
        if op == "deep":
            p = path if path else ("zz_deep",)
            if not path and not isinstance(data, dict):
                continue
            v = _deep(rng)
            data = _set(data, p, v)
            ops.append(f"set {_path_text(p)} = nesting {v.count('[') + v.count('{')} deep")
            continue
        if op == "tag" and path:
            v = Raw(rng.choice(TAGS))
            data = _set(data, path, v)
            ops.append(f"set {_path_text(path)} = {v}")
            continue
        if op == "list":
            lists = [(p, v) for p, v in nodes if isinstance(v, list) and v and p]
            if lists:
                p, v = rng.choice(lists)
                # (a sweep of a thousand valid points is valid, and takes a while to check)
                n = rng.choice([10, 100] if base.kind == "sweep" else [10, 100, 1000])
                # (bounded at 20,000 values: a thousand blocks a thousand times over makes a
                # file of megabytes that takes seconds to write and tests nothing more)
                n = max(2, min(n, 20_000 // max(1, len(nodes))))
                data = _set(data, p, v * n)
                ops.append(f"repeat {_path_text(p)} x {n}")
                continue
        if op == "rename" and dicts:
            p, d = rng.choice(dicts)
            if d:
                k = rng.choice(list(d))
                new = rng.choice([str(k).upper(), f"{k}s", f" {k}", str(k)[:-1] or "x"])
                d[new] = d.pop(k)
                ops.append(f"rename {_path_text(p + (k,))} -> {new!r}")
                continue
        # kind-specific mutations (also the fallback of an op that found nothing to act on)
        data, what = _kind_mutation(rng, base, data, layouts)
        ops.append(what)
    return data, ops


def _kind_mutation(rng, base: Base, data, layouts: dict):
    if not isinstance(data, dict):
        return {"name": data}, "wrap the document in {name: ...}"
    if base.kind == "sweep":
        r = rng.random()
        if r < 0.3:
            key = rng.choice(list(data.get("grid") or {}) or SWEEP_KEYS)
            g = data.pop("grid", None) or {}
            data.pop("list", None)
            if rng.random() < 0.5:
                # three keys of n values: 27 points, or 1e9 / 1e15 that must be refused
                # before they are expanded
                n = rng.choice([3, 1000, 100000])
                g = {k: Raw("[" + ", ".join(str(300 + i) for i in range(n)) + "]")
                     for k in (key, "initial_temperature", "powers.die")}
            else:
                # (a thousand valid points are valid, and take a while to check: not here)
                n = rng.choice([10, 100])
                g[key] = [rng.choice([round(rng.uniform(250, 350), 2), 1.0, 0, -1, math.nan])
                          for _ in range(n)]
            data["grid"] = g
            return data, f"grid of {n} values over {', '.join(g)}"
        if r < 0.55:
            pts = [{rng.choice(SWEEP_KEYS): _number_variant(rng, 1.0)}
                   for _ in range(rng.choice([1, 3, 100]))]
            data.pop("grid", None)
            data["list"] = pts
            return data, f"list of {len(pts)} points over odd keys"
        if r < 0.7:
            v = rng.choice(["nowhere.yaml", "../../etc/passwd", "/dev/null", ".", "", None,
                            7, ["default"], "default.yaml", "gpu_package", "/proc/self/status"])
            data["case"] = v
            return data, f"set case = {v!r}"
        if r < 0.8:
            k, v = rng.choice([("workers", rng.choice([0, -1, 10 ** 9, "x", 1.5, None])),
                               ("backend", rng.choice(["tpu", "", None, 1])),
                               ("name", rng.choice(["", "../up", "a/b", ".", "..", 5, None]))])
            data[k] = v
            return data, f"set {k} = {v!r}"
        v = rng.choice(CLIMATES)
        data.setdefault("energy", {})
        if isinstance(data["energy"], dict):
            data["energy"]["climate"] = v
        return data, f"set energy.climate = {v!r}"
    if base.kind == "plant":
        if rng.random() < 0.5:
            v = rng.choice(CLIMATES)
            data["climate"] = v
            return data, f"set climate = {v!r}"
        k = rng.choice(["pump_efficiency", "chiller_cop", "hours", "ups_efficiency",
                        "leakage_fraction", "leakage_doubling", "tower_approach",
                        "crah_coil_approach", "cdu_approach"])
        v = _number_variant(rng, 1.0)
        data[k] = v
        return data, f"set {k} = {v!r}"
    kind = data.get("layout")
    if isinstance(kind, str) and kind in layouts:
        defaults = layouts[kind]
        r = rng.random()
        if r < 0.15:
            v = rng.choice([[kind], {"kind": kind}, "nonexistent", "", None, 1, kind.upper()])
            data["layout"] = v
            return data, f"set layout = {v!r}"
        k = rng.choice(["racks_per_row", "servers_per_rack", "tanks", "servers_per_tank",
                        "cell", "crah_units", "supply_temperature", "precision", "supply",
                        "max_steps", "fluid", "coolant", *defaults])
        d = defaults.get(k)
        if isinstance(d, (int, float)) and not isinstance(d, bool):
            v = rng.choice([_number_variant(rng, d), rng.choice(UNIT_STRINGS),
                            rng.choice(OTHER_TYPES), d * 2, d / 2, 2.5])
        elif isinstance(d, str):
            v = rng.choice(["nonexistent", "", "water", "air", "float16", "overhead",
                            d.upper(), 1, None])
        else:
            v = rng.choice(OTHER_TYPES + [((0.0, 1.0),), [[0, 1], [0.5, -1]], 0.0])
        data[k] = v
        return data, f"set {k} = {v!r}"
    r = rng.random()
    if r < 0.3:
        v = rng.choice([[1, 1, 10 ** 12], [10 ** 6, 10 ** 6, 10 ** 6], [0, 1, 1], [-4, 4, 4],
                        [2.5, 3, 3], [1, 1], [math.inf, 1, 1], 100, "many"])
        data["grid"] = {"cells": v}
        return data, f"set grid = {{cells: {v!r}}}"
    if r < 0.5:
        v = rng.choice([1e-9, 1e-6, 0.0, -0.001, math.nan, 1e308, [0.001, 0.001],
                        "0.5 mm"])
        g = data.get("grid") if isinstance(data.get("grid"), dict) else {}
        g["max_cell"] = v
        data["grid"] = g
        return data, f"set grid.max_cell = {v!r}"
    if r < 0.7:
        dom = data.get("domain") if isinstance(data.get("domain"), dict) else {}
        v = rng.choice([[1e308, 1, 1], [0.04, 0.04, 2.5e6], [0, 0, 0], [-1, -1, -1],
                        [math.nan, 1, 1], [1e-300, 1e-300, 1e-300]])
        dom["max"] = v
        data["domain"] = dom
        return data, f"set domain.max = {v!r}"
    if r < 0.85 and isinstance(data.get("solver"), dict):
        tr = {"method": rng.choice(["explicit", "implicit_euler", "crank_nicolson", "rk4"]),
              "end_time": rng.choice([math.inf, 1e300, 1.0, 0.0, -1.0, math.nan]),
              "dt": rng.choice(["auto", 1e-300, 0.1, 0.0, -1.0, math.inf])}
        data["solver"]["mode"] = "transient"
        data["solver"]["transient"] = tr
        return data, f"set solver.transient = {tr!r}"
    fl = data.get("flow")
    if isinstance(fl, dict):
        k, v = rng.choice([("end_time", rng.choice([math.inf, 1e300, 1.0, -1.0, 0.0])),
                           ("max_steps", rng.choice([0, -1, 3, 10 ** 12, 2.5])),
                           ("reference_temperature", rng.choice([25.0, 0.0, math.nan, 1e6])),
                           ("gravity", rng.choice([[0, math.nan, 0], [0, -1e308, 0], [0, 0]])),
                           ("cfl", rng.choice([0.0, -1.0, 100.0, math.nan])),
                           ("fluid", rng.choice(["water", "nonexistent", "", 1]))])
        fl[k] = v
        return data, f"set flow.{k} = {v!r}"
    v = rng.choice([25.0, 0.0, -1.0, math.nan, math.inf, 1e308])
    data["initial_temperature"] = v
    return data, f"set initial_temperature = {v!r}"


def dump(data) -> str:
    """YAML text of ``data`` with every :class:`Raw` value put in verbatim."""
    raws = []

    def swap(x):
        if isinstance(x, Raw):
            raws.append(str(x))
            return f"__RAW_{len(raws) - 1}__"
        if isinstance(x, dict):
            return {k: swap(v) for k, v in x.items()}
        if isinstance(x, list):
            return [swap(v) for v in x]
        return x

    text = yaml.safe_dump(swap(data), sort_keys=False, default_flow_style=None, width=100,
                          allow_unicode=True)
    for i, r in enumerate(raws):
        text = text.replace(f"'__RAW_{i}__'", r).replace(f"__RAW_{i}__", r)
    return text


BOMB = """bomb_a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
bomb_b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
bomb_c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
bomb_d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
bomb_e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]
bomb_f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]
bomb_g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]
bomb_h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]
bomb_i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h, *h]
"""


def mutate_text(rng: random.Random, text: str, top_keys: list) -> tuple[bytes, str]:
    """One text/byte-level mutation of ``text``; returns (bytes, description)."""
    raw = text.encode()
    op = rng.choice(["truncate", "empty", "bom", "utf16", "badbytes", "tabs", "bomb",
                     "bomb", "flip", "nul", "docs", "crlf", "dupkey", "merge", "longline",
                     "comment"])
    if op == "truncate":
        n = rng.randrange(0, max(1, len(raw)))
        return raw[:n], f"truncated at byte {n}"
    if op == "empty":
        return rng.choice([b"", b"\n", b"   \n\t\n", b"# nothing\n", b"---\n", b"~\n",
                           b"[]\n", b"42\n", b"''\n"]), "empty or scalar document"
    if op == "bom":
        return b"\xef\xbb\xbf" + raw, "UTF-8 BOM"
    if op == "utf16":
        return text.encode("utf-16"), "UTF-16 with BOM"
    if op == "badbytes":
        bad = rng.choice([b"\xff", b"\xfe\xff", b"\xc3\x28", b"\x80\x81", b"\xe2\x82",
                          b"\xed\xa0\x80"])
        i = rng.randrange(0, len(raw) + 1)
        return raw[:i] + bad + raw[i:], f"non-UTF-8 bytes {bad!r} at {i}"
    if op == "tabs":
        lines = text.splitlines(keepends=True)
        idx = [i for i, ln in enumerate(lines) if ln.startswith(" ")] or [0]
        i = rng.choice(idx)
        lines[i] = "\t" + lines[i].lstrip(" ")
        return "".join(lines).encode(), f"tab indentation on line {i + 1}"
    if op == "bomb":
        target = rng.choice(top_keys + ["zz_bomb"] if top_keys else ["zz_bomb"])
        alias = rng.choice(["*i", "*h", "*f", "[*i, *i]"])
        lines = [ln for ln in text.splitlines() if not ln.startswith(f"{target}:")]
        return (BOMB + "\n".join(lines) + f"\n{target}: {alias}\n").encode(), \
            f"alias bomb as {target}"
    if op == "flip":
        b = bytearray(raw)
        for _ in range(rng.randint(1, 5)):
            if b:
                b[rng.randrange(len(b))] = rng.randrange(256)
        return bytes(b), "random bytes"
    if op == "nul":
        i = rng.randrange(0, len(raw) + 1)
        c = rng.choice([b"\x00", b"\x07", b"\x1b[31m", b"\x0c"])
        return raw[:i] + c + raw[i:], f"control character {c!r} at {i}"
    if op == "docs":
        return raw + b"\n---\n" + raw, "two YAML documents"
    if op == "crlf":
        return raw.replace(b"\n", b"\r\n"), "CRLF line ends"
    if op == "dupkey":
        k = rng.choice(top_keys or ["name"])
        return raw + f"\n{k}: 1\n".encode(), f"duplicate key {k}"
    if op == "merge":
        return b"base: &base {name: x}\n<<: *base\n" + raw, "merge key"
    if op == "longline":
        n = rng.choice([10 ** 4, 10 ** 6])
        return raw + f"\nzz_long: {'x' * n}\n".encode(), f"a line of {n} characters"
    return raw.replace(b"\n", b" # \xc3\xa9\n", 3), "comments with non-ASCII text"


@dataclass
class Mutant:
    """One fuzz case: what to write, how to run it, and how it was made."""

    index: int
    kind: str                       # case | sweep | plant
    base: str
    content: bytes
    ops: list = field(default_factory=list)
    output: str = "out.h5"          # thermosim run -o (a bad path must be refused up front)
    extra: list = field(default_factory=list)   # extra command-line options


def make_case(index: int, seed: int, bases: list[Base], layouts: dict) -> Mutant:
    """The ``index``-th mutant of the run with ``seed`` (the same on every machine)."""
    rng = random.Random(f"{seed}:{index}")
    # cases (and layout cases) most of the time, then sweeps and plant files
    r = rng.random()
    kind = "case" if r < 0.78 else "sweep" if r < 0.92 else "plant"
    base = rng.choice([b for b in bases if b.kind == kind] or bases)
    try:
        data, ops = mutate_data(rng, base, layouts) if rng.random() < 0.85 \
            else (base.data, [])
        text = dump(data)
    except RecursionError:
        # a mutation that put a subtree inside itself: the text mutations below stand in
        data, ops = base.data, []
        text = dump(data)
    if rng.random() < 0.25 or not ops:
        top = list(data) if isinstance(data, dict) else []
        content, what = mutate_text(rng, text, [str(k) for k in top])
        ops.append(what)
    else:
        content = text.encode()
    m = Mutant(index, base.kind, base.name, content, ops)
    if base.kind == "case":
        if rng.random() < 0.04:
            m.output = rng.choice(OUTPUT_PATHS)
            m.ops.append(f"-o {m.output!r}")
        if rng.random() < 0.04:
            m.extra = ["--resume"]
            m.ops.append("--resume")
    return m


# -- running one case (in a worker) -------------------------------------------------------

#: how many flow steps, or conduction iterations / time steps, an accepted case may take
STEP_CAP = 3


class FuzzStop(BaseException):
    """Raised by the harness inside a solve that has taken its few steps: the case was
    accepted (a BaseException, so that no ``except Exception`` of thermosim takes it)."""


_counter = {"n": 0}


def _capped(method, what: str):
    """``method`` (a flow solver's step or outer iteration) counted against STEP_CAP: the
    solve stops (FuzzStop) before the first with a cap of 0, after the cap-th otherwise."""
    def capped(self, *a, **kw):
        if STEP_CAP == 0:
            raise FuzzStop(f"flow: before the first {what}")
        out = method(self, *a, **kw)
        _counter["n"] += 1
        if _counter["n"] >= STEP_CAP:
            raise FuzzStop(f"flow: {what} {STEP_CAP}")
        return out

    capped._fuzz = True
    return capped


def install_caps(cap: int = STEP_CAP) -> None:
    """Cut every solve short after ``cap`` flow steps or outer iterations, or conduction
    iterations / time steps (0: stop where the solve would start, before any kernel is
    compiled) in this process."""
    from thermosim import flow, runner

    global STEP_CAP
    STEP_CAP = cap
    if getattr(flow.FlowSolver.step, "_fuzz", False):
        return
    from thermosim.flow import outer

    # time steps, and the steady solver's outer iterations (flow.method: simplec)
    flow.FlowSolver.step = _capped(flow.FlowSolver.step, "step")
    outer.OuterIteration.iterate = _capped(outer.OuterIteration.iterate, "outer iteration")
    solve = runner.solve

    def capped_solve(case_or_model, backend="auto", progress=None, *a, **kw):
        def counting(*args):
            if progress is not None:
                progress(*args)
            _counter["n"] += 1
            if _counter["n"] >= STEP_CAP:
                raise FuzzStop("conduction iterations")
        if STEP_CAP == 0:
            raise FuzzStop("conduction: before the solve")
        return solve(case_or_model, backend, counting, *a, **kw)

    runner.solve = capped_solve


def command(m: Mutant, infile: Path, outdir: Path) -> list[str]:
    if m.kind == "sweep":
        return ["sweep", str(infile), "-o", str(outdir / "sweep_out"), "--workers", "1"]
    if m.kind == "plant":
        return ["compare", "-o", str(outdir / "report"), "--backend", "cpu",
                "--plant", str(infile)]
    return ["run", str(infile), "-o", m.output, "--backend", "cpu", *m.extra]


ERROR_PREFIX = "thermosim: error: "
#: what marks a stderr line as an error report that escaped the one-line format: Python's
#: traceback and warning output, or a line naming the input file without the prefix (an
#: error message's continuation); other lines are progress and notes, allowed
PYTHON_OUTPUT = re.compile(r"(Traceback \(most recent|^\s*File \"|^\w*(Error|Exception|Warning)"
                           r"\b|^Usage: |^Error: )")


def _innermost(tb) -> str:
    frames = traceback.extract_tb(tb)
    mine = [f for f in frames if "thermosim" in f.filename.replace("\\", "/").split("/")
            and "fuzz_cases" not in f.filename]
    f = (mine or frames or [None])[-1]
    if f is None:
        return "?"
    p = f.filename.replace("\\", "/")
    p = p[p.rfind("thermosim/"):] if "thermosim/" in p else Path(p).name
    return f"{p}:{f.name}"


def _files(d: Path, before: set) -> list[str]:
    out = []
    for dirpath, dirnames, filenames in os.walk(d):
        for n in filenames + [x for x in dirnames if not os.listdir(Path(dirpath) / x)]:
            rel = str((Path(dirpath) / n).relative_to(d))
            if rel not in before:
                out.append(rel)
    return sorted(out)


def run_one(m: Mutant, work: Path) -> dict:
    """Run one mutant in this process; the classification as a dict."""
    import click

    from thermosim.cli import main

    case_dir = Path(tempfile.mkdtemp(prefix=f"c{m.index}_", dir=work))
    indir, outdir = case_dir / "in", case_dir / "out"
    indir.mkdir()
    outdir.mkdir()
    infile = indir / ("sweep.yaml" if m.kind == "sweep" else "plant.yaml"
                      if m.kind == "plant" else "case.yaml")
    infile.write_bytes(m.content)
    if m.output == "afile.txt/out.h5":
        (outdir / "afile.txt").write_text("x")
    before = set(_files(outdir, set()))
    args = command(m, infile, outdir)
    out, err = io.StringIO(), io.StringIO()
    old = sys.stdout, sys.stderr, os.getcwd()
    code, exc, stopped, usage = 0, None, False, None
    _counter["n"] = 0
    t0 = time.perf_counter()
    try:
        os.chdir(outdir)
        sys.stdout, sys.stderr = out, err
        main.main(args, prog_name="thermosim", standalone_mode=False)
    except FuzzStop:
        stopped = True
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except click.exceptions.Exit as e:
        code = e.exit_code
    except click.ClickException as e:
        # an option's value refused by click (``-o .``): its usage message, exit 2
        e.show(file=err)
        code = e.exit_code
        usage = e.format_message()
    except RecursionError as e:
        exc = (type(e).__name__, str(e)[:300], _innermost(e.__traceback__))
    except BaseException as e:          # noqa: BLE001 (every other ending is a defect)
        exc = (type(e).__name__, str(e)[:300], _innermost(e.__traceback__))
    finally:
        sys.stdout, sys.stderr = old[0], old[1]
        os.chdir(old[2])
    wall = time.perf_counter() - t0
    stderr, stdout = err.getvalue(), out.getvalue()
    res = {"index": m.index, "wall": wall, "code": code, "stderr": stderr[-2000:],
           "stdout": stdout[-1000:]}
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith(ERROR_PREFIX)]
    stray = [ln for ln in lines if not ln.startswith(ERROR_PREFIX) and (
        PYTHON_OUTPUT.search(ln) or (str(infile) in ln and not ln.startswith("thermosim ")))]
    left = _files(outdir, before)
    if "PWNED" in left or (indir / "PWNED").exists():
        res.update(outcome="traceback", cause="a YAML tag ran code (PWNED written)")
    elif exc is not None:
        res.update(outcome="traceback", cause=f"{exc[0]} @ {exc[2]}", message=exc[1])
    elif stopped or code == 0:
        res["outcome"] = "accepted"
        if m.kind == "case" and m.output in UNWRITABLE:
            # a bad output path must be refused before the solve, not after it
            res.update(outcome="traceback",
                       cause=f"output path not checked before the solve (-o {m.output!r})",
                       message=f"accepted with -o {m.output!r}")
        if stray:
            res["warnings"] = stray[:3]
    elif usage is not None and code == 2:
        res.update(outcome="clean error", usage=usage[:200])
    elif m.kind == "sweep" and code == 1 and "points done" in stdout:
        # a sweep's failed points are listed in its table (by design); an exception's
        # class name in a point's error is a traceback in disguise
        hidden = re.findall(r"point \d+: ([A-Za-z_]*(?:Error|Exception|Warning)): (.*)",
                            stdout)
        if hidden:
            res.update(outcome="traceback", cause=f"{hidden[0][0]} in a sweep point",
                       message=hidden[0][1][:300])
        else:
            res["outcome"] = "clean error"
        left = []
    elif code == 2 and errors and not stray and "Traceback" not in stderr:
        res["outcome"] = "clean error"
    else:
        first = (stray or lines or [f"exit {code}, nothing on stderr"])[0]
        if str(infile) in first and not PYTHON_OUTPUT.search(first):
            what = "error lines without the 'thermosim: error: ' prefix"
        else:
            what = _shape(first)
        res.update(outcome="traceback", cause=f"unformatted output (exit {code}): {what}",
                   message=stderr[-300:])
    # a file the error names (the checkpoint kept to continue a run that did not settle
    # with --resume) is kept on purpose
    left = [f for f in left if Path(f).name not in stderr]
    if res["outcome"] != "accepted" and left:
        res["leftovers"] = left[:10]
    shutil.rmtree(case_dir, ignore_errors=True)
    return res


def _shape(line: str) -> str:
    """A line with its numbers and paths blanked (to group causes)."""
    line = re.sub(r"/\S+", "PATH", line)
    return re.sub(r"\d+(\.\d+)?(e[-+]?\d+)?", "N", line)[:120]


# -- the worker processes -----------------------------------------------------------------

def _warm_up(work: Path) -> None:
    """Compile (or load) the kernels the common cases use, outside any case's time limit."""
    bases = {b.name: b for b in load_bases()}
    for name in ("default", "gpu_package_warmup", "server_channel", "immersion_quick"):
        if name in bases:
            run_one(Mutant(-1, "case", name, bases[name].text.encode()), work)


#: the memory thermosim may plan a run for in a worker (its own size check refuses more):
#: accepted cases stay small, and a worker's resident memory above --max-rss then means
#: that the check's estimate was wrong
MEMORY_LIMIT = "150MB"


def worker_main(conn, work: str, warm: bool, cap: int = STEP_CAP) -> None:
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")
    os.environ.setdefault("THERMOSIM_MEMORY_LIMIT", MEMORY_LIMIT)
    os.environ["COLUMNS"] = "1000"       # rich wraps its lines at 80 columns otherwise
    import warnings

    warnings.simplefilter("default")
    install_caps(cap)
    work = Path(work)
    if warm:
        _warm_up(work)
    conn.send({"ready": True})
    while True:
        msg = conn.recv()
        if msg is None:
            return
        try:
            res = run_one(msg, work)
        except BaseException as e:      # noqa: BLE001 (the harness itself)
            res = {"index": msg.index, "outcome": "traceback", "cause": f"harness: {e!r}"}
        conn.send(res)


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for ln in f:
                if ln.startswith("VmRSS:"):
                    return int(ln.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


class Worker:
    def __init__(self, ctx, work: Path, warm: bool, cap: int = STEP_CAP):
        self.parent, child = ctx.Pipe()
        self.proc = ctx.Process(target=worker_main, args=(child, str(work), warm, cap),
                                daemon=True)
        self.proc.start()
        self.ready = False
        self.job = None
        self.started = 0.0
        self.peak = 0.0

    def kill(self):
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(5)


class Runner:
    """One worker process that runs mutants one at a time, each within ``timeout`` seconds
    and ``max_rss`` MB (a case over either is reported and the worker replaced)."""

    def __init__(self, work: Path, timeout: float = 20.0, max_rss: float = 2048.0,
                 cap: int = 0, start_timeout: float = 300.0):
        import multiprocessing as mp

        self.ctx = mp.get_context("spawn")
        self.work, self.timeout, self.max_rss, self.cap = work, timeout, max_rss, cap
        self.start_timeout = start_timeout
        self._start()

    def _start(self):
        self.w = Worker(self.ctx, self.work, False, self.cap)
        if not self.w.parent.poll(self.start_timeout):
            self.w.kill()
            raise RuntimeError("the fuzz worker did not start")
        self.w.parent.recv()

    def run(self, m: Mutant) -> dict:
        w = self.w
        w.parent.send(m)
        t0 = time.perf_counter()
        peak = 0.0
        while True:
            if w.parent.poll(0.02):
                try:
                    res = w.parent.recv()
                except (EOFError, OSError):
                    res = {"index": m.index, "outcome": "traceback",
                           "cause": f"the worker process died (exit {w.proc.exitcode})"}
                    self._replace()
                res["peak_rss_mb"] = round(peak, 1)
                return res
            peak = max(peak, _rss_mb(w.proc.pid))
            over = "memory" if peak > self.max_rss else \
                "hang" if time.perf_counter() - t0 > self.timeout else None
            if over is None and not w.proc.is_alive():
                over = "traceback"
            if over:
                self._replace()
                return {"index": m.index, "outcome": over, "peak_rss_mb": round(peak, 1),
                        "wall": time.perf_counter() - t0,
                        "cause": "the worker process died" if over == "traceback" else None}

    def _replace(self):
        self.w.kill()
        self._start()

    def close(self):
        try:
            self.w.parent.send(None)
        except OSError:
            pass
        self.w.proc.join(2)
        self.w.kill()


OUTCOMES = ["clean error", "accepted", "traceback", "hang", "leftovers", "memory"]


def run_all(mutants, workers: int, timeout: float, max_rss: float, work: Path,
            warm: bool = True, log=print, cap: int = STEP_CAP) -> list[dict]:
    """Run ``mutants`` on ``workers`` processes; the results in the mutants' order."""
    import multiprocessing as mp
    from multiprocessing.connection import wait

    ctx = mp.get_context("spawn")
    pool = [Worker(ctx, work, warm, cap) for _ in range(workers)]
    queue = list(mutants)[::-1]
    retry: dict[int, int] = {}
    results: dict[int, dict] = {}
    by_index = {m.index: m for m in mutants}
    total = len(queue)
    t0 = last = time.perf_counter()
    said_ready = False
    while len(results) < total:
        if not said_ready and log and all(w.ready for w in pool):
            said_ready = True
            log(f"  workers ready after {time.perf_counter() - t0:.0f} s (imports, kernels)")
        for w in pool:
            if w.ready and w.job is None and queue:
                w.job = queue.pop()
                w.started = time.perf_counter()
                w.peak = 0.0
                w.parent.send(w.job)
        ready = wait([w.parent for w in pool], timeout=0.05)
        now = time.perf_counter()
        for i, w in enumerate(pool):
            lost = None
            if w.parent in ready:
                try:
                    msg = w.parent.recv()
                except (EOFError, OSError):
                    lost = "the worker died"
                else:
                    if msg.get("ready"):
                        w.ready = True
                        continue
                    msg["peak_rss_mb"] = round(w.peak, 1)
                    results[msg["index"]] = msg
                    w.job = None
                    continue
            if w.job is None:
                if not w.proc.is_alive() and lost is None:
                    lost = "the worker died"
                if lost is None:
                    continue
            if w.job is not None and lost is None:
                rss = _rss_mb(w.proc.pid)
                w.peak = max(w.peak, rss)
                if rss > max_rss:
                    lost = "memory"
                elif now - w.started > timeout:
                    lost = "hang"
                elif not w.proc.is_alive():
                    lost = "the worker died"
            if lost is None:
                continue
            job = w.job
            w.kill()
            # (no warm-up: the first workers left the kernels in Numba's disk cache)
            pool[i] = Worker(ctx, work, False, cap)
            if job is None:
                continue
            if lost == "hang" and retry.get(job.index, 0) == 0:
                retry[job.index] = 1          # once more, in a warm worker
                queue.append(job)
                continue
            res = {"index": job.index, "outcome": "hang" if lost == "hang" else
                   "memory" if lost == "memory" else "traceback", "wall": now - w.started,
                   "peak_rss_mb": round(w.peak, 1)}
            if lost == "the worker died":
                res["cause"] = f"the worker process died (exit {w.proc.exitcode})"
            results[job.index] = res
        if log and now - last > 10:
            last = now
            n = len(results)
            bad = {k: v for k, v in tally(list(results.values())).items()
                   if k not in ("clean error", "accepted") and v}
            log(f"  {n}/{total} cases, {n / (now - t0):.1f} cases/s"
                + (f" ({', '.join(f'{k} {v}' for k, v in bad.items())})" if bad else ""))
    for w in pool:
        try:
            w.parent.send(None)
        except OSError:
            pass
        w.proc.join(2)
        w.kill()
    for r in results.values():
        r["ops"] = by_index[r["index"]].ops
        r["base"] = by_index[r["index"]].base
        r["kind"] = by_index[r["index"]].kind
    return [results[m.index] for m in mutants]


# -- the report ---------------------------------------------------------------------------

def tally(results: list[dict]) -> dict:
    counts = {k: 0 for k in OUTCOMES}
    for r in results:
        counts[r["outcome"]] += 1
        if r.get("leftovers"):
            counts["leftovers"] += 1
    return counts


def failures(results: list[dict]) -> dict[str, list[dict]]:
    """The failing cases grouped by cause (hangs and memory by their base)."""
    groups: dict[str, list[dict]] = {}
    for r in results:
        if r["outcome"] == "traceback":
            key = r.get("cause", "?")
        elif r["outcome"] in ("hang", "memory"):
            key = f"{r['outcome']}: {r['kind']} {r['base']}"
        elif r.get("leftovers"):
            key = f"leftovers: {', '.join(r['leftovers'][:2])}"
        else:
            continue
        groups.setdefault(key, []).append(r)
    return groups


def report(results, mutants, out: Path, elapsed: float, args) -> int:
    counts = tally(results)
    groups = failures(results)
    by_index = {m.index: m for m in mutants}
    out.parent.mkdir(parents=True, exist_ok=True)
    causes_dir = out.parent / "causes"
    shutil.rmtree(causes_dir, ignore_errors=True)
    causes = []
    for n, (key, rs) in enumerate(sorted(groups.items(), key=lambda kv: -len(kv[1]))):
        smallest = min(rs, key=lambda r: len(by_index[r["index"]].content))
        m = by_index[smallest["index"]]
        causes_dir.mkdir(parents=True, exist_ok=True)
        fname = causes_dir / f"{n:02d}_{m.kind}.yaml"
        fname.write_bytes(m.content)
        causes.append({"cause": key, "cases": len(rs), "example": str(fname),
                       "index": m.index, "base": m.base, "mutations": m.ops,
                       "command": "thermosim " + " ".join(command(
                           m, fname, Path("OUT"))), "message": smallest.get("message")})
    walls = sorted(r.get("wall", 0.0) for r in results)
    doc = {"when": time.strftime("%Y-%m-%d %H:%M:%S"), "cases": len(results),
           "seed": args.seed, "workers": args.workers, "timeout_s": args.timeout,
           "elapsed_s": round(elapsed, 1), "cases_per_s": round(len(results) / elapsed, 2),
           "counts": counts, "causes": causes,
           "kinds": {k: sum(1 for m in mutants if m.kind == k) for k in
                     ("case", "sweep", "plant")},
           "median_case_s": walls[len(walls) // 2] if walls else 0.0,
           "warnings": sorted({w for r in results for w in r.get("warnings", [])})[:20],
           "seconds_by_outcome": {k: round(sum(r.get("wall", 0.0) for r in results
                                               if r["outcome"] == k), 1) for k in OUTCOMES},
           "usage_errors": sum(1 for r in results if r.get("usage")),
           "results": [{k: r.get(k) for k in ("index", "kind", "base", "outcome", "wall",
                                              "cause", "leftovers", "peak_rss_mb")}
                       for r in results]}
    out.write_text(json.dumps(doc, indent=2, default=str))
    print(f"\nthermosim fuzz {doc['when']}: {len(results)} cases (seed {args.seed}, "
          f"{args.workers} workers, {elapsed:.0f} s, {doc['cases_per_s']} cases/s)")
    print(" | ".join(f"{k:>11s}" for k in ["tried"] + OUTCOMES))
    print(" | ".join(f"{v:>11d}" for v in [len(results)] + [counts[k] for k in OUTCOMES]))
    usage = [r for r in results if r.get("usage")]
    if usage:
        print(f"({len(usage)} of the clean errors are click's usage message for an option, "
              f"e.g. {usage[0]['usage']!r})")
    if causes:
        print("\ncauses (cases; smallest input; mutations):")
        for c in causes:
            print(f"  {c['cases']:5d}  {c['cause']}\n         {c['example']} ({c['base']}: "
                  f"{'; '.join(c['mutations'])})")
            msg = str(c.get("message") or "").strip()
            if msg:
                print(f"         {msg.splitlines()[-1][:160]}")
    if doc["warnings"]:
        print("\nstray lines on stderr of accepted cases (not failures):")
        for w in doc["warnings"][:10]:
            print(f"  {w[:160]}")
    print(f"\nreport {out}")
    bad = counts["traceback"] + counts["hang"] + counts["leftovers"] + counts["memory"]
    return 1 if bad else 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=500, help="mutants to run")
    ap.add_argument("--seed", type=int, default=1, help="the run's seed (reproducible)")
    ap.add_argument("--start", type=int, default=0, help="index of the first mutant")
    ap.add_argument("--workers", type=int, default=2, help="worker processes")
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds a case may take")
    ap.add_argument("--max-rss", type=float, default=2048.0,
                    help="MB of resident memory a worker may reach")
    ap.add_argument("--out", default="fuzz_report/report.json", help="JSON report")
    ap.add_argument("--memory-limit", default=MEMORY_LIMIT,
                    help="THERMOSIM_MEMORY_LIMIT in the workers: the largest run thermosim "
                    "may accept there")
    ap.add_argument("--cap", type=int, default=STEP_CAP,
                    help="flow steps or conduction iterations an accepted case takes "
                    "(0: stop where the solve starts)")
    ap.add_argument("--kind", choices=["case", "sweep", "plant"], help="only this kind")
    ap.add_argument("--no-warm-up", action="store_true",
                    help="do not compile the kernels in each worker first")
    ap.add_argument("--show", type=int, metavar="INDEX",
                    help="print mutant INDEX (its mutations and text) and exit")
    args = ap.parse_args(argv)
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")
    os.environ["THERMOSIM_MEMORY_LIMIT"] = args.memory_limit     # (the workers inherit it)
    bases = load_bases()
    layouts = layout_parameters()
    if args.show is not None:
        m = make_case(args.show, args.seed, bases, layouts)
        print(f"# {m.kind} from {m.base}: {'; '.join(m.ops)}")
        sys.stdout.write(m.content.decode("utf-8", "replace")[:5000])
        return 0
    mutants = []
    i = args.start
    while len(mutants) < args.cases:
        m = make_case(i, args.seed, bases, layouts)
        i += 1
        if args.kind and m.kind != args.kind:
            continue
        mutants.append(m)
    print(f"{len(mutants)} mutants of {len(bases)} inputs (seed {args.seed}) on "
          f"{args.workers} workers, {args.timeout:g} s each")
    work = Path(tempfile.mkdtemp(prefix="thermosim_fuzz_"))
    t0 = time.perf_counter()
    try:
        results = run_all(mutants, args.workers, args.timeout, args.max_rss, work,
                          warm=not args.no_warm_up, cap=args.cap)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return report(results, mutants, Path(args.out), time.perf_counter() - t0, args)


if __name__ == "__main__":
    sys.exit(main())
