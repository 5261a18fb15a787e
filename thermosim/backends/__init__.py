"""Backends: where arrays live and which compiled kernels run on them.

A backend is a value passed down to solvers, never a global.  ``cpu`` (NumPy + Numba) is
the reference; ``gpu`` (CuPy + CUDA C kernels from ``thermosim/kernels/*.cu``) must give the
same answers.  ``auto`` picks the GPU when CuPy finds one, else the CPU; given the problem's size
(:func:`backend_for`), it keeps small problems on the CPU, where a GPU would spend its time
launching kernels.
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


#: Below this many cells ``auto`` runs on the CPU even where there is a GPU.  Measured on an
#: H200 against 2 CPU cores: the quick natural-convection cases (256-1024 cells, thousands of
#: steps) took over 300 s on the GPU and 86 s on the CPU, while a 16.8-million-cell flow step
#: ran ~100x faster per cell on the GPU; the crossover between was not measured, so this is
#: a judgment, erring towards the CPU only for clearly small problems.
AUTO_GPU_MIN_CELLS = 100_000


def backend_for(name: str, cells: int):
    """The backend for a problem of ``cells`` cells: ``name``, except that ``auto`` stays on
    the CPU below :data:`AUTO_GPU_MIN_CELLS`.  On the CPU it also sets the calling thread's
    thread count for that size (:func:`thermosim.backends.numba_setup.threads_for`: one
    thread for a small grid, unless ``--threads`` or ``$THERMOSIM_THREADS`` say otherwise)."""
    be = get_backend("cpu") if name == "auto" and cells < AUTO_GPU_MIN_CELLS \
        else get_backend(name)
    if be.name == "cpu":
        from .numba_setup import apply_threads

        apply_threads(cells)
    return be


def available_backends() -> list[str]:
    return ["cpu"] + (["gpu"] if gpu_available() else [])
