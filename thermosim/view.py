"""Off-screen pictures of a saved result: three orthogonal slices through the hottest cell
(:func:`render`), or a rack layout's hot aisle and chips (:func:`render_layout`).

The 3D picture is drawn by VTK (:mod:`thermosim.vtk_pictures`) in a child process
(:mod:`thermosim.render_worker`): an OpenGL driver that crashes or hangs ends that process,
not the caller, and the picture is then drawn as flat slices with matplotlib
(:mod:`thermosim.slices`) with a one-line note.  What both show is in
:mod:`thermosim.pictures` (``hotspot`` and ``display_scale`` are also importable here).
PyVista, VTK and matplotlib are imported only inside functions, so importing this module,
and starting the command line, stays fast.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from .atomic import atomic_path
from .pictures import bar_format as _bar_format, display_scale, hotspot  # noqa: F401

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
