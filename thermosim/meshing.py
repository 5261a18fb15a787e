"""The grid of a case: block faces, boundary regions and flow parts on grid lines, graded
between them (:func:`make_grid`), with the cells counted and the memory checked before any
face is made.  Shared by the conduction discretisation (:mod:`thermosim.conduction`) and
the flow solver, below both."""

from __future__ import annotations

import numpy as np

from .errors import CaseError
from .grid import Grid
from .sizing import HOST_BYTES_PER_CELL_GPU_RUN, check_case, human_bytes, memory_limit


def boundary_list(specs) -> list:
    """A face's boundary conditions as a list (a case file may give one or several)."""
    return specs if isinstance(specs, list) else [specs]


def check_grid_memory(grid: Grid, file, kind: str = "conduction") -> None:
    """Refuse a built grid that the host cannot hold (the check before building is
    :func:`thermosim.sizing.check_case`, called by :func:`make_grid`; this one serves
    callers that make their own grids)."""
    need = grid.ncells * HOST_BYTES_PER_CELL_GPU_RUN[kind]
    limit, said = memory_limit("host")
    if need > limit:
        nx, ny, nz = grid.shape
        raise CaseError(f"{nx} x {ny} x {nz} = {grid.ncells:.3g} cells need about "
                        f"{human_bytes(need)}; {said} (raise grid.max_cell)", "grid", file)


def make_grid(case) -> Grid:
    """The grid of ``case`` (a :class:`thermosim.case.Case`), after
    :func:`thermosim.sizing.check_case` has counted its cells from the case (a grid that
    cannot fit is refused before any face is made)."""
    check_case(case, None)
    g = case.grid
    lo, hi = case.domain.min, case.domain.max
    if g.cells is not None:
        if min(g.cells) < 1:
            raise CaseError("cells must be positive integers", "grid.cells", case.source_file)
        return Grid.uniform(lo, hi, g.cells)
    if g.faces is not None:
        return _given_faces(case)
    mc = g.max_cell
    for v in (mc if isinstance(mc, tuple) else (mc,)):
        if not v > 0:
            raise CaseError("max_cell must be positive", "grid.max_cell", case.source_file)
    return Grid.graded(lo, hi, _grid_lines(case), mc, g.growth, g.min_cells_per_layer)


def _given_faces(case) -> Grid:
    """The grid of ``grid.faces``: the axes given as face coordinates (m), the others graded
    as if no faces were given."""
    g = case.grid
    lo, hi = case.domain.min, case.domain.max
    auto = None
    axes = []
    for a, name in enumerate("xyz"):
        if name in g.faces:
            f = np.asarray(g.faces[name], float)
            if f.size < 2 or np.any(np.diff(f) <= 0) or abs(f[0] - lo[a]) > 1e-12 or \
                    abs(f[-1] - hi[a]) > 1e-12:
                raise CaseError("faces must increase strictly from domain min to max",
                                f"grid.faces.{name}", case.source_file)
            axes.append(f)
        else:
            auto = auto or make_grid(case.model_copy(update={"grid": g.model_copy(
                update={"faces": None})}))
            axes.append(auto.faces[a])
    return Grid(*axes)


def _grid_lines(case) -> list[list[float]]:
    """Coordinates (m) per axis that must be grid lines: block faces, boundary regions'
    edges and the flow parts' faces."""
    bps = [[], [], []]
    for b in case.blocks:
        for a in range(3):
            bps[a] += [b.min[a], b.max[a]]
    for specs in case.boundaries.values():
        for s in boundary_list(specs):
            if s.region is not None:
                for a in range(3):
                    bps[a] += [s.region.min[a], s.region.max[a]]
    if case.flow is not None:
        # porous blocks, coolers and fan planes lie on grid lines too (chips need not:
        # they heat whatever cells their boxes hold)
        for item in (*case.flow.porous, *case.flow.coolers, *case.flow.fans):
            for a in range(3):
                if hasattr(item, "axis") and "xyz"[a] == item.axis and hasattr(item, "position"):
                    bps[a].append(item.position)
                else:
                    bps[a] += [item.min[a], item.max[a]]
    return bps
