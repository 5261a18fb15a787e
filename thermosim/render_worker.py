"""The child process that draws a 3D picture with VTK: ``python -m thermosim.render_worker
REQUEST.json``.

VTK and the OpenGL driver under it can crash the process (a segfault when no usable GL library
is found), abort or hang; running them here, apart from the solver, means the worst they can
do is end this process.  :func:`thermosim.view.render` waits for it with a timeout and draws
matplotlib slices when it fails.

The request is a JSON object: ``kind`` ("slices", "layout" or "probe"), ``h5`` (the result
file), ``png`` (where to write the picture: a temporary name chosen by the caller, who renames
it when the picture is whole), ``info`` (where to write the returned information as JSON) and
``options`` (keyword arguments of the drawing function).

Exit status: 0 drawn; 3 pyvista/VTK not importable; 1 any other failure (the error on the
last line of stderr).
"""

from __future__ import annotations

import json
import sys
import traceback

NO_VTK = 3


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    with open(argv[0], encoding="utf-8") as f:
        req = json.load(f)
    try:
        import pyvista  # noqa: F401  (only to tell "not installed" from a failure)
        import vtk  # noqa: F401
    except ImportError as e:
        print(f"{type(e).__name__}: {e}", file=sys.stderr)
        return NO_VTK
    from . import vtk_pictures

    try:
        if req["kind"] == "probe":
            info = vtk_pictures.probe_vtk(req["png"])
        elif req["kind"] == "layout":
            info = vtk_pictures.draw_layout_vtk(req["h5"], req["png"], **req["options"])
        else:
            info = vtk_pictures.draw_slices_vtk(req["h5"], req["png"], **req["options"])
    except Exception as e:          # noqa: BLE001 (told to the parent, which falls back)
        traceback.print_exc()
        print(f"{type(e).__name__}: {e}", file=sys.stderr)
        return 1
    info["png"] = str(info["png"])
    with open(req["info"], "w", encoding="utf-8") as f:
        json.dump(info, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
