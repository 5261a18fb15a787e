"""Cells counted from a case without building its grid: :func:`axis_count` follows
:func:`thermosim.grid.graded_axis` interval by interval, :func:`breakpoints` gives the
coordinates that must be grid lines.

The number of cells between two block faces is the integral of 1/spacing over the
interval, the spacing being the smallest request grown geometrically from every interval.
That integral is evaluated here with the same 257-point rule, but the smallest grown
request comes from two running minima (left and right of each interval) instead of a
distance to every other interval, so a count costs O(intervals) and allocates no faces: a
``max_cell`` of 1 nm or a domain of 2,500 km is refused in milliseconds.  The count equals
the built grid's but for round-off at a ceiling (tests/test_sizes.py holds it to the
shipped meshes).
"""

from __future__ import annotations

import math

import numpy as np


def axis_count(lo: float, hi: float, breakpoints, max_cell: float, growth: float = 1.2,
               min_cells_per_layer: int = 1, merge_tol: float = 1e-9) -> tuple[float, float]:
    """(cells, smallest spacing in m) that :func:`thermosim.grid.graded_axis` makes on
    [lo, hi], without making them.  Cells as a float: infinity when beyond counting."""
    lo, hi = float(lo), float(hi)
    length = hi - lo
    if not (math.isfinite(length) and length > 0):
        return math.inf, 0.0
    mc = max(int(min_cells_per_layer), 1)
    bp = np.asarray([b for b in breakpoints], dtype=float).ravel()
    bp = bp[(bp > lo) & (bp < hi)]
    pts = np.unique(np.concatenate([[lo, hi], bp]))
    if pts.size < 20_000:
        keep = [pts[0]]
        for p in pts[1:]:
            if p - keep[-1] > merge_tol * length:
                keep.append(p)
    else:                        # (close chains merge a little differently: an estimate)
        keep = list(pts[np.concatenate([[True], np.diff(pts) > merge_tol * length])])
    keep[-1] = hi
    pts = np.asarray(keep)
    a, b = pts[:-1], pts[1:]
    widths = b - a
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        request = np.minimum(max_cell, widths / mc)
        g = max(float(growth) - 1.0, 1e-12)
        # the smallest request grown from the intervals to the left (r_j + g (s - b_j)) and
        # to the right (r_j + g (a_j - s)) of each interval, as running minima
        left = np.minimum.accumulate(np.concatenate([[np.inf], (request - g * b)[:-1]]))
        right = np.minimum.accumulate(np.concatenate([(request + g * a)[1:], [np.inf]])
                                      [::-1])[::-1]
        t = np.linspace(0.0, 1.0, 257)
        total = 0.0
        for i0 in range(0, a.size, 4096):
            sl = slice(i0, i0 + 4096)
            s = a[sl, None] + widths[sl, None] * t[None, :]
            h = np.minimum(np.minimum(max_cell, request[sl, None]),
                           np.minimum(g * s + left[sl, None], right[sl, None] - g * s))
            inv = 1.0 / h
            cum = np.sum(0.5 * (inv[:, 1:] + inv[:, :-1]) * np.diff(s, axis=1), axis=1)
            n = np.maximum(np.ceil(cum - 1e-9), mc)
            total += float(np.sum(n))
        hmin = float(np.min(request)) if request.size else length
    if not math.isfinite(total):
        return math.inf, hmin
    return total, hmin


def breakpoints(case) -> list[list[float]]:
    """Coordinates that must be grid lines, per axis (as :func:`model.make_grid` uses)."""
    bps: list[list[float]] = [[], [], []]
    for b in case.blocks:
        for ax in range(3):
            bps[ax] += [b.min[ax], b.max[ax]]
    for specs in case.boundaries.values():
        for s in (specs if isinstance(specs, list) else [specs]):
            if s.region is not None:
                for ax in range(3):
                    bps[ax] += [s.region.min[ax], s.region.max[ax]]
    if case.flow is not None:
        # porous blocks, coolers and fan planes lie on grid lines too (chips need not:
        # they heat whatever cells their boxes hold)
        for item in (*case.flow.porous, *case.flow.coolers, *case.flow.fans):
            for ax in range(3):
                if hasattr(item, "axis") and "xyz"[ax] == item.axis and hasattr(item,
                                                                                "position"):
                    bps[ax].append(item.position)
                else:
                    bps[ax] += [item.min[ax], item.max[ax]]
    return bps
