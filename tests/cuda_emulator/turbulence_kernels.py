"""thermosim/kernels/turbulence.cu on the emulated GPU against the Numba kernels of
thermosim/backends/cpu_turbulence.py: the strain rate, LVEL's and Smagorinsky's eddy
viscosity, and the eddy momentum of all three components with Spalding's wall shear, its
rate and its diagonal, on a small non-uniform 3D box with solid cells, wall halos and an
outflow halo, at velocities that put the wall edges from the viscous sublayer into the log
layer.

Run by tests/test_cuda_emulated.py in a subprocess with the fake cupy first on the path;
not a pytest module.  float64 must agree to 1e-13 of the largest entry (the same formulas;
exp and log from the host's library on one side and LLVM's on the other), float32 to 1e-5
(the CUDA kernels work in double inside, the Numba ones partly in float32).
"""

from __future__ import annotations

import cupy
import numpy as np

from thermosim.backends import get_backend

cpu, gpu = get_backend("cpu"), get_backend("gpu")
TOL = {np.float64: 1e-13, np.float32: 1e-5}
NU = 1.5e-5
WALL_LAW = (0.41, float(np.exp(0.41 * 5.2)))
LES = (0.17, 26.0)


def case(dtype, seed=11):
    """Velocities (up to 3 m/s), flags, wall distances and widths of a 7 x 5 x 4 box."""
    rng = np.random.default_rng(seed)
    n = (7, 5, 4)
    pad = tuple(s + 2 for s in n)
    vel = [rng.uniform(-3.0, 3.0, pad).astype(dtype) for _ in range(3)]
    fl = np.zeros(pad, np.uint8)
    fl[1:-1, 1:-1, 1:-1] = 1
    fl[2:4, 2, 1:3] = 0             # a solid block
    fl[5, 4, 3] = 0                 # a lone solid cell
    fl[-1, 1:-1, 1:-1] = 1          # an outflow halo on x+
    noslip = np.zeros(pad, np.uint8)
    noslip[1:-1, 1:-1, 1:-1] = fl[1:-1, 1:-1, 1:-1] == 0
    for a in range(3):              # every halo a wall but the outflow
        for end in (0, -1):
            sl = [slice(None)] * 3
            sl[a] = end
            noslip[tuple(sl)] = 1
    noslip[-1, 1:-1, 1:-1] = 0
    fluid = np.zeros(pad, dtype)
    fluid[1:-1, 1:-1, 1:-1] = fl[1:-1, 1:-1, 1:-1]
    y = (rng.uniform(0.01, 0.3, pad) * fluid).astype(dtype)
    h = [rng.uniform(0.02, 0.06, s + 2).astype(dtype) for s in n]
    d = [np.concatenate([[h_[0]], 0.5 * (h_[1:] + h_[:-1])]).astype(dtype) for h_ in h]
    delta2 = rng.uniform(1e-4, 4e-3, pad).astype(dtype)
    mask = np.ones(pad, dtype)
    mask[:, 3, :] = 0               # a row of faces not computed
    nut = (rng.uniform(0.0, 0.02, pad) * fluid).astype(dtype)
    return pad, vel, fl, noslip, fluid, y, h, d, delta2, mask, nut


def dev(x):
    return [cupy.asarray(a) for a in x] if isinstance(x, list) else cupy.asarray(x)


def relative(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))


def check_eddy_viscosity(dtype):
    pad, vel, _, _, fluid, y, h, d, delta2, _, _ = case(dtype)
    for model in ("strain", "lvel", "smagorinsky"):
        oc, og = np.zeros(pad, dtype), cupy.zeros(pad, dtype)
        cpu.eddy_viscosity(vel, fluid, y, h, d, NU, model, WALL_LAW, 0.01, LES, delta2, oc)
        gpu.eddy_viscosity(dev(vel), dev(fluid), dev(y), dev(h), dev(d), NU, model, WALL_LAW,
                           0.01, LES, dev(delta2), og)
        err = relative(cupy.asnumpy(og), oc)
        assert err <= TOL[dtype], f"eddy viscosity {model} {dtype.__name__}: {err:.3g}"
        assert np.count_nonzero(oc) > 0.5 * oc[1:-1, 1:-1, 1:-1].size, model
        print(f"ok  eddy viscosity ({model}), {dtype.__name__}: max relative difference "
              f"{err:.1e}")


def check_eddy_momentum(dtype):
    pad, vel, fl, noslip, _, _, h, d, _, mask, nut = case(dtype, seed=13)
    for comp in range(3):
        oc, rc, dc = (np.zeros(pad, dtype) for _ in range(3))
        og, rg, dg = (cupy.zeros(pad, dtype) for _ in range(3))
        cpu.eddy_momentum(comp, vel, nut, fl, noslip, mask, h, d, NU, WALL_LAW, oc, rc, dc)
        gpu.eddy_momentum(comp, dev(vel), dev(nut), dev(fl), dev(noslip), dev(mask), dev(h),
                          dev(d), NU, WALL_LAW, og, rg, dg)
        for name, a, b in (("term", og, oc), ("rate", rg, rc), ("diagonal", dg, dc)):
            err = relative(cupy.asnumpy(a), b)
            assert err <= TOL[dtype], f"eddy momentum {comp} {name} {dtype.__name__}: {err:.3g}"
        # the wall function is met: wall rates above the sublayer's zero
        assert float(rc.max()) > 0 and float(dc.max()) > 0 and np.count_nonzero(oc) > 0, comp
        worst = max(relative(cupy.asnumpy(a), b) for a, b in ((og, oc), (rg, rc), (dg, dc)))
        print(f"ok  eddy momentum, component {comp}, {dtype.__name__}: max relative "
              f"difference {worst:.1e}")


if __name__ == "__main__":
    for dt in (np.float64, np.float32):
        check_eddy_viscosity(dt)
        check_eddy_momentum(dt)
    print("turbulence kernels on the emulated GPU: all checks passed")
