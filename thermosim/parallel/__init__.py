"""Where a solve's arrays live across processes: the one seam for halo fills and global
reductions.

:class:`Serial` (the default, one process) and :class:`Distributed` (slabs along one axis
over MPI ranks, through mpi4py) offer the same methods; a solver that reduces and fills
halos only through its architecture runs unchanged on either.  The multigrid across ranks
is :mod:`thermosim.parallel.multigrid` (imported on its own: it needs the solvers).
"""

from .architecture import SERIAL, Distributed, FarLayers, Serial, halo_widths, slab

__all__ = ["SERIAL", "Distributed", "FarLayers", "Serial", "halo_widths", "slab"]
