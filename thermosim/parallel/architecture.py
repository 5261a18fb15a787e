"""Serial and distributed architectures: halo fills and global reductions in one place.

A field is a padded array (nx+2, ny+2, nz+2): one halo cell each side.  A face array normal
to an axis holds at index i the face between cells i-1 and i, its boundary faces at 1 and
n+1.  ``periodic`` is the *global* per-axis wrap (what the case says); an architecture
turns it into what a process's halos and kernels see.

:class:`Distributed` splits the domain into slabs along one axis (x by default), one per
MPI rank.  A rank's faces on that axis at a rank interface behave like a periodic wrap whose
image is the neighbour's data: the halo takes the neighbour's first or last interior layer,
the face velocity at the interface is computed by the rank for which it is face 1 (as a
periodic axis computes face 1) and copied into the other rank's face n+1 by the exchange.

Reductions take a rank's *local* value (a number: reduce the array on the rank first, over
the cells it owns) and return the global one, identical on every rank: the partial values
are gathered and summed in rank order, so that every rank rounds alike (an MPI allreduce
may round differently on different ranks).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..grid import Grid


def wrap_halos(a, periodic) -> None:
    """Along each periodic axis of an array with a one-cell halo, the low halo takes the
    last interior layer and the high halo the first (for a face array normal to the axis:
    face 0 is face n's image and face n+1 face 1's).  Any array module."""
    for axis, per in enumerate(periodic):
        if not per:
            continue
        n = a.shape[axis] - 2
        lo, hi, first, last = ([slice(None)] * 3 for _ in range(4))
        lo[axis], hi[axis], first[axis], last[axis] = 0, n + 1, 1, n
        a[tuple(lo)] = a[tuple(last)]
        a[tuple(hi)] = a[tuple(first)]


def slab(n: int, size: int, rank: int) -> tuple[int, int]:
    """The cells [start, stop) of ``n`` along the split axis that ``rank`` of ``size`` owns:
    slabs as even as possible, the first ``n % size`` ranks one cell thicker."""
    if not 0 <= rank < size:
        raise ValueError(f"rank {rank} is not one of {size}")
    base, extra = divmod(n, size)
    start = rank * base + min(rank, extra)
    return start, start + base + (1 if rank < extra else 0)


def halo_widths(faces: np.ndarray, periodic: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Widths with halo (m; a halo cell as wide as its neighbour, or along a periodic axis
    as its image across the wrap) and centre distances d[i] between cells i-1 and i (m;
    d[0] repeats d[1]): the flow kernels' ``h`` and ``d`` of one process."""
    h = np.diff(faces)
    hh = np.concatenate([[h[-1]], h, [h[0]]]) if periodic else \
        np.concatenate([[h[0]], h, [h[-1]]])
    d = np.empty_like(hh)
    d[1:] = 0.5 * (hh[1:] + hh[:-1])
    d[0] = d[1]
    return hh, d


@dataclass(frozen=True)
class FarLayers:
    """What a rank's energy kernel needs beyond its one-cell halos at rank interfaces along
    ``axis``: the bounded advection's second upwind cell.  ``lo``: the padded layer of
    cells at local index -1 (the low neighbour's second-last interior layer), ``hi``: at
    index n+2 (the high neighbour's second), None where that face is a real boundary;
    ``d_lo``, ``d_hi``: their centre distances to the halo cells (m)."""

    axis: int
    lo: object
    hi: object
    d_lo: float
    d_hi: float


def _layer(axis: int, index) -> tuple:
    sl = [slice(None)] * 3
    sl[axis] = index
    return tuple(sl)


class Serial:
    """One process owns the whole domain: reductions are the values themselves and a halo
    fill wraps the periodic axes (the default architecture)."""

    rank = 0
    size = 1
    axis = None                     # no split axis

    # -- reductions (local value in, global value out) ----------------------------------
    def sum(self, x) -> float:
        return float(x)

    def max(self, x) -> float:
        return float(x)

    def min(self, x) -> float:
        return float(x)

    def all(self, flag) -> bool:
        return bool(flag)

    def any(self, flag) -> bool:
        return bool(flag)

    def dot(self, be, a, b) -> float:
        """sum(a * b) over the whole (padded) arrays: the halos must hold zeros or
        whatever the caller means to count (as ``be.dot``)."""
        return self.sum(be.dot(a, b))

    def isfinite(self, be, *arrays) -> bool:
        """No NaN or infinity in any of ``arrays`` on any rank."""
        xp = be.xp
        return self.all(all(bool(xp.isfinite(a).all()) for a in arrays))

    # -- halos ------------------------------------------------------------------------
    def fill_halos(self, a, periodic) -> None:
        """Fill the halos that are images of other cells: along each ``periodic`` axis
        (global flags) the wrap; a rank interface (distributed) the neighbour's layers.
        Halos at real boundaries are left alone (the boundary objects own them)."""
        wrap_halos(a, periodic)

    def connected(self, periodic) -> tuple:
        """Per axis, (low face, high face): whether this process's boundary face there is
        an image (periodic wrap or rank interface) rather than a real boundary."""
        return tuple((bool(p), bool(p)) for p in periodic)

    def kernel_periodic(self, periodic) -> tuple:
        """The per-axis ``periodic`` flag for the flow kernels' momentum_rhs / force masks
        (``first = 1 if periodic else 2``: whether face 1 is computed): true where the
        low face is an image.  The high face n+1 is never computed by momentum_rhs; on an
        image face it comes from the halo fill."""
        return tuple(lo for lo, _ in self.connected(periodic))

    def wraps_locally(self, periodic) -> tuple:
        """Per axis: the wrap lies inside this process's array (both ends of a periodic
        axis are here): the energy kernel's ``periodic`` flags (its second upwind cell
        across the wrap is read inside the array)."""
        return tuple(bool(p) for p in periodic)

    def local_widths(self, faces, periodic) -> list:
        """Per axis, (h, d) with halo for this process's cells (see :func:`halo_widths`),
        from the global ``faces``: cut from the global ones, so a rank sees its
        neighbours' widths in its halos."""
        return [halo_widths(f, p) for f, p in zip(faces, periodic)]

    def far_layers(self, a, periodic, faces):
        """The layers beyond the halos at rank interfaces (:class:`FarLayers`) for the
        energy kernel's ``far`` argument; None on one process."""
        return None

    # -- decomposition ----------------------------------------------------------------
    def owned(self, n: int, axis: int | None = None) -> tuple[int, int]:
        """The global cell range [start, stop) this process owns along ``axis``."""
        return 0, n

    def local_grid(self, grid):
        return grid

    def local_field(self, a):
        """This process's part (padded) of a global padded field."""
        return a

    def local_cells(self, a):
        """This process's part of a global cell array without halo (D, q: (nx, ny, nz))."""
        return a

    def local_faces(self, a, normal: int):
        """This process's part of a global face array without halo normal to ``normal``
        (a conductance: Gx (nx+1, ny, nz)); the faces on its slab's boundary included."""
        return a

    def gather(self, a, root: int = 0):
        """The global padded field (on ``root``; None elsewhere)."""
        return a

    def allgather(self, a):
        """The global padded field on every process."""
        return a

    def allgather_cells(self, a, axis: int | None = None):
        """A global cell array (no halo) from every rank's part."""
        return a

    def allgather_faces(self, a, axis: int | None = None):
        """A global face array normal to the split axis (no halo, n+1 faces) from every
        rank's part (the shared interface face taken once)."""
        return a

    def barrier(self) -> None:
        pass


#: The default architecture, passed down where none is given.
SERIAL = Serial()


class Distributed(Serial):
    """Slabs along ``axis`` over the ranks of an mpi4py communicator ``comm``.

    Arrays are NumPy (CPU ranks): device arrays would go through the host or a CUDA-aware
    MPI, not done yet.  Every rank holds the halos of a padded local field as above."""

    def __init__(self, comm, axis: int = 0):
        from mpi4py import MPI

        self._MPI = MPI
        self.comm = comm
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()
        self.axis = int(axis)

    # -- reductions ---------------------------------------------------------------------
    def _gathered(self, x, dtype=float):
        return self.comm.allgather(dtype(x))

    def sum(self, x) -> float:
        return _ordered_sum(self._gathered(x))

    def max(self, x) -> float:
        return float(max(self._gathered(x)))

    def min(self, x) -> float:
        return float(min(self._gathered(x)))

    def all(self, flag) -> bool:
        return all(self._gathered(flag, bool))

    def any(self, flag) -> bool:
        return any(self._gathered(flag, bool))

    # -- neighbours and halos -------------------------------------------------------------
    def neighbours(self, periodic) -> tuple:
        """(low, high) neighbour rank along the split axis, None at a real boundary."""
        wrap = bool(periodic[self.axis])
        lo = self.rank - 1 if self.rank > 0 else (self.size - 1 if wrap else None)
        hi = self.rank + 1 if self.rank < self.size - 1 else (0 if wrap else None)
        return lo, hi

    def connected(self, periodic) -> tuple:
        out = [(bool(p), bool(p)) for p in periodic]
        lo, hi = self.neighbours(periodic)
        out[self.axis] = (lo is not None, hi is not None)
        return tuple(out)

    def wraps_locally(self, periodic) -> tuple:
        out = [bool(p) for p in periodic]
        out[self.axis] = bool(periodic[self.axis]) and self.size == 1
        return tuple(out)

    def fill_halos(self, a, periodic) -> None:
        if self.size == 1:
            wrap_halos(a, periodic)
            return
        # axis by axis in wrap_halos's order, so that the edge and corner halos carry what
        # one process's wrap would put there
        for b in range(3):
            if b == self.axis:
                self.exchange(a, periodic)
            elif periodic[b]:
                wrap_halos(a, [c == b for c in range(3)])

    def exchange(self, a, periodic) -> None:
        """Along the split axis: the low halo takes the low neighbour's last interior layer,
        the high halo the high neighbour's first (as :func:`wrap_halos` across ranks)."""
        n = a.shape[self.axis] - 2
        lo, hi = self._sendrecv_layers(a, periodic, 1, n)
        a_host = np.asarray(a)
        if lo is not None:
            a_host[_layer(self.axis, 0)] = lo
        if hi is not None:
            a_host[_layer(self.axis, n + 1)] = hi

    def _sendrecv_layers(self, a, periodic, low_send: int, high_send: int):
        """(what the low neighbour sent, what the high neighbour sent): the low neighbour
        sends its layer ``high_send``, the high one its layer ``low_send``; None at a real
        boundary."""
        MPI = self._MPI
        ax = self.axis
        lo, hi = self.neighbours(periodic)
        lo_rank = MPI.PROC_NULL if lo is None else lo
        hi_rank = MPI.PROC_NULL if hi is None else hi
        a_host = np.asarray(a)
        got = []
        for send, dest, source, tag in ((high_send, hi_rank, lo_rank, 21),
                                        (low_send, lo_rank, hi_rank, 22)):
            out = np.ascontiguousarray(a_host[_layer(ax, send)])
            buf = np.empty_like(out)
            self.comm.Sendrecv(out, dest=dest, sendtag=tag, recvbuf=buf, source=source,
                               recvtag=tag)
            got.append(None if source == MPI.PROC_NULL else buf)
        return got[0], got[1]

    def local_widths(self, faces, periodic) -> list:
        out = super().local_widths(faces, periodic)
        if self.size > 1:
            start, stop = self.owned(len(faces[self.axis]) - 1)
            h, d = out[self.axis]
            out[self.axis] = (h[start:stop + 2].copy(), d[start:stop + 2].copy())
        return out

    def far_layers(self, a, periodic, faces):
        """Exchange the second interior layers along the split axis (every slab at least
        two cells thick) and return them with their distances; ``faces``: the global face
        coordinates along the split axis (m)."""
        if self.size == 1:
            return None
        n = a.shape[self.axis] - 2
        lo, hi = self._sendrecv_layers(a, periodic, 2, n - 1)
        N = len(faces) - 1
        _, d = halo_widths(np.asarray(faces), bool(periodic[self.axis]))
        start, stop = self.owned(N)
        # across the wrap one process reads d[N] (low) and d[2] (high): the same numbers
        d_lo = d[start] if start > 0 else d[N]
        d_hi = d[stop + 2] if stop < N else d[2]
        return FarLayers(self.axis, lo, hi, float(d_lo), float(d_hi))

    # -- decomposition ------------------------------------------------------------------------
    def owned(self, n: int, axis: int | None = None) -> tuple[int, int]:
        if axis is not None and axis != self.axis:
            return 0, n
        return slab(n, self.size, self.rank)

    def local_grid(self, grid):
        """The Grid of this rank's slab: the global faces from its first cell's low face to
        its last cell's high face along the split axis."""
        faces = list(grid.faces)
        start, stop = self.owned(grid.shape[self.axis])
        faces[self.axis] = faces[self.axis][start:stop + 1]
        return Grid(*faces)

    def local_field(self, a):
        """This rank's padded part of a global padded field (cells or faces normal to
        the split axis alike): global halo indices start .. stop+1."""
        start, stop = self.owned(a.shape[self.axis] - 2)
        return a[_layer(self.axis, slice(start, stop + 2))].copy()

    def local_cells(self, a):
        start, stop = self.owned(a.shape[self.axis])
        return a[_layer(self.axis, slice(start, stop))].copy()

    def local_faces(self, a, normal: int):
        if normal != self.axis:
            return self.local_cells(a)
        start, stop = self.owned(a.shape[self.axis] - 1)
        return a[_layer(self.axis, slice(start, stop + 1))].copy()

    def _join(self, parts):
        ax = self.axis
        pieces = [parts[0][_layer(ax, slice(0, -1))]]
        pieces += [p[_layer(ax, slice(1, -1))] for p in parts[1:]]
        pieces.append(parts[-1][_layer(ax, slice(-1, None))])
        return np.concatenate(pieces, axis=ax)

    def gather(self, a, root: int = 0):
        """The global padded field on ``root`` (None elsewhere): rank 0's low halo, every
        rank's interior layers 1..n, the last rank's layer n+1 (for a face array normal to
        the split axis that is the global last face)."""
        parts = self.comm.gather(np.asarray(a), root=root)
        return self._join(parts) if self.rank == root else None

    def allgather(self, a):
        return self._join(self.comm.allgather(np.asarray(a)))

    def allgather_cells(self, a, axis: int | None = None):
        return np.concatenate(self.comm.allgather(np.asarray(a)), axis=self.axis)

    def allgather_faces(self, a, axis: int | None = None):
        """Normal to the split axis: each rank's faces 0..n-1, then the last rank's face
        n (its high face).  Along the other axes, as cells."""
        if axis is not None and axis != self.axis:
            return self.allgather_cells(a)
        parts = self.comm.allgather(np.asarray(a))
        ax = self.axis
        pieces = [p[_layer(ax, slice(0, -1))] for p in parts]
        pieces.append(parts[-1][_layer(ax, slice(-1, None))])
        return np.concatenate(pieces, axis=ax)

    def barrier(self) -> None:
        self.comm.Barrier()


def _ordered_sum(values) -> float:
    """Sum in rank order (the same rounding on every rank)."""
    s = 0.0
    for v in values:
        s += v
    return s
