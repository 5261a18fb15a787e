"""The turbulence term's operations on CuPy arrays: launches of
``thermosim/kernels/turbulence.cu``, the twins of
:class:`thermosim.backends.cpu_turbulence.TurbulenceKernels` (same arguments)."""

from __future__ import annotations

import numpy as np

from .cpu_turbulence import MODEL_CODES
from .cuda_types import ctype
from .gpu_flow import _launch


def turbulence_names(t: str) -> list[str]:
    """The template instantiations taken from turbulence.cu for C type ``t``."""
    return [f"thermosim::eddy_viscosity<{t}>",
            *(f"thermosim::eddy_momentum<{t}, {a}>" for a in range(3))]


class GPUTurbulenceKernels:
    """Mixed into :class:`thermosim.backends.gpu.GPUBackend`."""

    def _turbulence(self, name: str, dtype):
        return self._function("turbulence", name.format(t=ctype(dtype)))

    def eddy_viscosity(self, vel, fluid, y, h, d, nu, model: str, wall_law, cap2, les,
                       delta2, out):
        """out (interior) = nu_t (m^2/s) of ``model``, or the strain rate (1/s) with
        ``strain``, as on the CPU."""
        dt = out.dtype
        nx, ny, nz = (int(s) - 2 for s in out.shape)
        fn = self._turbulence("thermosim::eddy_viscosity<{t}>", dt)
        fn(*_launch(nx * ny * nz),
           (vel[0], vel[1], vel[2], fluid, y, h[0], h[1], h[2], d[0], d[1], d[2], dt.type(nu),
            dt.type(wall_law[0]), dt.type(wall_law[1]), dt.type(cap2), dt.type(les[0]),
            dt.type(les[1]), delta2, np.int32(MODEL_CODES[model]), out, np.int32(nx),
            np.int32(ny), np.int32(nz)))

    def eddy_momentum(self, comp: int, vel, nut, fluid, noslip, mask, h, d, nu, wall_law,
                      out, rate, diag):
        """out += the eddy diffusion (and wall shear) of velocity component ``comp``
        (m/s^2) where ``mask``; rate = max(rate, its wall-function rate); diag = the wall
        shear's rate per face; as on the CPU."""
        perm = ((0, 1, 2), (1, 0, 2), (2, 0, 1))[comp]
        dt = out.dtype
        nx, ny, nz = (int(s) - 2 for s in out.shape)
        fn = self._turbulence(f"thermosim::eddy_momentum<{{t}}, {comp}>", dt)
        fn(*_launch(nx * ny * nz),
           (vel[comp], nut, fluid, noslip, mask, h[perm[0]], h[perm[1]], h[perm[2]],
            d[perm[0]], d[perm[1]], d[perm[2]], dt.type(nu), dt.type(wall_law[0]),
            dt.type(wall_law[1]), out, rate, diag, np.int32(nx), np.int32(ny), np.int32(nz)))
