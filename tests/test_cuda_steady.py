"""The steady solver on the GPU backend (thermosim/kernels/steady.cu, backends/gpu_steady.py).

- On the CPU: the red-black sweep's twin ``_rbgs7`` is the symmetric red-black sweep it
  claims to be, and converges to the same solution as the lexicographic sweeps (the
  GPU's iterates differ from the CPU's, the answer does not).
- On the CUDA emulator (tests/cuda_emulator/, no GPU needed): the CUDA operators equal the
  Numba ones bit for bit in float64 for all three momentum components and the energy
  equation, and the CUDA sweep equals ``_rbgs7`` (tests/cuda_emulator/steady_kernels.py).
- On a real GPU (skipped without one): SIMPLEC outer iterations on the 16^2 lid-driven
  cavity, on one mesh and in multigrid cycles, reach the CPU's converged answer.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import gpu_ok

from thermosim import flow_verification as fv
from thermosim.backends import get_backend
from thermosim.backends.cpu_steady import _rb_colour, _rbgs7, _sgs
from thermosim.flow import FlowBoundary, FlowProblem, FlowSolver, Fluid


def _energy_system(seed: int = 2, n=(5, 4, 3)):
    """The energy operator of a random flow through a 5 x 4 x 3 box with one solid cell:
    coefficients (W/K), a right-hand side (W) and the interior mask."""
    rng = np.random.default_rng(seed)
    pad = tuple(s + 2 for s in n)
    vel = [rng.uniform(-1.0, 1.0, pad) for _ in range(3)]
    fluid = np.zeros(pad, np.uint8)
    fluid[1:-1, 1:-1, 1:-1] = 1
    fluid[2, 2, 2] = 0
    G = [rng.uniform(0.5, 1.0, tuple(s + (a == b) for b, s in enumerate(n))) for a in range(3)]
    h = [np.full(s + 2, 0.1) for s in n]
    coeffs = [np.zeros(pad) for _ in range(7)]
    cap = np.full(pad, 0.1)
    get_backend("cpu").energy_operator(vel, fluid, G, 1.0e3, h, cap, np.zeros(pad),
                                       np.zeros(pad), h, coeffs)
    cells = np.zeros(pad, np.uint8)
    cells[1:-1, 1:-1, 1:-1] = 1
    return coeffs, rng.standard_normal(pad), cells


def test_red_black_twin_is_the_symmetric_red_black_sweep():
    """Forward red-black then backward black-red, sweep after sweep (the colours written
    out, 4 half-sweeps per sweep), equals _rbgs7's 2 s + 1 half-sweeps bit for bit: a
    colour swept twice in a row recomputes the same values."""
    coeffs, r, cells = _energy_system()
    for sweeps in (1, 4):
        x = np.zeros_like(r)
        _rbgs7(*coeffs, r, x, cells, sweeps)
        y = np.zeros_like(r)
        for _ in range(sweeps):
            for colour in (0, 1, 1, 0):
                _rb_colour(*coeffs, r, y, cells, colour)
        assert np.array_equal(x, y)
        assert np.abs(x).max() > 0


def test_red_black_and_lexicographic_sweeps_reach_the_same_solution():
    """Another smoother, the same answer: both sweeps, iterated, solve the energy system
    (an M-matrix with advection) to 1e-12 of the direct solution, though their first
    iterates differ."""
    coeffs, r, cells = _energy_system()
    x_rb, x_gs = np.zeros_like(r), np.zeros_like(r)
    _rbgs7(*coeffs, r, x_rb, cells, 1)
    _sgs(*coeffs, r, x_gs, cells, 1)
    assert np.abs(x_rb - x_gs).max() > 1e-6 * np.abs(x_gs).max()
    _rbgs7(*coeffs, r, x_rb, cells, 300)
    _sgs(*coeffs, r, x_gs, cells, 300)
    # the direct solution of ap x - sum a_nb x_nb = r over the interior (halo x = 0)
    idx = -np.ones(r.shape, int)
    inner = np.argwhere(cells != 0)
    idx[tuple(inner.T)] = np.arange(len(inner))
    A = np.zeros((len(inner), len(inner)))
    offsets = ((-1, 0, 0), (1, 0, 0), (0, -1, 0), (0, 1, 0), (0, 0, -1), (0, 0, 1))
    for row, p in enumerate(inner):
        A[row, row] = coeffs[6][tuple(p)]
        for c, o in zip(coeffs[:6], offsets):
            q = idx[tuple(p + o)]
            if q >= 0:
                A[row, q] -= c[tuple(p)]
    exact = np.linalg.solve(A, r[tuple(inner.T)])
    scale = np.abs(exact).max()
    assert np.abs(x_rb[tuple(inner.T)] - exact).max() < 1e-12 * scale
    assert np.abs(x_gs[tuple(inner.T)] - exact).max() < 1e-12 * scale


def _cavity(n: int = 16, Re: float = 100.0) -> FlowProblem:
    f = fv.clustered(n, 0.0)
    fluid = Fluid("cavity", 1.0, 1.0 / Re, 1.0 / Re, 1.0)
    bc = {"y+": FlowBoundary("wall", velocity=(1.0, 0.0, 0.0)), **fv.SLIP_Z}
    return FlowProblem(fv._grid_2d(f, f), fluid, bc, name=f"cavity Re {Re:g}")


@pytest.mark.skipif(not gpu_ok(), reason="no CUDA GPU")
@pytest.mark.parametrize("multigrid", [False, True])
def test_gpu_simplec_cavity_equals_cpu(multigrid):
    """Lid-driven cavity Re 100 on 16^2, SIMPLEC to 1e-8 on both backends (float64), on
    the one mesh and in multigrid cycles (the transfers as array operations on the
    device): the GPU's red-black sweeps take other iterates, the converged velocities
    agree to 1e-6 of the lid speed."""
    out = {}
    for be in ("cpu", "gpu"):
        s = FlowSolver(_cavity(), be)
        out[be] = s.run(tolerance=1e-8, method="simplec", multigrid=multigrid)
        assert out[be].stats.converged, be
    print(f"outer iterations: cpu {out['cpu'].stats.steps}, gpu {out['gpu'].stats.steps}")
    for f in ("u", "v", "w"):
        err = np.abs(getattr(out["gpu"], f) - getattr(out["cpu"], f)).max()
        assert err < 1e-6, (f, err)
