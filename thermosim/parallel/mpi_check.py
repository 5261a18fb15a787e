"""The two-rank proof of the architecture seam, run under MPI:

    mpiexec -n 2 python -m thermosim.parallel.mpi_check

Every rank builds the same pressure-like Poisson problems (conductance form, a non-uniform
3D grid, solid cells, a closed domain: the operator is singular) and checks, against one
process's result computed on every rank:

* halo exchange along the split axis (a periodic one too) equals one process's wrap;
* the flow kernels (momentum, energy with its far layers, divergence) on each slab, with
  the flags the architecture gives, equal one process's on the same cells and faces;
* reductions (sum, max, min, all, any, dot, isfinite) are the global values on every rank;
* the multigrid preconditioner's output on each rank's slab equals one process's, bit for
  bit, whatever the gather level;
* pcg with that preconditioner gives the same solution (1e-12 relative, float64) in the
  same number of iterations.

Rank 0 prints one JSON line with the figures; the exit status is 1 if a check failed.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np

from ..grid import Grid
from ..linear_system import LinearSystem
from ..solvers.krylov import pcg
from ..solvers.multigrid import Multigrid
from .architecture import SERIAL, Distributed, _layer, wrap_halos
from .multigrid import DistributedMultigrid


def pressure_problem(shape=(25, 12, 10), periodic=(True, False, False), thin=2, seed=1):
    """A pressure equation in conductance form (m^3 per m^2/s^2): faces area / centre
    distance between fluid cells, none to a solid cell or a wall, the wrap face along a
    periodic axis; D = 1 in the solid cells (decoupled), 0 in the fluid (singular: a closed
    domain).  Cells along ``thin`` are a few times thinner and stretched (the line
    smoother's axis).  Returns (system, faces, solved, b), b consistent (zero fluid sum)."""
    rng = np.random.default_rng(seed)
    faces = []
    for a, n in enumerate(shape):
        w = 0.2 * 1.1 ** np.arange(n) if a == thin else 1.0 + 0.3 * rng.random(n)
        faces.append(np.concatenate([[0.0], np.cumsum(w)]) * 1e-2)
    h = [np.diff(f) for f in faces]
    solid = np.zeros(shape, bool)
    solid[5:9, 3:7, 2:5] = True
    fluid = ~solid
    G = []
    for a in range(3):
        n = shape[a]
        hh = np.concatenate([[h[a][-1]], h[a], [h[a][0]]]) if periodic[a] else \
            np.concatenate([[h[a][0]], h[a], [h[a][-1]]])
        d = 0.5 * (hh[1:] + hh[:-1])                   # faces 0..n
        others = [b for b in range(3) if b != a]
        area = np.expand_dims(np.multiply.outer(h[others[0]], h[others[1]]), a)
        shp = [1, 1, 1]
        shp[a] = -1
        pad = np.zeros(tuple(s + 2 for s in shape), bool)
        pad[1:-1, 1:-1, 1:-1] = fluid
        wrap_halos(pad, periodic)
        lo = [slice(1, -1)] * 3
        hi = [slice(1, -1)] * 3
        lo[a], hi[a] = slice(0, n + 1), slice(1, n + 2)
        both = pad[tuple(lo)] & pad[tuple(hi)]
        G.append(np.where(both, area / d.reshape(shp), 0.0))
    D = np.where(solid, 1.0, 0.0)
    b = np.where(fluid, rng.standard_normal(shape), 0.0)
    b[fluid] -= b[fluid].mean()
    return LinearSystem(G[0], G[1], G[2], D, b), tuple(faces), fluid, b


def _padded(a):
    out = np.zeros(tuple(s + 2 for s in a.shape))
    out[1:-1, 1:-1, 1:-1] = a
    return out


def _slab_system(arch, system, faces, solved):
    ax = arch.axis
    c0, c1 = arch.owned(system.D.shape[ax])

    def cut(x, extra=0):
        sl = [slice(None)] * 3
        sl[ax] = slice(c0, c1 + extra)
        return x[tuple(sl)]

    G = [cut(g, 1 if a == ax else 0) for a, g in enumerate((system.Gx, system.Gy, system.Gz))]
    f = list(faces)
    f[ax] = faces[ax][c0:c1 + 1]
    return LinearSystem(*G, cut(system.D), cut(system.b)), tuple(f), cut(solved)


def check_halos(arch, failures: list) -> None:
    rng = np.random.default_rng(7)
    for periodic in ((True, False, True), (False, True, False)):
        for shape in ((9, 5, 4), (10, 5, 4)):          # cells / faces normal to x
            A = rng.random(shape)
            expected = A.copy()
            wrap_halos(expected, periodic)
            local = arch.local_field(A)
            ax = arch.axis
            lo, hi = arch.connected(periodic)[ax]
            sl = [slice(None)] * 3
            for side, on in ((0, lo), (-1, hi)):
                if on:
                    sl[ax] = side
                    local[tuple(sl)] = np.nan
            arch.fill_halos(local, periodic)
            if not np.array_equal(local, arch.local_field(expected)):
                failures.append(f"halo exchange, periodic {periodic}, shape {shape}")
            if not np.array_equal(arch.allgather(local), expected):
                failures.append(f"allgather after the exchange, periodic {periodic}")
            root = arch.gather(local, root=arch.size - 1)
            if (root is None) != (arch.rank != arch.size - 1) or \
                    (root is not None and not np.array_equal(root, expected)):
                failures.append(f"gather to the last rank, periodic {periodic}")
    grid = Grid.uniform((0, 0, 0), (1, 2, 3), (9, 4, 5))
    mine = arch.local_grid(grid)
    start, stop = arch.owned(9)
    if not (np.array_equal(mine.x, grid.x[start:stop + 1]) and mine.shape[1:] == (4, 5)
            and arch.sum(mine.shape[0]) == 9):
        failures.append("local grids do not tile the global one")


def check_flow_kernels(arch, be, failures: list, periodic) -> None:
    """The flow kernels on each rank's slab, with the flags and far layers the architecture
    gives, equal one process's on the same cells and faces, bit for bit."""
    rng = np.random.default_rng(11)
    shape = (13, 6, 5)
    pad = tuple(n + 2 for n in shape)
    faces = [np.concatenate([[0.0], np.cumsum(0.5 + rng.random(n))]) for n in shape]
    fluid = np.ones(pad, np.uint8)
    fluid[4:7, 2:4, 2:4] = 0                               # a solid block
    for a in range(3):                                     # walls, unless periodic
        if not periodic[a]:
            fluid[_layer(a, 0)] = fluid[_layer(a, -1)] = 0
    T, u, v, w = (rng.standard_normal(pad) for _ in range(4))
    G = [rng.random(tuple(n + (a == b) for b, n in enumerate(shape))) for a in range(3)]
    q = rng.random(shape)
    hd = SERIAL.local_widths(faces, periodic)
    h, d = [x[0] for x in hd], [x[1] for x in hd]
    glob = {"T": T, "u": u, "v": v, "w": w, "fluid": fluid}
    for a in glob.values():
        wrap_halos(a, periodic)
    loc = {k: arch.local_field(a) for k, a in glob.items()}
    for a in loc.values():                                 # the ranks' own halo fill
        arch.fill_halos(a, periodic)
    c0, c1 = arch.owned(shape[0])
    Gl = [arch.local_faces(g, a) for a, g in enumerate(G)]
    hdl = arch.local_widths(faces, periodic)
    hl, dl = [x[0] for x in hdl], [x[1] for x in hdl]
    vel, vell = (u, v, w), (loc["u"], loc["v"], loc["w"])
    # energy: every interior cell
    out, outl = np.full(pad, np.nan), np.full(loc["T"].shape, np.nan)
    be.energy_rhs(T, vel, fluid, G, 1.2e3, q, h, d, out, periodic=periodic)
    far = arch.far_layers(loc["T"], periodic, faces[0])
    be.energy_rhs(loc["T"], vell, loc["fluid"], Gl, 1.2e3, q[c0:c1], hl, dl, outl,
                  periodic=arch.wraps_locally(periodic), far=far)
    inner = (slice(1, -1),) * 3
    if not np.array_equal(outl[inner], arch.local_field(out)[inner]):
        failures.append(f"energy_rhs on the slabs, periodic {periodic}")
    # momentum: the faces each rank computes, and together every face one process does
    kp = arch.kernel_periodic(periodic)
    for c in range(3):
        out, outl = np.full(pad, np.nan), np.full(loc["T"].shape, np.nan)
        be.momentum_rhs(c, vel, fluid, T, h, d, 1.5e-5, 0.03, 0.2, out,
                        periodic=periodic[c], upwind=0.3)
        be.momentum_rhs(c, vell, loc["fluid"], loc["T"], hl, dl, 1.5e-5, 0.03, 0.2, outl,
                        periodic=kp[c], upwind=0.3)
        first = 1 if kp[c] else 2
        n = outl.shape[c] - 2
        region = [slice(1, -1)] * 3
        region[c] = slice(first, n + 1)
        if not np.array_equal(outl[tuple(region)], arch.local_field(out)[tuple(region)]):
            failures.append(f"momentum_rhs {c} on the slabs, periodic {periodic}")
        if c == 0:
            computed = arch.sum(n - first + 1)
            if computed != shape[0] - (0 if periodic[0] else 1):
                failures.append(f"x faces computed by the ranks: {computed}")
    # divergence (every cell: faces 1..n+1, the interface's from the halo exchange)
    out, outl = np.full(pad, np.nan), np.full(loc["T"].shape, np.nan)
    be.divergence_rhs(vel, fluid, h, 0.01, out)
    be.divergence_rhs(vell, loc["fluid"], hl, 0.01, outl)
    if not np.array_equal(outl[inner], arch.local_field(out)[inner]):
        failures.append(f"divergence_rhs on the slabs, periodic {periodic}")


def check_reductions(arch, be, failures: list) -> None:
    r, n = arch.rank, arch.size
    a = np.full((3, 3, 3), float(r + 1))
    checks = {
        "sum": (arch.sum(r + 1), n * (n + 1) / 2),
        "max": (arch.max(r + 1), float(n)),
        "min": (arch.min(r + 1), 1.0),
        "all": (arch.all(r == 0), n == 1),
        "any": (arch.any(r == 0), True),
        "dot": (arch.dot(be, a, a), 27.0 * sum((k + 1) ** 2 for k in range(n))),
        "isfinite": (arch.isfinite(be, a, a), True),
        "isfinite_nan": (arch.isfinite(be, a if r else a * np.nan), False),
    }
    for name, (got, want) in checks.items():
        if got != want:
            failures.append(f"reduction {name}: {got} != {want}")


def check_solve(arch, be, failures, figures, periodic, smoother="zline", thin=2,
                gather_cells=4096) -> None:
    system, faces, solved, b = pressure_problem(periodic=periodic, thin=thin)
    kw = dict(solved=solved, singular=True, smoother=smoother, periodic=periodic)
    ref = Multigrid(system, faces, be, np.float64, **kw)
    loc, lfaces, lsolved = _slab_system(arch, system, faces, solved)
    kw["solved"] = lsolved
    mg = DistributedMultigrid(loc, lfaces, be, np.float64, arch, gather_cells=gather_cells,
                              **kw)
    tag = f"periodic {list(map(int, periodic))}, {smoother}, line axis " \
          f"{ref.smoothing_line}, gather level {mg.gather_level}"
    # the preconditioner, bit for bit
    rng = np.random.default_rng(3)
    r = _padded(np.where(solved, rng.standard_normal(solved.shape), 0.0))
    Z = np.zeros_like(r)
    ref.apply(r.copy(), Z)
    z = np.zeros_like(arch.local_field(r))
    mg.apply(arch.local_field(r), z)
    inner = (slice(1, -1),) * 3
    if not np.array_equal(z[inner], arch.local_field(Z)[inner]):
        diff = float(np.abs(z[inner] - arch.local_field(Z)[inner]).max())
        failures.append(f"preconditioner differs from one process's ({tag}): {diff:.3e}")
    # a new capacity term (an implicit step's C / dt) on every level, as one process
    D2 = system.D + 0.5 * solved
    ref2 = Multigrid(system, faces, be, np.float64, **dict(kw, solved=solved))
    ref2.set_capacity(D2)
    mg.set_capacity(arch.local_cells(D2))
    Z2, z2 = np.zeros_like(Z), np.zeros_like(z)
    ref2.apply(r.copy(), Z2)
    mg.apply(arch.local_field(r), z2)
    if not np.array_equal(z2[inner], arch.local_field(Z2)[inner]) or np.array_equal(Z2, Z):
        failures.append(f"preconditioner after set_capacity ({tag})")
    mg = DistributedMultigrid(loc, lfaces, be, np.float64, arch, gather_cells=gather_cells,
                              **kw)
    # the solve
    X = np.zeros_like(r)
    t0 = time.perf_counter()
    st1 = pcg(be, (system.Gx, system.Gy, system.Gz, system.D), _padded(b), X, ref.apply,
              1e-10, 200, fill_halo=ref.fill_halo if any(periodic) else None, arch=SERIAL)
    t1 = time.perf_counter()
    x = np.zeros_like(arch.local_field(r))
    op = (loc.Gx, loc.Gy, loc.Gz, loc.D)
    st2 = pcg(be, op, _padded(loc.b), x, mg.apply, 1e-10, 200, fill_halo=mg.fill_halo,
              arch=arch)
    t2 = time.perf_counter()
    Xg = arch.allgather(x)
    rel = float(np.abs(Xg[inner] - X[inner]).max() / np.abs(X[inner]).max())
    figures.append({"case": tag, "levels": mg.describe(), "iterations_1": st1.iterations,
                    "iterations_n": st2.iterations, "max_rel_diff": rel,
                    "residual_1": st1.residual, "residual_n": st2.residual,
                    "seconds_1": round(t1 - t0, 3), "seconds_n": round(t2 - t1, 3)})
    if not (st1.converged and st2.converged):
        failures.append(f"pcg did not converge ({tag})")
    if st1.iterations != st2.iterations:
        failures.append(f"iterations {st2.iterations} != {st1.iterations} ({tag})")
    if not rel <= 1e-12:
        failures.append(f"solution differs by {rel:.3e} relative ({tag})")


def main(argv=None) -> int:
    from mpi4py import MPI

    from ..backends import get_backend

    t0 = time.perf_counter()
    arch = Distributed(MPI.COMM_WORLD, axis=0)
    be = get_backend("cpu")
    failures: list[str] = []
    figures: list[dict] = []
    check_halos(arch, failures)
    check_reductions(arch, be, failures)
    for periodic in ((True, False, True), (False, True, False)):
        check_flow_kernels(arch, be, failures, periodic)
    xper, yper = (True, False, False), (False, True, False)
    for kw in (dict(periodic=xper), dict(periodic=xper, gather_cells=0),
               dict(periodic=yper, smoother="rbgs", gather_cells=0),
               dict(periodic=xper, thin=1, gather_cells=0),   # y lines
               dict(periodic=yper, thin=0)):          # lines along the split axis
        check_solve(arch, be, failures, figures, **kw)
    failures = sorted(set(sum(arch.comm.allgather(failures), [])))
    if arch.rank == 0:
        print(json.dumps({"ranks": arch.size, "failures": failures, "solves": figures,
                          "seconds": round(time.perf_counter() - t0, 2)}))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
