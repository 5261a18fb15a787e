"""Preconditioned conjugate gradients on any backend."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from ..errors import SolverError
from ..parallel.architecture import SERIAL


@dataclass
class SolveStats:
    iterations: int = 0
    residual: float = math.inf          # final ||b - A x|| / ||b||
    history: list = field(default_factory=list)
    wall_time: float = 0.0
    converged: bool = False


def pcg(be, op, b, x, precond, tol: float, max_iterations: int, work=None,
        progress=None, atol: float = 0.0, fill_halo=None, arch=None) -> SolveStats:
    """Solve A x = b for symmetric positive definite A, in place in ``x``.

    ``op`` is (Gx, Gy, Gz, D) on the backend; b and x carry a zero halo.  Stops when the
    relative residual ||r||_2 / ||b||_2 falls below ``tol``.  ``fill_halo`` (periodic
    domains, rank interfaces): called on x and on each search direction before the operator
    meets them.  ``arch`` (default :data:`~thermosim.parallel.SERIAL`): every dot product is
    ``arch.dot``, a global sum identical on every rank, so that every rank takes the same
    steps and stops at the same iteration.
    """
    arch = SERIAL if arch is None else arch

    def dot(a, c):
        return arch.dot(be, a, c)

    Gx, Gy, Gz, D = op
    t0 = time.perf_counter()
    shape, dtype = x.shape, x.dtype
    if work is None:
        work = [be.zeros(shape, dtype) for _ in range(5)]
    r, z, p, Ap, zero = work
    if fill_halo is not None:
        fill_halo(x)
    be.residual(b, x, Gx, Gy, Gz, D, r)
    bnorm = math.sqrt(dot(b, b))
    stats = SolveStats()
    if bnorm == 0.0:
        bnorm = 1.0
    tol = max(tol, atol / bnorm)
    rnorm = math.sqrt(dot(r, r)) / bnorm
    stats.history.append(rnorm)
    if rnorm < tol:
        stats.residual, stats.converged = rnorm, True
        stats.wall_time = time.perf_counter() - t0
        return stats
    precond(r, z)
    p[...] = z
    rz = dot(r, z)
    for it in range(1, max_iterations + 1):
        if fill_halo is not None:
            fill_halo(p)
        be.matvec(p, Gx, Gy, Gz, D, Ap, zero)
        pAp = dot(p, Ap)
        if not pAp > 0 or not math.isfinite(pAp):
            raise SolverError("conjugate gradients broke down (the operator is not positive "
                              "definite): check that every solid region touches a "
                              "fixed-temperature or convective boundary")
        alpha = rz / pAp
        be.axpy(x, alpha, p)
        be.axpy(r, -alpha, Ap)
        rnorm = math.sqrt(dot(r, r)) / bnorm
        stats.history.append(rnorm)
        stats.iterations = it
        if progress is not None:
            progress(it, rnorm)
        if not math.isfinite(rnorm):
            raise SolverError("the linear solve produced NaN: check material properties and "
                              "boundary conditions for zero or infinite values")
        if rnorm < tol:
            stats.converged = True
            break
        precond(r, z)
        rz_new = dot(r, z)
        beta = rz_new / rz
        rz = rz_new
        be.xpay(p, beta, z)
    stats.residual = rnorm
    stats.wall_time = time.perf_counter() - t0
    return stats
