"""Flow steps on the emulated GPU against the CPU backend (kernels/flow.cu vs cpu_flow.py).

Run by tests/test_cuda_emulated.py in a subprocess with the fake cupy first on the path; not
a pytest module.  Tiny grids (every CUDA thread is an OS thread): a lid-driven cavity, a
buoyant cavity, and a 3D channel with an inflow, an outflow and a heated solid block (every
kernel, every boundary kind but slip-on-x, all three momentum components), a few steps each,
fields compared to round-off.
"""

from __future__ import annotations

import cupy
import numpy as np

from thermosim import flow_verification as fv
from thermosim.flow import FlowBoundary, FlowProblem, FlowSolver, Fluid, SolidBlock
from thermosim.grid import Grid

RTOL = 1e-9


def check(what, got, want, rtol=RTOL):
    got, want = np.asarray(got, float), np.asarray(want, float)
    scale = max(float(np.abs(want).max()), 1e-300)
    err = float(np.abs(got - want).max()) / scale
    assert err <= rtol, f"{what}: relative difference {err:.3g} > {rtol:g}"
    print(f"ok  {what}: relative difference {err:.2e}")


def compare(name, problem, steps):
    out = {}
    for be in ("cpu", "gpu"):
        s = FlowSolver(problem, be)
        for _ in range(steps):
            s.step(1e-3 if name != "channel" else 2e-3)
        out[be] = s.result()
    c, g = out["cpu"], out["gpu"]
    for f in ("u", "v", "w", "phi", "T"):
        check(f"{name}: {f}", getattr(g, f), getattr(c, f))


def main():
    since = len(cupy.LAUNCHES)
    compare("cavity", FlowProblem(
        Grid(fv.clustered(8, 1.0), fv.clustered(8, 1.0), np.array([0.0, 0.125])),
        Fluid("f", 1.0, 0.01, 0.01, 1.0),
        {"y+": FlowBoundary("wall", velocity=(1.0, 0, 0)), **fv.SLIP_Z}), 3)
    compare("natural convection", fv.natural_convection_case(1e4, 8), 3)
    g = Grid(np.linspace(0, 0.04, 9), np.linspace(0, 0.01, 5), fv.clustered(4, 0.5, 0.01))
    blk = SolidBlock("chip", (0.015, 0.0, 0.0), (0.025, 0.005, 0.005), 400.0, 8900.0, 385.0,
                     power=5.0)
    p = FlowProblem(g, Fluid("water-like", 1000.0, 1e-3, 0.6, 4180.0, 2e-4),
                    {"x-": FlowBoundary("inflow", velocity=(0.05, 0, 0), temperature=300.0,
                                        profile="parabolic"),
                     "x+": FlowBoundary("outflow"),
                     "z+": FlowBoundary("wall", velocity=(0.01, 0.0, 0.0), temperature=310.0),
                     "y+": FlowBoundary("slip", heat_flux=1000.0)},
                    blocks=[blk], gravity=(0.0, 0.0, -9.81), reference_temperature=300.0)
    compare("channel", p, 3)
    names = {n for n, *_ in cupy.LAUNCHES[since:]}
    for k in ("momentum_rhs<double, 0>", "momentum_rhs<double, 1>", "momentum_rhs<double, 2>",
              "correct<double, 2>", "energy_rhs<double>", "divergence_rhs<double>",
              "lincomb<double>"):
        assert f"thermosim::{k}" in names, k
    print("flow end-to-end on the emulated GPU: all checks passed")


if __name__ == "__main__":
    main()
