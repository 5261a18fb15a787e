"""Off-screen pictures of a saved result: three orthogonal slices through the hottest cell
(:func:`render`), or a rack layout's hot aisle and chips (:func:`render_layout`).

The 3D picture is drawn by VTK in a child process (:mod:`thermosim.render_worker`): an OpenGL
driver that crashes or hangs ends that process, not the caller, and the picture is then drawn
as flat slices with matplotlib (:mod:`thermosim.slices`) with a one-line note.  PyVista, VTK
and matplotlib are imported only inside functions, so importing this module, and starting the
command line, stays fast.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from .atomic import atomic_path

THIN = 0.1          # an axis shorter than this fraction of the longest is stretched ...
THIN_TARGET = 0.25  # ... to show at this fraction of the longest
MAX_BLOCK_OUTLINES = 2000

_TITLES = {"T": "T [K]", "power": "power [W/m^3]", "material": "material index",
           "block": "block index"}


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


FIELDS = ("T", "power", "material", "block")
TIMEOUT_S = 300.0          # a 3D picture still unfinished after this (s) ...
CELL_TIMEOUT_S = 2e-5      # ... plus this a cell (1e6 cells: 20 s more) is given up: a hung
#                            GL driver must not hold the command forever

# Why VTK could not draw in an earlier attempt of this process (a crash, no VTK, a hang):
# the same machine fails the same way, so later pictures go straight to matplotlib.
_NO_3D: str | None = None


def render(h5_path, png_path, field: str = "T", window_size=(1600, 1000),
           timeout: float | None = None) -> dict:
    """Render a result file to a PNG: slices through the hotspot coloured by ``field``
    (T in kelvin by default; also power, material or block), the domain and block outlines,
    and a marker and label at the hottest cell.  Thin axes are stretched (said in the title).

    The 3D picture is drawn by VTK in a child process (:mod:`thermosim.render_worker`), so a
    crash or hang of VTK or the OpenGL driver cannot end the caller; if it fails (or pyvista
    is not installed, ``pip install thermosim[pictures]``), three orthogonal slices are drawn
    with matplotlib instead.  The PNG is written whole or not at all.

    Returns ``{"png": Path, "hotspot": {...}, "scale": (sx, sy, sz), "label": the hotspot's
    label, "renderer": "vtk" or "matplotlib", "note": None or a one-line note saying why
    the 3D picture was not drawn}``."""
    if field not in FIELDS:
        raise ValueError(f"unknown field '{field}' (T, power, material or block)")
    png_path = Path(png_path)
    info, why = _in_child("slices", h5_path, png_path,
                          {"field": field, "window_size": list(window_size)}, timeout)
    if info is None:
        from .slices import draw_slices

        info = draw_slices(h5_path, png_path, field=field, window_size=window_size)
        return dict(info, renderer="matplotlib", note=_note(why))
    info["scale"] = tuple(float(s) for s in info["scale"])
    return dict(info, renderer="vtk", note=None)


def render_layout(h5_path, png_path, iso: float | None = None, hotspots: int = 5,
                  window_size=(1600, 1000), timeout: float | None = None) -> dict:
    """The picture of a rack layout's result: a vertical slice along the hot aisle that holds
    the hottest chip and a horizontal slice at that chip's height, coloured by temperature;
    the isosurface at ``iso`` K (default: halfway between the coolest air and the hottest
    cell); the outlines of the solids and porous components (servers, tiles, CRAH units);
    and the ``hotspots`` hottest chips marked and labelled with name and junction
    temperature.  Drawn by VTK in a child process as :func:`render`; if that fails, the
    two slices with the numbered chips are drawn with matplotlib (no isosurface).

    Returns ``{"png": Path, "iso": K, "hotspots": [{"name", "junction_temperature"}, ...],
    "renderer", "note"}`` (as :func:`render`)."""
    import h5py

    with h5py.File(h5_path, "r") as f:
        if "metrics/hotspots" not in f:
            raise ValueError("no rack metrics in this file (a layout result has them)")
    png_path = Path(png_path)
    info, why = _in_child("layout", h5_path, png_path,
                          {"iso": iso, "hotspots": int(hotspots),
                           "window_size": list(window_size)}, timeout)
    if info is None:
        from .slices import draw_layout

        info = draw_layout(h5_path, png_path, iso=iso, hotspots=hotspots,
                           window_size=window_size)
        return dict(info, renderer="matplotlib", note=_note(why))
    return dict(info, renderer="vtk", note=None)


def probe_3d(timeout: float = 180.0) -> str | None:
    """Whether VTK can draw here: None if a tiny scene renders in a child process, else the
    reason it cannot (as the fallback note gives it).  Remembered like a failed picture."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="thermosim-probe-") as d:
        _, why = _in_child("probe", None, Path(d) / "probe.png", {}, timeout)
    return why


def _note(why: str) -> str:
    return f"note: 3D picture unavailable ({why}); drew slices with matplotlib"


def _worker_command() -> list[str]:
    """The child that draws with VTK (the request file's path is appended)."""
    return [sys.executable, "-m", "thermosim.render_worker"]


class _NoPicture(Exception):
    def __init__(self, why: str, remember: bool):
        super().__init__(why)
        self.why, self.remember = why, remember


def _timeout(h5_path) -> float:
    try:
        import h5py

        with h5py.File(h5_path, "r") as f:
            cells = int(np.prod(f["fields/T"].shape))
    except Exception:               # noqa: BLE001 (the drawing reports a bad file)
        cells = 0
    return TIMEOUT_S + CELL_TIMEOUT_S * cells


def _in_child(kind: str, h5_path, png_path: Path, options: dict, timeout) -> tuple:
    """Draw with VTK in a child process: ``(info, None)``, the PNG at ``png_path``, or
    ``(None, why not)``, nothing written."""
    global _NO_3D
    if _NO_3D is not None:
        return None, _NO_3D
    import json
    import signal
    import subprocess
    import tempfile

    if timeout is None:
        timeout = _timeout(h5_path) if h5_path is not None else TIMEOUT_S
    try:
        with tempfile.TemporaryDirectory(prefix="thermosim-picture-") as d, \
                atomic_path(png_path, suffix=".tmp.png") as tmp:
            request, answer = Path(d) / "request.json", Path(d) / "info.json"
            request.write_text(json.dumps({
                "kind": kind, "h5": None if h5_path is None else str(Path(h5_path).resolve()),
                "png": str(tmp.resolve()), "info": str(answer), "options": options}))
            try:
                done = subprocess.run(_worker_command() + [str(request)],
                                      stdin=subprocess.DEVNULL, capture_output=True,
                                      timeout=timeout)
            except subprocess.TimeoutExpired:       # (the child is killed)
                raise _NoPicture(f"VTK did not finish in {timeout:.0f} s", True) from None
            rc = done.returncode
            if rc < 0:
                try:
                    name = signal.Signals(-rc).name
                except ValueError:
                    name = f"signal {-rc}"
                raise _NoPicture(f"VTK crashed: {name}", True)
            if rc == 3:                 # render_worker.NO_VTK
                raise _NoPicture("pyvista/VTK not installed: pip install "
                                 "'thermosim[pictures]'", True)
            if rc != 0:
                last = [ln for ln in done.stderr.decode(errors="replace").splitlines()
                        if ln.strip()]
                raise _NoPicture("VTK failed: " + (last[-1].strip()[:160] if last
                                                   else f"exit status {rc}"), False)
            if not _is_picture(tmp):
                raise _NoPicture("VTK drew an empty picture", True)
            info = json.loads(answer.read_text())
    except _NoPicture as e:
        if e.remember:
            _NO_3D = e.why
        return None, e.why
    info["png"] = png_path
    return info, None


def _is_picture(path: Path) -> bool:
    """A PNG with more than one colour (a GL stack that fails quietly gives a blank frame)."""
    try:
        head = path.read_bytes()[:8]
    except OSError:
        return False
    if head != b"\x89PNG\r\n\x1a\n":
        return False
    try:
        from PIL import Image
    except ImportError:
        return True
    with Image.open(path) as im:
        bands = im.getextrema()
    if isinstance(bands[0], (int, float)):
        bands = [bands]
    return any(lo != hi for lo, hi in bands)


def _probe_vtk(png_path) -> dict:
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


def _render_vtk(h5_path, png_path, field: str = "T", window_size=(1600, 1000)) -> dict:
    """The 3D picture of :func:`render`, drawn with VTK in this process (run it in
    :mod:`thermosim.render_worker`, never in the caller: a GL driver can crash it).  Writes
    ``png_path`` directly (the caller's temporary name)."""
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

    # display coordinates: millimetres, thin axes stretched
    faces_m = [np.asarray(data[a], dtype=np.float64) for a in "xyz"]
    lo = np.array([f[0] for f in faces_m])
    ext = np.array([f[-1] - f[0] for f in faces_m])
    scale = display_scale(ext)

    def to_display(p_m):
        return [(float(p_m[a]) - lo[a]) * 1e3 * scale[a] for a in range(3)]

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

    centre = to_display(hs["position"])
    diag = float(np.linalg.norm([f[-1] - f[0] for f in faces]))
    font = _font_file()
    zoom = min(window_size[0] / 1600, window_size[1] / 1000)

    def fs(n):                          # font sizes are in pixels: follow the window size
        return max(6, round(n * zoom))

    pl = pv.Plotter(off_screen=True, window_size=list(window_size))
    try:
        pl.set_background("white")
        slices = grid.slice_orthogonal(x=centre[0], y=centre[1], z=centre[2])
        bar = dict(title=_TITLES[field], color="black", vertical=True, position_x=0.86,
                   position_y=0.15, height=0.7, width=0.06, title_font_size=fs(22),
                   label_font_size=fs(18), fmt=_bar_format(field, vmin, vmax))
        shown = False
        for sl in slices:
            if sl is None or sl.n_cells == 0:
                continue
            keep = np.isfinite(sl.cell_data[field])
            if not keep.any():
                continue
            part = sl.extract_cells(np.flatnonzero(keep)) if not keep.all() else sl
            pl.add_mesh(part, scalars=field, cmap="turbo", clim=(vmin, vmax),
                        show_scalar_bar=not shown, scalar_bar_args=bar,
                        preference="cell", show_edges=False, lighting=False)
            shown = True
        if velocity is not None:
            _velocity_glyphs(pl, pv, slices, diag)
        for sb in pl.scalar_bars.values():
            _set_font(sb.GetTitleTextProperty(), font)
            _set_font(sb.GetLabelTextProperty(), font)
        pl.add_mesh(grid.outline(), color="black", line_width=2)
        outlines = _block_outlines(pv, data, lo, scale)
        if outlines is not None:
            pl.add_mesh(outlines, color="dimgray", line_width=1, opacity=0.8)
        pl.add_mesh(pv.Sphere(radius=0.012 * diag, center=centre), color="white",
                    smooth_shading=True)
        pl.add_mesh(pv.Sphere(radius=0.007 * diag, center=centre), color="black")
        label = (f"max T = {hs['T']:.1f} K ({hs['T'] - 273.15:.1f} \N{DEGREE SIGN}C), "
                 f"block '{hs['block']}'")
        # the label sits a little above the marker, joined to it by a short line
        tip = [centre[0], centre[1], centre[2] + 0.06 * diag]
        pl.add_mesh(pv.Line(centre, tip), color="black", line_width=2)
        pl.add_point_labels([tip], [label], font_size=fs(20), point_size=1,
                            shape_color="white", shape_opacity=0.85, text_color="black",
                            always_visible=True, show_points=False, margin=4,
                            font_file=font)
        pl.add_text(_title(data, ext, scale, field), position="upper_edge", font_size=fs(14),
                    color="black", font_file=font)
        pl.add_axes(color="black", labels_off=False)
        pl.view_isometric()
        pl.reset_camera()
        pl.camera.zoom(1.1)
        pl.screenshot(str(png_path), window_size=list(window_size))
    finally:
        pl.close()
    return {"png": png_path, "hotspot": hs, "scale": tuple(float(s) for s in scale),
            "label": label}


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


def _title(data, ext, scale, field) -> str:
    name = data.get("case_name") or "result"
    size = " x ".join(f"{e * 1e3:.4g}" for e in ext)
    what = {"T": "temperature", "power": "power density", "material": "material",
            "block": "block"}[field]
    t = f"{name}: {what}, slices through the hottest cell\ndomain {size} mm"
    stretched = [f"{'xyz'[a]} x{scale[a]:.3g}" for a in range(3) if scale[a] != 1.0]
    if stretched:
        t += ", stretched for visibility: " + ", ".join(stretched)
    return t


def _bar_format(field: str, vmin: float, vmax: float) -> str:
    """Colour-bar label format: temperatures with enough decimals that the labels (about a
    fifth of the range apart) differ, at least one; other fields with 3 significant digits."""
    if field != "T":
        return "%.3g"
    step = (vmax - vmin) / 5.0
    digits = 1 if not step > 0 else min(6, max(1, int(np.ceil(-np.log10(step))) + 1))
    return f"%.{digits}f"


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


def _render_layout_vtk(h5_path, png_path, iso: float | None = None, hotspots: int = 5,
                       window_size=(1600, 1000)) -> dict:
    """The 3D picture of :func:`render_layout`, drawn with VTK in this process (in
    :mod:`thermosim.render_worker`); writes ``png_path`` directly."""
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
    tank = _upright_server(problem, pos[0] if n else None)
    y_hot = (pos[0][1] - lo[1]) if tank else _hot_aisle_y(problem, pos[0] if n else None,
                                                            lo, ext)
    where = "through the tanks" if tank else "on the hot aisle"
    diag = float(np.linalg.norm(ext))
    font = _font_file()
    pl = pv.Plotter(off_screen=True, window_size=list(window_size))
    try:
        pl.set_background("white")
        bar = dict(title="T [K]", color="black", vertical=True, position_x=0.86,
                   position_y=0.15, height=0.7, width=0.06, title_font_size=22,
                   label_font_size=18, fmt=_bar_format("T", vmin, vmax))
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
        for key, colour in (("blocks", "dimgray"), ("porous", "royalblue")):
            boxes = problem.get(key) or []
            out = _block_outlines(pv, {"problem": {"blocks": boxes}}, lo, (1.0, 1.0, 1.0))
            if out is not None:
                out.points = out.points * 1e-3          # _block_outlines draws in mm
                pl.add_mesh(out, color=colour, line_width=1, opacity=0.7)
        labels, points = [], []
        for k in range(n):
            p = pos[k] - lo
            pl.add_mesh(pv.Sphere(radius=0.008 * diag, center=p), color="black")
            points.append(p + np.array([0, 0, 0.04 * diag * (1 + k % 2)]))
            labels.append(f"{names[k]} {tj[k] - 273.15:.1f} \N{DEGREE SIGN}C")
        if points:
            pl.add_point_labels(points, labels, font_size=16, point_size=1,
                                shape_color="white", shape_opacity=0.85, text_color="black",
                                always_visible=True, show_points=False, margin=3,
                                font_file=font)
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


def _upright_server(problem, chip) -> bool:
    """Whether the server holding the chip at ``chip`` has its through-flow vertical (an
    immersion tank's)."""
    if chip is None:
        return False
    for b in problem.get("porous") or []:
        bmin, bmax = np.asarray(b["min"], float), np.asarray(b["max"], float)
        if "/" in b["name"] and np.all(chip >= bmin - 1e-9) and np.all(chip <= bmax + 1e-9):
            return b.get("axis") == 2
    return False


def _hot_aisle_y(problem, chip, lo, ext) -> float:
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
