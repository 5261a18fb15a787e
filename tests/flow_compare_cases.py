"""Flows used to compare the GPU flow kernels with the CPU ones, step for step.

Shared by tests/test_flow.py (a real GPU) and tests/cuda_emulator/flow_end_to_end.py (the
CUDA emulator, where every thread is an OS thread, so it asks for the smallest grids).
Together they reach every flow kernel, every boundary kind but slip on x, all three momentum
components, buoyancy, a body force, periodic axes and a heated solid block.
"""

from __future__ import annotations

import numpy as np

from thermosim import flow_verification as fv
from thermosim.flow import FlowBoundary, FlowProblem, Fluid, SolidBlock
from thermosim.grid import Grid


def comparison_flows(n: int = 8):
    """(name, problem, dt in s) for a lid-driven cavity, a buoyant cavity, a 3D channel
    with an inflow, an outflow, a moving heated wall, a slip wall with a heat flux and a
    heated copper block, and a flow periodic along x and z; ``n`` cells across the cavities
    (a multiple of 4)."""
    cavity = FlowProblem(
        Grid(fv.clustered(n, 1.0), fv.clustered(n, 1.0), np.array([0.0, 1.0 / n])),
        Fluid("f", 1.0, 0.01, 0.01, 1.0),
        {"y+": FlowBoundary("wall", velocity=(1.0, 0, 0)), **fv.SLIP_Z})
    g = Grid(np.linspace(0, 0.04, n + 1), np.linspace(0, 0.01, n // 2 + 1),
             fv.clustered(n // 2, 0.5, 0.01))
    blk = SolidBlock("chip", (0.015, 0.0, 0.0), (0.025, 0.005, 0.005), 400.0, 8900.0, 385.0,
                     power=5.0)
    channel = FlowProblem(
        g, Fluid("water-like", 1000.0, 1e-3, 0.6, 4180.0, 2e-4),
        {"x-": FlowBoundary("inflow", velocity=(0.05, 0, 0), temperature=300.0,
                            profile="parabolic"),
         "x+": FlowBoundary("outflow"),
         "z+": FlowBoundary("wall", velocity=(0.01, 0.0, 0.0), temperature=310.0),
         "y+": FlowBoundary("slip", heat_flux=1000.0)},
        blocks=[blk], gravity=(0.0, 0.0, -9.81), reference_temperature=300.0)
    return [("cavity", cavity, 1e-3 * 8 / n),
            ("natural convection", fv.natural_convection_case(1e4, n), 1e-3 * 8 / n),
            ("channel", channel, 2e-3 * 8 / n),
            ("periodic", periodic_flow(n), 2e-3 * 8 / n)]


def periodic_flow(n: int = 8, shift: int = 0) -> FlowProblem:
    """A heated copper block in water, periodic along x and z, driven by a body force with
    buoyancy along y; ``shift`` moves the block by that many cells along x (the grid is
    uniform along x, so the flow moves with it)."""
    x = np.linspace(0.0, 0.04, 2 * n + 1)
    x0 = 0.01 + shift * 0.02 / n
    g = Grid(x, fv.clustered(n, 0.5, 0.01), np.linspace(0.0, 0.01, n // 2 + 1))
    blk = SolidBlock("chip", (x0, 0.0, 0.0), (x0 + 0.01, 0.004, 0.005), 400.0, 8900.0,
                     385.0, power=5.0)
    return FlowProblem(g, Fluid("water-like", 1000.0, 1e-3, 0.6, 4180.0, 2e-4),
                       {"x-": FlowBoundary("periodic"), "x+": FlowBoundary("periodic"),
                        "z-": FlowBoundary("periodic"), "z+": FlowBoundary("periodic")},
                       blocks=[blk], gravity=(0.0, -9.81, 0.0), body_force=(0.05, 0.0, 0.01),
                       reference_temperature=300.0)


def max_relative_difference(got, want) -> float:
    """max |got - want| over max |want| (a field-wide scale: the fields cross zero)."""
    got, want = np.asarray(got, float), np.asarray(want, float)
    return float(np.abs(got - want).max()) / max(float(np.abs(want).max()), 1e-300)
