"""What a hall's outer iteration costs per cell against a laminar flow's (issue 19, item 5:
at most twice), on one backend, in one run.

    python benchmarks/iteration_cost.py [--backend cpu|gpu] [--cell 0.2] [--iterations 100]

Three flows of about the same cell count, each run for ``--iterations`` outer iterations
of the steady solver (one mesh, after ten to warm the kernels and caches): the air-cooled
hall of ``--cell`` metres (LVEL turbulence with wall functions, porous servers, fan curves,
coolers, chips), the same hall without its turbulence model, and a laminar lid-driven
cavity (Re 1000) on a uniform box of the hall's cell count.  Prints the time an iteration
and a cell-iteration of each and the ratios to the cavity's; ``--json`` writes them.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def hall(cell: float, turbulence: str):
    from thermosim.case import Case
    from thermosim.flow import problem_from_case
    from thermosim.layouts import air_cooled

    d = air_cooled(racks_per_row=2, cell=cell, turbulence=turbulence, unsteady="stop")
    return problem_from_case(Case.from_dict(d))


def cavity(cells: int):
    """A lid-driven cavity (Re 1000) of about ``cells`` cells, nx = ny = 2 nz."""
    from thermosim.flow import FlowBoundary, FlowProblem, Fluid
    from thermosim.grid import Grid

    nz = max(2, round((cells / 4) ** (1 / 3)))
    n = (2 * nz, 2 * nz, nz)
    g = Grid(*(np.linspace(0.0, s / n[0], s + 1) for s in n))
    fluid = Fluid("cavity", 1.0, 1e-3, 1e-3, 1.0)
    return FlowProblem(g, fluid, {"y+": FlowBoundary("wall", velocity=(1.0, 0.0, 0.0))},
                       name="lid-driven cavity Re 1000")


def per_iteration(problem, backend: str, precision: str, iterations: int) -> dict:
    """Seconds an outer iteration (the mean of ``iterations`` after 10 to warm up)."""
    from thermosim.backends import get_backend
    from thermosim.flow import FlowSolver
    from thermosim.unconverged import NotSteady

    be = get_backend(backend)
    s = FlowSolver(problem, be, np.float32 if precision == "float32" else np.float64)

    def run(n):
        try:
            s.run(tolerance=1e-30, max_steps=s.stats.steps + n, method="simplec",
                  multigrid=False)
        except NotSteady:
            pass
    run(10)
    be.synchronize()
    done = s.stats.steps
    t0 = time.perf_counter()
    run(iterations)
    be.synchronize()
    wall = time.perf_counter() - t0
    n = s.stats.steps - done
    cells = int(problem.grid.ncells)
    return {"cells": cells, "iterations": n, "s_per_iteration": wall / n,
            "s_per_cell_iteration": wall / n / cells, "device": be.device_name}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--backend", default="cpu")
    ap.add_argument("--precision", default="float64")
    ap.add_argument("--cell", type=float, default=0.2, help="the hall's cell size (m)")
    ap.add_argument("--iterations", type=int, default=100)
    ap.add_argument("--json")
    a = ap.parse_args(argv)
    lvel = hall(a.cell, "lvel")
    flows = [("air hall, LVEL", lvel), ("air hall, no turbulence model", hall(a.cell, "none")),
             ("laminar cavity", cavity(lvel.grid.ncells))]
    rows = {name: per_iteration(p, a.backend, a.precision, a.iterations) for name, p in flows}
    base = rows["laminar cavity"]["s_per_cell_iteration"]
    print(f"device: {rows['laminar cavity']['device']}, {a.precision}, hall cells of {a.cell} m")
    print("| flow | cells | ms an iteration | ns a cell-iteration | / laminar |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, r in rows.items():
        r["over_laminar"] = r["s_per_cell_iteration"] / base
        print(f"| {name} | {r['cells']:,} | {r['s_per_iteration'] * 1e3:.2f} | "
              f"{r['s_per_cell_iteration'] * 1e9:.0f} | {r['over_laminar']:.2f} |")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
