"""thermosim/kernels/steady.cu on the emulated GPU against the Numba kernels of
thermosim/backends/cpu_steady.py: the momentum operator of all three components (and of a
periodic axis), the energy operator, and the red-black sweep against its CPU twin
``_rbgs7``, on a small non-uniform 3D box with solid cells, wall halos and an outflow halo.

Run by tests/test_cuda_steady.py in a subprocess with the fake cupy first on the path; not
a pytest module.  ``--cavity`` adds SIMPLEC on an 8^2 cavity against the CPU (~40 s).  float64 must agree to 1e-15 of the largest entry (the same operations in
the same order; the emulator's host compiler contracts no FMAs), float32 to 1e-6 (the
Numba kernels evaluate some float32 expressions in float64: literals such as 0.5 are
doubles there).
"""

from __future__ import annotations

import cupy
import numpy as np

from thermosim.backends import get_backend
from thermosim.backends.cpu_steady import _PERM, _rbgs7

cpu, gpu = get_backend("cpu"), get_backend("gpu")
TOL = {np.float64: 1e-15, np.float32: 1e-6}


def case(dtype, seed=3):
    """Velocities, fluid flags, widths and distances of a 6 x 5 x 4 box (halo shape)."""
    rng = np.random.default_rng(seed)
    n = (6, 5, 4)
    pad = tuple(s + 2 for s in n)
    vel = [rng.uniform(-1.0, 1.0, pad).astype(dtype) for _ in range(3)]
    fluid = np.zeros(pad, np.uint8)
    fluid[1:-1, 1:-1, 1:-1] = 1
    fluid[2:4, 2, 1:3] = 0          # a solid block
    fluid[4, 4, 3] = 0              # a lone solid cell
    fluid[-1, 1:-1, 1:-1] = 1       # an outflow halo on x+; the other halos are walls
    h = [rng.uniform(0.5, 1.5, s + 2).astype(dtype) for s in n]
    d = [np.concatenate([[h_[0]], 0.5 * (h_[1:] + h_[:-1])]).astype(dtype) for h_ in h]
    return n, pad, vel, fluid, h, d


def relative(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))


def both(fn_cpu, fn_gpu, pad, dtype, count=7):
    """Run the two twins on zero-filled coefficient arrays; return both sets on the host."""
    out_c = [np.zeros(pad, dtype) for _ in range(count)]
    out_g = [cupy.zeros(pad, dtype) for _ in range(count)]
    fn_cpu(out_c)
    fn_gpu(out_g)
    return out_c, [cupy.asnumpy(a) for a in out_g]


def check_momentum(dtype):
    _, pad, vel, fluid, h, d = case(dtype)
    vg = [cupy.asarray(a) for a in vel]
    fg, hg, dg = cupy.asarray(fluid), [cupy.asarray(a) for a in h], [cupy.asarray(a) for a in d]
    # an eddy viscosity (m^2/s, cells) coupled in full, or none
    nut = np.random.default_rng(11).uniform(0.0, 0.05, pad).astype(dtype)
    for comp in range(3):
        for periodic, eddy in ((False, None), (True, None), (False, nut), (True, nut)):
            eg = None if eddy is None else cupy.asarray(eddy)
            oc, og = both(
                lambda c, a=comp, p=periodic, e=eddy: cpu.momentum_operator(
                    a, vel, fluid, h, d, 0.01, 2.0, c, p, e),
                lambda c, a=comp, p=periodic, e=eg: gpu.momentum_operator(
                    a, vg, fg, hg, dg, 0.01, 2.0, c, p, e),
                pad, dtype)
            for name, a, b in zip(("aw", "ae", "as", "an", "ab", "at", "ap"), og, oc):
                err = relative(a, b)
                assert err <= TOL[dtype], f"momentum {comp} {name} {dtype.__name__}: {err:.3g}"
            # the operator is not trivial: couplings on both sides and walls in the diagonal
            assert min(float(np.abs(b).max()) for b in oc[:6]) > 0
            print(f"ok  momentum operator, component {comp}, periodic {periodic}, eddy "
                  f"viscosity {eddy is not None}, {dtype.__name__}: max relative difference "
                  f"{max(relative(a, b) for a, b in zip(og, oc)):.1e}")


def check_energy(dtype):
    n, pad, vel, fluid, h, d = case(dtype, seed=5)
    rng = np.random.default_rng(7)
    G = [rng.uniform(0.1, 2.0, tuple(s + (a == b) for b, s in enumerate(n))).astype(dtype)
         for a in range(3)]
    cap = rng.uniform(1.0, 3.0, pad).astype(dtype)
    extra = np.where(rng.random(pad) < 0.2, 0.7, 0.0).astype(dtype)
    # temperatures with steps, so that the bounded face values' own slopes raise some
    # diagonals (they do not where T is uniform)
    T = (290.0 + 10.0 * rng.random(pad) ** 3).astype(dtype)
    oc, og = both(
        lambda c: cpu.energy_operator(vel, fluid, G, 1.2e3, h, cap, extra, T, d, c),
        lambda c: gpu.energy_operator([cupy.asarray(a) for a in vel], cupy.asarray(fluid),
                                      [cupy.asarray(a) for a in G], 1.2e3,
                                      [cupy.asarray(a) for a in h], cupy.asarray(cap),
                                      cupy.asarray(extra), cupy.asarray(T),
                                      [cupy.asarray(a) for a in d], c),
        pad, dtype)
    for name, a, b in zip(("aw", "ae", "as", "an", "ab", "at", "ap"), og, oc):
        err = relative(a, b)
        assert err <= TOL[dtype], f"energy {name} {dtype.__name__}: {err:.3g}"
    flat = [np.zeros(pad, dtype) for _ in range(7)]
    cpu.energy_operator(vel, fluid, G, 1.2e3, h, cap, extra, np.full(pad, 295.0, dtype), d,
                        flat)
    raised = int(np.sum(oc[6] > flat[6]))
    assert raised > 0 and np.all(oc[6] >= flat[6]), "energy: no diagonal raised"
    print(f"ok  energy operator, {dtype.__name__}: max relative difference "
          f"{max(relative(a, b) for a, b in zip(og, oc)):.1e}")


def check_sweep(dtype):
    """The GPU's red-black sweep equals _rbgs7 on the CPU, on each component's operator
    (coefficients in that component's axis order) with a mask of solved points."""
    _, pad, vel, fluid, h, d = case(dtype, seed=11)
    rng = np.random.default_rng(13)
    for comp in range(3):
        coeffs = [np.zeros(pad, dtype) for _ in range(7)]
        # 1/dt large enough for diagonal dominance: the random velocities are not
        # divergence-free, and repeated sweeps must not overflow
        cpu.momentum_operator(comp, vel, fluid, h, d, 0.01, 20.0, coeffs)
        r = rng.standard_normal(pad).astype(dtype)
        solved = (rng.random(pad) < 0.8).astype(np.uint8)
        # never the boundary faces 0 and n + 1 along comp (both sweeps would read past the
        # array's end from n + 1: outer.py's masks hold those faces)
        for end in (0, -1):
            solved[tuple(slice(None) if a != comp else end for a in range(3))] = 0
        for sweeps in (1, 3):
            x = np.zeros(pad, dtype)
            views = [a.transpose(_PERM[comp]) for a in (*coeffs, r, x, solved)]
            _rbgs7(*views, sweeps)
            xg = cupy.zeros(pad, dtype)
            gpu.sweep([cupy.asarray(a) for a in coeffs], cupy.asarray(r), xg,
                      cupy.asarray(solved), sweeps, comp)
            err = relative(cupy.asnumpy(xg), x)
            assert err <= TOL[dtype], f"sweep {comp} x{sweeps} {dtype.__name__}: {err:.3g}"
            assert np.abs(x).max() > 0
            print(f"ok  red-black sweep, component {comp}, {sweeps} sweeps, "
                  f"{dtype.__name__}: max relative difference {err:.1e}")


def check_cavity(n: int = 8):
    """Opt-in (``--cavity``, ~40 s: every CUDA thread an OS thread): SIMPLEC on an n^2
    lid-driven cavity at Re 100 to 1e-8 on both backends, converged velocities within 1e-7
    of the lid speed.  The fake cupy lacks some array functions that outer.py uses
    (where, empty_like): NumPy's stand in, here only."""
    import sys
    import time
    from pathlib import Path

    def numpy_function(name):
        f = getattr(np, name)

        def g(*a, **k):
            r = f(*[np.asarray(x) if isinstance(x, cupy.ndarray) else x for x in a], **k)
            return r.view(cupy.ndarray) if isinstance(r, np.ndarray) else r
        return g

    cupy.__getattr__ = numpy_function
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from test_cuda_steady import _cavity

    from thermosim.flow import FlowSolver

    out = {}
    for be in ("cpu", "gpu"):
        t0 = time.perf_counter()
        out[be] = FlowSolver(_cavity(n), be).run(tolerance=1e-8, method="simplec")
        assert out[be].stats.converged, be
        print(f"    {be}: {out[be].stats.steps} outer iterations, "
              f"{time.perf_counter() - t0:.1f} s")
    for f in ("u", "v"):
        err = float(np.abs(getattr(out["gpu"], f) - getattr(out["cpu"], f)).max())
        assert err < 1e-7, (f, err)
        print(f"ok  simplec cavity {n}^2: {f} within {err:.1e} of the CPU's")


if __name__ == "__main__":
    import sys

    for dt in (np.float64, np.float32):
        check_momentum(dt)
        check_energy(dt)
        check_sweep(dt)
    if "--cavity" in sys.argv[1:]:
        check_cavity()
    print("steady kernels on the emulated GPU: all checks passed")
