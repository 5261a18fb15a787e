"""Backends: where arrays live and which compiled kernels run on them.

A backend is a value passed down to solvers, never a global.  ``cpu`` (NumPy + Numba) is
the reference; ``gpu`` (CuPy + CUDA C kernels from ``kernels/*.cu``) must give the same
answers.  ``auto`` picks the GPU when CuPy finds one, else the CPU.
"""

from __future__ import annotations

from functools import lru_cache

from ..errors import BackendError

NAMES = ("auto", "cpu", "gpu")


def gpu_available() -> bool:
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


@lru_cache(maxsize=None)
def get_backend(name: str = "auto"):
    """Return the backend called ``name`` (``auto``, ``cpu`` or ``gpu``)."""
    if name not in NAMES:
        raise BackendError(f"unknown backend '{name}' (choose from {', '.join(NAMES)})")
    if name == "auto":
        name = "gpu" if gpu_available() else "cpu"
    if name == "cpu":
        from .cpu import CPUBackend

        return CPUBackend()
    if not gpu_available():
        raise BackendError("backend 'gpu' needs CuPy and an NVIDIA GPU; none was found "
                           "(install thermosim[gpu] on a machine with a GPU, or use "
                           "--backend cpu)")
    from .gpu import GPUBackend

    return GPUBackend()


def available_backends() -> list[str]:
    return ["cpu"] + (["gpu"] if gpu_available() else [])
