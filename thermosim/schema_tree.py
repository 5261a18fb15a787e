"""A JSON Schema read as a tree of case-file keys: each key's dotted path (``grid.max_cell``,
``blocks[].boundaries.<face>``) and its node, with every ``$ref`` inlined, so that a key's
text can depend on where it sits (:mod:`thermosim.schema`) and a page can list them
(:mod:`thermosim.schema_markdown`)."""

from __future__ import annotations

import copy
import re

# Placeholders in dotted paths: a mapping's keys are <face> (x-, x+, y-, y+, z-, z+),
# <axis> (x, y, z) or <name> (any name); a list's items are [].
FACE, AXIS, NAME = "<face>", "<axis>", "<name>"

# Paths that take their text from another path: a block's faces are described as the
# domain's, a list of boundary conditions as one.
_ALIASES = ((re.compile(r"^blocks\[\]\.boundaries"), "boundaries"),
            (re.compile(re.escape(FACE) + r"\[\]"), FACE))


def canonical(path: str) -> str:
    """The path whose text ``path`` takes (itself, or what it is an alias of)."""
    for pattern, repl in _ALIASES:
        path = pattern.sub(repl, path)
    return path


def inline(node, defs):
    """``node`` with every ``$ref`` replaced by a copy of its definition."""
    if isinstance(node, dict):
        if "$ref" in node:
            target = copy.deepcopy(defs[node["$ref"].rsplit("/", 1)[-1]])
            rest = {k: v for k, v in node.items() if k != "$ref"}
            return inline({**target, **rest}, defs)
        return {k: inline(v, defs) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [inline(v, defs) for v in node]
    return node


def placeholder(node: dict) -> str:
    """How a free-form mapping's keys are written in a path: <face>, <axis> or <name>."""
    names = set(node.get("propertyNames", {}).get("enum", ()))
    if names and names <= {"x-", "x+", "y-", "y+", "z-", "z+"}:
        return FACE
    if names and names <= {"x", "y", "z"}:
        return AXIS
    return NAME


def walk(node: dict, path: str = ""):
    """Yield (dotted path, schema node) for every key under ``node``: its properties and
    the values of its free-form mappings, through anyOf/oneOf branches and list items."""
    if not isinstance(node, dict):
        return
    for k in ("anyOf", "oneOf", "allOf"):
        for branch in node.get(k, ()):
            yield from walk(branch, path)
    for key, sub in node.get("properties", {}).items():
        p = f"{path}.{key}" if path else key
        yield p, sub
        yield from walk(sub, p)
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        p = f"{path}.{placeholder(node)}"
        yield p, extra
        yield from walk(extra, p)
    if isinstance(node.get("items"), dict):
        yield from walk(node["items"], f"{path}[]")


def required_paths(s: dict, path: str = "") -> set:
    """The dotted paths of the keys that ``s`` (and every node under it) requires."""
    out = set()
    for k in ("anyOf", "oneOf"):
        for b in s.get(k, ()):
            out |= required_paths(b, path)
    for key in s.get("required", ()):
        out.add(f"{path}.{key}" if path else key)
    for key, sub in s.get("properties", {}).items():
        out |= required_paths(sub, f"{path}.{key}" if path else key)
    if isinstance(s.get("items"), dict):
        out |= required_paths(s["items"], f"{path}[]")
    if isinstance(s.get("additionalProperties"), dict):
        out |= required_paths(s["additionalProperties"], f"{path}.{placeholder(s)}")
    return out
