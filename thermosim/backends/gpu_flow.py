"""The flow solver's operations on CuPy arrays: launches of ``thermosim/kernels/flow.cu``,
the twins of :mod:`thermosim.backends.cpu_flow` (same arguments, same arithmetic)."""

from __future__ import annotations

import numpy as np

from .cpu_flow import far_arguments
from .cuda_types import ctype

#: Threads per block of the flow kernels (one thread per face or cell, grid-stride).
FLOW_BLOCK = 256
_MAX_BLOCKS = 65535 * 4


def _launch(n: int):
    blocks = max(1, min(-(-n // FLOW_BLOCK), _MAX_BLOCKS))
    return (blocks, 1, 1), (FLOW_BLOCK, 1, 1)


class GPUFlowKernels:
    """Mixed into :class:`thermosim.backends.gpu.GPUBackend`."""

    def _flow(self, name: str, dtype):
        t = ctype(dtype)
        return self._function("flow", name.format(t=t))

    @staticmethod
    def _interior(a):
        return tuple(int(s) - 2 for s in a.shape)

    def momentum_rhs(self, comp: int, vel, fluid, T, h, d, nu, gbeta, T_ref, out,
                     periodic: bool = False, upwind: float = 0.0):
        perm = ((0, 1, 2), (1, 0, 2), (2, 0, 1))[comp]
        dt = out.dtype
        nx, ny, nz = self._interior(out)
        n = (nx, ny, nz)
        first = 1 if periodic else 2
        total = max(n[comp] + 1 - first, 0) * (nx * ny * nz // max(n[comp], 1))
        if total == 0:
            return
        fn = self._flow(f"thermosim::momentum_rhs<{{t}}, {comp}>", dt)
        fn(*_launch(total), (vel[comp], vel[perm[1]], vel[perm[2]], fluid, T, h[perm[0]],
                             h[perm[1]], h[perm[2]], d[perm[0]], d[perm[1]], d[perm[2]],
                             dt.type(nu), dt.type(gbeta), dt.type(T_ref), dt.type(upwind),
                             np.int32(first),
                             out, np.int32(nx), np.int32(ny), np.int32(nz)))

    def divergence_rhs(self, vel, fluid, h, dt, out):
        nx, ny, nz = self._interior(out)
        fn = self._flow("thermosim::divergence_rhs<{t}>", out.dtype)
        fn(*_launch(nx * ny * nz), (vel[0], vel[1], vel[2], fluid, h[0], h[1], h[2],
                                    out.dtype.type(1.0 / dt), out, np.int32(nx), np.int32(ny),
                                    np.int32(nz)))

    def correct(self, comp: int, a, phi, fluid, d, dt):
        nx, ny, nz = self._interior(a)
        n = (nx, ny, nz)
        total = (n[comp] + 1) * (nx * ny * nz // n[comp])
        fn = self._flow(f"thermosim::correct<{{t}}, {comp}>", a.dtype)
        fn(*_launch(total), (a, phi, fluid, d[comp], a.dtype.type(dt), np.int32(nx),
                             np.int32(ny), np.int32(nz)))

    def energy_rhs(self, T, vel, fluid, G, rhoc_fluid, q, h, d, out,
                   periodic=(False, False, False), far=None):
        """``far``: a rank's layers beyond its interface halos (see the CPU twin)."""
        nx, ny, nz = self._interior(out)
        fn = self._flow("thermosim::energy_rhs<{t}>", out.dtype)
        mask = sum(1 << a for a in range(3) if periodic[a])
        axis, bits, lo, hi, d_lo, d_hi = far_arguments(far, out.dtype, self.xp)
        fn(*_launch(nx * ny * nz), (T, vel[0], vel[1], vel[2], fluid, G[0], G[1], G[2],
                                    out.dtype.type(rhoc_fluid), q, h[0], h[1], h[2], d[0],
                                    d[1], d[2], np.int32(mask), axis, bits, lo, hi, d_lo,
                                    d_hi, out, np.int32(nx), np.int32(ny), np.int32(nz)))

    def lincomb(self, out, a, x, b, y):
        fn = self._flow("thermosim::lincomb<{t}>", out.dtype)
        fn(*_launch(out.size), (out, out.dtype.type(a), x, out.dtype.type(b), y,
                                np.int64(out.size)))

    def max_abs_diff(self, x, y) -> float:
        return float(self.xp.max(self.xp.abs(x - y)))
