"""Verification suite: analytic solutions, a manufactured solution with convergence order,
and the global energy balance.  ``thermosim validate --suite conduction`` prints these rows;
pytest runs the same functions (``quick=True`` uses smaller grids).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import erf

from .case import Case
from .conduction import build_model, linear_system
from .conduction_run import solve_system
from .runner import solve
from .verification_rows import Row, table_row

T_REF = 300.0   # K: analytic profiles are offsets from a positive kelvin temperature


def _slab_error(n, backend):
    L, k, q = 0.01, 20.0, 1.0e7
    case = Case.from_dict(dict(
        name="slab", domain=dict(max=[L, 1e-3, 1e-3], background="wall"),
        materials=dict(wall=dict(k=k, rho=7800, cp=450)), grid=dict(cells=[n, 1, 1]),
        blocks=[dict(name="wall", material="wall", min=[0, 0, 0], max=[L, 1e-3, 1e-3],
                     power=q * L * 1e-6)],
        boundaries={"x-": dict(type="temperature", T=T_REF),
                    "x+": dict(type="temperature", T=T_REF)},
        solver=dict(tolerance=1e-12)))
    r = solve(case, backend)
    ref = T_REF + q * L ** 2 / (8 * k)
    return ref, r.max_temperature


def slab_uniform_generation(backend="cpu", quick=False):
    """Plane wall of thickness L with uniform generation and both faces at T_s:
    T_max = T_s + q L^2 / (8 k) (Incropera, Eq. 3.42).  Odd cell counts put a cell
    centre on the mid-plane; the cell-centred Dirichlet face is second-order accurate."""
    ns = (21, 41) if quick else (41, 81)
    (ref, t0), (_, t1) = (_slab_error(n, backend) for n in ns)
    e0, e1 = (abs(t - ref) / (ref - T_REF) for t in (t0, t1))
    src = "Incropera Eq. 3.42"
    return [table_row("slab with uniform generation", f"T_max (K), {ns[1]} cells", ref, t1, 1e-3,
                      src, error=e1),
            table_row("slab with uniform generation", f"observed order {ns[0]}->{ns[1]}", 2.0,
                      math.log(e0 / e1) / math.log(ns[1] / ns[0]), 0.2, src, relative=False)]


def composite_wall(backend="cpu", quick=False):
    """Copper / TIM / aluminium wall between two convective streams: the heat flux is the
    temperature difference over the series resistance (Incropera, Eq. 3.19)."""
    layers = [("copper", 0.005, 401.0), ("tim", 1e-4, 5.0), ("aluminium", 0.003, 237.0)]
    h1, T1, h2, T2 = 5000.0, 360.0, 1000.0, 300.0
    W = 0.01
    blocks, x = [], 0.0
    for name, t, _ in layers:
        blocks.append(dict(name=name, material=name, min=[x, 0, 0], max=[x + t, W, W]))
        x += t
    n = 4 if quick else 8
    case = Case.from_dict(dict(
        name="composite", domain=dict(max=[x, W, W], background="void"),
        grid=dict(max_cell=[layers[1][1] if quick else 5e-4, W, W], growth=1.5,
                  min_cells_per_layer=n),
        blocks=blocks,
        boundaries={"x-": dict(type="convective", h=h1, T_ambient=T1),
                    "x+": dict(type="convective", h=h2, T_ambient=T2)},
        solver=dict(tolerance=1e-12)))
    r = solve(case, backend)
    R = 1 / h1 + sum(t / k for _, t, k in layers) + 1 / h2
    q_ref = (T1 - T2) / R
    q_out = r.heat_flows["x+ (convective)"] / W ** 2
    # temperature at the TIM mid-plane, from the resistances up to it
    xm = layers[0][1] + 0.5 * layers[1][1]
    T_mid = T1 - q_ref * (1 / h1 + layers[0][1] / 401.0 + 0.5 * layers[1][1] / 5.0)
    i = r.grid.locate([xm, W / 2, W / 2])
    # exact for a piecewise-linear profile: evaluate the analytic line at the cell centre
    xc = r.grid.centres(0)[i[0]]
    T_cell_ref = T_mid - q_ref * (xc - xm) / 5.0
    return [
        table_row("composite wall, convective faces", "heat flux (W/m^2)", q_ref, q_out, 1e-9,
                  "Incropera Eq. 3.19"),
        table_row("composite wall, convective faces", "T in TIM layer (K)", T_cell_ref,
                  r.T[i], 1e-9, "Incropera Eq. 3.19", relative=False,
                  error=abs(r.T[i] - T_cell_ref) / (T1 - T2)),
    ]


def _semi_infinite_error(n, method, backend, end_time=100.0):
    L, k, rhoc = 0.1, 1.0, 1.0e6             # alpha = 1e-6 m^2/s: sqrt(alpha t) = 1 cm
    Ti, Ts = T_REF, T_REF + 100.0
    dt = "auto" if method == "explicit" else 200.0 / n
    case = Case.from_dict(dict(
        name="semi-infinite", domain=dict(max=[L, 1e-3, 1e-3], background="m"),
        materials=dict(m=dict(k=k, rho=rhoc, cp=1.0)), grid=dict(cells=[n, 1, 1]),
        boundaries={"x-": dict(type="temperature", T=Ts)},
        initial_temperature=Ti,
        solver=dict(mode="transient", tolerance=1e-12,
                    transient=dict(method=method, end_time=end_time, dt=dt))))
    r = solve(case, backend)
    xc = r.grid.centres(0)
    exact = Ts + (Ti - Ts) * erf(xc / (2 * math.sqrt(k / rhoc * end_time)))
    return float(np.max(np.abs(r.T[:, 0, 0] - exact)) / (Ts - Ti))


def semi_infinite_solid(backend="cpu", quick=False):
    """Sudden surface temperature on a semi-infinite solid:
    (T - T_s)/(T_i - T_s) = erf(x / (2 sqrt(alpha t)))  (Incropera, Eq. 5.57)."""
    rows = []
    for method in ("explicit", "crank_nicolson"):
        ns = (50, 100) if quick else (100, 200)
        e = [_semi_infinite_error(n, method, backend) for n in ns]
        order = math.log2(e[0] / e[1])
        rows.append(table_row(f"semi-infinite solid, erf ({method})", "max error / dT",
                              0.0, e[1], 2e-3, "Incropera Eq. 5.57", relative=False, error=e[1]))
        rows.append(table_row(f"semi-infinite solid, erf ({method})", "observed order",
                              2.0, order, 0.2, "second order in space (dt ~ h or h^2)",
                              relative=False))
    return rows


# ---------------------------------------------------------------------------------------
MMS_K = {"left": (1.0, 1.0, 1.0), "right": (10.0, 5.0, 2.0)}   # W/(m K); jump at x = 0.5
MMS_AMPLITUDE = 50.0


def _stretched(n, kind):
    s = np.linspace(0.0, 1.0, n + 1)
    if kind == "sine":                       # symmetric about 0.5, keeps x = 0.5 a face
        return s - 0.15 * np.sin(2 * np.pi * s) / np.pi
    beta = 1.0 if kind == "exp" else -1.0
    return np.expm1(beta * s) / np.expm1(beta)


def _mms_fields(x, y, z, kx, ky, kz):
    phi = np.sin(2 * np.pi * x)
    Y, Z = np.sin(np.pi * y), np.cos(np.pi * z / 2)
    T = T_REF + MMS_AMPLITUDE * phi / kx * Y * Z
    q = MMS_AMPLITUDE * phi * Y * Z * (4 * np.pi ** 2 + ky / kx * np.pi ** 2
                                       + kz / kx * np.pi ** 2 / 4)
    return T, q


def manufactured_error(n, backend="cpu", precision="float64"):
    """Error of the 3D manufactured solution T = T0 + A sin(2 pi x)/k_x(x) sin(pi y)
    cos(pi z / 2) on a stretched grid, with an orthotropic conductivity jump at x = 0.5."""
    faces = {"x": _stretched(n, "sine").tolist(), "y": _stretched(n, "exp").tolist(),
             "z": _stretched(n, "exp_r").tolist()}
    case = Case.from_dict(dict(
        name="manufactured", domain=dict(max=[1, 1, 1], background="left"),
        materials=dict(left=dict(k=list(MMS_K["left"]), rho=1, cp=1),
                       right=dict(k=list(MMS_K["right"]), rho=1, cp=1)),
        grid=dict(faces=faces),
        blocks=[dict(name="right", material="right", min=[0.5, 0, 0], max=[1, 1, 1])],
        boundaries={f: dict(type="temperature", T=T_REF) for f in ("x-", "x+", "y-", "y+",
                                                                    "z+")},
        solver=dict(tolerance=1e-11 if precision == "float64" else 1e-6,
                    precision=precision)))
    model = build_model(case)
    g = model.grid
    X, Y, Z = np.meshgrid(g.centres(0), g.centres(1), g.centres(2), indexing="ij")
    right = X > 0.5
    k = [np.where(right, MMS_K["right"][a], MMS_K["left"][a]) for a in range(3)]
    T_exact, q = _mms_fields(X, Y, Z, *k)
    system = linear_system(model)
    system.b = system.b + q * g.cell_volumes()
    from .backends import get_backend
    be = get_backend(backend) if isinstance(backend, str) else backend
    T, st, _ = solve_system(model, system, be,
                            np.float32 if precision == "float32" else np.float64,
                            case.solver.tolerance, 200)
    vol = g.cell_volumes()
    err = np.sqrt(np.sum(vol * (T - T_exact) ** 2) / vol.sum()) / MMS_AMPLITUDE
    return float(err), st.iterations


def manufactured_solution(backend="cpu", quick=False):
    ns = (8, 16, 32) if quick else (12, 24, 48)
    errs = [manufactured_error(n, backend)[0] for n in ns]
    order = math.log2(errs[-2] / errs[-1])
    src = "manufactured solution, stretched grid, orthotropic k jump 1 -> (10, 5, 2)"
    return [
        table_row("3D manufactured solution", f"L2 error / A at {ns[-1]}^3", 0.0, errs[-1],
                  2e-3, src, relative=False, error=errs[-1]),
        table_row("3D manufactured solution", f"observed order {ns[-2]}->{ns[-1]}", 2.0, order,
                  0.1, src + "; must be >= 1.9", relative=False, error=max(0.0, 2.0 - order)),
    ]


# ---------------------------------------------------------------------------------------
def energy_balance(backend="cpu", quick=False):
    """Heat leaving through all boundaries equals the power put in (float64)."""
    from .cases import gpu_package

    case = gpu_package(coarse=quick)
    case.solver.tolerance = 1e-10
    r = solve(case, backend)
    out = sum(r.heat_flows.values())
    return [table_row("GPU package: global energy balance", "heat out (W)", r.model.total_power,
                      out, 1e-6, "conservation of energy")]


def contrast_iterations(backend="cpu", quick=False):
    """Multigrid-preconditioned CG on copper in still air (conductivity contrast ~1.5e4):
    refining the grid twice must not grow the iteration count by more than half."""
    its = []
    for n in ((16, 32) if quick else (24, 48)):
        case = Case.from_dict(dict(
            name="contrast", domain=dict(max=[0.1, 0.1, 0.1], background="air"),
            grid=dict(cells=[n, n, n]),
            blocks=[dict(name="cu", material="copper", min=[0.025, 0.025, 0.025],
                         max=[0.075, 0.075, 0.0625], power=10.0)],
            boundaries={"z-": dict(type="temperature", T=T_REF),
                        "z+": dict(type="convective", h=10.0, T_ambient=T_REF)},
            solver=dict(tolerance=1e-8)))
        its.append(solve(case, backend).stats["iterations"])
    return [table_row("copper block in air (k ratio 1.5e4)", f"CG iterations {its[0]} -> {its[1]}",
                      1.0, its[1] / its[0], 0.5, "grid-independent multigrid", relative=False,
                      error=max(0.0, its[1] / its[0] - 1.0))]


SUITES = {
    "conduction": [slab_uniform_generation, composite_wall, semi_infinite_solid,
                   manufactured_solution, energy_balance, contrast_iterations],
}


def suite_cases(name: str) -> list:
    """The case functions of a suite (``conduction`` or ``flow``)."""
    if name == "flow":
        from .flow_verification import CASES

        return CASES
    return SUITES[name]


def run_suite(name="conduction", backend="cpu", quick=False, on_row=None,
              only=None) -> list[Row]:
    """Every case of a suite, or those named in ``only`` (function names, in that order)."""
    fns = suite_cases(name)
    if only:
        by_name = {fn.__name__: fn for fn in fns}
        unknown = [n for n in only if n not in by_name]
        if unknown:
            raise KeyError(f"no case {unknown[0]!r} in suite {name!r}; "
                           f"cases: {', '.join(by_name)}")
        fns = [by_name[n] for n in only]
    rows = []
    for fn in fns:
        for row in fn(backend=backend, quick=quick):
            rows.append(row)
            if on_row:
                on_row(row)
    return rows
