"""Structured, non-uniform, tensor-product Cartesian grids.

A grid is three sorted arrays of face coordinates (metres).  Cells are the boxes between
consecutive faces.  Block faces are placed exactly on grid lines, so that a 0.1 mm interface
layer is represented exactly while a 0.5 m board is meshed coarsely; between them the
spacing grows geometrically by at most the growth ratio.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

AXES = ("x", "y", "z")


@dataclass(frozen=True)
class Grid:
    """Face coordinates ``x``, ``y``, ``z`` in metres (each strictly increasing)."""

    x: np.ndarray
    y: np.ndarray
    z: np.ndarray

    def __post_init__(self):
        for name in AXES:
            f = np.asarray(getattr(self, name), dtype=np.float64)
            if f.ndim != 1 or f.size < 2:
                raise ValueError(f"grid axis {name} needs at least two faces")
            if np.any(np.diff(f) <= 0):
                raise ValueError(f"grid axis {name} faces must be strictly increasing")
            object.__setattr__(self, name, f)

    # ---- geometry -----------------------------------------------------------------
    @property
    def faces(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.x, self.y, self.z

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.x.size - 1, self.y.size - 1, self.z.size - 1)

    @property
    def ncells(self) -> int:
        nx, ny, nz = self.shape
        return nx * ny * nz

    def spacing(self, axis: int) -> np.ndarray:
        """Cell widths along one axis (m)."""
        return np.diff(self.faces[axis])

    def centres(self, axis: int) -> np.ndarray:
        """Cell-centre coordinates along one axis (m)."""
        f = self.faces[axis]
        return 0.5 * (f[1:] + f[:-1])

    def cell_volumes(self) -> np.ndarray:
        """Cell volumes (m^3), shape ``grid.shape``."""
        dx, dy, dz = (self.spacing(a) for a in range(3))
        return dx[:, None, None] * dy[None, :, None] * dz[None, None, :]

    @property
    def lower(self) -> np.ndarray:
        return np.array([self.x[0], self.y[0], self.z[0]])

    @property
    def upper(self) -> np.ndarray:
        return np.array([self.x[-1], self.y[-1], self.z[-1]])

    def index_range(self, axis: int, lo: float, hi: float) -> tuple[int, int]:
        """Cells whose centres lie in [lo, hi] along ``axis``: a half-open index range."""
        c = self.centres(axis)
        i0 = int(np.searchsorted(c, lo, side="left"))
        i1 = int(np.searchsorted(c, hi, side="right"))
        return i0, i1

    def locate(self, point) -> tuple[int, int, int]:
        """Index of the cell containing ``point`` (m)."""
        idx = []
        for a in range(3):
            f = self.faces[a]
            i = int(np.searchsorted(f, point[a], side="right")) - 1
            idx.append(min(max(i, 0), f.size - 2))
        return tuple(idx)

    def max_aspect_ratio(self) -> float:
        d = [self.spacing(a) for a in range(3)]
        big = max(x.max() for x in d)
        small = min(x.min() for x in d)
        return float(big / small)

    # ---- construction ---------------------------------------------------------------
    @classmethod
    def uniform(cls, lower, upper, cells) -> "Grid":
        """Uniform grid with ``cells = (nx, ny, nz)`` between ``lower`` and ``upper`` (m)."""
        return cls(*(np.linspace(lower[a], upper[a], int(cells[a]) + 1) for a in range(3)))

    @classmethod
    def graded(cls, lower, upper, breakpoints, max_cell, growth: float = 1.2,
               min_cells_per_layer: int = 1) -> "Grid":
        """Grid whose lines include every breakpoint, spacing at most ``max_cell``.

        ``breakpoints[a]`` are coordinates (block faces) that must be grid lines on axis
        ``a``; ``max_cell`` (m), ``growth`` and ``min_cells_per_layer`` are scalars or
        per-axis triples.
        """
        def per_axis(v):
            return (v,) * 3 if np.isscalar(v) else tuple(v)

        max_cell, growth, min_cells = (per_axis(v) for v in (max_cell, growth,
                                                              min_cells_per_layer))
        axes = [graded_axis(lower[a], upper[a], breakpoints[a], max_cell[a], growth[a],
                            min_cells[a]) for a in range(3)]
        return cls(*axes)


def graded_axis(lo: float, hi: float, breakpoints, max_cell: float, growth: float = 1.2,
                min_cells_per_layer: int = 1, merge_tol: float = 1e-9) -> np.ndarray:
    """Face coordinates on [lo, hi] that contain every breakpoint.

    Each interval between consecutive breakpoints asks for a spacing of
    ``min(max_cell, length / min_cells_per_layer)``; that request spreads out from the
    interval with the geometric growth ratio, so that a thin layer is surrounded by cells that
    grow smoothly instead of jumping from 0.1 mm to 5 mm.  Cells are then placed by
    equidistributing the integral of 1/spacing in each interval.
    """
    if not hi > lo:
        raise ValueError("axis upper bound must exceed lower bound")
    if growth < 1.0:
        raise ValueError("growth ratio must be >= 1")
    length = hi - lo
    pts = np.asarray(sorted({float(lo), float(hi), *[float(b) for b in breakpoints
                                                    if lo < b < hi]}))
    # merge breakpoints closer than a tiny fraction of the domain (round-off in inputs)
    keep = [pts[0]]
    for p in pts[1:]:
        if p - keep[-1] > merge_tol * length:
            keep.append(p)
    keep[-1] = hi
    pts = np.asarray(keep)
    widths = np.diff(pts)
    request = np.minimum(max_cell, widths / max(min_cells_per_layer, 1))
    g = max(growth - 1.0, 1e-12)

    def size_field(s: np.ndarray) -> np.ndarray:
        # distance from s to each interval, then the smallest grown request
        d = np.maximum(pts[:-1][None, :] - s[:, None], 0.0) + \
            np.maximum(s[:, None] - pts[1:][None, :], 0.0)
        return np.minimum(max_cell, np.min(request[None, :] + g * d, axis=1))

    faces = [pts[0]]
    for a, b in zip(pts[:-1], pts[1:]):
        s = np.linspace(a, b, 257)
        inv_h = 1.0 / size_field(s)
        cum = np.concatenate([[0.0], np.cumsum(0.5 * (inv_h[1:] + inv_h[:-1]) * np.diff(s))])
        n = max(int(np.ceil(cum[-1] - 1e-9)), max(min_cells_per_layer, 1))
        targets = np.linspace(0.0, cum[-1], n + 1)[1:-1]
        faces.extend(np.interp(targets, cum, s))
        faces.append(b)
    return np.asarray(faces)
