"""C type names of the arrays the CUDA kernels take: shared by the conduction backend
(:mod:`thermosim.backends.gpu`) and its flow kernels (:mod:`thermosim.backends.gpu_flow`),
below both so that neither imports the other.  Needs no CuPy."""

from __future__ import annotations

import numpy as np

#: float type of the arrays -> the C type in the kernels' template arguments
FLOATS = {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}
#: cell-id type -> its C type
IDS = {np.dtype(np.uint8): "unsigned char", np.dtype(np.uint16): "unsigned short"}


def ctype(dtype) -> str:
    """The C name of a float dtype; a TypeError for any other (the kernels take no other)."""
    try:
        return FLOATS[np.dtype(dtype)]
    except KeyError:
        raise TypeError(f"GPU kernels take float32 or float64 arrays, not {dtype}") from None
