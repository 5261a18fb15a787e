"""One reader for every input file (case, layout, sweep, ``--plant`` energy parameters) and
the checks every value gets, whichever file it is in.  Every mistake is a
:class:`~thermosim.errors.CaseError` (``FILE: KEY: REASON``); several mistakes in one file
are reported together, a line each.

- **Bytes**: UTF-8 text (a byte-order mark is allowed); a bad byte is reported with its
  line, column and byte offset.  At most :data:`MAX_BYTES`.
- **YAML**: plain safe YAML only: mappings, lists, strings, numbers, booleans, null,
  anchors and aliases.  No tags (``!!int``, ``!!python/...``): YAML's own typing of plain
  values is all a case needs, and a tag that builds objects is how YAML files run code.
  No timestamps (``2024-01-01`` stays text); ``1e5`` is a number (YAML 1.2, which PyYAML's
  1.1 rules read as text).  Nesting at most :data:`MAX_DEPTH` levels and at most
  :data:`MAX_VALUES` values once aliases are expanded (no recursive aliases): the deepest
  key of a case is about seven levels down and the largest shipped case holds about 300
  values, so both limits only stop files that would exhaust the stack or the memory.
  Duplicate keys in one mapping are refused (YAML would keep the last one silently).
- **Numbers**: finite (no ``.nan``, ``.inf`` anywhere), whole numbers within 64 bits.
- **Temperatures** (keys ``T``, ``T_ambient``, ``limit``, ``*_limit`` and ``*temperature``):
  a number is kelvin and must lie between :data:`FLOOR_K` and :data:`CEILING_K`; a string
  with units (``"27 degC"``, ``"300 K"``, ``"80.6 degF"``) is converted to kelvin with the
  ``pint`` units library (then any temperature above absolute zero is accepted: the unit
  says what was meant).

The floor, 200 K (-73 degC), is below the coldest temperature electronics are stored at
(-65 degC, 208 K, the military storage range) and below any coolant or ambient of air,
water or oil cooling, and above every temperature anyone types in Celsius for such a system
(ambients, coolants, junction limits up to 200 degC): a number under it is a Celsius
figure missing its unit, which as kelvin would be a cryogenic case.  A cryogenic case (for
example liquid nitrogen at 77 K) writes its temperatures with units: ``"77 K"``.  The
ceiling, 2000 K, is the top of CoolProp's air and water data and above the melting point
of every solid in the material library.
"""

from __future__ import annotations

import codecs
import math
import re

import yaml

from .errors import CaseError

MAX_BYTES = 16 * 2**20        # a case file of 16 MB is a generated mistake
MAX_DEPTH = 32                # nesting levels (the schema's deepest key is ~7 down)
MAX_VALUES = 100_000          # values after aliases are expanded
MAX_WHOLE = 2**63 - 1         # whole numbers: what a 64-bit integer holds
FLOOR_K = 200.0               # K: a plain number below it is taken for Celsius (see above)
CEILING_K = 2000.0            # K

# Bounds on physical quantities that only stop absurd figures (typing slips such as
# 1e305 W, which overflow the solver instead of failing with a message):
MAX_POWER = 1e9               # W: a large power station's unit; a data hall draws tens of MW
MAX_HEAT_FLUX = 1e9           # W/m^2: 100 kW/cm^2, ~30x the best demonstrated chip cooling
MAX_VELOCITY = 300.0          # m/s: near the speed of sound in air (343 m/s), where the
#                               incompressible flow model stops holding
MAX_ACCELERATION = 1e7        # m/s^2: 10^6 g, an ultracentrifuge's (gravity, body force)

_TEMPERATURE_NAMES = {"T", "T_ambient", "limit"}


def is_temperature_key(key) -> bool:
    """Whether a key (or a dotted key's last name, ``flow.coolers[0].temperature``) holds
    a temperature."""
    names = [n for n in re.split(r"[.\[\]]", str(key)) if n and not n.isdigit()]
    name = names[-1] if names else ""
    return name in _TEMPERATURE_NAMES or name.endswith("temperature") or \
        name.endswith("_limit")


# -- temperatures -----------------------------------------------------------------------

_UREG = None


def _units():
    global _UREG
    if _UREG is None:
        try:
            import pint
        except ImportError:
            raise ValueError("temperatures with units need the pint package (pip install "
                             "pint), or give the number of kelvin") from None
        _UREG = pint.UnitRegistry()
    return _UREG


def _plain(x: float) -> str:
    return f"{x:g}"


_NUMBER_UNIT = re.compile(r"\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*(.*?)\s*")
_HINT = "a number of kelvin, or a number with units: '300 K', '27 degC', '80.6 degF'"


def kelvin(value) -> float:
    """A temperature in kelvin from a number (kelvin, at least :data:`FLOOR_K`) or a
    string with units (``"27 degC"``); ValueError with the reason otherwise."""
    if isinstance(value, str):
        text = value.strip()
        if len(text) > 64:
            raise ValueError(f"not a temperature: {_HINT}")
        m = _NUMBER_UNIT.fullmatch(text)
        if not m:
            raise ValueError(f"{value!r} is not a temperature: {_HINT}")
        number, unit = m.groups()
        if not unit:                       # a quoted number: kelvin, as a plain one
            return kelvin(float(number))
        x = float(number)
        if not math.isfinite(x):
            raise ValueError(f"{value!r} is not a finite temperature")
        ureg = _units()
        try:
            q = ureg.Quantity(x, unit)
            if "delta_" in str(q.units) or "delta_" in unit:
                raise ValueError("a difference")
            k = float(q.to("kelvin").magnitude)
        except Exception:                  # noqa: BLE001 (pint's errors are many kinds)
            raise ValueError(f"{value!r} is not a temperature: unknown or non-temperature "
                             f"unit '{unit}' ({_HINT})") from None
        if not k > 0:
            raise ValueError(f"{value!r} is {_plain(k)} K, at or below absolute zero")
        if k > CEILING_K:
            raise ValueError(f"{value!r} is {_plain(k)} K, above the {CEILING_K:g} K this "
                             "model's material and fluid data reach")
        return k
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{value!r} is not a temperature: {_HINT}")
    try:
        x = float(value)
    except OverflowError:
        x = math.inf
    if not math.isfinite(x):
        raise ValueError(f"{_show_number(value)} is not a finite temperature")
    if x < FLOOR_K:
        raise ValueError(f"{_plain(x)} is below {FLOOR_K:g} K: temperatures are in kelvin; "
                         f"{_plain(x)} degC is {_plain(x + 273.15)} K, or write "
                         f"'{_plain(x)} degC'")
    if x > CEILING_K:
        raise ValueError(f"{_plain(x)} K is above the {CEILING_K:g} K this model's "
                         "material and fluid data reach")
    return value


def _show_number(v) -> str:
    if isinstance(v, float) and math.isnan(v):
        return ".nan"
    if isinstance(v, float) and math.isinf(v):
        return ".inf" if v > 0 else "-.inf"
    return repr(v) if not isinstance(v, int) else (str(v) if len(str(v)) < 30
                                                   else f"a {len(str(abs(v)))}-digit number")


def bounded(value: float, limit: float, what: str, unit: str) -> float:
    """``value`` if its magnitude is within ``limit`` (a field check; ValueError
    otherwise)."""
    if abs(value) > limit:
        raise ValueError(f"{value:g} {unit} is beyond any plausible {what} (at most "
                         f"{limit:g} {unit}): a typing slip?")
    return value


# -- the YAML reader --------------------------------------------------------------------

class _Refused(Exception):
    def __init__(self, reason: str, key: str | None):
        super().__init__(reason)
        self.reason, self.key = reason, key


def _key(path) -> str:
    out = ""
    for p in path:
        if p is None:
            continue
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _where(mark) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader without tags or timestamps, with ``1e5`` a number, nesting
    bounded and duplicate keys refused."""

    def __init__(self, stream):
        super().__init__(stream)
        self._path: list = []

    def compose_node(self, parent, index):
        if isinstance(index, yaml.ScalarNode):
            self._path.append(index.value)
        elif isinstance(index, int):
            self._path.append(index)
        else:
            self._path.append(None)        # the document, or a mapping's key
        try:
            event = self.peek_event()
            depth = sum(1 for p in self._path if p is not None)
            if depth > MAX_DEPTH:
                raise _Refused(f"nested more than {MAX_DEPTH} levels deep "
                               f"({_where(event.start_mark)})", _key(self._path[:4]) + "...")
            tag = getattr(event, "tag", None)
            if tag is not None:
                shown = tag.replace("tag:yaml.org,2002:", "!!")
                raise _Refused(f"YAML tags ({shown}) are not accepted: write the plain value "
                               f"({_where(event.start_mark)})", _key(self._path) or None)
            node = super().compose_node(parent, index)
            if isinstance(node, yaml.MappingNode):
                seen = {}
                for k, _ in node.value:
                    if isinstance(k, yaml.ScalarNode) and k.value != "<<":
                        if k.value in seen:
                            raise _Refused(f"duplicate key (first at line {seen[k.value]}, "
                                           f"again at {_where(k.start_mark)})",
                                           _key(self._path + [k.value]))
                        seen[k.value] = k.start_mark.line + 1
            elif isinstance(node, yaml.ScalarNode) and node.tag.endswith((":int", ":float")) \
                    and len(node.value) > 40:
                raise _Refused(f"a number of {len(node.value)} characters is out of range "
                               f"({_where(node.start_mark)})", _key(self._path) or None)
            return node
        finally:
            self._path.pop()


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in rules if tag != "tag:yaml.org,2002:timestamp"]
    for first, rules in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_Loader.add_implicit_resolver(          # YAML 1.2: 1e5, 2.5E-3 (1.1 wants a dot and a sign)
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."))


def _check_expanded(root) -> None:
    """Refuse recursive aliases, and aliases that expand past the depth or size limits
    (each node is visited once; its expanded size and depth are summed from its
    children's)."""
    size, depth, state = {}, {}, {}
    stack = [(root, False)]
    while stack:
        node, leaving = stack.pop()
        i = id(node)
        if leaving:
            kids = _children(node)
            size[i] = 1 + sum(size[id(k)] for k in kids)
            depth[i] = 1 + max((depth[id(k)] for k in kids), default=0)
            state[i] = 2
            if size[i] > MAX_VALUES:
                raise _Refused(f"more than {MAX_VALUES:,} values once aliases are expanded "
                               f"({_where(node.start_mark)})", None)
            if depth[i] > MAX_DEPTH + 1:        # (a scalar at the deepest level: +1)
                raise _Refused(f"nested more than {MAX_DEPTH} levels deep once aliases are "
                               f"expanded ({_where(node.start_mark)})", None)
            continue
        if state.get(i) == 2:
            continue
        if state.get(i) == 1:
            raise _Refused(f"a recursive alias (an anchor used inside itself, "
                           f"{_where(node.start_mark)})", None)
        state[i] = 1
        stack.append((node, True))
        stack.extend((k, False) for k in _children(node))


def _children(node) -> list:
    if isinstance(node, yaml.MappingNode):
        return [x for kv in node.value for x in kv]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def read_yaml(path):
    """The data of a YAML file (None for an empty one), read by the rules above; values
    are not checked yet (see :func:`check_values`)."""
    file = str(path)
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except OSError as e:
        raise CaseError(f"cannot read the file ({e.strerror or e})", "(file)", file) from None
    if len(raw) > MAX_BYTES:
        raise CaseError(f"larger than {MAX_BYTES // 2**20} MB: not a case file", "(file)",
                        file)
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8):]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        column = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        raise CaseError(f"not UTF-8 text: byte 0x{raw[e.start]:02x} at byte offset {e.start} "
                        "(save the file as UTF-8)", f"line {line}, column {column}",
                        file) from None
    loader = None
    try:
        loader = _Loader(text)          # (refuses non-printable characters at once)
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expanded(node)
        return loader.construct_document(node)
    except _Refused as e:
        raise CaseError(e.reason, e.key or "(file)", file) from None
    except yaml.reader.ReaderError as e:
        line = text.count("\n", 0, e.position) + 1
        column = e.position - (text.rfind("\n", 0, e.position) + 1) + 1
        char = e.character if isinstance(e.character, int) else ord(str(e.character)[:1] or
                                                                    "\0")
        raise CaseError(f"malformed YAML: the control character 0x{char:02x} is not allowed "
                        "in YAML text", f"line {line}, column {column}", file) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        problem = getattr(e, "problem", None) or "malformed YAML"
        raise CaseError(f"malformed YAML: {problem}", _where(mark) or "(file)", file) from None
    except (ValueError, OverflowError, TypeError, RecursionError) as e:
        raise CaseError(f"cannot read a value ({type(e).__name__}: {e})", "(file)",
                        file) from None
    finally:
        if loader is not None:
            loader.dispose()


# -- values -----------------------------------------------------------------------------

def check_values(data, file: str | None = None, prefix: str = ""):
    """``data`` with every temperature given with units converted to kelvin; raises one
    :class:`CaseError` listing every non-finite number, whole number out of range and bad
    temperature, each with its dotted key (``prefix`` before the keys)."""
    out, problems = value_problems(data, file, prefix)
    if problems:
        raise CaseError.several(problems)
    return out


def value_problems(data, file: str | None = None, prefix: str = ""):
    """:func:`check_values` without raising: (the data, the list of problems)."""
    problems: list[CaseError] = []

    def walk(obj, key: str, temperature: bool):
        if isinstance(obj, dict):
            out = {}
            for k, v in obj.items():
                sub = f"{key}.{k}" if key else str(k)
                out[k] = walk(v, sub, is_temperature_key(k))
            return out
        if isinstance(obj, list):
            out = []
            for i, v in enumerate(obj):
                name = v.get("name") if isinstance(v, dict) else None
                sub = f"{key}[{i}]" + (f" ({name})" if isinstance(name, str) else "")
                out.append(walk(v, sub, temperature))
            return out
        if isinstance(obj, bool) or obj is None:
            return obj
        if isinstance(obj, float) and not math.isfinite(obj):
            problems.append(CaseError(f"{_show_number(obj)} is not a finite number: give a "
                                      "finite value", key or "(top level)", file))
            return obj
        if isinstance(obj, int) and abs(obj) > MAX_WHOLE:
            problems.append(CaseError(f"{_show_number(obj)} is out of range (whole numbers "
                                      "must fit in 64 bits)", key or "(top level)", file))
            return obj
        if temperature and isinstance(obj, (int, float, str)):
            try:
                return kelvin(obj)
            except ValueError as e:
                problems.append(CaseError(str(e), key, file))
        return obj

    return walk(data, prefix, False), problems


def read_mapping(path, what: str, check: bool = True) -> dict:
    """A YAML file that must hold a mapping (``what`` says of what), its values checked
    (:func:`check_values`) unless ``check`` is False."""
    file = str(path)
    data = read_yaml(path)
    if not isinstance(data, dict):
        got = "an empty file" if data is None else f"a {type(data).__name__}"
        raise CaseError(f"must be a mapping of {what}, not {got}", "(top level)", file)
    return check_values(data, file) if check else data
