"""Geometric multigrid for the conductance-form operator on non-uniform grids.

Cells are aggregated two by two along the axes whose coupling is strongest (semi-coarsening
keeps thin, strongly coupled layers working).  A coarse face conductance is the sum of the
fine ones across that face times ``d_fine / d_coarse``, the ratio of centre distances, which
is what rediscretising on the coarse grid would give for a uniform material; the capacity
term D is summed.  The V-cycle smooths with red-black Gauss-Seidel (red then black before
the coarse correction, black then red after), so the cycle is a symmetric preconditioner for
conjugate gradients.  The coarsest level is solved exactly with a dense inverse.

Hierarchy set-up runs once on the host in NumPy; the cycle runs on any backend.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..backends.blas_threads import one_blas_thread
from ..linear_system import LinearSystem
# (wrap_halos lives with the architectures now; older callers import it from here)
from ..parallel.architecture import SERIAL, wrap_halos  # noqa: F401

COARSEST_CELLS = 512


@dataclass
class Level:
    shape: tuple[int, int, int]
    Gx: object
    Gy: object
    Gz: object
    D: object
    b: object = None        # right-hand side work array, with halo
    x: object = None        # solution work array, with halo
    r: object = None        # residual work array, with halo
    offsets: tuple = ()     # aggregation offsets to the next coarser level (host + device)
    maps: tuple = ()        # fine cell -> coarse cell per axis (device)


def _padded_centres(faces: np.ndarray) -> np.ndarray:
    c = 0.5 * (faces[1:] + faces[:-1])
    return np.concatenate([[faces[0]], c, [faces[-1]]])


def _coarsen_axis(n: int, jump: np.ndarray | None = None) -> np.ndarray:
    """Aggregate cells two by two along an axis, without pairing across a face where the
    material jumps (``jump[f]`` for the face between cells f-1 and f): an aggregate that
    straddles copper and air makes a poor coarse cell.  Falls back to plain pairs if
    avoiding jumps would leave too little coarsening."""
    nc = n // 2
    off = 2 * np.arange(nc + 1)
    off[-1] = n
    if jump is None or not jump.any():
        return off
    out = [0]
    i = 0
    while i < n:
        i += 2 if (i + 1 < n and not jump[i + 1]) else 1
        out.append(min(i, n))
    if len(out) - 1 > 0.75 * n:
        return off
    return np.asarray(out)


def _cell_conductance(G: tuple, shape) -> np.ndarray:
    """Sum of the face conductances of every cell (W/K)."""
    diag = np.zeros(shape)
    for a in range(3):
        lo = [slice(None)] * 3
        hi = [slice(None)] * 3
        lo[a] = slice(0, -1)
        hi[a] = slice(1, None)
        diag += G[a][tuple(lo)] + G[a][tuple(hi)]
    return diag


def _jump_faces(diag: np.ndarray, axis: int, ratio: float = 5.0) -> np.ndarray:
    """Faces along ``axis`` across which the cell conductance ``diag`` changes by more than
    ``ratio`` somewhere in the cross-section (a material interface)."""
    shape = diag.shape
    lo = [slice(None)] * 3
    hi = [slice(None)] * 3
    lo[axis] = slice(0, -1)
    hi[axis] = slice(1, None)
    d0, d1 = diag[tuple(lo)], diag[tuple(hi)]
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.maximum(d0, d1) / np.minimum(d0, d1)
    big = ~(r <= ratio)                     # NaN/inf (void next to solid) count as jumps
    big &= (d0 > 0) | (d1 > 0)
    other = tuple(b for b in range(3) if b != axis)
    jump = np.zeros(shape[axis] + 1, bool)
    jump[1:-1] = big.any(axis=other)
    return jump


def _strength(G: np.ndarray, axis: int) -> float:
    sl = [slice(None)] * 3
    sl[axis] = slice(1, -1)
    g = G[tuple(sl)].ravel()
    g = g[::max(1, g.size // 200_000)]      # a sample is plenty for a median
    g = g[g > 0]
    return float(np.median(g)) if g.size else 0.0


def _take(a, idx, axis):
    return np.take(a, idx, axis=axis)


def _series_face_conductance(G: np.ndarray, axis: int, o: np.ndarray,
                             periodic: bool = False) -> np.ndarray:
    """Conductance between neighbouring aggregates along ``axis``, per fine column.

    The path from one aggregate's centre to the next runs through half of each aggregate's
    internal resistance and the fine face between them, in series.  A thin resistive layer
    (a TIM, a material jump) inside an aggregate therefore weakens the coarse coupling as it
    does on the fine grid; for a uniform material this is the rediscretised conductance.
    """
    with np.errstate(divide="ignore"):
        inv = np.where(G > 0, 1.0 / np.where(G > 0, G, 1.0), np.inf)
    m = np.diff(o)
    nc = m.size
    shape = [1, 1, 1]
    shape[axis] = nc
    rho = np.zeros(tuple(nc if b == axis else G.shape[b] for b in range(3)))
    for k in range(1, int(m.max())):
        valid = (m > k).reshape(shape)
        vals = _take(inv, np.minimum(o[:-1] + k, G.shape[axis] - 1), axis)
        # a missing internal face (void inside the aggregate) adds no path length
        rho = rho + np.where(valid & np.isfinite(vals), vals, 0.0)
    rho *= 0.5
    R = _take(inv, o, axis).copy()
    lo = [slice(None)] * 3
    hi = [slice(None)] * 3
    lo[axis] = slice(1, None)
    hi[axis] = slice(0, -1)
    R[tuple(lo)] += rho          # the aggregate on the minus side of each coarse face
    R[tuple(hi)] += rho          # the aggregate on the plus side
    if periodic:
        # the first and the last face are one face, between the last aggregate and the
        # first: its path runs through half of each
        first = [slice(None)] * 3
        last = [slice(None)] * 3
        first[axis], last[axis] = slice(0, 1), slice(nc - 1, nc)
        wrap = _take(inv, [0], axis) + rho[tuple(first)] + rho[tuple(last)]
        last[axis] = slice(nc, nc + 1)
        R[tuple(first)] = wrap
        R[tuple(last)] = wrap
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(np.isfinite(R) & (R > 0), 1.0 / R, 0.0)


def line_axis(G: tuple, weight: np.ndarray | None = None) -> int:
    """The axis for line smoothing: the one carrying the largest share of the cells' face
    conductance (the stacking axis of thin layers), z unless another clearly dominates."""
    parts = []
    for a in range(3):
        lo = [slice(None)] * 3
        hi = [slice(None)] * 3
        lo[a] = slice(0, -1)
        hi[a] = slice(1, None)
        parts.append(G[a][tuple(lo)] + G[a][tuple(hi)])
    total = parts[0] + parts[1] + parts[2]
    ok = total > 0 if weight is None else (total > 0) & weight
    if not ok.any():
        return 2
    score = [float(np.mean(p[ok] / total[ok])) for p in parts]
    best = int(np.argmax(score))
    return 2 if score[2] >= 0.9 * score[best] else best


def coarsen(G: tuple, D: np.ndarray, weight: np.ndarray, faces: tuple, line: int = 2,
            periodic: tuple = (False, False, False)):
    """One coarsening step.  Returns (offsets per axis, coarse G, coarse D, coarse faces), or
    None when no axis can be coarsened.  ``line`` is the line-smoothing axis; along a
    ``periodic`` axis the first and last faces are one (wrap-around) face."""
    shape = D.shape
    strength = [_strength(G[a], a) if shape[a] >= 2 else -1.0 for a in range(3)]
    smax = max(strength)
    if smax < 0:
        return None
    offsets = []
    diag = _cell_conductance(G, shape)
    # The line smoother solves the line axis exactly, whatever the local coupling along it
    # (thin layers of a stack-up: strong; a board's through-plane: weak), so that axis is
    # only coarsened once the other two cannot be -- unless its coupling is comparable to
    # the plane's (within a factor 5 either way, a near-isotropic problem), where it is
    # coarsened with them: that keeps the lines short on the coarse levels (on a GPU a long
    # line is a long sequential recurrence with few lines beside it) at no cost in
    # iterations.  Coarsening a strongly coupled stack-up along its lines costs iterations
    # (15 -> 20 on the 200k-cell GPU package), so those keep their full lines.  The plane's
    # axes are coarsened where their coupling is comparable to the stronger of the two.
    plane = [a for a in range(3) if a != line]
    sp = max(strength[a] for a in plane)
    for a in range(3):
        if a != line:
            coarse = shape[a] >= 2 and (strength[a] >= 0.2 * sp or sp <= 0.0)
        else:
            coarse = shape[a] >= 2 and (all(shape[b] < 2 for b in plane)
                                        or 0.2 * sp <= strength[a] <= 5.0 * sp)
        offsets.append(_coarsen_axis(shape[a], _jump_faces(diag, a)) if coarse
                       else np.arange(shape[a] + 1))
    cfaces = tuple(faces[a][offsets[a]] for a in range(3))
    Gc = []
    for a in range(3):
        g = _series_face_conductance(G[a], a, offsets[a], periodic[a])
        for b in range(3):
            if b != a:
                g = np.add.reduceat(g, offsets[b][:-1], axis=b)
        Gc.append(g)
    Dc, wc = restrict_capacity(D, weight, offsets, Gc)
    return offsets, tuple(Gc), Dc, wc, cfaces


def restrict_capacity(D: np.ndarray, weight: np.ndarray, offsets, Gc) -> tuple:
    """The coarse capacity term (the sum of the solved fine cells' D over each aggregate)
    and which coarse cells hold a solved cell.  An aggregate of only unsolved cells keeps
    a positive, decoupled diagonal."""
    Dc = D * weight
    wc = weight.astype(float)
    for b in range(3):
        Dc = np.add.reduceat(Dc, offsets[b][:-1], axis=b)
        wc = np.add.reduceat(wc, offsets[b][:-1], axis=b)
    empty = wc == 0
    if empty.any():
        pos = np.concatenate([g[g > 0] for g in Gc]) if any((g > 0).any() for g in Gc) \
            else np.ones(1)
        Dc = np.where(empty, np.median(pos), Dc)
    return Dc, wc > 0


def dense_matrix(G: tuple, D: np.ndarray,
                 periodic: tuple = (False, False, False)) -> np.ndarray:
    """The operator as a dense matrix (small coarsest levels only); along a ``periodic``
    axis the boundary face couples the last cell to the first."""
    n = D.shape
    N = D.size
    idx = np.arange(N).reshape(n)
    A = np.zeros((N, N))
    diag = D.copy()
    for a in range(3):
        g = G[a]
        sl_lo = [slice(None)] * 3
        sl_hi = [slice(None)] * 3
        sl_lo[a] = slice(0, -1)
        sl_hi[a] = slice(1, None)
        diag += g[tuple(sl_lo)] + g[tuple(sl_hi)]   # faces on both sides of each cell
        inner = [slice(None)] * 3
        inner[a] = slice(1, -1)
        gi = g[tuple(inner)].ravel()
        i0 = idx[tuple(sl_lo)].ravel()
        i1 = idx[tuple(sl_hi)].ravel()
        A[i0, i1] -= gi
        A[i1, i0] -= gi
        if periodic[a] and n[a] >= 2:
            first = [slice(None)] * 3
            last = [slice(None)] * 3
            first[a], last[a] = 0, n[a] - 1
            gw = g[tuple(first)].ravel()
            j0, j1 = idx[tuple(first)].ravel(), idx[tuple(last)].ravel()
            A[j0, j1] -= gw
            A[j1, j0] -= gw
    A[np.arange(N), np.arange(N)] += diag.ravel()
    return A


class Multigrid:
    """A V-cycle preconditioner for one :class:`LinearSystem` on one backend."""

    def __init__(self, system: LinearSystem, faces: tuple, backend, dtype, solved=None,
                 smoothing: int = 2, max_levels: int = 25, smoother: str = "zline",
                 singular: bool = False, periodic: tuple = (False, False, False),
                 arch=None):
        """``singular``: the operator has the constants as null space (a pressure equation
        with no fixed-pressure boundary); the coarsest level then uses the pseudo-inverse,
        which is exact on the right-hand sides such a system admits (zero sum).
        ``periodic``: per axis, the domain wraps around; the boundary faces' conductances
        (first and last, equal) couple the last cell to the first, and every kernel meets
        the neighbour across the wrap in the halo, which :meth:`fill_halo` fills.
        ``arch``: whose ``fill_halos`` fills the halos (default serial: the wrap); for ranks
        sharing one system see :class:`thermosim.parallel.multigrid.DistributedMultigrid`."""
        self.periodic = tuple(bool(p) for p in periodic)
        self.arch = SERIAL if arch is None else arch
        self.backend = backend
        self.dtype = np.dtype(dtype)
        self.smoothing = smoothing
        be = backend
        weight0 = np.ones(system.D.shape, bool) if solved is None else solved
        self.line_axis = line_axis((system.Gx, system.Gy, system.Gz), weight0)
        if smoother == "rbgs" or self.periodic[self.line_axis]:
            # (a line across the wrap would be a cyclic system: not what line_gs solves)
            self._smooth = be.rbgs
        elif self.line_axis == 2 or not hasattr(be, "line_gs"):
            self.line_axis = 2
            self._smooth = be.zline_gs
        else:
            axis = self.line_axis
            self._smooth = lambda x, Gx, Gy, Gz, D, b, c: be.line_gs(x, Gx, Gy, Gz, D, b, c,
                                                                     axis)
        self.base_smooth = self._smooth        # one colour, no halo fill
        # the axis the smoother solves lines along (None: point red-black Gauss-Seidel)
        self.smoothing_line = None if self._smooth == be.rbgs else self.line_axis
        if any(self.periodic):
            smooth = self._smooth

            def periodic_smooth(x, *args):
                self.fill_halo(x)                  # each colour meets the other's news
                smooth(x, *args)
            self._smooth = periodic_smooth
        G = (system.Gx, system.Gy, system.Gz)
        D = system.D
        weight = np.ones(D.shape, bool) if solved is None else solved
        host_levels = [(G, D)]
        offs = []
        self._restrictions = []       # (offsets, fine weight, coarse G) of each coarsening
        while D.size > COARSEST_CELLS and len(host_levels) < max_levels:
            out = coarsen(G, D, weight, faces, self.line_axis, self.periodic)
            if out is None:
                break
            self._restrictions.append((out[0], weight, out[1]))
            o, G, D, weight, faces = out
            offs.append(o)
            host_levels.append((G, D))
        self.levels: list[Level] = []
        for li, (G, D) in enumerate(host_levels):
            shape = D.shape
            pad = tuple(s + 2 for s in shape)
            lev = Level(shape, *(be.asarray(g, self.dtype) for g in G), be.asarray(D, self.dtype))
            if li > 0:                      # the finest level works on the caller's r and z
                lev.b = be.zeros(pad, self.dtype)
                lev.x = be.zeros(pad, self.dtype)
            lev.r = be.zeros(pad, self.dtype)
            if li < len(offs):
                o = offs[li]
                lev.offsets = tuple(be.asarray(v, np.int64) for v in o)
                maps = []
                for a in range(3):
                    m = np.repeat(np.arange(o[a].size - 1), np.diff(o[a]))
                    maps.append(be.asarray(m, np.int64))
                lev.maps = tuple(maps)
            self.levels.append(lev)
        Gc, Dc = host_levels[-1]
        self._coarsest_G = Gc
        self._singular = singular
        self.coarsest_direct = Dc.size <= 4 * COARSEST_CELLS
        if self.coarsest_direct:
            self._invert_coarsest(Dc)

    def _invert_coarsest(self, Dc: np.ndarray) -> None:
        A = dense_matrix(self._coarsest_G, Dc, self.periodic)
        with one_blas_thread():         # LAPACK's rounding follows its thread count
            inv = np.linalg.pinv(A, hermitian=True) if self._singular else np.linalg.inv(A)
        self.coarse_inverse = self.backend.asarray(inv, self.dtype)

    def set_capacity(self, D: np.ndarray) -> None:
        """Replace the capacity term D on every level (host array, fine-level shape), the
        conductances unchanged: the implicit steps' D = C / dt moves with the time step,
        and the aggregation depends on the conductances only."""
        Ds = [np.asarray(D, float)]
        for offsets, weight, Gc in self._restrictions:
            Ds.append(restrict_capacity(Ds[-1], weight, offsets, Gc)[0])
        for lev, d in zip(self.levels, Ds):
            lev.D[...] = self.backend.asarray(d, self.dtype)
        if self.coarsest_direct:
            self._invert_coarsest(Ds[-1])

    @property
    def nlevels(self) -> int:
        return len(self.levels)

    def describe(self) -> str:
        return " > ".join("x".join(str(s) for s in lev.shape) for lev in self.levels)

    def apply(self, r, z):
        """z = M^-1 r (one V-cycle from a zero guess); r and z carry halos (on periodic axes
        z's halo is left to the caller: pcg fills each search direction's)."""
        self._cycle(0, r, z)

    def fill_halo(self, x):
        """Periodic axes: the halos take the images across the wrap (see wrap_halos), so
        that the kernels meet the neighbour across the wrap there."""
        self.arch.fill_halos(x, self.periodic)

    def _cycle(self, li: int, b, x):
        be = self.backend
        lev = self.levels[li]
        if li == len(self.levels) - 1:
            if self.coarsest_direct:
                n = lev.shape
                x[1:-1, 1:-1, 1:-1] = be.dense_matvec(self.coarse_inverse,
                                                      b[1:-1, 1:-1, 1:-1].ravel()).reshape(n)
            else:
                x.fill(0)
                for order in ((0, 1), (1, 0)):
                    for _ in range(50):
                        for colour in order:
                            self.fill_halo(x)
                            be.rbgs(x, lev.Gx, lev.Gy, lev.Gz, lev.D, b, colour)
            return
        x.fill(0)
        for _ in range(self.smoothing):
            self._smooth(x, lev.Gx, lev.Gy, lev.Gz, lev.D, b, 0)
            self._smooth(x, lev.Gx, lev.Gy, lev.Gz, lev.D, b, 1)
        self.fill_halo(x)
        be.residual(b, x, lev.Gx, lev.Gy, lev.Gz, lev.D, lev.r)
        nxt = self.levels[li + 1]
        be.restrict(lev.r, nxt.b, *lev.offsets)
        self._cycle(li + 1, nxt.b, nxt.x)
        be.prolong_add(nxt.x, x, *lev.maps)
        for _ in range(self.smoothing):
            self._smooth(x, lev.Gx, lev.Gy, lev.Gz, lev.D, b, 1)
            self._smooth(x, lev.Gx, lev.Gy, lev.Gz, lev.D, b, 0)
