"""Grid sequencing: the steady solver's start from the same problem solved on a coarser mesh.

Outer iterations from rest spend part of their count on the smooth, domain-wide part of the
answer (the big recirculations, the bulk temperature rise), which a mesh with half the
cells across gets nearly right at a quarter (2D) or an eighth (3D) of the cost.  Solving
there first, to a 10x looser tolerance, and interpolating the answer onto the fine mesh
leaves the fine iterations the part only the fine mesh resolves.  The coarse meshes keep
every face that bounds a block, a porous box, a fan, a cooler or a chip, so the geometry
does not change; the cells between are merged in pairs.

It pays where the slow part is that smooth flow and not where the fine mesh's own
asymptotic rate is, so it is asked for (``flow.start: coarse``), not the default.
Measured, one thread, CPU seconds of the whole process (2026-12-05,
``benchmarks/steady_vs_openfoam.py --start rest,coarse``, and the air hall by hand):

| case | from rest | from coarser meshes |
| --- | --- | --- |
| cavity Re 1000, 64^2 | 408 iterations, 5.1 s | 303 after 32^2, 4.5 s |
| cavity Re 1000, 128^2 | 1,065, 32.6 s | 584 after 32^2 and 64^2, 19.8 s |
| de Vahl Davis Ra 1e6, 96^2 | 3,173, 57.6 s | 4,325 after 48^2, 86.5 s |
| air hall, 0.1 m cells (85,120) | 1,959, 425 s | 2,194 after 603 on 13,860 cells, 427 s |
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from ..errors import CaseError, SolverError
from ..grid import Grid
from ..unconverged import NotSteady

# below this many cells a mesh is solved from rest: the coarse solve would cost more in
# set-up than it saves
MIN_CELLS = 4096


def feature_faces(problem, axis: int) -> list[float]:
    """Coordinates (m) along ``axis`` that bound something: blocks, porous boxes, fans
    (and their planes), coolers and chips."""
    xs = []
    for group in (problem.blocks, problem.porous, problem.fans, problem.coolers,
                  problem.chips):
        for b in group or ():
            xs += [b.lower[axis], b.upper[axis]]
            if getattr(b, "axis", None) == axis and hasattr(b, "position"):
                xs.append(b.position)
    return xs


def coarsen_faces(faces: np.ndarray, keep: list[float]) -> np.ndarray:
    """The faces with the cells between kept faces merged in pairs (a segment of odd
    length keeps one single cell at its end); the ends and the faces nearest ``keep``
    stay."""
    n = faces.size - 1
    if n < 2:
        return faces
    kept = {0, n}
    for x in keep:
        kept.add(int(np.argmin(np.abs(faces - x))))
    kept = sorted(kept)
    out = [0]
    for a, b in zip(kept[:-1], kept[1:]):
        out += list(range(a + 2, b, 2)) + [b]
    return faces[out]


def coarser(problem, min_cells: int = MIN_CELLS):
    """The problem on a coarser mesh, or None where the mesh is too small to gain from
    one (under :data:`MIN_CELLS` cells, or its features leave less than a third of the
    cells to merge)."""
    g = problem.grid
    if g.ncells < min_cells:
        return None
    faces = [coarsen_faces(f, feature_faces(problem, a))
             for a, f in enumerate((g.x, g.y, g.z))]
    # a 2D problem's one cell across keeps its aspect ratio to the merged cells: the
    # viscous V-cycle's coarsening follows the aspect ratios (a 32^2 cavity as thin as a
    # 64^2 one took 295 outer iterations for 153); not where something spans that cell
    # (a block through a 2D channel would then cover no cell centre)
    merged = [g.shape[a] / (f.size - 1) for a, f in enumerate(faces) if g.shape[a] >= 2]
    ratio = float(np.mean(merged)) if merged else 1.0
    faces = [f if g.shape[a] >= 2 or feature_faces(problem, a) else f[0] + (f - f[0]) * ratio
             for a, f in enumerate(faces)]
    coarse = Grid(*faces)
    if coarse.ncells > 0.6 * g.ncells:
        return None
    return dataclasses.replace(problem, grid=coarse)


def _padded_coordinates(faces: np.ndarray, staggered: bool) -> np.ndarray:
    """Positions (m) of a padded array's entries along one axis: the cell centres with a
    halo centre at each end, or (``staggered``) each cell's low face, the halo's low face
    first."""
    h = np.diff(faces)
    if staggered:
        return np.concatenate([[faces[0] - h[0]], faces])
    c = 0.5 * (faces[1:] + faces[:-1])
    return np.concatenate([[faces[0] - 0.5 * h[0]], c, [faces[-1] + 0.5 * h[-1]]])


def _axis_weights(src: np.ndarray, dst: np.ndarray, breaks) -> np.ndarray:
    """The matrix (dst x src) of linear interpolation along one axis, constant beyond the
    ends, that never reaches across a coordinate in ``breaks``: each destination takes
    only the sources between the same two breaks (the nearest one where none lies
    there)."""
    w = np.zeros((dst.size, src.size))
    seg_src = np.searchsorted(breaks, src)
    seg_dst = np.searchsorted(breaks, dst)
    for seg in np.unique(seg_dst):
        rows = np.flatnonzero(seg_dst == seg)
        cols = np.flatnonzero(seg_src == seg)
        if cols.size == 0:
            cols = np.array([int(np.argmin(np.abs(src - dst[rows].mean())))])
        # each source's weight: the interpolation of its unit vector
        for j, unit in enumerate(np.eye(cols.size)):
            w[rows, cols[j]] = np.interp(dst[rows], src[cols], unit)
    return w


def _interpolate(values: np.ndarray, src: list, dst: list, breaks=None) -> np.ndarray:
    """Tensor-product linear interpolation of a padded array from the ``src`` positions to
    the ``dst`` positions, an axis at a time (constant beyond the ends); along axis ``a``
    not across the coordinates ``breaks[a]`` (None: anywhere)."""
    out = values
    for a in range(3):
        if src[a].size == dst[a].size and (src[a].size <= 3 or np.allclose(src[a], dst[a])):
            continue                # the same positions, or one cell across (2D)
        if breaks is None or not len(breaks[a]):
            out = np.apply_along_axis(lambda v, a=a: np.interp(dst[a], src[a], v), a, out)
            continue
        w = _axis_weights(src[a], dst[a], breaks[a])
        out = np.moveaxis(np.tensordot(w, np.moveaxis(out, a, 0), axes=1), 0, a)
    return out


def _breaks(problem, coarse_faces: list) -> list:
    """Per axis, the coarse faces nearest the problem's features (fans' planes, the sides
    of porous boxes, blocks, coolers and chips): a fan's pressure jump or a porous box's
    resistance sits there, and interpolating across one would smear it over the fine
    cells beside it (a pressure gradient of 1e4 m/s^2 in the slot beside a CRAH column of
    the 20-rack hall on 0.08 m cells, and 3,500 m/s there after the first iteration)."""
    out = []
    for a, f in enumerate(coarse_faces):
        keep = {float(f[int(np.argmin(np.abs(f - x)))]) for x in feature_faces(problem, a)}
        out.append(np.array(sorted(keep - {float(f[0]), float(f[-1])})))
    return out


def transfer(coarse, fine, solenoidal: bool = False) -> None:
    """Set ``fine``'s velocity, temperature and pressure (FlowSolvers of one problem on two
    meshes) from ``coarse``'s: interpolated, zero on faces the fine mesh does not compute
    (walls, solids), the boundaries then applied.  ``solenoidal``: the velocity then
    projected onto the fine mesh's divergence-free fields (else the first outer
    iteration's projection does it)."""
    be = fine.be
    cg, fg = coarse.problem.grid, fine.problem.grid
    cf, ff = (cg.x, cg.y, cg.z), (fg.x, fg.y, fg.z)
    # not across a feature's faces, except along a velocity's own axis, whose staggered
    # positions hold those faces themselves
    breaks = _breaks(fine.problem, cf)
    for c in range(3):
        src = [_padded_coordinates(cf[a], a == c) for a in range(3)]
        dst = [_padded_coordinates(ff[a], a == c) for a in range(3)]
        along = [np.array([]) if a == c else breaks[a] for a in range(3)]
        v = _interpolate(np.asarray(be.to_host(coarse.vel[c]), float), src, dst, along)
        m = fine.model.mesh.computed_faces(c)
        if m is not None:
            v = v * np.asarray(m, bool)
        fine.vel[c][...] = be.asarray(v, fine.dtype)
    src = [_padded_coordinates(f, False) for f in cf]
    dst = [_padded_coordinates(f, False) for f in ff]
    for name in ("T", "phi"):
        v = _interpolate(np.asarray(be.to_host(getattr(coarse, name)), float), src, dst,
                         breaks)
        getattr(fine, name)[...] = be.asarray(v, fine.dtype)
    fine.model.apply_bc(fine.vel, fine.T)
    if solenoidal:
        # as the solver's own initial field: interpolated faces are not divergence-free
        # on the fine mesh (net outflows of a few percent of a face's flow on the quick
        # air hall), and an outer iteration's momentum operator is diagonally dominant by
        # 1 / dt only where the faces' volumes are balanced (its diagonal minus its
        # couplings is 1 / dt plus their net outflow)
        phi = fine.phi.copy()
        fine.model.pressure.project(fine.vel, fine.phi, 1.0)
        fine.model.apply_bc(fine.vel, fine.T)
        fine.phi[...] = phi
    fine.model.boundaries.fill_pressure(fine.phi, mirror=True)


def coarse_start(solver, tolerance: float, energy_tolerance: float | None, max_iterations: int,
                 relax, sweeps: int, depth: int | None) -> None:
    """Start ``solver`` (a FlowSolver at rest) from its problem solved on coarser meshes,
    recursively, each to 10x looser criteria than the mesh above it; each level's cells,
    outer iterations and CPU seconds go to ``solver.stats.coarse``.  A coarse level that
    does not converge still hands on what it reached; one that cannot be meshed or
    diverges is skipped (the solver starts from rest)."""
    problem = coarser(solver.problem)
    if problem is None:
        return
    t0 = time.process_time()
    try:
        coarse = type(solver)(problem, solver.be, solver.dtype, solver.cfl,
                            solver.pressure_tolerance, solver.diffusion, solver.advection)
    except CaseError:
        return                  # a feature the coarse mesh cannot hold: start from rest
    try:
        coarse.run(tolerance=10.0 * tolerance, max_steps=max_iterations, method="simplec",
                   energy_tolerance=None if energy_tolerance is None else
                   10.0 * energy_tolerance, relax=relax, sweeps=sweeps, depth=depth,
                   sequence=True, multigrid=False)
    except NotSteady:
        pass                    # not converged: still a better start than rest
    except SolverError:
        return
    st = solver.stats
    st.coarse = coarse.stats.coarse + [(problem.grid.ncells, coarse.stats.steps,
                                        time.process_time() - t0
                                        - sum(c[2] for c in coarse.stats.coarse))]
    transfer(coarse, solver, solenoidal=True)
