"""The 3D pictures of a result, drawn with VTK (PyVista): three slices through the hottest
cell (:func:`draw_slices_vtk`) and a rack layout's hot aisle and chips
(:func:`draw_layout_vtk`).  These run only in the child process of
:mod:`thermosim.render_worker` (a crashing GL driver ends that process, not the caller);
:mod:`thermosim.view` starts it and falls back to :mod:`thermosim.slices`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .pictures import TITLES, bar_format, display_scale, hot_aisle_y, hotspot, \
    picture_title, read_layout_hotspots, upright_server

MAX_BLOCK_OUTLINES = 2000


def _font_file() -> str | None:
    """DejaVu Sans from matplotlib (a PyVista dependency), found without importing it: VTK's
    built-in sans font draws '[' like '(', which would turn "T [K]" into "T (K)"."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("matplotlib")
    except (ImportError, ValueError):
        return None
    for base in (spec.submodule_search_locations or []) if spec else []:
        p = Path(base) / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf"
        if p.is_file():
            return str(p)
    return None


def _set_font(prop, font_file) -> None:
    if font_file is not None:
        prop.SetFontFamily(4)          # VTK_FONT_FILE
        prop.SetFontFile(font_file)


def probe_vtk(png_path) -> dict:
    """A tiny scene (in the child): does this machine's VTK draw at all?"""
    import pyvista as pv

    pl = pv.Plotter(off_screen=True, window_size=[64, 48])
    try:
        pl.set_background("white")
        pl.add_mesh(pv.Sphere(), color="red")
        pl.screenshot(str(png_path))
    finally:
        pl.close()
    return {"png": str(png_path)}


def draw_slices_vtk(h5_path, png_path, field: str = "T", window_size=(1600, 1000)) -> dict:
    """The 3D picture of :func:`thermosim.view.render`, drawn with VTK in this process (run
    it in :mod:`thermosim.render_worker`, never in the caller: a GL driver can crash it).
    Writes ``png_path`` directly (the caller's temporary name)."""
    # VTK chooses its window itself (X when DISPLAY works, else EGL, else OSMesa): forcing
    # one class (OSMesa once) segfaults on a machine that lacks that library
    import pyvista as pv

    from .output import read_result

    pv.OFF_SCREEN = True
    png_path = Path(png_path)
    data = read_result(h5_path, snapshots=False)
    if field not in ("T", "power", "material", "block"):
        raise ValueError(f"unknown field '{field}' (T, power, material or block)")
    hs = hotspot(data)
    scene = _display_grid(pv, data, field)
    grid, faces, lo, ext, scale = (scene[k] for k in ("grid", "faces", "lo", "ext", "scale"))
    vmin, vmax = scene["range"]
    velocity = data.get("velocity")
    centre = [(float(hs["position"][a]) - lo[a]) * 1e3 * scale[a] for a in range(3)]
    diag = float(np.linalg.norm([f[-1] - f[0] for f in faces]))
    font = _font_file()
    zoom = min(window_size[0] / 1600, window_size[1] / 1000)

    def fs(n):                          # font sizes are in pixels: follow the window size
        return max(6, round(n * zoom))

    pl = pv.Plotter(off_screen=True, window_size=list(window_size))
    try:
        pl.set_background("white")
        slices = grid.slice_orthogonal(x=centre[0], y=centre[1], z=centre[2])
        bar = dict(title=TITLES[field], color="black", vertical=True, position_x=0.86,
                   position_y=0.15, height=0.7, width=0.06, title_font_size=fs(22),
                   label_font_size=fs(18), fmt=bar_format(field, vmin, vmax))
        _add_slices(pl, slices, field, (vmin, vmax), bar)
        if velocity is not None:
            _velocity_glyphs(pl, pv, slices, diag)
        for sb in pl.scalar_bars.values():
            _set_font(sb.GetTitleTextProperty(), font)
            _set_font(sb.GetLabelTextProperty(), font)
        pl.add_mesh(grid.outline(), color="black", line_width=2)
        outlines = _block_outlines(pv, data, lo, scale)
        if outlines is not None:
            pl.add_mesh(outlines, color="dimgray", line_width=1, opacity=0.8)
        label = _mark_hotspot(pl, pv, hs, centre, diag, fs(20), font)
        pl.add_text(picture_title(data, ext, scale, field), position="upper_edge",
                    font_size=fs(14), color="black", font_file=font)
        pl.add_axes(color="black", labels_off=False)
        pl.view_isometric()
        pl.reset_camera()
        pl.camera.zoom(1.1)
        pl.screenshot(str(png_path), window_size=list(window_size))
    finally:
        pl.close()
    return {"png": png_path, "hotspot": hs, "scale": tuple(float(s) for s in scale),
            "label": label}


def _display_grid(pv, data: dict, field: str) -> dict:
    """The result as a VTK grid in display coordinates (millimetres, thin axes stretched)
    with ``field`` (NaN in void cells) and the velocity (stretched alike) as cell data;
    with the faces (mm), the low corner and extents (m), the stretch and the colour range."""
    faces_m = [np.asarray(data[a], dtype=np.float64) for a in "xyz"]
    lo = np.array([f[0] for f in faces_m])
    ext = np.array([f[-1] - f[0] for f in faces_m])
    scale = display_scale(ext)
    faces = [(f - lo[a]) * 1e3 * scale[a] for a, f in enumerate(faces_m)]
    grid = pv.RectilinearGrid(*faces)
    values = np.asarray(data[field], dtype=np.float64)
    void = np.isnan(data["T"])
    values = np.where(void, np.nan, values)
    # VTK numbers cells with x fastest; our arrays are (nx, ny, nz), C order (z fastest)
    grid.cell_data[field] = values.ravel(order="F")
    velocity = data.get("velocity")
    if velocity is not None:
        # display coordinates stretch thin axes: stretch the arrows' components alike
        vd = np.asarray(velocity, dtype=np.float64) * scale
        grid.cell_data["velocity"] = np.stack([vd[..., a].ravel(order="F")
                                               for a in range(3)], axis=1)
    finite = values[np.isfinite(values)]
    vmin, vmax = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if not vmax > vmin:
        pad = max(abs(vmax) * 1e-3, 1e-3)
        vmin, vmax = vmin - pad, vmax + pad
    return {"grid": grid, "faces": faces, "lo": lo, "ext": ext, "scale": scale,
            "range": (vmin, vmax)}


def _add_slices(pl, slices, field: str, clim, bar: dict) -> None:
    """The three slices coloured by ``field`` (void cells left out), one colour bar."""
    shown = False
    for sl in slices:
        if sl is None or sl.n_cells == 0:
            continue
        keep = np.isfinite(sl.cell_data[field])
        if not keep.any():
            continue
        part = sl.extract_cells(np.flatnonzero(keep)) if not keep.all() else sl
        pl.add_mesh(part, scalars=field, cmap="turbo", clim=clim,
                    show_scalar_bar=not shown, scalar_bar_args=bar,
                    preference="cell", show_edges=False, lighting=False)
        shown = True


def _mark_hotspot(pl, pv, hs: dict, centre, diag: float, font_size: int, font) -> str:
    """A marker at the hottest cell and its label a little above it, joined by a short
    line; returns the label."""
    pl.add_mesh(pv.Sphere(radius=0.012 * diag, center=centre), color="white",
                smooth_shading=True)
    pl.add_mesh(pv.Sphere(radius=0.007 * diag, center=centre), color="black")
    label = (f"max T = {hs['T']:.1f} K ({hs['T'] - 273.15:.1f} \N{DEGREE SIGN}C), "
             f"block '{hs['block']}'")
    tip = [centre[0], centre[1], centre[2] + 0.06 * diag]
    pl.add_mesh(pv.Line(centre, tip), color="black", line_width=2)
    pl.add_point_labels([tip], [label], font_size=font_size, point_size=1,
                        shape_color="white", shape_opacity=0.85, text_color="black",
                        always_visible=True, show_points=False, margin=4,
                        font_file=font)
    return label


def draw_layout_vtk(h5_path, png_path, iso: float | None = None, hotspots: int = 5,
                    window_size=(1600, 1000)) -> dict:
    """The 3D picture of :func:`thermosim.view.render_layout`, drawn with VTK in this
    process (in :mod:`thermosim.render_worker`); writes ``png_path`` directly."""
    import pyvista as pv

    pv.OFF_SCREEN = True
    png_path = Path(png_path)
    data, names, tj, pos = read_layout_hotspots(h5_path)
    problem = data.get("problem") or {}
    faces = [np.asarray(data[a], float) for a in "xyz"]
    lo = np.array([f[0] for f in faces])
    ext = np.array([f[-1] - f[0] for f in faces])
    grid = pv.RectilinearGrid(*[f - f[0] for f in faces])
    T = np.asarray(data["T"], float)
    grid.cell_data["T"] = T.ravel(order="F")
    fluid_T = T[np.asarray(data["block"]) < 0]
    vmin, vmax = float(fluid_T.min()), float(T.max())
    iso = 0.5 * (vmin + vmax) if iso is None else float(iso)
    n = min(hotspots, len(names))
    hot = pos[0] - lo if n else 0.5 * ext
    # the hot aisle beside the hottest chip: the side of its rack its air leaves from; in
    # an immersion tank (servers upright, the liquid rising through them) the slice along
    # the tank through that chip
    tank = upright_server(problem, pos[0] if n else None)
    y_hot = (pos[0][1] - lo[1]) if tank else hot_aisle_y(problem, pos[0] if n else None,
                                                          lo, ext)
    where = "through the tanks" if tank else "on the hot aisle"
    diag = float(np.linalg.norm(ext))
    font = _font_file()
    pl = pv.Plotter(off_screen=True, window_size=list(window_size))
    try:
        pl.set_background("white")
        bar = dict(title="T [K]", color="black", vertical=True, position_x=0.86,
                   position_y=0.15, height=0.7, width=0.06, title_font_size=22,
                   label_font_size=18, fmt=bar_format("T", vmin, vmax))
        first = True
        for normal, origin in (((0, 1, 0), (0, y_hot, 0)), ((0, 0, 1), (0, 0, hot[2]))):
            sl = grid.slice(normal=normal, origin=origin)
            if sl.n_cells:
                pl.add_mesh(sl, scalars="T", cmap="turbo", clim=(vmin, vmax),
                            show_scalar_bar=first, scalar_bar_args=bar, preference="cell",
                            lighting=False, opacity=0.95)
                first = False
        pts = grid.cell_data_to_point_data()
        surf = pts.contour([iso], scalars="T")
        if surf.n_points:
            pl.add_mesh(surf, color="red", opacity=0.35, smooth_shading=True)
        pl.add_mesh(grid.outline(), color="black", line_width=2)
        _add_layout_outlines(pl, pv, problem, lo)
        _label_chips(pl, pv, [pos[k] - lo for k in range(n)], names, tj, diag, font)
        for sb in pl.scalar_bars.values():
            _set_font(sb.GetTitleTextProperty(), font)
            _set_font(sb.GetLabelTextProperty(), font)
        name = data.get("case_name") or "layout"
        pl.add_text(f"{name}: temperature {where} (y = {y_hot + lo[1]:.2f} m) and "
                    f"at z = {hot[2] + lo[2]:.2f} m\nisosurface {iso:.1f} K "
                    f"({iso - 273.15:.1f} \N{DEGREE SIGN}C), the {n} hottest chips "
                    "(junction) labelled; grey solids, blue porous", position="upper_edge",
                    font_size=13, color="black", font_file=font)
        pl.add_axes(color="black")
        pl.view_vector((1.0, -1.6, 0.9))
        pl.reset_camera()
        pl.screenshot(str(png_path), window_size=list(window_size))
    finally:
        pl.close()
    return {"png": png_path, "iso": iso,
            "hotspots": [{"name": names[k], "junction_temperature": float(tj[k])}
                         for k in range(n)]}


def _add_layout_outlines(pl, pv, problem: dict, lo) -> None:
    """The solids (grey) and porous components (blue: servers, tiles, CRAH units) as
    outlines, in metres from the domain's low corner."""
    for key, colour in (("blocks", "dimgray"), ("porous", "royalblue")):
        boxes = problem.get(key) or []
        out = _block_outlines(pv, {"problem": {"blocks": boxes}}, lo, (1.0, 1.0, 1.0))
        if out is not None:
            out.points = out.points * 1e-3          # _block_outlines draws in mm
            pl.add_mesh(out, color=colour, line_width=1, opacity=0.7)


def _label_chips(pl, pv, at, names, tj, diag: float, font) -> None:
    """The hottest chips (``at``: their positions in the picture, m) marked, each labelled
    with its name and junction temperature (``tj``, K), labels staggered in height."""
    labels, points = [], []
    for k, p in enumerate(at):
        pl.add_mesh(pv.Sphere(radius=0.008 * diag, center=p), color="black")
        points.append(p + np.array([0, 0, 0.04 * diag * (1 + k % 2)]))
        labels.append(f"{names[k]} {tj[k] - 273.15:.1f} \N{DEGREE SIGN}C")
    if points:
        pl.add_point_labels(points, labels, font_size=16, point_size=1,
                            shape_color="white", shape_opacity=0.85, text_color="black",
                            always_visible=True, show_points=False, margin=3,
                            font_file=font)
def _velocity_glyphs(pl, pv, slices, diag, most: int = 700):
    """Arrows of the cell velocity on the slices: at most ``most`` of them, evenly picked,
    the fastest one 6 % of the domain diagonal long."""
    pts = []
    for sl in slices:
        if sl is None or sl.n_cells == 0 or "velocity" not in sl.cell_data:
            continue
        c = sl.cell_centers()
        pts.append((np.asarray(c.points), np.asarray(sl.cell_data["velocity"])))
    if not pts:
        return
    xyz = np.concatenate([p for p, _ in pts])
    vel = np.concatenate([v for _, v in pts])
    speed = np.linalg.norm(vel, axis=1)
    keep = np.flatnonzero(speed > 0)
    if keep.size == 0:
        return
    keep = keep[:: max(1, keep.size // most)]
    cloud = pv.PolyData(xyz[keep])
    cloud["velocity"] = vel[keep]
    arrows = cloud.glyph(orient="velocity", scale="velocity",
                         factor=0.06 * diag / float(speed.max()))
    pl.add_mesh(arrows, color="black", lighting=False)


def _block_outlines(pv, data, lo, scale):
    """All block bounding boxes as one line mesh (display coordinates), or None."""
    case = data.get("case") or data.get("problem") or {}     # (flow results: the problem)
    blocks = case.get("blocks") or []
    if not blocks:
        return None
    blocks = blocks[:MAX_BLOCK_OUTLINES]
    corners = np.array([[i & 1, (i >> 1) & 1, (i >> 2) & 1] for i in range(8)])
    edges = [(a, b) for a in range(8) for b in range(a + 1, 8)
             if bin(a ^ b).count("1") == 1]
    pts, lines = [], []
    for n, b in enumerate(blocks):
        try:
            bmin = np.asarray(b["min"], dtype=float)
            bmax = np.asarray(b["max"], dtype=float)
        except (KeyError, TypeError, ValueError):
            continue
        if not (np.all(np.isfinite(bmin)) and np.all(np.isfinite(bmax))):
            continue
        p = bmin + corners * (bmax - bmin)
        p = (p - lo) * 1e3 * np.asarray(scale)
        base = len(pts) * 8
        pts.append(p)
        for a, c in edges:
            lines.extend((2, base + a, base + c))
    if not pts:
        return None
    return pv.PolyData(np.concatenate(pts), lines=np.asarray(lines))
