"""End-to-end solves on the emulated GPU against the CPU backend.

Run by tests/test_cuda_emulated.py in a subprocess whose PYTHONPATH puts the fake cupy
(this folder) first; not a pytest module.  Exits non-zero (AssertionError) on a mismatch
and prints one line per check.  The grids are tiny (each CUDA thread is an OS thread) but
above multigrid.COARSEST_CELLS, so that the V-cycle runs the z-line smoother, residual,
restriction and prolongation kernels on a finer level, and the dense coarse solve on the
coarsest one.
"""

from __future__ import annotations

import time

import cupy
import numpy as np

from thermosim import verification
from thermosim.backends import available_backends, get_backend, gpu_available
from thermosim.case import Case
from thermosim.simulation import solve

RTOL = 1e-9
CELLS = (11, 9, 7)


def check(what, got, want, rtol=RTOL):
    got, want = np.asarray(got, float), np.asarray(want, float)
    assert got.shape == want.shape, (what, got.shape, want.shape)
    scale = max(float(np.nanmax(np.abs(want))), 1e-300)
    err = float(np.nanmax(np.abs(got - want))) / scale
    assert np.array_equal(np.isnan(got), np.isnan(want)), what
    assert err <= rtol, f"{what}: relative difference {err:.3g} > {rtol:g}"
    print(f"ok  {what}: relative difference {err:.2e}")


def launched(since: int) -> set[str]:
    return {n for n, *_ in cupy.LAUNCHES[since:]}


def copper_in_air(mode="steady", method=None, end_time=None, dt="auto", contact=0.0):
    """verification.contrast_iterations' case (k ratio 1.5e4) on a small grid of odd sizes;
    ``contact``: the copper block's contact resistance (m^2 K/W) towards the air."""
    solver = dict(tolerance=1e-11)
    if mode == "transient":
        solver.update(mode="transient", transient=dict(method=method, end_time=end_time,
                                                            dt=dt))
    return Case.from_dict(dict(
        name="contrast", domain=dict(max=[0.1, 0.1, 0.08], background="air"),
        grid=dict(cells=list(CELLS)),
        blocks=[dict(name="cu", material="copper", min=[0.025, 0.025, 0.02],
                     max=[0.075, 0.075, 0.05], power=10.0, contact_resistance=contact)],
        boundaries={"z-": dict(type="temperature", T=300.0),
                    "z+": dict(type="convective", h=10.0, T_ambient=300.0)},
        initial_temperature=300.0, solver=solver))


def rise(r):
    return r.T - 300.0


def main():
    t0 = time.perf_counter()
    assert cupy.__version__.endswith("emulated"), cupy.__file__
    assert gpu_available() and available_backends() == ["cpu", "gpu"]
    assert get_backend("auto").name == "gpu"
    gpu, cpu = get_backend("gpu"), get_backend("cpu")
    assert "emulator" in gpu.device_name, gpu.device_name
    # Each emulated CUDA thread is an OS thread: small blocks for these small grids (the
    # launch configuration is the backend's to choose; tests/test_gpu_backend.py runs the
    # default ones).  The kernels' indexing holds for any block shape.
    gpu.block_mg = (8, 4)
    gpu.block_line = 32

    # 1. the manufactured solution (stretched grid, orthotropic jump), steady MG-PCG
    mark = len(cupy.LAUNCHES)
    n = 10                                       # 1000 cells: two multigrid levels
    eg, itg = verification.manufactured_error(n, backend=gpu)
    ec, itc = verification.manufactured_error(n, backend=cpu)
    assert itg == itc, (itg, itc)
    check(f"manufactured_error({n}) ({itg} CG iterations)", eg, ec)
    names = launched(mark)
    for k in ("zline_gs<double>", "apply<double, true>", "apply<double, false>",
              "restrict_sum<double>", "prolong_add<double>"):
        assert f"thermosim::{k}" in names, (k, sorted(names))

    # 2. copper in still air, steady: temperature fields
    rg, rc = (solve(copper_in_air(), be) for be in (gpu, cpu))
    assert rg.stats["iterations"] == rc.stats["iterations"]
    shape = "x".join(map(str, CELLS))
    check(f"copper in air, steady {shape} ({rg.stats['iterations']} CG iterations)",
          rise(rg), rise(rc))

    # 3. transient: Crank-Nicolson (MG-PCG per step) and explicit (explicit_step kernel),
    #    the latter also with a contact resistance between the copper and the air (the
    #    explicit_step<..., CONTACT = true> kernel)
    plain = None
    for method, end, dt, contact in (("crank_nicolson", 20.0, 10.0, 0.0),
                                     ("explicit", 0.5, "auto", 0.0),
                                     ("explicit", 0.5, "auto", 0.05)):
        mark = len(cupy.LAUNCHES)
        rg, rc = (solve(copper_in_air("transient", method, end, dt, contact), be)
                  for be in (gpu, cpu))
        assert rg.stats["steps"] == rc.stats["steps"]
        what = f"{method}{', contact' if contact else ''}"
        check(f"copper in air, {what}, {rg.stats['steps']} steps", rise(rg), rise(rc))
        if method == "explicit":
            steps = {n for n in launched(mark) if n.startswith("thermosim::explicit_step<")}
            assert steps and all(n.startswith("thermosim::explicit_step<double") and
                                 n.endswith(f", {'true' if contact else 'false'}, "
                                            f"{gpu.prefetch}>") for n in steps), sorted(steps)
            if contact:         # the contact resistance changed the answer
                assert np.nanmax(np.abs(rise(rc) - plain)) > 1e-6 * np.nanmax(np.abs(plain))
            else:
                plain = rise(rc)
    print(f"end-to-end on the emulated GPU: {len(cupy.LAUNCHES)} kernel launches, "
          f"{time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
