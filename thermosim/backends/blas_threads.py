"""Dense linear algebra on the host on one BLAS thread, so that its rounding is the same
in every process.

OpenBLAS splits a factorisation's (and a product's) sums by its thread count, which is the
core count unless ``OPENBLAS_NUM_THREADS`` says otherwise; the sums' rounding moves with
it.  The multigrid's coarsest inverse and Anderson's small least-squares solve go through
LAPACK, and a steady run's tail amplifies the last bits: the two tanks on 0.1 m cells, fed
5 K above their supply temperature (a sensitivity point of tests/test_compare_workers.py),
took 384 outer iterations with OpenBLAS on two threads and 366 on one (2-core x86,
2026-12-07), so a run in a sweep worker (one thread: its share of the cores) and the same
run in the comparison's own process gave PUEs that differ in the eighth digit.  The
matrices are at most 2,048 unknowns and are formed once per model (or per time step), so
one thread costs little; the CPU path's parallelism is Numba's, whose threads BLAS's only
compete with.
"""

from __future__ import annotations

_controller = None


def _control():
    """threadpoolctl's view of the BLAS libraries loaded now (made once: 1.5 ms)."""
    global _controller
    if _controller is None:
        import numpy  # noqa: F401  (its OpenBLAS is loaded before the libraries are listed)
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    return _controller


def one_blas_thread():
    """A context in which NumPy's BLAS and LAPACK run on one thread (14 us to enter)."""
    return _control().limit(limits=1, user_api="blas")
