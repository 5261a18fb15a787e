"""The steady solver's operations on CuPy arrays: launches of ``thermosim/kernels/steady.cu``,
the twins of :class:`thermosim.backends.cpu_steady.SteadyKernels` (same arguments).

The operators are the CPU's arithmetic.  The sweep is not: Gauss-Seidel in lexicographic
order is sequential, so the GPU sweeps red-black (cells coloured by the parity of
i + j + k), the twin of :func:`thermosim.backends.cpu_steady._rbgs7`.  The GPU's outer
iterates therefore differ from the CPU's (another smoother, which meets the upwind
couplings less well: more outer iterations where advection dominates), while the converged
answer, fixed by the right-hand sides of the delta form alone, is the same.

Anderson acceleration's products (``rows_dots``, ``anderson_combine``) are left to CuPy:
:class:`thermosim.flow.outer.Anderson` falls back to array expressions (cuBLAS) where the
backend has none.
"""

from __future__ import annotations

import numpy as np

from .cuda_types import ctype
from .cpu_steady import OWN_SHARE
from .gpu_flow import _launch

_PERM = ((0, 1, 2), (1, 0, 2), (2, 0, 1))


def steady_names(t: str) -> list[str]:
    """The template instantiations taken from steady.cu for C type ``t``."""
    return [*(f"thermosim::steady_momentum_operator<{t}, {a}>" for a in range(3)),
            f"thermosim::steady_energy_operator<{t}>", f"thermosim::steady_rbgs<{t}>"]


class GPUSteadyKernels:
    """Mixed into :class:`thermosim.backends.gpu.GPUBackend`."""

    def _steady(self, name: str, dtype):
        return self._function("steady", name.format(t=ctype(dtype)))

    def momentum_operator(self, comp: int, vel, fluid, h, d, nu, inv_dt, coeffs,
                          periodic: bool = False, nut=None):
        """coeffs (aw, ae, as, an, ab, at, ap; halo shape, 1/s) = the linearised momentum
        operator of velocity component ``comp`` (aw/ae along ``comp``), as on the CPU."""
        perm = _PERM[comp]
        dt = coeffs[0].dtype
        nx, ny, nz = (int(s) - 2 for s in coeffs[0].shape)
        fn = self._steady(f"thermosim::steady_momentum_operator<{{t}}, {comp}>", dt)
        fn(*_launch(coeffs[0].size),
           (vel[comp], vel[perm[1]], vel[perm[2]], fluid, h[perm[0]], h[perm[1]], h[perm[2]],
            d[perm[0]], d[perm[1]], d[perm[2]], dt.type(nu), dt.type(inv_dt),
            np.int32(1 if periodic else 2), vel[comp] if nut is None else nut,
            np.int32(nut is not None), *coeffs, np.int32(nx), np.int32(ny), np.int32(nz)))

    def energy_operator(self, vel, fluid, G, rhoc, h, cap_dt, extra, T, d, coeffs):
        """coeffs (W/K) = the linearised energy operator at the temperatures ``T``, as on
        the CPU."""
        dt = coeffs[0].dtype
        nx, ny, nz = (int(s) - 2 for s in coeffs[0].shape)
        fn = self._steady("thermosim::steady_energy_operator<{t}>", dt)
        fn(*_launch(coeffs[0].size),
           (vel[0], vel[1], vel[2], fluid, G[0], G[1], G[2], dt.type(rhoc), h[0], h[1], h[2],
            cap_dt, extra, T, d[0], d[1], d[2], dt.type(OWN_SHARE), *coeffs, np.int32(nx),
            np.int32(ny), np.int32(nz)))

    def sweep(self, coeffs, r, x, solved, sweeps: int, comp: int = 0):
        """x += ``sweeps`` symmetric red-black Gauss-Seidel sweeps of ``coeffs`` x = r
        (delta form: x starts at 0); ``comp``: the component whose axis order coeffs are
        in.  Red, then (black, red) per sweep: see :func:`cpu_steady._rbgs7`."""
        if sweeps <= 0:
            return
        nx, ny, nz = (int(s) - 2 for s in x.shape)
        n = [nx, ny, nz]
        n[comp] += 1
        fn = self._steady("thermosim::steady_rbgs<{t}>", x.dtype)
        grid = _launch(n[0] * n[1] * n[2])
        for colour in (0, *(1, 0) * int(sweeps)):
            fn(*grid, (*coeffs, r, x, solved, np.int32(comp), np.int32(colour), np.int32(nx),
                       np.int32(ny), np.int32(nz)))
