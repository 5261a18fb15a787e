"""Steady conduction, thermosim beside FiPy on the same machine in the same run.

Case (anchors.md): unit cube, unit volumetric source, k = 1, T = 0 on x = 0 and x = 1,
adiabatic elsewhere; exact maximum 0.125.  Both solvers stop at a relative residual of
1e-8 (each by its own norm).  thermosim's first solve in a fresh process includes loading
(or, the very first time, compiling) its Numba kernels; that time is printed separately.

    python benchmarks/steady_vs_fipy.py --sizes 48 64 128

FiPy is optional (``pip install fipy``); without it only thermosim is timed.
"""

from __future__ import annotations

import argparse
import importlib.util
import time

import numpy as np


def thermosim_case(n):
    import thermosim as ts

    # kelvin must be positive: the walls sit at 300 K, the rise is what is compared
    return ts.Case(
        name="cube", domain=ts.Domain(max=(1, 1, 1), background="u"),
        materials={"u": ts.MaterialSpec(k=1.0, rho=1.0, cp=1.0)},
        grid=ts.GridSpec(cells=(n, n, n)),
        blocks=[ts.Block(name="all", material="u", min=(0, 0, 0), max=(1, 1, 1), power=1.0)],
        boundaries={"x-": ts.Temperature(T=300.0), "x+": ts.Temperature(T=300.0)},
        initial_temperature=300.0)


def run_thermosim(n, backend):
    import thermosim as ts

    t0 = time.perf_counter()
    r = ts.solve(thermosim_case(n), backend)
    wall = time.perf_counter() - t0
    return wall, r.max_temperature - 300.0, r.stats


def run_fipy(n):
    import fipy as fp

    mesh = fp.Grid3D(nx=n, ny=n, nz=n, dx=1.0 / n, dy=1.0 / n, dz=1.0 / n)
    T = fp.CellVariable(mesh=mesh, value=0.0)
    T.constrain(0.0, mesh.facesLeft)
    T.constrain(0.0, mesh.facesRight)
    eq = fp.DiffusionTerm(coeff=1.0) + 1.0 == 0
    solver = fp.LinearPCGSolver(tolerance=1e-8, iterations=5000)
    t0 = time.perf_counter()
    eq.solve(var=T, solver=solver)
    return time.perf_counter() - t0, float(np.max(T.value))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[48, 64, 128])
    p.add_argument("--backend", default="cpu")
    a = p.parse_args()

    t0 = time.perf_counter()
    run_thermosim(8, a.backend)
    print(f"thermosim kernel load/compile (first solve, 8^3): {time.perf_counter() - t0:.2f} s")
    have_fipy = importlib.util.find_spec("fipy") is not None
    if not have_fipy:
        print("FiPy not installed: pip install fipy to time it in the same run")
    print(f"{'N':>5} {'thermosim s':>12} {'(set-up':>8} {'solve)':>7} {'iters':>6} "
          f"{'T_max':>9} {'FiPy PCG s':>11} {'T_max':>9} {'speed-up':>9}")
    for n in a.sizes:
        wall, tmax, st = run_thermosim(n, a.backend)
        line = (f"{n:>5} {wall:>12.3f} {st['setup_time']:>8.3f} {st['solve_time']:>7.3f} "
                f"{st['iterations']:>6d} {tmax:>9.6f}")
        if have_fipy:
            tf, fmax = run_fipy(n)
            line += f" {tf:>11.3f} {fmax:>9.6f} {tf / wall:>8.1f}x"
        print(line, flush=True)
    print("published (anchors.md, same 2-core machine kind): FiPy PCG 128^3 17.1 s, "
          "OpenFOAM laplacianFoam GAMG 128^3 18.4 s")


if __name__ == "__main__":
    main()
