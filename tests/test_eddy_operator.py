"""The steady solver's momentum operator couples the eddy viscosity's diffusion in full
(issue 19, stop 39): its coefficients (the Gauss-Seidel sweeps') are the derivative of the
eddy momentum kernel (:func:`thermosim.backends.cpu_turbulence._eddy_momentum`) with
respect to the face velocities, next to a solid block, walls, a slip face and open faces.
Before, only the diagonal of that diffusion was taken (point-implicit): a Jacobi iteration
on it, which barely damps the cell-to-cell error where nu_t dt / h^2 is large."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from thermosim import flow_verification as fv
from thermosim.flow import FlowBoundary, FlowProblem, FlowSolver, Fluid, SolidBlock
from thermosim.grid import Grid


def _box():
    """A non-uniform 6 x 4 x 4 box with a solid block, an inflow, an outflow, a slip face
    and walls, with LVEL turbulence and a random eddy viscosity (m^2/s) in its cells;
    returns the solver and its eddy viscosity term."""
    g = Grid(fv.clustered(6, 1.0, 0.06), np.array([0.0, 0.005, 0.012, 0.02, 0.03]),
             fv.clustered(4, 0.5, 0.02))
    blk = SolidBlock("chip", (0.02, 0.0, 0.005), (0.035, 0.012, 0.015), 400.0, 8900.0, 385.0)
    p = FlowProblem(g, Fluid("f", 1.0, 0.02, 0.02, 1.0), {
        "x-": FlowBoundary("inflow", temperature=300.0), "x+": FlowBoundary("outflow"),
        "y+": FlowBoundary("slip"), "z-": FlowBoundary("wall")}, blocks=[blk])
    s = FlowSolver(dataclasses.replace(p, turbulence="lvel"), "cpu")
    term = next(t for t in s.model.terms.all if t.coupled_viscosity() is not None)
    nut = term.nut
    nut[...] = np.random.default_rng(4).uniform(0.01, 0.05, nut.shape)
    return s, term


def _kernel_jacobian(s, term, c, idx, eps=1e-9):
    """d(eddy momentum of component c)/d(face velocity) on the faces ``idx`` (flat indices
    of the padded array), by central differences around rest: at 1e-9 m/s the wall
    function's extra shear is zero (the first cell is in the viscous sublayer), so what
    remains is the linear eddy diffusion, exact to rounding."""
    shape = s.T.shape
    J = np.zeros((idx.size, idx.size))
    for col, q in enumerate(idx):
        F = []
        for sign in (1.0, -1.0):
            vel = [np.zeros(shape) for _ in range(3)]
            vel[c].ravel()[q] = sign * eps
            out = np.zeros(shape)
            term.add_momentum(c, vel, s.T, out)
            F.append(out.ravel()[idx].copy())
        J[:, col] = (F[0] - F[1]) / (2.0 * eps)
    return J


@pytest.mark.parametrize("c", [0, 1, 2])
def test_momentum_operator_couples_the_eddy_diffusion(c):
    """The sweeps' coefficients with the eddy viscosity less those without (at rest: no
    advection) are minus the kernel's Jacobian: ap - sum a_nb over the kernel's stencil."""
    s, term = _box()
    mesh = s.model.mesh
    comp = mesh.computed_faces(c)
    idx = np.flatnonzero(comp.ravel())
    assert idx.size > 10
    rest = [np.zeros(s.T.shape) for _ in range(3)]

    def operator(nut):
        co = [np.zeros(s.T.shape) for _ in range(7)]
        s.be.momentum_operator(c, rest, mesh.fluid, mesh.h, mesh.d, 0.02, 0.0, co,
                               mesh.kernel_periodic[c], nut)
        return co

    diff = [a - b for a, b in zip(operator(term.coupled_viscosity()), operator(None))]
    # the operator's rows over the computed faces, in the padded array's flat indices
    n = s.T.shape
    strides = [n[1] * n[2], n[2], 1]
    order = [c] + [a for a in range(3) if a != c]   # aw/ae along c, as/an, ab/at after
    A = np.zeros((idx.size, idx.size))
    pos = {q: r for r, q in enumerate(idx)}
    for r, q in enumerate(idx):
        A[r, r] = diff[6].ravel()[q]
        for k, ax in enumerate(order):
            for side, sign in ((2 * k, -1), (2 * k + 1, 1)):
                nb = q + sign * strides[ax]
                if nb in pos:
                    A[r, pos[nb]] -= diff[side].ravel()[q]
    J = _kernel_jacobian(s, term, c, idx)
    scale = np.abs(J).max()
    assert np.abs(A + J).max() <= 1e-6 * scale, \
        f"component {'uvw'[c]}: largest mismatch {np.abs(A + J).max() / scale:.2e}"
    # the eddy viscosity couples neighbours (not only the diagonal)
    assert max(np.abs(d).max() for d in diff[:6]) > 0.1 * np.abs(diff[6]).max()
