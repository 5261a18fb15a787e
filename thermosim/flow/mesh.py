"""The flow's view of the grid: cell widths and centre distances with their halos, which
cells are solid and which fluid, on the host and on the backend.

Arrays are padded with one halo cell each side, shape (nx + 2, ny + 2, nz + 2).  Face
velocities are staggered: along axis ``c`` the entry ``i`` of ``vel[c]`` is the face between
cells ``i - 1`` and ``i`` (padded indices), so the domain's boundary faces are entries 1 and
n + 1.
"""

from __future__ import annotations

import numpy as np

from ..errors import CaseError
from ..parallel.architecture import wrap_halos
from .problem import FACES, FlowProblem


class FlowMesh:
    """Geometry and masks of one flow problem on one backend.

    ``h[a]``, ``d[a]`` (m): widths and centre distances along axis ``a`` with halos (host
    copies ``h_host``, ``d_host``; :func:`thermosim.parallel.architecture.halo_widths`);
    ``solid`` (host, interior shape) marks the solid blocks'
    cells, ``block_index`` the block of each cell (-1 in the fluid); ``fluid_host`` (padded)
    is 1 in fluid cells and in outflow halos, the backend copy ``fluid`` (uint8).  On
    several processes these are this process's part; ``grid`` its part of the grid and
    ``global_*`` the host masks of the whole."""

    def __init__(self, problem: FlowProblem, be, dtype, arch):
        g = problem.grid
        self.arch = arch
        self.problem = problem
        self.be, self.dtype = be, np.dtype(dtype)
        # this process's part of the grid (the whole of it on one process)
        self.grid = arch.local_grid(g)
        self.shape = self.grid.shape
        self.padded = tuple(s + 2 for s in self.shape)
        self.periodic = tuple(problem.boundaries[FACES[2 * a]].kind == "periodic"
                              for a in range(3))
        # per axis, (low, high): the face is an image (a periodic wrap, or another rank's
        # data) rather than a real boundary
        self.connected = arch.connected(self.periodic)
        # per axis, whether the kernels compute face 1 (its low face an image)
        self.kernel_periodic = arch.kernel_periodic(self.periodic)
        # per axis, whether the energy kernel wraps inside this process's array
        self.energy_periodic = arch.wraps_locally(self.periodic)
        hd = arch.local_widths(g.faces, self.periodic)
        self.h_host = [x[0] for x in hd]
        self.d_host = [x[1] for x in hd]
        self.h = [be.asarray(x, self.dtype) for x in self.h_host]
        self.d = [be.asarray(x, self.dtype) for x in self.d_host]
        self._build_masks()
        self.fluid = be.asarray(self.fluid_host, np.uint8)

    def _build_masks(self) -> None:
        """The masks of the whole grid (``global_*``), then this process's part."""
        p, g = self.problem, self.problem.grid
        nx, ny, nz = g.shape
        fl = np.zeros((nx + 2, ny + 2, nz + 2), np.uint8)
        fl[1:-1, 1:-1, 1:-1] = 1
        solid = np.zeros(g.shape, bool)
        block_index = np.full(g.shape, -1, np.int32)
        for n, b in enumerate(p.blocks):
            sl = []
            for a in range(3):
                i0, i1 = g.index_range(a, b.lower[a], b.upper[a])
                if i1 <= i0:
                    raise CaseError(f"block '{b.name}' covers no cell centre along "
                                    f"{'xyz'[a]}: refine the grid or enlarge the block",
                                    f"blocks.{b.name}")
                sl.append(slice(i0, i1))
            solid[tuple(sl)] = True
            block_index[tuple(sl)] = n
        fl[1:-1, 1:-1, 1:-1][solid] = 0
        for f, b in p.boundaries.items():
            axis, side = FACES.index(f) // 2, FACES.index(f) % 2
            sl = [slice(None)] * 3
            sl[axis] = -1 if side else 0
            fl[tuple(sl)] = 1 if b.kind == "outflow" else 0
        wrap_halos(fl, self.periodic)
        self.global_fluid_host, self.global_solid = fl, solid
        self.global_block_index = block_index
        arch = self.arch
        self.fluid_host = arch.local_field(fl)
        self.solid = arch.local_cells(solid)
        self.block_index = arch.local_cells(block_index)

    def face_area(self, a: int) -> np.ndarray:
        """Areas (m^2) of the faces normal to axis a, padded like a velocity array."""
        g = self.grid
        o = [b for b in range(3) if b != a]
        area = np.multiply.outer(np.concatenate([[0], g.spacing(o[0]), [0]]),
                                 np.concatenate([[0], g.spacing(o[1]), [0]]))
        return np.broadcast_to(np.expand_dims(area, a), self.padded).copy()

    def computed_faces(self, c: int) -> np.ndarray | None:
        """Host mask (padded, float) of the faces normal to ``c`` whose momentum is computed:
        fluid on both sides, and not a wall-bounded axis's first face; None where the axis
        has a single cell (no momentum along it)."""
        n = self.shape
        if n[c] < 2:
            return None
        fl = self.fluid_host != 0
        m = np.zeros(fl.shape)
        first = 1 if self.kernel_periodic[c] else 2
        face, before = [slice(1, -1)] * 3, [slice(1, -1)] * 3
        face[c], before[c] = slice(first, n[c] + 1), slice(first - 1, n[c])
        m[tuple(face)] = fl[tuple(face)] & fl[tuple(before)]
        return m

    def interior(self) -> np.ndarray:
        """Host array (padded): 1 in the interior cells, 0 in the halo."""
        w = np.zeros(self.padded)
        w[1:-1, 1:-1, 1:-1] = 1.0
        return w
