"""The two-rank proof for the flow solver, run under MPI:

    mpiexec -n 2 python -m thermosim.parallel.flow_check [--steps N]

Each case is run twice on every rank: on one process (the serial architecture) and split
into slabs along x over the ranks of ``MPI_COMM_WORLD`` (:class:`Distributed`), with the
same explicit steps, each chosen by the solver's own stable step (global reductions).  The
gathered fields (face velocities, temperature and pressure, halos included) must equal the
single process's to 1e-12 relative (float64), with the same steps, simulated time and
pressure iterations; a steady march must stop at the same step.  Cases: a lid-driven
cavity (walls on the split axis), a buoyant cavity (fixed-temperature walls across it), a
3D channel periodic along the split axis (the wrap crosses from the last rank to the first)
and along z with a heated copper block, buoyancy and a body force, and a 3D channel with an
inflow and an outflow on the split axis's faces around a heated block.

Rank 0 prints a table and one JSON line; the exit status is 1 if any check failed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from ..grid import Grid
from .architecture import SERIAL, Distributed

TOLERANCE = 1e-12


def cases():
    """(name, problem) of the flows the check runs."""
    from .. import flow_verification as fv
    from ..flow import FlowBoundary, FlowProblem, Fluid, SolidBlock

    f = fv.clustered(16, 1.0)
    cavity = FlowProblem(Grid(f, f, np.array([0.0, 1.0 / 16])),
                         Fluid("cavity", 1.0, 0.01, 0.01, 1.0),
                         {"y+": FlowBoundary("wall", velocity=(1.0, 0, 0)), **fv.SLIP_Z},
                         name="lid-driven cavity Re 100")
    water = Fluid("water-like", 1000.0, 1e-3, 0.6, 4180.0, 2e-4)
    block = SolidBlock("chip", (0.012, 0.0, 0.0), (0.022, 0.004, 0.005), 400.0, 8900.0,
                       385.0, power=5.0)
    periodic = FlowProblem(
        Grid(np.linspace(0.0, 0.04, 17), fv.clustered(8, 0.5, 0.01),
             np.linspace(0.0, 0.01, 5)), water,
        {"x-": FlowBoundary("periodic"), "x+": FlowBoundary("periodic"),
         "z-": FlowBoundary("periodic"), "z+": FlowBoundary("periodic")},
        blocks=[block], gravity=(0.0, -9.81, 0.0), body_force=(0.05, 0.0, 0.01),
        reference_temperature=300.0, name="periodic channel")
    channel = FlowProblem(
        Grid(np.linspace(0.0, 0.04, 17), np.linspace(0.0, 0.01, 5), fv.clustered(4, 0.5, 0.01)),
        water,
        {"x-": FlowBoundary("inflow", velocity=(0.05, 0, 0), temperature=300.0,
                            profile="parabolic"),
         "x+": FlowBoundary("outflow"),
         "z+": FlowBoundary("wall", velocity=(0.01, 0.0, 0.0), temperature=310.0),
         "y+": FlowBoundary("slip", heat_flux=1000.0)},
        blocks=[block], gravity=(0.0, 0.0, -9.81), reference_temperature=300.0,
        name="channel with inflow and outflow")
    return [("lid-driven cavity", cavity), ("buoyant cavity", fv.natural_convection_case(1e4, 16)),
            ("periodic channel", periodic), ("inflow-outflow channel", channel)]


def _fields(state, be) -> dict:
    host = lambda a: np.asarray(be.to_host(a), float)  # noqa: E731
    return {"u": host(state.vel[0]), "v": host(state.vel[1]), "w": host(state.vel[2]),
            "T": host(state.T), "phi": host(state.phi)}


def _difference(a: dict, b: dict) -> dict:
    """Per field, max |a - b| over max |b| (a field-wide scale: fields cross zero)."""
    return {k: float(np.abs(a[k] - b[k]).max()) / max(float(np.abs(b[k]).max()), 1e-300)
            for k in b}


def compare(name, problem, arch, steps: int) -> dict:
    """One case: ``steps`` explicit steps on one process and split over ``arch``."""
    from ..flow import FlowSolver

    runs = {}
    for label, a in (("one", SERIAL), ("split", arch)):
        s = FlowSolver(problem, "cpu", diffusion="explicit", arch=a)
        t0 = time.perf_counter()
        for _ in range(steps):
            s.step()
        runs[label] = (s, time.perf_counter() - t0)
    one, split = runs["one"][0], runs["split"][0]
    diff = _difference(_fields(split.gathered_state(), split.be), _fields(one.state_, one.be))
    # the counters exactly; the time (a sum of steps, each from the largest speed, which
    # the split reduces in another order) to the fields' tolerance: on an Emerald Rapids
    # host the cavity's 20 steps came to times 4e-17 s apart (2.6e-16 relative)
    same = all(getattr(one.stats, k) == getattr(split.stats, k)
               for k in ("steps", "pressure_iterations", "pressure_solves")) and \
        abs(one.stats.time - split.stats.time) <= TOLERANCE * abs(one.stats.time)
    return {"case": name, "cells": problem.grid.ncells, "steps": steps,
            "largest_difference": max(diff.values()), "fields": diff,
            "same_steps_time_iterations": same,
            "pressure_iterations": [one.stats.pressure_iterations,
                                    split.stats.pressure_iterations],
            "seconds": [runs["one"][1], runs["split"][1]]}


def steady(arch) -> dict:
    """The lid-driven cavity marched to a steady state on one process and split: the same
    march (steps, residuals) and the same fields."""
    from ..flow import FlowSolver

    problem = cases()[0][1]
    out = {}
    for label, a in (("one", SERIAL), ("split", arch)):
        s = FlowSolver(problem, "cpu", diffusion="explicit", arch=a)
        r = s.run(tolerance=1e-4, max_steps=20_000)
        out[label] = r
    r1, r2 = out["one"], out["split"]
    diff = {k: float(np.abs(getattr(r2, k) - getattr(r1, k)).max())
            / max(float(np.abs(getattr(r1, k)).max()), 1e-300) for k in ("u", "v", "T", "phi")}
    return {"case": "lid-driven cavity, steady march", "cells": problem.grid.ncells,
            "steps": r1.stats.steps, "largest_difference": max(diff.values()), "fields": diff,
            "same_steps_time_iterations": (r1.stats.steps == r2.stats.steps
                                           and r1.stats.converged and r2.stats.converged
                                           and r1.stats.pressure_iterations
                                           == r2.stats.pressure_iterations),
            "pressure_iterations": [r1.stats.pressure_iterations, r2.stats.pressure_iterations],
            "seconds": [r1.stats.wall_time, r2.stats.wall_time]}


def main(argv=None) -> int:
    from mpi4py import MPI

    ap = argparse.ArgumentParser(description="two-rank flow check")
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--no-steady", action="store_true")
    args = ap.parse_args(argv)
    arch = Distributed(MPI.COMM_WORLD, axis=0)
    rows = [compare(name, p, arch, args.steps) for name, p in cases()]
    if not args.no_steady:
        rows.append(steady(arch))
    ok = all(r["largest_difference"] <= TOLERANCE and r["same_steps_time_iterations"]
             for r in rows)
    if arch.rank == 0:
        print(f"{'case':34s} {'cells':>6s} {'steps':>6s} {'max rel. diff':>14s} "
              f"{'CG its (1 / split)':>19s}  same counters")
        for r in rows:
            its = "{} / {}".format(*r["pressure_iterations"])
            print(f"{r['case']:34s} {r['cells']:6d} {r['steps']:6d} "
                  f"{r['largest_difference']:14.2e} {its:>19s}  "
                  f"{r['same_steps_time_iterations']}")
        print(json.dumps({"ranks": arch.size, "tolerance": TOLERANCE, "passed": ok,
                          "rows": rows}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
