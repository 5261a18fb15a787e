"""Steady laminar flow, thermosim beside OpenFOAM on the same grids, one thread each.

Cases (anchors.md, "Steady flow against OpenFOAM"; issue 19, item 4):

* ``cavity64``, ``cavity128``: lid-driven square cavity at Re 1000 (side 1 m, lid 1 m/s,
  nu = 1e-3 m^2/s) on a uniform grid.  OpenFOAM: simpleFoam, SIMPLEC (``consistent yes``),
  U relaxed 0.9, p by GAMG, central differencing of U (``Gauss linear``).  Accuracy: the
  largest |u - Ghia| on x = 0.5 and |v - Ghia| on y = 0.5, over the lid speed (Ghia, Ghia &
  Shin 1982, Tables I-II).
* ``dvd48``, ``dvd96``: differentially heated square cavity at Ra 1e6, Pr 0.71 (side 1 m,
  alpha 1 m^2/s, so velocities in alpha/L) on thermosim's tanh-clustered grid (stretch
  1.2; blockMesh's uniform points are moved onto the same faces).  OpenFOAM:
  buoyantBoussinesqSimpleFoam, relaxation U 0.3, T 0.5, p_rgh 0.7, p_rgh by GAMG.
  Accuracy: the cavity-mean Nusselt number, u_max on x = 0.5 and v_max on y = 0.5 against
  de Vahl Davis (1983).

Each solver runs as a child process on one thread (OMP_NUM_THREADS, NUMBA_NUM_THREADS = 1;
OpenFOAM serial, no mpirun); CPU seconds are the child's user + sys time
(``getrusage(RUSAGE_CHILDREN)`` before and after), blockMesh included for OpenFOAM, the
Python start-up, imports and Numba cache loads included for thermosim (a small warm-up run
first fills Numba's cache, so no compile is counted).  thermosim's ``run()`` alone is
printed too (``ts run s``).  Both sides' accuracy is computed here by the same code from
their final fields.

    python benchmarks/steady_vs_openfoam.py                  # the four cases, issue 19's table
    python benchmarks/steady_vs_openfoam.py --cases cavity64,dvd48 --method march
    python benchmarks/steady_vs_openfoam.py --start multigrid,rest,coarse   # a row each

``--start``: ``multigrid`` (the default: the outer iterations in multigrid cycles over
coarser meshes, ``flow.multigrid: on``), ``rest`` (on the one mesh from rest) or ``coarse``
(on the one mesh from the coarser meshes' answer, ``flow.start: coarse``).

OpenFOAM: Debian's ``apt-get install -y --no-install-recommends openfoam`` (v1912; the
solvers land in /usr/bin and find their etc/ once /usr/share/openfoam/etc/bashrc is
sourced, which the script does).
Another install is found through its ``etc/bashrc`` (``--foam-bashrc``, or the usual
places).  Without one the OpenFOAM columns are skipped with a note.

Convergence: OpenFOAM stops when the initial residual of every equation (p or p_rgh, U, T)
is below 1e-6 (``residualControl``; ``--foam-tolerance``): this reproduces anchors.md's
iteration counts and errors exactly (1,202 iterations and 0.0178 on the 64^2 cavity, 1,344
and Nu +1.17 % on the 48^2 buoyant cavity); at 1e-4 the cavity stops after 401 iterations,
0.022 from Ghia.  thermosim stops at its own criterion (``--tolerance`` 1e-6 of its velocity
residual, as its verification suite).
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

CASES = {"cavity64": ("cavity", 64), "cavity128": ("cavity", 128),
         "dvd48": ("dvd", 48), "dvd96": ("dvd", 96)}
RE_CAVITY = 1000.0
RA_DVD = 1e6
PR_AIR = 0.71
DVD_STRETCH = 1.2           # thermosim's natural_convection default
FOAM_TOLERANCE = 1e-6       # residualControl of every equation (anchors.md's counts)
FOAM_MAX_ITERATIONS = 20000
FOAM_BASHRCS = ("/usr/share/openfoam/etc/bashrc", "/usr/lib/openfoam/openfoam1912/etc/bashrc",
                "/usr/lib/openfoam/openfoam2312/etc/bashrc", "/opt/openfoam/etc/bashrc")
ONE_THREAD = {"OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
              "MKL_NUM_THREADS": "1"}


# -- accuracy, the same code for both solvers ---------------------------------------------
def tanh_faces(n: int, stretch: float) -> np.ndarray:
    """Faces on [0, 1] m clustered to both ends, as thermosim.flow_verification.clustered."""
    s = np.linspace(0.0, 1.0, n + 1)
    if stretch > 0:
        s = 0.5 * (1.0 + np.tanh(stretch * (2 * s - 1)) / math.tanh(stretch))
    return s


def ghia_errors(yc, u_line, xc, v_line) -> dict:
    """Largest |u - Ghia| on x = 0.5 and |v - Ghia| on y = 0.5 (m/s over a 1 m/s lid), the
    lines sampled at cell centres ``yc``/``xc`` (m), walls added, cubic spline to Ghia's
    points (as thermosim.flow_verification.cavity does)."""
    from scipy.interpolate import CubicSpline

    from thermosim.flow_verification import reference_table

    tu = reference_table("ghia_1982_u_vertical_centerline.csv")
    tv = reference_table("ghia_1982_v_horizontal_centerline.csv")
    key = f"re{int(RE_CAVITY)}"
    y = np.concatenate([[0.0], yc, [1.0]])
    x = np.concatenate([[0.0], xc, [1.0]])
    su = CubicSpline(y, np.concatenate([[0.0], u_line, [1.0]]))(tu["y"])
    sv = CubicSpline(x, np.concatenate([[0.0], v_line, [0.0]]))(tv["x"])
    return {"err_u": float(np.abs(su - tu[f"u_{key}"]).max()),
            "err_v": float(np.abs(sv - tv[f"v_{key}"]).max())}


def peak(values, coords) -> float:
    """Largest sampled value refined by a parabola through the top three samples."""
    i = int(np.argmax(values))
    if 0 < i < len(values) - 1:
        c = np.polyfit(coords[i - 1:i + 2], values[i - 1:i + 2], 2)
        if c[0] < 0 and coords[i - 1] <= -c[1] / (2 * c[0]) <= coords[i + 1]:
            return float(np.polyval(c, -c[1] / (2 * c[0])))
    return float(values[i])


def dvd_errors(nu_mean, u_line, yc, v_line, xc) -> dict:
    """Relative errors (signed) of the mean Nusselt number, u_max on x = 0.5 and v_max on
    y = 0.5 against de Vahl Davis (1983), Ra 1e6."""
    from thermosim.flow_verification import reference_table

    ref = next(r for r in reference_table("de_vahl_davis_1983.csv")
               if float(r["Ra"]) == RA_DVD)
    got = {"nu_mean": nu_mean, "u_max": peak(u_line, yc), "v_max": peak(v_line, xc)}
    out = dict(got)
    for k, v in got.items():
        out[f"err_{k}"] = v / float(ref[k]) - 1.0
    return out


def mean_nusselt(x_faces, y_faces, T, flux_x) -> float:
    """Cavity-mean Nusselt number: the heat flow (W per m depth, alpha = 1, dT = 1 K) through
    every line of interior x-faces, convection ``flux_x`` T_face (m^2/s K) plus conduction,
    averaged over x weighted by the spacing of the cell centres (as
    thermosim.flow_verification.natural_convection).  ``T[i, j]``, ``flux_x[i, j]``: the
    volume flow per m depth through the face between cells i and i+1 of row j."""
    xc = 0.5 * (x_faces[1:] + x_faces[:-1])
    hy = np.diff(y_faces)[None, :]
    dxc = np.diff(xc)[:, None]
    w = ((xc[1:] - x_faces[1:-1]) / np.diff(xc))[:, None]       # linear interpolation
    Tf = w * T[:-1] + (1 - w) * T[1:]
    heat = (flux_x * Tf + (T[:-1] - T[1:]) / dxc * hy).sum(axis=1)
    widths = np.diff(xc)
    return float(np.sum(heat * widths) / np.sum(widths))


# -- OpenFOAM: case files ------------------------------------------------------------------
HEADER = """FoamFile
{{
    version     2.0;
    format      ascii;
    class       {cls};
    object      {obj};
}}
"""


def _write(case: Path, rel: str, body: str, cls: str = "dictionary") -> None:
    path = case / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER.format(cls=cls, obj=path.name) + body)


def _block_mesh(n: int, depth: float, patches: dict) -> str:
    """blockMeshDict of the unit square, n x n x 1 uniform cells, ``patches``: name ->
    (type, faces)."""
    verts = [(0, 0, 0), (1, 0, 0), (1, 1, 0), (0, 1, 0),
             (0, 0, depth), (1, 0, depth), (1, 1, depth), (0, 1, depth)]
    vtxt = "\n".join(f"    ({x} {y} {z})" for x, y, z in verts)
    btxt = "\n".join(f"    {name} {{ type {typ}; faces ({' '.join(faces)}); }}"
                     for name, (typ, faces) in patches.items())
    return (f"convertToMeters 1;\nvertices\n(\n{vtxt}\n);\n"
            f"blocks\n(\n    hex (0 1 2 3 4 5 6 7) ({n} {n} 1) simpleGrading (1 1 1)\n);\n"
            f"edges ();\nboundary\n(\n{btxt}\n);\n")


FACES = {"x-": "(0 4 7 3)", "x+": "(2 6 5 1)", "y-": "(1 5 4 0)", "y+": "(3 7 6 2)",
         "z": "(0 3 2 1) (4 5 6 7)"}


def _control(app: str) -> str:
    return (f"application {app};\nstartFrom startTime;\nstartTime 0;\nstopAt endTime;\n"
            f"endTime {FOAM_MAX_ITERATIONS};\ndeltaT 1;\nwriteControl timeStep;\n"
            f"writeInterval {FOAM_MAX_ITERATIONS};\npurgeWrite 0;\nwriteFormat ascii;\n"
            "writePrecision 12;\nwriteCompression off;\ntimeFormat general;\n"
            "timePrecision 8;\nrunTimeModifiable false;\n")


def _schemes(div: str) -> str:
    return ("ddtSchemes { default steadyState; }\ngradSchemes { default Gauss linear; }\n"
            f"divSchemes\n{{\n    default none;\n{div}"
            "    div((nuEff*dev2(T(grad(U))))) Gauss linear;\n}\n"
            "laplacianSchemes { default Gauss linear corrected; }\n"
            "interpolationSchemes { default linear; }\nsnGradSchemes { default corrected; }\n")


def _solution(p: str, others: str, simple: str, relax: str) -> str:
    return (f"solvers\n{{\n    {p}\n    {{\n        solver GAMG;\n        smoother GaussSeidel;\n"
            "        tolerance 1e-8;\n        relTol 0.05;\n    }\n"
            f"    \"({others})\"\n    {{\n        solver smoothSolver;\n"
            "        smoother symGaussSeidel;\n        tolerance 1e-8;\n        relTol 0.1;\n"
            f"    }}\n}}\nSIMPLE\n{{\n    nNonOrthogonalCorrectors 0;\n    pRefCell 0;\n"
            f"    pRefValue 0;\n{simple}}}\nrelaxationFactors\n{{\n{relax}}}\n")


def _field(dims: str, internal: str, patches: dict, cls: str) -> str:
    btxt = "\n".join(f"    {name}\n    {{\n        {spec}\n    }}"
                     for name, spec in patches.items())
    return f"dimensions {dims};\ninternalField uniform {internal};\nboundaryField\n{{\n{btxt}\n}}\n"


def write_cavity(case: Path, n: int, tolerance: float = FOAM_TOLERANCE) -> None:
    """simpleFoam lid-driven cavity, Re 1000, n^2 uniform (anchors.md's set-up)."""
    depth = 1.0 / n
    _write(case, "system/blockMeshDict", _block_mesh(n, depth, {
        "lid": ("wall", [FACES["y+"]]), "walls": ("wall", [FACES["x-"], FACES["x+"], FACES["y-"]]),
        "frontAndBack": ("empty", [FACES["z"]])}))
    _write(case, "system/controlDict", _control("simpleFoam"))
    _write(case, "system/fvSchemes", _schemes("    div(phi,U) bounded Gauss linear;\n"))
    tol = f"        p {tolerance:g};\n        U {tolerance:g};\n"
    _write(case, "system/fvSolution", _solution(
        "p", "U", f"    consistent yes;\n    residualControl\n    {{\n{tol}    }}\n",
        "    equations\n    {\n        U 0.9;\n    }\n"))
    _write(case, "constant/transportProperties",
           f"transportModel Newtonian;\nnu {1.0 / RE_CAVITY:g};\n")
    _write(case, "constant/turbulenceProperties", "simulationType laminar;\n")
    empty = "type empty;"
    _write(case, "0/U", _field("[0 1 -1 0 0 0 0]", "(0 0 0)", {
        "lid": "type fixedValue; value uniform (1 0 0);", "walls": "type noSlip;",
        "frontAndBack": empty}, "volVectorField"), "volVectorField")
    _write(case, "0/p", _field("[0 2 -2 0 0 0 0]", "0", {
        "lid": "type zeroGradient;", "walls": "type zeroGradient;", "frontAndBack": empty},
        "volScalarField"), "volScalarField")


def write_dvd(case: Path, n: int, tolerance: float = FOAM_TOLERANCE) -> None:
    """buoyantBoussinesqSimpleFoam de Vahl Davis cavity, Ra 1e6, Pr 0.71: alpha = nu/Pr = 1
    m^2/s, beta = 1/K, |g| = Ra Pr m/s^2, hot wall x = 0 at 1 K, cold x = 1 at 0 K."""
    depth = 1.0 / n
    _write(case, "system/blockMeshDict", _block_mesh(n, depth, {
        "hot": ("wall", [FACES["x-"]]), "cold": ("wall", [FACES["x+"]]),
        "adiabatic": ("wall", [FACES["y-"], FACES["y+"]]),
        "frontAndBack": ("empty", [FACES["z"]])}))
    _write(case, "system/controlDict", _control("buoyantBoussinesqSimpleFoam"))
    _write(case, "system/fvSchemes", _schemes(
        "    div(phi,U) bounded Gauss linear;\n    div(phi,T) bounded Gauss linear;\n"))
    tol = "".join(f"        {f} {tolerance:g};\n" for f in ("p_rgh", "U", "T"))
    _write(case, "system/fvSolution", _solution(
        "p_rgh", "U|T", f"    residualControl\n    {{\n{tol}    }}\n",
        "    fields\n    {\n        p_rgh 0.7;\n    }\n"
        "    equations\n    {\n        U 0.3;\n        T 0.5;\n    }\n"))
    _write(case, "constant/transportProperties",
           f"transportModel Newtonian;\nnu {PR_AIR:g};\nbeta 1;\nTRef 0.5;\nPr {PR_AIR:g};\n"
           "Prt 0.85;\n")
    _write(case, "constant/turbulenceProperties", "simulationType laminar;\n")
    _write(case, "constant/g", f"dimensions [0 1 -2 0 0 0 0];\nvalue (0 {-RA_DVD * PR_AIR:g} 0);\n",
           "uniformDimensionedVectorField")
    walls = ("hot", "cold", "adiabatic")
    empty = {"frontAndBack": "type empty;"}
    scalar = "volScalarField"

    def same(spec):
        return {**{w: spec for w in walls}, **empty}
    _write(case, "0/U", _field("[0 1 -1 0 0 0 0]", "(0 0 0)", same("type noSlip;"),
                               "volVectorField"), "volVectorField")
    _write(case, "0/T", _field("[0 0 0 1 0 0 0]", "0.5", {
        "hot": "type fixedValue; value uniform 1;", "cold": "type fixedValue; value uniform 0;",
        "adiabatic": "type zeroGradient;", **empty}, scalar), scalar)
    _write(case, "0/p_rgh", _field("[0 2 -2 0 0 0 0]", "0", same(
        "type fixedFluxPressure; rho rhok; value uniform 0;"), scalar), scalar)
    _write(case, "0/p", _field("[0 2 -2 0 0 0 0]", "0", same(
        "type calculated; value uniform 0;"), scalar), scalar)
    _write(case, "0/alphat", _field("[0 2 -1 0 0 0 0]", "0", same(
        "type calculated; value uniform 0;"), scalar), scalar)


# -- OpenFOAM: reading its ASCII files -----------------------------------------------------
def _numbers(text: str) -> np.ndarray:
    return np.array(re.sub(r"[()]", " ", text).split(), dtype=float)


def read_internal(path: Path, ncells: int, width: int) -> np.ndarray:
    """A field's internalField, shape (ncells, width) (width 1: scalar, 3: vector)."""
    text = path.read_text()
    m = re.search(r"internalField\s+nonuniform\s+List<\w+>\s*(\d+)\s*\(", text)
    if m:
        vals = _numbers(text[m.end():text.index(";", m.end())])
        return vals[:int(m.group(1)) * width].reshape(-1, width)
    m = re.search(r"internalField\s+uniform\s+([^;]+);", text)
    return np.tile(_numbers(m.group(1)), (ncells, 1))


def read_mesh_list(path: Path) -> tuple[str, np.ndarray]:
    """(the text before the list, the list's numbers) of a polyMesh file."""
    text = path.read_text()
    end_header = text.index("}", text.index("FoamFile")) + 1
    m = re.compile(r"(\d+)\s*\(").search(text, end_header)
    return text[:m.start()], _numbers(text[m.end():text.rindex(")")])


def move_points(case: Path, n: int, stretch: float) -> None:
    """Move blockMesh's uniform points (i/n in x and y) onto thermosim's tanh faces."""
    path = case / "constant/polyMesh/points"
    head, vals = read_mesh_list(path)
    pts = vals.reshape(-1, 3)
    faces = tanh_faces(n, stretch)
    for axis in (0, 1):
        pts[:, axis] = faces[np.rint(pts[:, axis] * n).astype(int)]
    body = "\n".join(f"({x:.15g} {y:.15g} {z:.15g})" for x, y, z in pts)
    path.write_text(f"{head}{len(pts)}\n(\n{body}\n)\n")


def foam_accuracy(kind: str, case: Path, time_dir: Path, n: int) -> dict:
    """The accuracy figures from OpenFOAM's last written fields (cells numbered x fastest)."""
    faces = tanh_faces(n, DVD_STRETCH if kind == "dvd" else 0.0)
    centres = 0.5 * (faces[1:] + faces[:-1])
    U = read_internal(time_dir / "U", n * n, 3).reshape(n, n, 3)        # [j, i, component]
    h = n // 2      # x = 0.5 and y = 0.5 lie midway between cells h-1 and h (symmetric grids)
    u_line = 0.5 * (U[:, h - 1, 0] + U[:, h, 0])
    v_line = 0.5 * (U[h - 1, :, 1] + U[h, :, 1])
    if kind == "cavity":
        return ghia_errors(centres, u_line, centres, v_line)
    T = read_internal(time_dir / "T", n * n, 1).reshape(n, n).T         # [i, j]
    phi = read_internal(time_dir / "phi", 0, 1)[:, 0]
    owner = read_mesh_list(case / "constant/polyMesh/owner")[1].astype(int)
    neighbour = read_mesh_list(case / "constant/polyMesh/neighbour")[1].astype(int)
    owner = owner[:neighbour.size]
    xface = neighbour - owner == 1
    flux = np.zeros((n - 1, n))
    o = owner[xface]
    flux[o % n, o // n] = phi[:neighbour.size][xface] / (1.0 / n)     # per m of depth
    return dvd_errors(mean_nusselt(faces, faces, T, flux), u_line, centres, v_line, centres)


# -- running children, CPU time ------------------------------------------------------------
def timed(cmd: list[str], cwd, env: dict, log: Path | None = None) -> tuple[float, int, str]:
    """Run ``cmd`` to its end; (user + sys CPU s of the child, exit status, its output)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, check=False,
                       stderr=subprocess.STDOUT, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if log is not None:
        log.write_text(p.stdout)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, p.returncode, p.stdout


def foam_environment(bashrc: str | None) -> dict | None:
    """The environment to run OpenFOAM in: as is when it has been sourced, else after
    sourcing an ``etc/bashrc`` (``bashrc``, or the usual places); None when there is no
    OpenFOAM."""
    env = {**os.environ, **ONE_THREAD}
    if bashrc is None and "WM_PROJECT_DIR" in env and \
            shutil.which("simpleFoam", path=env.get("PATH")):
        return env      # already sourced
    # Debian's solvers are on PATH but find their etc/controlDict only once it is sourced
    for rc in ([bashrc] if bashrc else FOAM_BASHRCS):
        if not Path(rc).is_file():
            continue
        out = subprocess.run(["bash", "-c", f". '{rc}' >/dev/null 2>&1; env -0"],
                             capture_output=True, env=env, check=False).stdout.decode()
        sourced = dict(kv.split("=", 1) for kv in out.split("\0") if "=" in kv)
        if shutil.which("simpleFoam", path=sourced.get("PATH")):
            return {**sourced, **ONE_THREAD}
    return None


def run_openfoam(kind: str, n: int, env: dict, keep: bool,
                 tolerance: float = FOAM_TOLERANCE) -> dict:
    """Write, mesh and solve one case in a temporary folder; iterations, CPU s, accuracy."""
    case = Path(tempfile.mkdtemp(prefix=f"foam_{kind}{n}_"))
    (write_cavity if kind == "cavity" else write_dvd)(case, n, tolerance)
    cpu_mesh, rc, out = timed(["blockMesh"], case, env, case / "log.blockMesh")
    if rc != 0:
        raise RuntimeError(f"blockMesh failed in {case}:\n{out[-2000:]}")
    if kind == "dvd":
        move_points(case, n, DVD_STRETCH)
    app = "simpleFoam" if kind == "cavity" else "buoyantBoussinesqSimpleFoam"
    cpu, rc, out = timed([app], case, env, case / f"log.{app}")
    if rc != 0:
        raise RuntimeError(f"{app} failed in {case}:\n{out[-2000:]}")
    m = re.search(r"SIMPLE solution converged in (\d+) iterations", out)
    times = [int(t) for t in re.findall(r"^Time = (\d+)\s*$", out, re.MULTILINE)]
    last = max(int(p.name) for p in case.iterdir() if p.name.isdigit())
    build = re.search(r"^Build\s*:\s*(.+)$", out, re.MULTILINE)
    res = {"iterations": int(m.group(1)) if m else (times[-1] if times else last),
           "converged": bool(m), "cpu": cpu + cpu_mesh, "cpu_mesh": cpu_mesh,
           "build": build.group(1).strip() if build else "?",
           **foam_accuracy(kind, case, case / str(last), n)}
    if keep:
        res["folder"] = str(case)
    else:
        shutil.rmtree(case, ignore_errors=True)
    return res


# -- thermosim (in a child process: this file with --child) --------------------------------
def thermosim_problem(kind: str, n: int):
    """The same problems as thermosim.flow_verification.cavity / natural_convection."""
    from thermosim.flow import FlowBoundary, FlowProblem, Fluid
    from thermosim.flow_verification import SLIP_Z, natural_convection_case
    from thermosim.grid import Grid

    if kind == "dvd":
        return natural_convection_case(RA_DVD, n, DVD_STRETCH)
    f = tanh_faces(n, 0.0)
    g = Grid(f, f, np.array([0.0, 1.0 / n]))
    fluid = Fluid("cavity", 1.0, 1.0 / RE_CAVITY, 1.0 / RE_CAVITY, 1.0)
    bc = {"y+": FlowBoundary("wall", velocity=(1.0, 0.0, 0.0)), **SLIP_Z}
    return FlowProblem(g, fluid, bc, name=f"cavity Re {RE_CAVITY:g}")


def thermosim_child(kind: str, n: int, method: str, tolerance: float,
                    advection: str | None, max_steps: int, start: str = "rest") -> dict:
    """Solve one case (``start``: ``multigrid`` cycles, or on the one mesh from ``rest``
    or from the answer on coarser meshes, ``coarse``); the figures as a dict (printed as
    JSON by --child)."""
    import time

    from thermosim.flow import FlowSolver

    extra = {} if advection is None else {"advection": advection}
    s = FlowSolver(thermosim_problem(kind, n), "cpu", np.float64, **extra)
    run_args = {"tolerance": tolerance, "max_steps": max_steps}
    if method != "march":           # "march": the run as it is today, whatever its default
        if "method" not in inspect.signature(s.run).parameters:
            sys.exit(f"thermosim: error: --method {method}: this thermosim's FlowSolver.run "
                     "takes no method (use --method march)")
        run_args["method"] = method
    if start == "coarse":
        run_args["sequence"] = True
    if method != "march" and "multigrid" in inspect.signature(s.run).parameters:
        run_args["multigrid"] = start == "multigrid"
    t0 = time.process_time()
    try:
        r = s.run(**run_args)
    except Exception as e:          # NotSteady carries the last iteration's result
        if getattr(e, "result", None) is None:
            raise
        r = e.result
    out = {"steps": r.stats.steps, "converged": bool(r.stats.converged),
           "cpu_run": time.process_time() - t0,
           "cycles": int(getattr(r.stats, "cycles", 0)),
           "coarse": [list(c) for c in getattr(r.stats, "coarse", [])]}
    # the lines and the wall heat flux go back raw: the parent compares them with the
    # tables, as it does OpenFOAM's fields, so neither child pays for scipy's spline
    g = r.grid
    out["xc"], out["yc"] = g.centres(0).tolist(), g.centres(1).tolist()
    out["u_line"], out["v_line"] = r.u[n // 2, :, 0].tolist(), r.v[:, n // 2, 0].tolist()
    if kind == "dvd":
        flux = r.u[1:-1, :, 0] * np.diff(g.y)[None, :]
        out["nu"] = mean_nusselt(np.asarray(g.x), np.asarray(g.y), r.T[:, :, 0], flux)
    return out


def thermosim_accuracy(kind: str, raw: dict) -> dict:
    """The child's figures with its accuracy against the published tables."""
    keys = ("xc", "yc", "u_line", "v_line", "nu")
    out = {k: v for k, v in raw.items() if k not in keys}
    xc, yc = np.asarray(raw["xc"]), np.asarray(raw["yc"])
    u, v = np.asarray(raw["u_line"]), np.asarray(raw["v_line"])
    if kind == "cavity":
        return {**out, **ghia_errors(yc, u, xc, v)}
    return {**out, **dvd_errors(raw["nu"], u, yc, v, xc)}


def run_thermosim(kind: str, n: int, a, start: str = "multigrid") -> dict:
    """This script as a child on one thread; its CPU s as OpenFOAM's are measured."""
    env = {**os.environ, **ONE_THREAD}
    cmd = [sys.executable, __file__, "--child", f"{kind}:{n}", "--method", a.method,
           "--tolerance", str(a.tolerance), "--max-steps", str(a.max_steps),
           "--start", start]
    if a.advection:
        cmd += ["--advection", a.advection]
    cpu, rc, out = timed(cmd, None, env)
    if rc != 0:
        raise RuntimeError(f"thermosim child failed:\n{out[-3000:]}")
    return {**thermosim_accuracy(kind, json.loads(out.strip().splitlines()[-1])), "cpu": cpu}


# -- the table -----------------------------------------------------------------------------
def accuracy_text(kind: str, r: dict) -> str:
    if kind == "cavity":
        return f"u {r['err_u']:.4f} v {r['err_v']:.4f}"
    return (f"Nu {100 * r['err_nu_mean']:+.2f}% umax {100 * r['err_u_max']:+.2f}% "
            f"vmax {100 * r['err_v_max']:+.2f}%")


def row(name: str, kind: str, n: int, foam: dict | None, ts: dict | None) -> str:
    """One table row; a solver not run (None) gets dashes."""
    def its(r, key):
        cycles = f" in {r['cycles']:,} cycles" if r.get("cycles") else ""
        return f"{r[key]:,}{cycles}" + ("" if r["converged"] else " (not converged)")
    cells = [name, f"{n}^2"]
    cells += ["-"] * 3 if foam is None else [its(foam, "iterations"), f"{foam['cpu']:.1f}",
                                             accuracy_text(kind, foam)]
    cells += ["-"] * 4 if ts is None else [its(ts, "steps"), f"{ts['cpu']:.1f}",
                                           f"{ts['cpu_run']:.1f}", accuracy_text(kind, ts)]
    cells += ["-"] * 2 if foam is None or ts is None else [
        f"{foam['cpu'] / ts['cpu']:.2f}", f"{foam['cpu'] / ts['cpu_run']:.2f}"]
    return "| " + " | ".join(cells) + " |"


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", default=",".join(CASES),
                   help=f"comma-separated, from {','.join(CASES)}")
    p.add_argument("--method", default="simplec",
                   help="thermosim's FlowSolver.run method (march: today's run, no method=)")
    p.add_argument("--skip-openfoam", action="store_true")
    p.add_argument("--skip-thermosim", action="store_true")
    p.add_argument("--foam-bashrc", default=None, help="OpenFOAM's etc/bashrc to source")
    p.add_argument("--keep", action="store_true", help="keep the OpenFOAM case folders")
    p.add_argument("--tolerance", type=float, default=1e-6, help="thermosim's tolerance")
    p.add_argument("--foam-tolerance", type=float, default=FOAM_TOLERANCE,
                   help="OpenFOAM's residualControl, every equation")
    p.add_argument("--max-steps", type=int, default=1_000_000)
    p.add_argument("--advection", default=None, help="thermosim's momentum advection")
    p.add_argument("--start", default="multigrid",
                   help="thermosim's multigrid (cycles), rest or coarse (one mesh, "
                        "flow.start), or several: multigrid,rest (a row each; OpenFOAM "
                        "run once)")
    p.add_argument("--json", default=None, help="also write the figures to this file")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        kind, n = a.child.split(":")
        print(json.dumps(thermosim_child(kind, int(n), a.method, a.tolerance, a.advection,
                                         a.max_steps, a.start)))
        return
    names = [c.strip() for c in a.cases.split(",") if c.strip()]
    unknown = [c for c in names if c not in CASES]
    if unknown:
        p.error(f"unknown case(s) {', '.join(unknown)}; choose from {', '.join(CASES)}")
    env = None if a.skip_openfoam else foam_environment(a.foam_bashrc)
    if env is None and not a.skip_openfoam:
        print("OpenFOAM not found (apt-get install -y openfoam, or --foam-bashrc): its "
              "columns are skipped")
    if not a.skip_thermosim:
        # fill Numba's on-disk cache so that no compile lands in a timed run
        saved = (a.max_steps, a.tolerance)
        a.max_steps, a.tolerance = 20, 1e-6
        warm = run_thermosim("cavity", 8, a)
        a.max_steps, a.tolerance = saved
        print(f"thermosim warm-up (cavity 8^2, 20 iterations, Numba cache): "
              f"{warm['cpu']:.1f} s CPU")
    print("| case | grid | OpenFOAM iterations | OpenFOAM CPU s | OpenFOAM accuracy | "
          f"thermosim ({a.method}) iterations | thermosim CPU s | ts run s | "
          "thermosim accuracy | CPU ratio OF/ts | OF / ts run |")
    print("| --- | --- | ---: | ---: | --- | ---: | ---: | ---: | --- | ---: | ---: |",
          flush=True)
    figures = {}
    for name in names:
        kind, n = CASES[name]
        foam = run_openfoam(kind, n, env, a.keep, a.foam_tolerance) if env is not None \
            else None
        starts = [x.strip() for x in a.start.split(",") if x.strip()] or ["multigrid"]
        for start in starts:
            ts = run_thermosim(kind, n, a, start) if not a.skip_thermosim else None
            key = name if start == "multigrid" else f"{name} (one mesh, from {start})"
            figures[key] = {"openfoam": foam, "thermosim": ts}
            print(row(key, kind, n, foam, ts), flush=True)
    if env is not None and figures:
        build = next((f["openfoam"]["build"] for f in figures.values() if f["openfoam"]), "")
        print(f"OpenFOAM build: {build}; residualControl {a.foam_tolerance:g} on every "
              "equation")
    print("accuracy: cavity max |u - Ghia| on x = 0.5, |v - Ghia| on y = 0.5 (of the lid "
          "speed); buoyant cavity: Nu (cavity mean), u_max, v_max against de Vahl Davis")
    print("CPU s: user + sys of the whole child process (OpenFOAM: blockMesh + solver; "
          "thermosim: Python, imports, cached Numba kernels and the run); ts run s: the "
          "thermosim run() call alone")
    if a.json:
        Path(a.json).write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
