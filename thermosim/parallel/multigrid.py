"""The multigrid preconditioner across ranks: the same V-cycle as one process, to the bit.

Design (the simplest that is exact):

* Set-up: every rank gathers the fine system (conductances, capacities, solved cells) and
  builds the one-process hierarchy from it, so that the aggregation, the smoother choice and
  the coarse operators are those of one process.  (This gathers the *fine system* on every
  rank once, on the host: fine for a proof and for a few ranks, not for many; a scalable
  set-up would coarsen each slab locally.)
* The fine level, and the coarse levels while every rank still holds a slab at least
  two cells thick and the level is larger than ``gather_cells``, are smoothed on the rank's
  slab: red-black Gauss-Seidel or zebra lines (along an axis that is not split, so rank-
  local), with the halo exchange before every colour and the colours taken by *global*
  index parity.  One colour's cells (or lines) are independent of each other, so the sweep
  gives the same bits as one process.  A coarse cell belongs to the rank holding its first
  fine cell; an aggregate straddling a rank interface reads its second cell from the halo
  (exchanged), in the one-process summation order.
* The residual of the first level past those (the *gather level*) is gathered to every
  rank, which runs the rest of the V-cycle (its smoothing, coarser levels, the coarsest
  direct solve) on the gathered problem exactly as one process does, and keeps its own slab
  of the correction (plus one halo layer for the prolongation).  What is gathered per
  application is that level's residual: with the default ``gather_cells`` a few thousand
  cells; gathering the fine level (``gather_cells`` at least the fine size, or a line
  smoother along the split axis) would not scale.

So the preconditioner is the same fixed linear operator on 1 or N ranks; CG on N ranks
differs from one process only in the dot products' summation order.
"""

from __future__ import annotations

import numpy as np

from ..linear_system import LinearSystem
from ..solvers.multigrid import Level, Multigrid
from .architecture import SERIAL, _layer, slab

#: Levels with at most this many cells (globally) are gathered and cycled on every rank.
GATHER_CELLS = 4096


def multigrid_for(system: LinearSystem, faces: tuple, backend, dtype, arch=None, **kw):
    """The V-cycle preconditioner for ``arch``: :class:`Multigrid` for one process (the
    system and faces its own), :class:`DistributedMultigrid` across ranks (the system and
    faces of this rank's slab)."""
    arch = SERIAL if arch is None else arch
    if arch.size == 1:
        return Multigrid(system, faces, backend, dtype, arch=arch, **kw)
    return DistributedMultigrid(system, faces, backend, dtype, arch, **kw)


class DistributedMultigrid:
    """A V-cycle over the ranks of a :class:`~thermosim.parallel.Distributed` architecture;
    ``system``, ``faces`` and ``solved`` are this rank's slab (faces along the split axis:
    its cells' faces, the interface faces' conductances the true ones between the slabs).
    Same keywords as :class:`Multigrid`; ``gather_cells`` sets the gather level."""

    def __init__(self, system: LinearSystem, faces: tuple, backend, dtype, arch,
                 solved=None, periodic: tuple = (False, False, False),
                 gather_cells: int = GATHER_CELLS, **kw):
        self.arch = arch
        self.backend = backend
        self.dtype = np.dtype(dtype)
        self.periodic = tuple(bool(p) for p in periodic)
        ax = self.axis = arch.axis
        G = (system.Gx, system.Gy, system.Gz)
        Gg = tuple(arch.allgather_faces(np.asarray(g), axis=a) for a, g in enumerate(G))
        Dg = arch.allgather_cells(np.asarray(system.D))
        sg = None if solved is None else arch.allgather_cells(np.asarray(solved))
        fg = list(faces)
        parts = arch.comm.allgather(np.asarray(faces[ax]))
        fg[ax] = np.concatenate([p[:-1] for p in parts] + [parts[-1][-1:]])
        zero = np.zeros(Dg.shape)
        self.serial = Multigrid(LinearSystem(*Gg, Dg, zero), tuple(fg), backend, dtype,
                                solved=sg, periodic=self.periodic, **kw)
        self._host_G = [Gg] + [r[2] for r in self.serial._restrictions]
        self._build_levels(gather_cells)

    # -- set-up -------------------------------------------------------------------------
    def _ranges(self):
        """Per level, this rank's global cell range along the split axis, and whether
        every rank's slab there is at least two cells thick and each aggregate of the
        next level reaches at most one cell past its rank's slab."""
        ax, arch = self.axis, self.arch
        n0 = self.serial.levels[0].shape[ax]
        bounds = [[slab(n0, arch.size, r) for r in range(arch.size)]]
        ok = [all(b - a >= 2 for a, b in bounds[0])]
        for offsets, _, _ in self.serial._restrictions:
            o = offsets[ax]
            nxt = [(int(np.searchsorted(o[:-1], a)), int(np.searchsorted(o[:-1], b)))
                   for a, b in bounds[-1]]
            reach = all(o[c1] <= b + 1 for (c0, c1), (_, b) in zip(nxt, bounds[-1]))
            ok[-1] = ok[-1] and reach
            bounds.append(nxt)
            ok.append(all(b - a >= 2 for a, b in nxt))
        return [b[arch.rank] for b in bounds], ok

    def _build_levels(self, gather_cells: int) -> None:
        be, ax, s = self.backend, self.axis, self.serial
        ranges, ok = self._ranges()
        line_split = s.smoothing_line == ax        # lines across the ranks: gather all
        g = 0
        if not line_split:
            while g < s.nlevels - 1 and ok[g] and (g == 0 or s.levels[g].D.size > gather_cells):
                g += 1
        self.gather_level = g
        self._ranges_ = ranges
        self.levels: list[Level] = []
        for li in range(g):
            c0, c1 = ranges[li]
            cells = _layer(ax, slice(c0, c1))
            G = []
            for a, ga in enumerate(self._host_G[li]):
                G.append(ga[_layer(ax, slice(c0, c1 + 1))] if a == ax else ga[cells])
            D = np.asarray(be.to_host(s.levels[li].D))[cells]
            lev = Level(D.shape, *(be.asarray(x, self.dtype) for x in G),
                        be.asarray(D, self.dtype))
            pad = tuple(n + 2 for n in D.shape)
            if li > 0:
                lev.b = be.zeros(pad, self.dtype)
                lev.x = be.zeros(pad, self.dtype)
            lev.r = be.zeros(pad, self.dtype)
            o = list(s._restrictions[li][0])
            k0, k1 = ranges[li + 1]
            o[ax] = o[ax][k0:k1 + 1] - c0
            lev.offsets = tuple(be.asarray(v, np.int64) for v in o)
            maps = []
            for a in range(3):
                full = np.repeat(np.arange(s._restrictions[li][0][a].size - 1),
                                 np.diff(s._restrictions[li][0][a]))
                # a fine cell whose aggregate starts on the rank below maps to -1: the
                # coarse correction's low halo
                maps.append(full[c0:c1] - k0 if a == ax else full)
            lev.maps = tuple(be.asarray(m, np.int64) for m in maps)
            self.levels.append(lev)
        if g > 0:
            k0, k1 = ranges[g]
            shape = list(s.levels[g].shape)
            shape[ax] = k1 - k0
            self._gather_b = be.zeros(tuple(n + 2 for n in shape), self.dtype)

    def set_capacity(self, D: np.ndarray) -> None:
        """Replace the capacity term D (this rank's slab, host) on every level."""
        self.serial.set_capacity(self.arch.allgather_cells(np.asarray(D, float)))
        be, ax = self.backend, self.axis
        for li, lev in enumerate(self.levels):
            c0, c1 = self._ranges_[li]
            d = np.asarray(be.to_host(self.serial.levels[li].D))[_layer(ax, slice(c0, c1))]
            lev.D[...] = be.asarray(d, self.dtype)

    @property
    def nlevels(self) -> int:
        return self.serial.nlevels

    def describe(self) -> str:
        return f"{self.serial.describe()} (levels from {self.gather_level} gathered)"

    # -- the cycle ------------------------------------------------------------------------
    def fill_halo(self, x) -> None:
        """Rank interfaces and periodic axes: the halos take the neighbours' layers."""
        self.arch.fill_halos(x, self.periodic)

    def apply(self, r, z) -> None:
        """z = M^-1 r on this rank's slab (r and z padded; z's halo left to the caller)."""
        if self.gather_level == 0:
            R = self.arch.allgather(np.asarray(self.backend.to_host(r)))
            Z = np.zeros_like(R)
            self.serial.apply(self.backend.asarray(R, self.dtype), Z)
            z[...] = self.backend.asarray(self._slab_of(Z, 0), self.dtype)
            return
        self._cycle(0, r, z)

    def _slab_of(self, a, li):
        c0, c1 = self._ranges_[li]
        return a[_layer(self.axis, slice(c0, c1 + 2))]

    def _smooth(self, li, x, b, colour) -> None:
        lev = self.levels[li]
        self.fill_halo(x)                  # each colour meets the other's news
        shift = self._ranges_[li][0] & 1   # colours by global index parity
        self.serial.base_smooth(x, lev.Gx, lev.Gy, lev.Gz, lev.D, b, colour ^ shift)

    def _cycle(self, li: int, b, x) -> None:
        be, s = self.backend, self.serial
        lev = self.levels[li]
        x.fill(0)
        for _ in range(s.smoothing):
            self._smooth(li, x, b, 0)
            self._smooth(li, x, b, 1)
        self.fill_halo(x)
        be.residual(b, x, lev.Gx, lev.Gy, lev.Gz, lev.D, lev.r)
        self.fill_halo(lev.r)              # a straddling aggregate's second cell
        if li + 1 < self.gather_level:
            nxt = self.levels[li + 1]
            be.restrict(lev.r, nxt.b, *lev.offsets)
            self._cycle(li + 1, nxt.b, nxt.x)
            self.fill_halo(nxt.x)
            xc = nxt.x
        else:
            xc = self._gathered_cycle(lev)
        be.prolong_add(xc, x, *lev.maps)
        for _ in range(s.smoothing):
            self._smooth(li, x, b, 1)
            self._smooth(li, x, b, 0)

    def _gathered_cycle(self, lev):
        """Restrict to the gather level, gather its right-hand side to every rank, cycle it
        as one process, and return this rank's slab of the correction (with halos)."""
        be, s, g = self.backend, self.serial, self.gather_level
        be.restrict(lev.r, self._gather_b, *lev.offsets)
        inner = np.asarray(be.to_host(self._gather_b))[1:-1, 1:-1, 1:-1]
        full = self.arch.allgather_cells(inner)
        top = s.levels[g]
        top.b[1:-1, 1:-1, 1:-1] = be.asarray(full, self.dtype)
        s._cycle(g, top.b, top.x)
        return self._slab_of(top.x, g)
