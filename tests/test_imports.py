"""The package's own imports form no circle (issue 18, item 5).

Every module of ``thermosim`` is read with :mod:`ast` (nothing is imported, so a module
that needs CuPy or pyvista is walked like any other) and each import of another package
module becomes an edge, the imports inside functions included: an import deferred into a
function to dodge a circle is still a circle, it only fails later and at run time.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "thermosim"

# Circles known and left for later, each named and written as the modules around it from
# its alphabetically first, with what removes it.  A circle listed here that no longer exists
# fails the test too, so the list only shrinks; a circle not listed here fails.  Empty since
# issue 18 (the flow package, view.py's split and the renames removed the last five).
KNOWN_CYCLES: dict[str, list[str]] = {}


def module_names() -> dict[str, Path]:
    """Dotted name -> file for every module of the package (``__init__`` is the package)."""
    modules = {}
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _resolve(importer: str, is_package: bool, level: int, module: str | None) -> str:
    """Absolute name of ``from <level dots><module> import ...`` written in ``importer``."""
    if level == 0:
        return module or ""
    base = importer.split(".")
    if not is_package:  # a plain module's own package is its parent
        base = base[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Package modules that module ``name`` imports, anywhere in its body."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in modules:
                    found.add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            source = _resolve(name, is_package, node.level, node.module)
            submodules = {f"{source}.{a.name}" for a in node.names} & modules.keys()
            found |= submodules
            # ``from . import view`` inside the package only reaches the submodule: the
            # package itself is already imported (it is being imported) when this runs.
            # Anything else taken from ``source`` is read from the module ``source``.
            only_submodules = len(submodules) == len(node.names) and \
                name.startswith(source + ".")
            if source in modules and not only_submodules:
                found.add(source)
    found.discard(name)
    return found


@functools.lru_cache(maxsize=1)
def import_graph() -> dict[str, frozenset[str]]:
    """Module -> the package modules it imports (read once per test session)."""
    modules = module_names()
    return {name: frozenset(imports_of(name, path, modules)) for name, path in modules.items()}


def elementary_cycles(graph: dict[str, set[str]], limit: int = 500) -> list[list[str]]:
    """Every circle of the graph once, each starting at its alphabetically first module
    (so a circle has one spelling); at most ``limit`` of them, which is plenty to report."""
    cycles: list[list[str]] = []
    for start in sorted(graph):
        # a depth-first walk over modules after ``start`` finds each circle through it once
        path = [start]
        children = [iter(sorted(c for c in graph[start] if c >= start))]
        while children and len(cycles) < limit:
            for child in children[-1]:
                if child == start:
                    cycles.append(path + [start])
                elif child not in path:
                    path.append(child)
                    children.append(iter(sorted(c for c in graph.get(child, ()) if c >= start)))
                    break
            else:
                children.pop()
                path.pop()
    return cycles


def test_imports_are_resolved(tmp_path):
    """The walker sees imports inside functions, relative ones at every level and
    ``from . import module``, so a test of no circles is not passed by not looking."""
    (tmp_path / "sub").mkdir()
    files = {"pkg": "__init__.py", "pkg.a": "a.py", "pkg.b": "b.py", "pkg.sub": "sub/__init__.py",
             "pkg.sub.c": "sub/c.py", "pkg.sub.d": "sub/d.py"}
    modules = {name: tmp_path / f for name, f in files.items()}
    modules["pkg.sub.c"].write_text(
        "import os\nfrom . import d\nfrom .. import a\n\n"
        "def f():\n    from ..b import thing\n    import pkg.a\n    from pkg import version\n")
    assert imports_of("pkg.sub.c", modules["pkg.sub.c"], modules) == \
        {"pkg.sub.d", "pkg.a", "pkg.b", "pkg"}
    modules["pkg.sub"].write_text("from .d import x\nfrom . import c\n")
    assert imports_of("pkg.sub", modules["pkg.sub"], modules) == {"pkg.sub.d", "pkg.sub.c"}
    graph = import_graph()                  # and on the package itself
    assert "thermosim.errors" in graph["thermosim.cli"]      # top of the module
    assert "thermosim.study" in graph["thermosim.cli"]       # inside a function
    assert "thermosim.errors" in graph["thermosim.solvers.krylov"]  # from ..errors


def test_finds_a_planted_circle():
    graph = {"a": {"b"}, "b": {"c", "a"}, "c": {"a"}, "d": {"a"}}
    assert elementary_cycles(graph) == [["a", "b", "a"], ["a", "b", "c", "a"]]


def test_listed_cycles_still_exist():
    """A listed circle that the restructuring has removed must leave the list."""
    graph = import_graph()
    for name, cycle in KNOWN_CYCLES.items():
        gone = [f"{a} -> {b}" for a, b in zip(cycle, cycle[1:]) if b not in graph.get(a, ())]
        assert not gone, f"circle {name!r} is broken ({', '.join(gone)} no longer imported):" \
                         f" delete it from KNOWN_CYCLES in {Path(__file__).name}"


def test_no_import_cycles():
    """The package's imports form no circle but the listed ones."""
    listed = {tuple(cycle) for cycle in KNOWN_CYCLES.values()}
    new = [cycle for cycle in elementary_cycles(import_graph()) if tuple(cycle) not in listed]
    report = "\n".join("  " + " -> ".join(cycle) for cycle in new)
    assert not new, f"{len(new)} import circle(s) in thermosim:\n{report}"
