"""Flow steps on the emulated GPU against the CPU backend (thermosim/kernels/flow.cu vs
cpu_flow.py).

Run by tests/test_cuda_emulated.py in a subprocess with the fake cupy first on the path; not
a pytest module.  Tiny grids (every CUDA thread is an OS thread): a lid-driven cavity, a
buoyant cavity, and a 3D channel with an inflow, an outflow and a heated solid block (every
kernel, every boundary kind but slip-on-x, all three momentum components), a few steps each,
fields compared to round-off; and the implicit-diffusion steps of a steady march on three
of them.  Then the emulated-GPU fields (with their halos) of the golden cases marked
``emulated`` in tests/golden_cases.py against the CPU's stored references (tests/golden/).
"""

from __future__ import annotations

import sys
from pathlib import Path

import cupy
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for flow_compare_cases
from flow_compare_cases import comparison_flows, max_relative_difference  # noqa: E402

from thermosim.flow import FlowSolver  # noqa: E402

RTOL = 1e-9


def compare(name, problem, dt, steps, diffusion="explicit", advection="central"):
    out = {}
    for be in ("cpu", "gpu"):
        s = FlowSolver(problem, be, diffusion=diffusion, advection=advection)
        for _ in range(steps):
            s.step(dt)
        out[be] = s.result()
    for f in ("u", "v", "w", "phi", "T"):
        err = max_relative_difference(getattr(out["gpu"], f), getattr(out["cpu"], f))
        assert err <= RTOL, f"{name}: {f}: relative difference {err:.3g} > {RTOL:g}"
        print(f"ok  {name} ({diffusion}, {advection}): {f}: relative difference {err:.2e}")


def golden():
    """The golden cases marked for the emulator, run on the emulated GPU: every field with
    its halos within RTOL of the CPU's reference, and the step count exact (the iteration
    counts are not compared: CG on the GPU sums in another order)."""
    import golden_cases as gc

    cases = [c for c in gc.CASES.values() if c.emulated]
    assert cases, "no golden case marked for the emulator"
    for case in cases:
        want, _, meta = gc.load(case.golden)
        got, _ = gc.snapshot(*case.run("gpu"))
        assert got["stats/steps"] == want["stats/steps"], case.name
        for f in ("u", "v", "w", "phi", "T"):
            err = max_relative_difference(got[f"field/{f}"], want[f"field/{f}"])
            assert err <= RTOL, f"golden {case.name}: {f}: relative difference {err:.3g} > " \
                                f"{RTOL:g} (reference from {meta['commit']})"
            print(f"ok  golden {case.name}: {f} with halos: relative difference {err:.2e}")


def main():
    since = len(cupy.LAUNCHES)
    for name, problem, dt in comparison_flows(8):
        compare(name, problem, dt, 3)
        if name in ("natural convection", "channel", "periodic"):
            # the implicit steps of a steady march: multigrid-CG diffusion solves on every
            # velocity component and the temperature, pressure corrected incrementally
            compare(name, problem, 10 * dt, 2, "implicit")
        if name == "channel":
            # upwind momentum advection (the rack layouts' scheme)
            compare(name, problem, dt, 3, advection="upwind")
    names = {n for n, *_ in cupy.LAUNCHES[since:]}
    for k in ("momentum_rhs<double, 0>", "momentum_rhs<double, 1>", "momentum_rhs<double, 2>",
              "correct<double, 2>", "energy_rhs<double>", "divergence_rhs<double>",
              "lincomb<double>"):
        assert f"thermosim::{k}" in names, k
    golden()
    print("flow end-to-end on the emulated GPU: all checks passed")


if __name__ == "__main__":
    main()
