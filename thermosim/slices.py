"""Flat pictures of a result drawn with matplotlib's Agg canvas (no OpenGL, no display): what
:func:`thermosim.view.render` and :func:`~thermosim.view.render_layout` draw when VTK cannot.

matplotlib is imported inside the functions (and pyplot never: no global backend is chosen
for the caller).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .atomic import atomic_path
from .pictures import TITLES, bar_format, display_scale, hot_aisle_y, hotspot, \
    picture_title, read_layout_hotspots, upright_server

DPI = 100
AXES = "xyz"


def _figure(window_size, aspect: float | None = None, beside: float = 0.0):
    """A figure of ``window_size`` pixels, or narrower: as wide as views of total width /
    height ``aspect`` need at its height, plus ``beside`` (a fraction of the window's
    width: colour bar, labels), so that no wide blank band separates the views."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    w, h = window_size
    if aspect is not None:
        w = min(w, max(0.5 * w, 0.82 * h * aspect + beside * w))
    # text and lines drawn for 1600 x 1000 pixels, scaled with the picture (its dots per
    # inch), so that a small picture keeps its layout
    dpi = DPI * min(window_size[0] / 1600, window_size[1] / 1000)
    fig = Figure(figsize=(w / dpi, h / dpi), dpi=dpi,
                 facecolor="white", layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig, png_path: Path) -> None:
    with atomic_path(png_path, suffix=".tmp.png") as tmp:
        fig.savefig(tmp, format="png", dpi=fig.dpi, facecolor="white")


def _cmap(name="turbo"):
    import matplotlib

    # void cells (no material): light grey
    return matplotlib.colormaps[name].with_extremes(bad="#e8e8e8")


def _cell(faces, x) -> int:
    """Index of the cell of ``faces`` holding ``x`` (clipped to the grid)."""
    return int(np.clip(np.searchsorted(faces, x, side="right") - 1, 0, len(faces) - 2))


def _plane(values, axis, index):
    """The 2D slice of a (nx, ny, nz) array across ``axis`` at ``index``, arranged for
    pcolormesh: rows along the panel's vertical axis, columns along its horizontal one;
    returns (array, horizontal axis, vertical axis)."""
    h, v = _PANEL_AXES[axis]
    sl = np.take(values, index, axis=axis)          # 2D over the two remaining axes (in order)
    rest = [a for a in range(3) if a != axis]
    return (sl.T if rest == [h, v] else sl), h, v


# the panel drawn across each axis: (horizontal, vertical) axes, as in a drawing's views
_PANEL_AXES = {2: (0, 1),       # plan: x across, y up
               0: (2, 1),       # side: z across, y up (beside the plan, sharing y)
               1: (0, 2)}       # front: x across, z up (under the plan, sharing x)


def _boxes_cut(ax, boxes, axis, at, h, v, unit, ls="-", lw=1.0, limit=2000):
    """Outlines of the boxes (dicts with min, max in m) that the plane ``axis`` = ``at`` (m)
    cuts, in the panel's (h, v) axes, in ``unit`` per metre: black with a white halo, seen
    on every colour of the map and on the grey of void cells."""
    from matplotlib import patheffects
    from matplotlib.patches import Rectangle

    halo = [patheffects.withStroke(linewidth=lw + 2, foreground="white")]

    drawn = 0
    for b in boxes:
        try:
            lo = np.asarray(b["min"], float)
            hi = np.asarray(b["max"], float)
        except (KeyError, TypeError, ValueError):
            continue
        if lo.shape != (3,) or hi.shape != (3,) or not (np.all(np.isfinite(lo))
                                                        and np.all(np.isfinite(hi))):
            continue
        if not lo[axis] <= at <= hi[axis]:
            continue
        ax.add_patch(Rectangle((lo[h] * unit, lo[v] * unit), (hi[h] - lo[h]) * unit,
                               (hi[v] - lo[v]) * unit, fill=False, edgecolor="black", lw=lw,
                               ls=ls, path_effects=halo, zorder=3))
        drawn += 1
        if drawn >= limit:
            break


def _hot_marker(ax, h, v):
    ax.plot([h], [v], "o", ms=13, mfc="white", mec="black", mew=2, zorder=5)
    ax.plot([h], [v], "o", ms=5, color="black", zorder=6)


def _quiver(ax, data, axis, index, h, v, faces_mm, most=28):
    """Arrows of the in-plane velocity on the slice: about ``most`` along each side, the
    fastest one as long as a step between arrows."""
    vel = data.get("velocity")
    if vel is None:
        return
    vel = np.asarray(vel, float)
    uh, _, _ = _plane(vel[..., h], axis, index)
    uv, _, _ = _plane(vel[..., v], axis, index)
    ch = 0.5 * (faces_mm[h][1:] + faces_mm[h][:-1])
    cv = 0.5 * (faces_mm[v][1:] + faces_mm[v][:-1])
    sh, sv = max(1, len(ch) // most), max(1, len(cv) // most)
    H, V = np.meshgrid(ch[::sh], cv[::sv])
    U, W = uh[::sv, ::sh], uv[::sv, ::sh]
    speed = np.hypot(U, W)
    top = float(np.nanmax(speed)) if np.isfinite(speed).any() else 0.0
    if not top > 0:
        return
    step = min((ch[-1] - ch[0]) / max(1, len(ch[::sh]) - 1) if len(ch) > 1 else 1.0,
               (cv[-1] - cv[0]) / max(1, len(cv[::sv]) - 1) if len(cv) > 1 else 1.0)
    keep = np.isfinite(speed) & (speed > 0)
    ax.quiver(H[keep], V[keep], U[keep], W[keep], angles="xy", scale_units="xy",
              scale=top / max(step, 1e-300), width=0.0025, color="black", alpha=0.7,
              zorder=4)


def draw_slices(h5_path, png_path, field: str = "T", window_size=(1600, 1000)) -> dict:
    """Three orthogonal slices through the hottest cell of a result, coloured by ``field``
    (T in K by default), in the views of an engineering drawing: the plan (x-y) with the
    side (z-y) beside it and the front (x-z) under it, coordinates in mm; the blocks the
    slices cut outlined, the in-plane velocity as arrows (flow results), the hottest cell
    marked in every view and labelled with its temperature and block.  Thin axes are
    stretched as in the 3D picture (said in the title).  Writes ``png_path`` whole or not
    at all; returns ``{"png": Path, "hotspot": {...}, "scale": (sx, sy, sz)}``."""
    from matplotlib.colors import Normalize
    from matplotlib.ticker import FormatStrFormatter

    from .output import read_result
    png_path = Path(png_path)
    data = read_result(h5_path, snapshots=False)
    hs = hotspot(data)
    faces_m = [np.asarray(data[a], float) for a in AXES]
    faces_mm = [f * 1e3 for f in faces_m]
    ext = np.array([f[-1] - f[0] for f in faces_m])
    scale = display_scale(ext)
    values = np.where(np.isnan(data["T"]), np.nan, np.asarray(data[field], float))
    finite = values[np.isfinite(values)]
    vmin, vmax = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if not vmax > vmin:
        pad = max(abs(vmax) * 1e-3, 1e-3)
        vmin, vmax = vmin - pad, vmax + pad
    norm = Normalize(vmin, vmax)
    cmap = _cmap()
    idx = hs["index"]
    pos_mm = [p * 1e3 for p in hs["position"]]
    case = data.get("case") or data.get("problem") or {}
    blocks = case.get("blocks") or []

    shown = [e * s for e, s in zip(ext, scale)]          # display extents
    fig = _figure(window_size, (shown[0] + shown[2]) / (shown[1] + shown[2]), 0.2)
    grid = fig.add_gridspec(2, 3, width_ratios=[shown[0], shown[2], 0.04 * max(shown)],
                            height_ratios=[shown[1], shown[2]])
    # the views pulled together (towards the plan's corner): the figure's spare room goes
    # to its edges, not between the views
    where = {2: (grid[0, 0], "SE"), 0: (grid[0, 1], "SW"), 1: (grid[1, 0], "NE")}
    mesh = None
    for axis, (spec, anchor) in where.items():
        ax = fig.add_subplot(spec)
        ax.set_anchor(anchor)
        plane, h, v = _plane(values, axis, idx[axis])
        mesh = ax.pcolormesh(faces_mm[h], faces_mm[v], np.ma.masked_invalid(plane),
                             cmap=cmap, norm=norm, shading="flat")
        _boxes_cut(ax, blocks, axis, hs["position"][axis], h, v, 1e3)
        _quiver(ax, data, axis, idx[axis], h, v, faces_mm)
        # where the other two slices cut this one
        ax.axvline(pos_mm[h], color="black", lw=0.8, ls="--", alpha=0.6)
        ax.axhline(pos_mm[v], color="black", lw=0.8, ls="--", alpha=0.6)
        _hot_marker(ax, pos_mm[h], pos_mm[v])
        ax.set_xlim(faces_mm[h][0], faces_mm[h][-1])
        ax.set_ylim(faces_mm[v][0], faces_mm[v][-1])
        ax.set_aspect(scale[v] / scale[h], adjustable="box")
        ax.set_xlabel(f"{AXES[h]} [mm]")
        ax.set_ylabel(f"{AXES[v]} [mm]")
        ax.set_title(f"{AXES[axis]} = {pos_mm[axis]:.4g} mm", fontsize=11)
        if axis == 2:
            plan = ax
    label = _label_hotspot(plan, hs, pos_mm, faces_mm)
    bar = fig.colorbar(mesh, cax=fig.add_subplot(grid[:, 2]),
                       format=FormatStrFormatter(bar_format(field, vmin, vmax)))
    bar.set_label(TITLES[field], fontsize=13)
    note = fig.add_subplot(grid[1, 1])
    note.set_anchor("NW")
    note.axis("off")
    note.text(0.02, 0.95, label.replace("\n", ",\n") + "\nat (" + ", ".join(
        f"{p:.4g}" for p in pos_mm) + ") mm\n\ndashed lines: the other slices\n"
        "boxes: the blocks each slice cuts",
        va="top", ha="left", fontsize=10, transform=note.transAxes, wrap=True)
    fig.suptitle(picture_title(data, ext, scale, field) + " (flat slices: matplotlib)",
                 fontsize=13)
    _save(fig, png_path)
    return {"png": png_path, "hotspot": hs, "scale": tuple(float(s) for s in scale),
            "label": label.replace("\n", ", ")}


def _label_hotspot(plan, hs: dict, pos_mm, faces_mm) -> str:
    """The hottest cell's temperature and block, written on the plan towards its middle
    (so that it stays inside the picture) with a line to the cell; returns the label."""
    label = (f"max T = {hs['T']:.1f} K ({hs['T'] - 273.15:.1f} \N{DEGREE SIGN}C)\n"
             f"block '{hs['block']}'")
    mid = [0.5 * (faces_mm[a][0] + faces_mm[a][-1]) for a in (0, 1)]
    off = (-1 if pos_mm[0] > mid[0] else 1, -1 if pos_mm[1] > mid[1] else 1)
    plan.annotate(label, (pos_mm[0], pos_mm[1]), xytext=(60 * off[0], 45 * off[1]),
                  textcoords="offset points", ha="right" if off[0] < 0 else "left",
                  multialignment="left",
                  va="top" if off[1] < 0 else "bottom", fontsize=12, zorder=7,
                  bbox=dict(boxstyle="round,pad=0.3", fc="white", ec="black", alpha=0.9),
                  arrowprops=dict(arrowstyle="-", color="black", lw=1.5))
    return label


def draw_layout(h5_path, png_path, iso: float | None = None, hotspots: int = 5,
                window_size=(1600, 1000)) -> dict:
    """A rack layout's result as two slices coloured by temperature (K): the vertical one
    along the hot aisle behind the hottest chip's rack (through the tank, for immersion) and
    the horizontal one at that chip's height, coordinates in m; the servers (blue) and
    solids (grey) the slices cut outlined, the ``iso`` K contour (default: halfway between
    the coolest air and the hottest cell) in red, and the ``hotspots`` hottest chips
    numbered on both with their name and junction temperature listed.  Returns
    ``{"png": Path, "iso": K, "hotspots": [...]}`` as :func:`thermosim.view.render_layout`."""
    from matplotlib.colors import Normalize
    from matplotlib.ticker import FormatStrFormatter

    png_path = Path(png_path)
    data, names, tj, pos = read_layout_hotspots(h5_path)
    problem = data.get("problem") or {}
    faces = [np.asarray(data[a], float) for a in AXES]
    lo = np.array([f[0] for f in faces])
    ext = np.array([f[-1] - f[0] for f in faces])
    T = np.asarray(data["T"], float)
    fluid_T = T[np.asarray(data["block"]) < 0]
    vmin = float(np.nanmin(fluid_T)) if fluid_T.size else float(np.nanmin(T))
    vmax = float(np.nanmax(T))
    iso = 0.5 * (vmin + vmax) if iso is None else float(iso)
    if not vmax > vmin:
        vmin, vmax = vmin - 0.5, vmax + 0.5
    n = min(int(hotspots), len(names))
    hot = pos[0] if n else lo + 0.5 * ext
    tank = upright_server(problem, pos[0] if n else None)
    y_cut = hot[1] if tank else lo[1] + hot_aisle_y(problem, pos[0] if n else None, lo, ext)
    z_cut = hot[2]
    where = "through the tank" if tank else "on the hot aisle"
    j, k = _cell(faces[1], y_cut), _cell(faces[2], z_cut)
    norm = Normalize(vmin, vmax)
    cmap = _cmap()

    fig, cells, bar_cell, list_cell = _layout_figure(window_size, ext)
    boxes = [(problem.get("blocks") or [], "-"), (problem.get("porous") or [], "--")]
    mesh = None
    for cell, axis, index, at, title in (
            (cells[0], 1, j, y_cut, f"{where}, y = {y_cut:.2f} m (looking along +y)"),
            (cells[1], 2, k, z_cut, f"at the hottest chip's height, z = {z_cut:.2f} m")):
        ax = fig.add_subplot(cell)
        plane, h, v = _plane(T, axis, index)
        mesh = ax.pcolormesh(faces[h], faces[v], np.ma.masked_invalid(plane), cmap=cmap,
                             norm=norm, shading="flat")
        if np.nanmin(plane) < iso < np.nanmax(plane):
            ch = 0.5 * (faces[h][1:] + faces[h][:-1])
            cv = 0.5 * (faces[v][1:] + faces[v][:-1])
            ax.contour(ch, cv, np.ma.masked_invalid(plane), levels=[iso], colors="red",
                       linewidths=1.5)
        for bx, ls in boxes:
            _boxes_cut(ax, bx, axis, at, h, v, 1.0, ls=ls)
        if axis == 1:       # the hot aisle's plane: where the plan's slice cuts it
            ax.axhline(z_cut, color="black", lw=0.8, ls="--", alpha=0.6)
        else:
            ax.axhline(y_cut, color="black", lw=0.8, ls="--", alpha=0.6)
        _number_chips(ax, pos[:n], h, v)
        ax.set_xlim(faces[h][0], faces[h][-1])
        ax.set_ylim(faces[v][0], faces[v][-1])
        ax.set_aspect("equal", adjustable="box")
        ax.set_xlabel(f"{AXES[h]} [m]")
        ax.set_ylabel(f"{AXES[v]} [m]")
        ax.set_title(title, fontsize=11)
    bar = fig.colorbar(mesh, cax=fig.add_subplot(bar_cell),
                       format=FormatStrFormatter(bar_format("T", vmin, vmax)))
    bar.set_label("T [K]", fontsize=13)
    bar.ax.axhline(iso, color="red", lw=2)
    _list_chips(fig.add_subplot(list_cell), names[:n], tj[:n], iso)
    name = data.get("case_name") or "layout"
    fig.suptitle(f"{name}: temperature {where} and at the hottest chip's height "
                 "(flat slices: matplotlib)", fontsize=13)
    _save(fig, png_path)
    return {"png": png_path, "iso": iso,
            "hotspots": [{"name": names[c], "junction_temperature": float(tj[c])}
                         for c in range(n)]}


def _layout_figure(window_size, ext) -> tuple:
    """The figure of :func:`draw_layout` and its cells (the two slices', the colour bar's,
    the chip list's): the elevation over the plan (a long hall) or beside it (a deep one),
    whichever fills a 16:10 picture better, the colour bar and the list to the right."""
    stacked, beside = ext[0] / (ext[1] + ext[2]), 2 * ext[0] / max(ext[1], ext[2])
    target = 1.3
    along = abs(np.log(stacked / target)) < abs(np.log(beside / target))
    fig = _figure(window_size, stacked if along else beside, 0.3)
    width = ext[0] if along else 2 * ext[0]
    if along:
        grid = fig.add_gridspec(2, 3, width_ratios=[width, 0.04 * width, 0.4 * width],
                                height_ratios=[ext[2], ext[1]])
        return fig, [grid[0, 0], grid[1, 0]], grid[:, 1], grid[:, 2]
    grid = fig.add_gridspec(1, 4, width_ratios=[ext[0], ext[0], 0.04 * width,
                                                0.4 * width])
    return fig, [grid[0, 0], grid[0, 1]], grid[0, 2], grid[0, 3]


def _number_chips(ax, pos, h: int, v: int) -> None:
    """The chips at ``pos`` (m) numbered 1, 2, ... on a slice whose axes are ``h`` and
    ``v``: the chips sit in the servers, off the hot aisle's plane, so they are marked
    where they project onto it, numbers fanned out so that neighbours stay readable."""
    n = len(pos)
    for c in range(n):
        angle = np.pi / 4 + c * 2 * np.pi / max(n, 1)
        reach = 20 + 9 * (c % 2)
        ax.plot([pos[c][h]], [pos[c][v]], "o", ms=9, mfc="white", mec="black", mew=1.5,
                zorder=5)
        ax.annotate(str(c + 1), (pos[c][h], pos[c][v]),
                    xytext=(reach * np.cos(angle), reach * np.sin(angle)),
                    textcoords="offset points", ha="center", va="center", fontsize=11,
                    fontweight="bold", zorder=7,
                    bbox=dict(boxstyle="circle,pad=0.15", fc="white", ec="black"),
                    arrowprops=dict(arrowstyle="-", color="black", lw=1))


def _list_chips(listing, names, tj, iso: float) -> None:
    """The numbered chips' names and junction temperatures (K and degC), and the key to
    the picture's lines, in the axes ``listing``."""
    n = len(names)
    listing.axis("off")
    lines = [f"the {n} hottest chips (junction):"] + [
        f"{c + 1}. {names[c]}\n    {tj[c]:.1f} K ({tj[c] - 273.15:.1f} \N{DEGREE SIGN}C)"
        for c in range(n)]
    lines += ["", f"red line: {iso:.1f} K ({iso - 273.15:.1f} \N{DEGREE SIGN}C)",
              "outlines where a slice cuts them:", "  solid: solids (plinths, floor)",
              "  dashed: servers, tiles, CRAH units", "dashed line: the other slice",
              "(chips marked where they project", " onto the slice)"]
    listing.text(0.0, 1.0, "\n".join(lines), va="top", ha="left", fontsize=11,
                 transform=listing.transAxes, family="DejaVu Sans")
