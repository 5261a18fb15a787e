"""docs/case-file.md from the case-file schema (:func:`thermosim.schema.markdown` gives it):
one table row a key, with its type, default, unit and description, for the case and then
each layout's parameters."""

from __future__ import annotations

from .schema_tree import canonical, placeholder, required_paths, walk

def _type_text(node: dict) -> str:
    if "const" in node:
        return f"`{node['const']}`"
    if "enum" in node:
        return "one of " + ", ".join(f"`{v}`" for v in node["enum"])
    branches = node.get("anyOf") or node.get("oneOf")
    if branches:
        parts = [_type_text(b) for b in branches if b.get("type") != "null"]
        text = " or ".join(dict.fromkeys(p for p in parts if p))
        return text + (" or null" if any(b.get("type") == "null" for b in branches) else "")
    t = node.get("type")
    if t == "array":
        if "prefixItems" in node:
            return "[" + ", ".join(_type_text(i) for i in node["prefixItems"]) + "]"
        items = node.get("items")
        return f"list of {_type_text(items)}" if isinstance(items, dict) and items else "list"
    if t == "object":
        if isinstance(node.get("additionalProperties"), dict) and not node.get("properties"):
            return f"mapping of `{placeholder(node)}`"
        return "section"
    return t or "any"


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _default_text(node: dict, required: bool) -> str:
    if required:
        return "required"
    if "default" not in node or node["default"] is None:
        return ""
    d = node["default"]
    if d == {} or d == []:
        return ""
    return f"`{_value_text(d)}`"


def _value_text(v) -> str:
    if isinstance(v, float):
        return format(v, ".6g")
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value_text(x) for x in v) + "]"
    return str(v)


def _rows(s: dict, described) -> list[str]:
    """One table row per key (a block's faces and lists of conditions once: an alias path
    gets its own row only where ``described`` holds a text for it)."""
    rows, seen = [], set()
    required = required_paths(s)
    for path, node in walk(s):
        if path in seen or (canonical(path) != path and path not in described):
            continue
        seen.add(path)
        rows.append(f"| `{_cell(path)}` | {_cell(_type_text(node))} | "
                    f"{_cell(_default_text(node, path in required))} | "
                    f"{_cell(node.get('unit', ''))} | {_cell(node.get('description', ''))} |")
    return rows


def _takes_strings(node: dict) -> bool:
    return any(b.get("type") == "string" for b in node.get("anyOf", ())) or \
        node.get("type") == "string"


HEADER = """\
# Case-file reference

<!-- Generated from the schema by `thermosim schema --markdown > docs/case-file.md`
     (texts in thermosim/schema.py); tests/test_schema_docs.py fails when it is stale. -->

Every key a case file can hold, with its unit and default.  `thermosim schema` prints the
same as a JSON Schema (each key with `description` and `unit`), for editors that complete
and check YAML against one.  Units are SI: `1` marks a dimensionless number and `-` a key
that is not a quantity (a name, a choice, a section).  A path's `[]` is an item of a list,
`<face>` one of `x-`, `x+`, `y-`, `y+`, `z-`, `z+`, `<axis>` one of `x`, `y`, `z`, and
`<name>` a name of your choosing.

A case file is either a case (the keys under [Case](#case)) or a layout: `layout: NAME`
and any of that builder's parameters ([Layouts](#layouts)).  An annotated example is in
[cases.md](cases.md).
"""


def page(s: dict, layouts, described, kelvin_floor: float | None) -> str:
    """docs/case-file.md: the case's keys (``s``, the inlined case schema), then each
    layout's parameters (``layouts``: (kind, its schema) pairs).  ``described``: the paths
    with a text of their own; ``kelvin_floor`` (K): the smallest plain number a temperature
    key takes, None where case files take no temperatures with units."""
    lines = [HEADER]
    kelvin_strings = [p for p, n in walk(s) if n.get("unit") == "K" and _takes_strings(n)]
    if kelvin_strings and kelvin_floor is not None:
        lines.append("A temperature (unit K, type `number or string`) may also be written "
                     "with its unit as a string, `\"27 degC\"` or `\"300 K\"`; a plain "
                     f"number is kelvin and must be at least {kelvin_floor:g} K (a smaller one "
                     "is taken for a temperature typed in Celsius).\n")
    head = ["| key | type | default | unit | description |", "| --- | --- | --- | --- | --- |"]
    lines += ["## Case", "", *head, *_rows(s, described), ""]
    lines += ["## Layouts", "",
              "`layout: NAME` builds a whole case (`thermosim/layouts.py`); every parameter "
              "is optional, its default in the table.  In Python, "
              "`thermosim.layouts.NAME(**parameters)` returns the case mapping.", ""]
    for kind, ls in layouts:
        lines += [f"### {kind}", "", *head]
        for key, node in ls["properties"].items():
            lines.append(f"| `{key}` | {_cell(_type_text(node))} | "
                         f"{_cell(_default_text(node, key in ls['required']))} | "
                         f"{_cell(node.get('unit', ''))} | "
                         f"{_cell(node.get('description', ''))} |")
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"
