"""End-to-end solves on the emulated GPU against the CPU backend.

Run by tests/test_cuda_emulated.py in a subprocess whose PYTHONPATH puts the fake cupy
(this folder) first; not a pytest module.  Exits non-zero (AssertionError) on a mismatch
and prints one line per check.  The grids are tiny (each CUDA thread is an OS thread) but
above multigrid.COARSEST_CELLS, so that the V-cycle runs the line smoother (z-lines, and
x-lines on a card whose layers are stacked along x), residual, restriction and prolongation
kernels on a finer level, and the dense coarse solve on the coarsest one.
"""

from __future__ import annotations

import time

import cupy
import numpy as np

from thermosim import verification
from thermosim.backends import available_backends, get_backend, gpu_available
from thermosim.case import Case
from thermosim.conduction import build_model, linear_system
from thermosim.runner import solve
from thermosim.solvers.multigrid import line_axis

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


def card(axis=0):
    """A circuit card: copper / FR-4 / copper layers and a chip stacked along ``axis`` (thin
    cells; axis 0: a card standing on its edge), cooled on both faces normal to that axis;
    the multigrid smooths along lines of that axis."""
    layers = [("cu1", "copper", 0.0, 0.0001, 0.0), ("fr4", "fr4", 0.0001, 0.0015, 0.0),
              ("cu2", "copper", 0.0015, 0.0016, 0.0), ("chip", "silicon", 0.0016, 0.0026, 5.0)]
    perm = [(0, 1, 2), (1, 0, 2), (2, 0, 1)][axis]   # axis of the stack-up, u and w

    def place(v):                                     # v: (stack, u, w) -> (x, y, z)
        out = [0.0] * 3
        for src, dst in enumerate(perm):
            out[dst] = v[src]
        return out

    blocks = [dict(name=name, material=mat,
                   min=place([lo, 0.01, 0.01] if p else [lo, 0.0, 0.0]),
                   max=place([hi, 0.03, 0.03] if p else [hi, 0.04, 0.04]), power=p)
              for name, mat, lo, hi, p in layers]
    n = "xyz"[axis]
    return Case.from_dict(dict(
        name="card", domain=dict(max=place([0.0026, 0.04, 0.04]), background="void"),
        grid=dict(cells=[int(c) for c in place([7, 9, 11])]), blocks=blocks,
        boundaries={f"{n}-": dict(type="convective", h=50.0, T_ambient=300.0),
                    f"{n}+": dict(type="convective", h=500.0, T_ambient=300.0)},
        solver=dict(tolerance=1e-11)))


def line_kernel(case) -> str:
    """The line smoother's kernel that the multigrid of a steady float64 solve launches."""
    m = build_model(case)
    s = linear_system(m)
    axis = line_axis((s.Gx, s.Gy, s.Gz), m.solved_mask())
    return "thermosim::zline_gs<double>" if axis == 2 else f"thermosim::line_gs<double, {axis}>"


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
    for k in ("apply<double, true>", "apply<double, false>", "restrict_sum<double>",
              "prolong_add<double>"):
        assert f"thermosim::{k}" in names, (k, sorted(names))
    # the line smoother along the axis the multigrid picked (x on this stretched grid)
    assert any("line_gs<double" in n for n in names), sorted(names)

    # 2. copper in still air, steady: temperature fields
    mark = len(cupy.LAUNCHES)
    rg, rc = (solve(copper_in_air(), be) for be in (gpu, cpu))
    want = line_kernel(copper_in_air())
    assert want in launched(mark), (want, sorted(launched(mark)))
    assert rg.stats["iterations"] == rc.stats["iterations"]
    shape = "x".join(map(str, CELLS))
    check(f"copper in air, steady {shape} ({rg.stats['iterations']} CG iterations)",
          rise(rg), rise(rc))

    # 2b. thin layers stacked along x, y, z: the multigrid picks lines along the stacking
    #     axis (line_gs<double, 0>, line_gs<double, 1>, zline_gs<double>)
    for axis in range(3):
        case = card(axis)
        want = line_kernel(case)
        assert want == ("thermosim::zline_gs<double>" if axis == 2
                        else f"thermosim::line_gs<double, {axis}>"), (axis, want)
        mark = len(cupy.LAUNCHES)
        rg = solve(case, gpu)
        lines = {n for n in launched(mark) if "line_gs<" in n}
        rc = solve(case, cpu)
        assert lines == {want}, (want, sorted(lines))
        assert rg.stats["iterations"] == rc.stats["iterations"]
        check(f"card stacked along {'xyz'[axis]} ({'xyz'[axis]}-lines), steady "
              f"{rg.stats['mg_hierarchy']} ({rg.stats['iterations']} CG iterations)",
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
                                            f"{gpu.prefetch}, false>") for n in steps), \
                sorted(steps)
            if contact:         # the contact resistance changed the answer
                assert np.nanmax(np.abs(rise(rc) - plain)) > 1e-6 * np.nanmax(np.abs(plain))
            else:
                plain = rise(rc)
    print(f"end-to-end on the emulated GPU: {len(cupy.LAUNCHES)} kernel launches, "
          f"{time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
