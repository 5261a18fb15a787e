"""The steady solver's outer iteration linearised at its fixed point: its largest eigenvalues
and where their modes live.

    python benchmarks/outer_spectrum.py CASE.yaml [--modes 6] [--save fixed.npz]
                                                  [--eddy-in-d 1] [--modes-out modes.npz]

The outer iteration is a map x -> G(x) of the state (face velocities, temperatures,
pressure); the plain iteration (without Anderson) converges near the fixed point only
if every eigenvalue of G's Jacobian lies inside the unit circle, and at the rate of the
largest.  An eigenvalue near -1 is a flip of period two, a complex pair outside the
circle a growing oscillation, a real one above 1 a steady state that pseudo-time leaves
(Anderson then carries the iterations).  The case is run to its steady state (or the
state is read back from ``--save``'s file), the local pseudo-steps are held as Anderson
holds them, and ARPACK finds the eigenvalues of largest modulus from Jacobian-vector
products by finite differences, J v = (G(x + e v) - G(x)) / e, with the velocities
scaled by the largest speed, temperatures by 10 K and the pressure by the larger of the
speed squared and the buoyant pressure (acceleration times length).
One product is one outer iteration (the pressure solve to 1e-11, so that the products
are those of the map, not of its solver's tolerance).

For each mode it prints the eigenvalue, each field's share of the mode and the cell where
that field's part is largest, with the layout's parts within 0.1 m of it; ``--modes-out``
writes the modes themselves (each field padded as the state is) to look at whole.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigs

from thermosim.backends import get_backend
from thermosim.case import load_case
from thermosim.flow import FlowSolver, problem_from_case
from thermosim.flow import local_steps, outer
from thermosim.flow.local_steps import LocalSteps


def fields(solver):
    """(name, array, interior slice) of each unknown of the outer iteration."""
    n = solver.model.mesh.shape
    out = []
    for c in range(3):
        if n[c] >= 2:
            sl = tuple(slice(1, n[a] + 2) if a == c else slice(1, -1) for a in range(3))
            out.append((f"velocity {'uvw'[c]}", solver.vel[c], sl))
    inner = (slice(1, -1),) * 3
    out.append(("temperature", solver.T, inner))
    out.append(("pressure", solver.phi, inner))
    return out


def converge(case, solver, save):
    """Run ``solver`` to its steady state, or read it back from ``save``; returns the
    local steps' factor at the end."""
    spec = case.flow
    if save and os.path.exists(save):
        z = np.load(save)
        for c in range(3):
            solver.vel[c][...] = z[f"u{c}"]
        solver.T[...] = z["T"]
        solver.phi[...] = z["phi"]
        return float(z["factor"])
    t0 = time.perf_counter()
    solver.run(steady=True, tolerance=spec.tolerance, max_steps=5000,
               energy_tolerance=spec.energy_tolerance,
               **{**spec.solver_options(), "method": "simplec", "unsteady": "stop"})
    st = solver.stats
    print(f"steady: {st.converged}, {st.steps} outer iterations, "
          f"{time.perf_counter() - t0:.0f} s; local steps' factor {st.step_factor}")
    if save:
        np.savez(save, u0=solver.vel[0], u1=solver.vel[1], u2=solver.vel[2], T=solver.T,
                 phi=solver.phi, factor=st.step_factor)
    return st.step_factor


def save_modes(path, parts, vals, vecs) -> None:
    """The eigenvalues and each mode's fields (scaled as the products are) to ``path``:
    ``eigenvalues`` and ``mode{j}_{field}`` (field: u, v, w, T, P), padded as the state."""
    out = {"eigenvalues": vals}
    for j in range(vecs.shape[1]):
        i = 0
        for name, a, sl in parts:
            m = a[sl].size
            full = np.zeros(a.shape, vecs.dtype)
            full[sl] = vecs[i:i + m, j].reshape(a[sl].shape)
            i += m
            key = name.split()[-1][0] if name.startswith("vel") else name[0].upper()
            out[f"mode{j}_{key}"] = full
    np.savez(path, **out)


def near(problem, point) -> list:
    """The layout's parts within 0.1 m of ``point`` (m)."""
    names = []
    for group in ("porous", "fans", "coolers", "blocks"):
        for b in getattr(problem, group, None) or []:
            if all(b.lower[a] - 0.1 <= point[a] <= b.upper[a] + 0.1 for a in range(3)):
                names.append(b.name)
    return names


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("case")
    ap.add_argument("--modes", type=int, default=6)
    ap.add_argument("--save", default=None, help="file holding the steady state (npz)")
    ap.add_argument("--restarts", type=int, default=20)
    ap.add_argument("--modes-out", default=None,
                    help="file for the modes (npz: eigenvalues, and each mode's fields)")
    ap.add_argument("--eddy-in-d", type=float, default=None,
                    help="the eddy diffusion's diagonal's share in SIMPLEC's d "
                         "(local_steps.EDDY_IN_D, default 1)")
    args = ap.parse_args(argv)
    if args.eddy_in_d is not None:
        local_steps.EDDY_IN_D = args.eddy_in_d
    case = load_case(args.case)
    spec = case.flow
    problem = problem_from_case(case)
    solver = FlowSolver(problem, get_backend("cpu"), np.float64, cfl=spec.cfl,
                        diffusion=spec.diffusion, advection=spec.advection)
    factor = converge(case, solver, args.save)
    model = solver.model
    it = outer.OuterIteration(model, outer.default_relax(problem), 2)
    if outer.lagged(problem):               # as solve_steady sets them
        it.local = LocalSteps(it).resume(factor, 1.0)
    it.just_enough = False
    model.pressure.tolerance = 1e-11
    parts = fields(solver)

    def gather():
        return np.concatenate([np.asarray(a[sl]).ravel() for _, a, sl in parts])

    def scatter(x):
        i = 0
        for _, a, sl in parts:
            m = a[sl].size
            a[sl] = x[i:i + m].reshape(a[sl].shape)
            i += m

    def G(x):
        scatter(x)
        model.apply_bc(solver.vel, solver.T)
        model.boundaries.fill_pressure(solver.phi, mirror=True)
        model.update(solver.vel, solver.T)
        it.iterate(solver.state_, None)
        return gather()

    x0 = gather()
    G(x0)                                   # sets the local steps, then holds them
    if it.local is not None:
        it.local.held = True
    g0 = G(x0)
    U, L, _ = model.scales(solver.vel, solver.T)
    # the pressure over the larger of U^2 and the buoyant pressure a L, as Anderson weighs
    # it in a tank (outer.tank_weights): over U^2 (a L / U^2 near 2,200 in the 0.025 m
    # tank) its perturbation was lost in the pressure solve, and ARPACK's six largest were
    # pressure-only "modes" of 1.03-1.10 over the servers (issue 19, stop 48)
    P = max(U * U, model.acceleration(solver.T) * L)
    w = np.concatenate([np.full(a[sl].size, 1.0 / U if name.startswith("vel") else
                                0.1 if name == "temperature" else 1.0 / P)
                        for name, a, sl in parts])
    print(f"{x0.size:,} unknowns; pseudo-step {it.dt:.3g} s; largest change of one "
          f"iteration at the fixed point {np.abs((g0 - x0) * w).max():.2e} (scaled)")
    eps, count = 1e-5, [0]

    def product(v):
        v = np.real(v)
        norm = np.linalg.norm(v)
        if norm == 0.0:
            return v
        count[0] += 1
        return (G(x0 + eps * (v / norm) / w) - g0) / eps * w * norm

    t0 = time.perf_counter()
    A = LinearOperator((x0.size, x0.size), matvec=product, dtype=float)
    try:
        vals, vecs = eigs(A, k=args.modes, which="LM", ncv=max(3 * args.modes + 1, 30),
                          tol=1e-3, maxiter=args.restarts,
                          v0=np.random.default_rng(0).standard_normal(x0.size))
    except ArpackNoConvergence as e:
        print(f"ARPACK: {len(e.eigenvalues)} of {args.modes} converged")
        vals, vecs = e.eigenvalues, e.eigenvectors
    print(f"{count[0]} products (outer iterations) in {time.perf_counter() - t0:.0f} s")
    grid = problem.grid
    if args.modes_out:
        save_modes(args.modes_out, parts, vals, vecs)
    main.eigenvalues = vals[np.argsort(-np.abs(vals))]
    for j in np.argsort(-np.abs(vals)):
        lam, v = vals[j], np.abs(vecs[:, j])
        print(f"eigenvalue {lam.real:+.4f}{lam.imag:+.4f}i, modulus {abs(lam):.4f}")
        i, total = 0, float((v ** 2).sum())
        for name, a, sl in parts:
            m = a[sl].size
            part = v[i:i + m].reshape(a[sl].shape)
            i += m
            idx = np.unravel_index(int(np.argmax(part)), part.shape)
            cell = [min(idx[k] + sl[k].start - 1, n - 1)    # interior cell index
                    for k, n in enumerate(model.mesh.shape)]
            point = [0.5 * (g[c] + g[c + 1]) for g, c in zip((grid.x, grid.y, grid.z), cell)]
            where = ", ".join(near(problem, point)) or "-"
            print(f"   {name:11s} share {float((part ** 2).sum()) / total:4.2f}, largest "
                  f"at x {point[0]:.2f} y {point[1]:.2f} z {point[2]:.2f} m (near: {where})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
