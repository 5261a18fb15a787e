"""Flow benchmark: one flow-plus-energy time step and one pressure solve at N^3.

Prints, for a 3D channel with an inflow, an outflow, walls and a heated solid block:
- a whole Heun step (two momentum predictions, two pressure solves, two energy updates) in
  cell-steps per second, and where the time goes: the same steps profiled, every backend
  call synchronised and timed on its own, grouped into momentum, the pressure solve's
  multigrid, its CG vector work, divergence and correction, energy, Runge-Kutta sums,
  boundary halos, and Python (benchmarks/profile_flow.py lists the calls one by one);
- the pressure equation solved to 1e-6 relative residual from a zero guess: thermosim's
  multigrid-preconditioned CG against SciPy's (CPU) or cupyx's (GPU) sparse CG on the same
  matrix, in the same run, as time per unknown.

    python benchmarks/flow_step.py                    # CPU, 64^3
    python benchmarks/flow_step.py --backend gpu --size 256 --precision float32
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict

import numpy as np

from thermosim.backends import get_backend
from thermosim.bench import timeit
from thermosim.flow import FlowBoundary, FlowProblem, FlowSolver, Fluid, SolidBlock
from thermosim.grid import Grid
from thermosim.solvers.krylov import pcg


BACKEND_CALLS = ("momentum_rhs", "divergence_rhs", "correct", "energy_rhs", "lincomb",
                 "max_abs_diff", "residual", "matvec", "rbgs", "zline_gs", "line_gs",
                 "restrict", "prolong_add", "dot", "axpy", "xpay")
# (object path from the solver, method, label)
SOLVER_CALLS = (("model", "apply_bc", "boundary halos"),
                ("model.boundaries", "fill_pressure", "pressure halos"))


_MISSING = object()


class Profiler:
    """Exclusive wall time per name, each call synchronised before and after."""

    def __init__(self, be):
        self.be = be
        self.total = defaultdict(float)
        self.calls = defaultdict(int)
        self._stack = []
        self._undo = []

    def wrap(self, obj, name, label=None):
        fn = getattr(obj, name)
        label = label or name

        def timed(*a, **k):
            self.be.synchronize()
            t0 = time.perf_counter()
            self._stack.append(0.0)
            try:
                return fn(*a, **k)
            finally:
                self.be.synchronize()
                dt = time.perf_counter() - t0
                inner = self._stack.pop()
                self.total[label] += dt - inner
                self.calls[label] += 1
                if self._stack:
                    self._stack[-1] += dt
        self._undo.append((obj, name, obj.__dict__.get(name, _MISSING)))
        setattr(obj, name, timed)

    def restore(self):
        """Put every wrapped attribute back as it was."""
        for obj, name, old in reversed(self._undo):
            if old is _MISSING:
                delattr(obj, name)
            else:
                setattr(obj, name, old)
        self._undo.clear()


def instrument(s) -> Profiler:
    """A Profiler on every backend call and halo fill of solver ``s`` (and its pressure
    multigrid's smoother and cycle)."""
    prof = Profiler(s.be)
    for name in BACKEND_CALLS:
        if hasattr(s.be, name):
            prof.wrap(s.be, name)
    for path, name, label in SOLVER_CALLS:
        obj = s
        for part in path.split("."):
            obj = getattr(obj, part)
        prof.wrap(obj, name, label)
    mg = s.model.pressure.multigrid
    prof.wrap(mg, "_smooth", "multigrid smoother")
    prof.wrap(mg, "_cycle", "V-cycle own work")   # coarsest solve, fills, Python
    return prof


#: The profiled calls grouped into the parts of a step that flow_step reports.
PARTS = {
    "momentum": ("momentum_rhs",),
    "pressure: multigrid": ("multigrid smoother", "residual", "restrict", "prolong_add",
                            "V-cycle own work", "rbgs", "zline_gs", "line_gs"),
    "pressure: CG vectors": ("matvec", "dot", "axpy", "xpay"),
    "pressure: divergence, correction": ("divergence_rhs", "correct", "pressure halos"),
    "energy": ("energy_rhs",),
    "Runge-Kutta sums, change norms": ("lincomb", "max_abs_diff"),
    "boundary halos": ("boundary halos",),
}


def channel(n: int) -> FlowProblem:
    f = np.linspace(0.0, 0.1, n + 1)
    g = Grid(f, f, f)
    blk = SolidBlock("server", (0.04, 0.0, 0.03), (0.06, 0.04, 0.07), 200.0, 2700.0, 900.0,
                     power=500.0)
    fluid = Fluid.from_coolprop("air", 300.0)
    bc = {"x-": FlowBoundary("inflow", velocity=(0.5, 0, 0), temperature=300.0),
          "x+": FlowBoundary("outflow"), "y-": FlowBoundary("wall", temperature=300.0)}
    return FlowProblem(g, fluid, bc, blocks=[blk], gravity=(0, -9.81, 0))


def assemble(op, dtype):
    """The conductance-form operator as a SciPy CSR matrix (interior cells only)."""
    import scipy.sparse as sp

    Gx, Gy, Gz, D = (np.asarray(a, np.float64) for a in op)
    n = D.shape
    N = D.size
    idx = np.arange(N).reshape(n)
    diag = D.copy()
    rows, cols, vals = [], [], []
    for a, G in enumerate((Gx, Gy, Gz)):
        lo = [slice(None)] * 3
        hi = [slice(None)] * 3
        lo[a], hi[a] = slice(0, -1), slice(1, None)
        diag += G[tuple(lo)] + G[tuple(hi)]
        inner = [slice(None)] * 3
        inner[a] = slice(1, -1)
        g = G[tuple(inner)].ravel()
        i0, i1 = idx[tuple(lo)].ravel(), idx[tuple(hi)].ravel()
        rows += [i0, i1]
        cols += [i1, i0]
        vals += [-g, -g]
    rows.append(idx.ravel())
    cols.append(idx.ravel())
    vals.append(diag.ravel())
    A = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                      shape=(N, N))
    return A.astype(dtype)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--precision", default="float64", choices=("float32", "float64"))
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--peer-maxiter", type=int, default=20000,
                    help="iteration cap of the peer's unpreconditioned CG")
    ap.add_argument("--json")
    ap.add_argument("--no-implicit", dest="implicit", action="store_false",
                    help="skip the implicit-diffusion step")
    a = ap.parse_args(argv)
    be = get_backend(a.backend)
    dtype = np.dtype(a.precision)
    n = a.size
    t0 = time.perf_counter()
    s = FlowSolver(channel(n), be, dtype)
    setup = time.perf_counter() - t0
    for _ in range(2):                      # compile / warm up, and a developed start
        s.step()
    dt = s.stable_dt()
    cells = n ** 3
    t_step = timeit(lambda: s.step(dt), be, a.steps, warmup=False)
    # where the time goes: the same steps again with every backend call synchronised and
    # timed on its own (exclusive times; the synchronisations add a little)
    prof = instrument(s)
    it0, t0 = s.stats.pressure_iterations, time.perf_counter()
    for _ in range(a.steps):
        s.step(dt)
    be.synchronize()
    t_prof = (time.perf_counter() - t0) / a.steps
    iters_per_step = (s.stats.pressure_iterations - it0) / a.steps
    prof.restore()
    parts = {k: sum(prof.total.get(c, 0.0) for c in calls) / a.steps
             for k, calls in PARTS.items()}
    parts["Python and the rest"] = max(t_prof - sum(parts.values()), 0.0)
    # pressure solve from zero to 1e-6
    rng = np.random.default_rng(0)
    b = np.zeros(s.phi.shape)
    b[1:-1, 1:-1, 1:-1] = rng.standard_normal((n, n, n)) * (~s.model.mesh.solid)
    bb = be.asarray(b, dtype)
    x = be.zeros(b.shape, dtype)
    be.synchronize()
    t0 = time.perf_counter()
    st = pcg(be, s.model.pressure.operator, bb, x, s.model.pressure.multigrid.apply, 1e-6, 500)
    be.synchronize()
    t_mg = time.perf_counter() - t0
    A = assemble([be.to_host(o) for o in s.model.pressure.operator], dtype)
    rhs = b[1:-1, 1:-1, 1:-1].ravel().astype(dtype)
    if be.name == "gpu":
        import cupy
        import cupyx.scipy.sparse as csp
        import cupyx.scipy.sparse.linalg as cla

        Ad, rd = csp.csr_matrix(A), cupy.asarray(rhs)

        def peer_cg(maxiter):
            try:
                return cla.cg(Ad, rd, rtol=1e-6, maxiter=maxiter)
            except TypeError:                          # CuPy before SciPy's rtol rename
                return cla.cg(Ad, rd, tol=1e-6, maxiter=maxiter)
        peer_cg(2)                                     # set-up outside the timing
        cupy.cuda.Device().synchronize()
        t0 = time.perf_counter()
        sol, info = peer_cg(a.peer_maxiter)
        cupy.cuda.Device().synchronize()
        peer, peer_name = time.perf_counter() - t0, "cupyx.scipy.sparse.linalg.cg"
    else:
        import scipy
        import scipy.sparse.linalg as sla

        t0 = time.perf_counter()
        try:
            sol, info = sla.cg(A, rhs, rtol=1e-6, maxiter=a.peer_maxiter)
        except TypeError:                              # SciPy < 1.12
            sol, info = sla.cg(A, rhs, tol=1e-6, maxiter=a.peer_maxiter)
        peer, peer_name = time.perf_counter() - t0, f"scipy {scipy.__version__} sparse cg"
    report = dict(
        backend=be.name, device=be.device_name, size=n, cells=cells, precision=a.precision,
        setup_s=setup, step_s=t_step, cell_steps_per_s=cells / t_step,
        profiled_step_s=t_prof, parts_s=parts,
        pressure_iterations_per_step=iters_per_step,
        explicit_dt_s=dt,
        pressure_smoother=s.pressure_smoother,
        pressure_iterations_per_solve=s.stats.pressure_iterations / s.stats.pressure_solves,
        poisson=dict(thermosim_s=t_mg, thermosim_iterations=st.iterations,
                     thermosim_s_per_unknown=t_mg / cells, peer=peer_name, peer_s=peer,
                     peer_converged=bool(info == 0), peer_s_per_unknown=peer / cells,
                     speedup=peer / t_mg))
    print(f"flow step, {n}^3 = {cells:,} cells, {a.precision}, {be.name}: {be.device_name}")
    print(f"  whole Heun step    {t_step * 1e3:9.2f} ms   {cells / t_step:.3e} cell-steps/s")
    print(f"  where the time goes (profiled: every call synchronised, "
          f"{t_prof * 1e3:.2f} ms per step):")
    for k, v in report["parts_s"].items():
        print(f"    {k:<34s} {v * 1e3:9.2f} ms   {100 * v / t_prof:5.1f} %")
    print(f"  pressure CG iterations per solve while stepping: "
          f"{report['pressure_iterations_per_solve']:.1f} ({s.pressure_smoother} smoother)")
    p = report["poisson"]
    print(f"  Poisson to 1e-6 from zero: thermosim MG-PCG {t_mg:.3f} s ({st.iterations} it, "
          f"{p['thermosim_s_per_unknown'] * 1e9:.1f} ns/unknown)")
    print(f"                             {peer_name} {peer:.3f} s "
          f"({p['peer_s_per_unknown'] * 1e9:.1f} ns/unknown, converged {p['peer_converged']})"
          f"  -> {p['speedup']:.1f}x")
    save(report, a.json)
    if a.implicit:
        # the steady march's step: diffusion implicit (a multigrid-CG solve per velocity
        # component and for the temperature, in each of the two stages), at its own step,
        # the advective limit alone.  Its first step builds the implicit operators on the
        # host (four multigrid hierarchies, the slow part at 256^3), hence last and untimed
        s.choice.implicit = True          # the treatment a steady march takes
        dt_imp = s.stable_dt()
        s.step(dt_imp)
        n0, i0, j0 = s.stats.steps, s.stats.implicit_iterations, s.stats.implicit_solves
        t_imp = timeit(lambda: s.step(dt_imp), be, a.steps, warmup=False)
        imp_iters = (s.stats.implicit_iterations - i0) / (s.stats.steps - n0)
        imp_solves = (s.stats.implicit_solves - j0) / (s.stats.steps - n0)
        report["implicit"] = dict(step_s=t_imp, cell_steps_per_s=cells / t_imp, dt_s=dt_imp,
                                  cg_iterations_per_step=imp_iters,
                                  solves_per_step=imp_solves)
        print(f"  implicit-diffusion step (steady marches) {t_imp * 1e3:.2f} ms "
              f"({cells / t_imp:.3e} cell-steps/s, {imp_iters:.1f} CG iterations in its "
              f"{imp_solves:.0f} diffusion solves) at dt {dt_imp:.3g} s against the "
              f"explicit {dt:.3g} s: "
              f"{(t_imp / dt_imp) / (t_step / dt):.2f}x the time per simulated second")
        save(report, a.json)
    return report


def save(report, path):
    if path:
        with open(path, "w") as f:
            json.dump(report, f, indent=2)


if __name__ == "__main__":
    main()
