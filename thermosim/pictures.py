"""What every picture of a result shows, whoever draws it (VTK in
:mod:`thermosim.vtk_pictures`, matplotlib in :mod:`thermosim.slices`): the hottest cell, the
stretch of thin axes, titles and colour-bar labels, a layout's hottest chips and where its
hot aisle or tank lies."""

from __future__ import annotations

import numpy as np

THIN = 0.1          # an axis shorter than this fraction of the longest is stretched ...
THIN_TARGET = 0.25  # ... to show at this fraction of the longest

TITLES = {"T": "T [K]", "power": "power [W/m^3]", "material": "material index",
          "block": "block index"}


def hotspot(data: dict) -> dict:
    """The hottest cell of a result read by :func:`thermosim.output.read_result`:
    temperature (K), centre (m), index and block name (as ``Result.hotspot``)."""
    T = data["T"]
    idx = np.unravel_index(int(np.nanargmax(T)), T.shape)
    centre = [float(0.5 * (f[i] + f[i + 1])) for f, i in zip((data["x"], data["y"],
                                                              data["z"]), idx)]
    blk = int(data["block"][idx])
    names = data["block_names"]
    name = names[blk] if 0 <= blk < len(names) else "background"
    return {"T": float(T[idx]), "position": centre, "index": [int(i) for i in idx],
            "block": name}


def display_scale(extents) -> tuple[float, float, float]:
    """Per-axis stretch factors so that a thin axis (a board, a 0.1 mm layer) stays visible."""
    ext = [float(e) for e in extents]
    big = max(ext)
    return tuple(THIN_TARGET * big / e if e < THIN * big else 1.0 for e in ext)


def picture_title(data, ext, scale, field) -> str:
    """The slices picture's title: the case, the field, the domain's size (``ext``, m,
    given in mm) and the axes stretched for visibility (``scale``)."""
    name = data.get("case_name") or "result"
    size = " x ".join(f"{e * 1e3:.4g}" for e in ext)
    what = {"T": "temperature", "power": "power density", "material": "material",
            "block": "block"}[field]
    t = f"{name}: {what}, slices through the hottest cell\ndomain {size} mm"
    stretched = [f"{'xyz'[a]} x{scale[a]:.3g}" for a in range(3) if scale[a] != 1.0]
    if stretched:
        t += ", stretched for visibility: " + ", ".join(stretched)
    return t


def bar_format(field: str, vmin: float, vmax: float) -> str:
    """Colour-bar label format: temperatures with enough decimals that the labels (about a
    fifth of the range apart) differ, at least one; other fields with 3 significant digits."""
    if field != "T":
        return "%.3g"
    step = (vmax - vmin) / 5.0
    digits = 1 if not step > 0 else min(6, max(1, int(np.ceil(-np.log10(step))) + 1))
    return f"%.{digits}f"


def read_layout_hotspots(h5_path) -> tuple[dict, list, np.ndarray, np.ndarray]:
    """A layout result (:func:`thermosim.output.read_result`) with its hottest chips: names,
    junction temperatures (K) and positions (m, shape (n, 3)).  ValueError if the file has
    no rack metrics."""
    import h5py

    from .output import read_result

    data = read_result(h5_path, snapshots=False)
    with h5py.File(h5_path, "r") as f:
        if "metrics/hotspots" not in f:
            raise ValueError("no rack metrics in this file (a layout result has them)")
        g = f["metrics/hotspots"]
        names = list(g["name"].asstr()[()])
        tj = np.asarray(g["junction_temperature"][()], float)
        pos = np.asarray(g["position"][()], float).reshape(-1, 3)
    return data, names, tj, pos


def upright_server(problem, chip) -> bool:
    """Whether the server holding the chip at ``chip`` has its through-flow vertical (an
    immersion tank's)."""
    if chip is None:
        return False
    for b in problem.get("porous") or []:
        bmin, bmax = np.asarray(b["min"], float), np.asarray(b["max"], float)
        if "/" in b["name"] and np.all(chip >= bmin - 1e-9) and np.all(chip <= bmax + 1e-9):
            return b.get("axis") == 2
    return False


def hot_aisle_y(problem, chip, lo, ext) -> float:
    """y (from the domain's low corner) of the middle of the hot aisle behind the rack of
    the chip at ``chip`` (m): the gap between that rack's back and the next block or wall
    along its servers' flow; the domain's middle if there is no chip or server."""
    if chip is None:
        return 0.5 * ext[1]
    for b in problem.get("porous") or []:
        bmin, bmax = np.asarray(b["min"], float), np.asarray(b["max"], float)
        if "/" in b["name"] and np.all(chip >= bmin - 1e-9) and np.all(chip <= bmax + 1e-9):
            # the back of a server is its side away from the domain's middle
            mid = lo[1] + 0.5 * ext[1]
            back = bmin[1] if 0.5 * (bmin[1] + bmax[1]) < mid else bmax[1]
            wall = lo[1] if back == bmin[1] else lo[1] + ext[1]
            return 0.5 * (back + wall) - lo[1]
    return 0.5 * ext[1]
