"""Grid sequencing (:mod:`thermosim.flow.sequence`): the coarse meshes keep the geometry,
the transfer between meshes is exact for linear fields, and a run started from coarser
meshes reaches the same steady state as one from rest."""

import numpy as np
import pytest
import yaml

from thermosim import flow_verification as fv
from thermosim.case import Case
from thermosim.flow import FlowBoundary, FlowProblem, FlowSolver, Fluid
from thermosim.flow.from_case import problem_from_case
from thermosim.flow.sequence import coarsen_faces, coarser, feature_faces, transfer
from thermosim.layouts import expand
from thermosim.unconverged import NotSteady

from test_bench_steady import CAVITY
from thermosim.cases import HERE as CASES


def _cavity(Re: float, n: int) -> FlowProblem:
    f = fv.clustered(n, 0.0)
    fluid = Fluid("cavity", 1.0, 1.0 / Re, 1.0 / Re, 1.0)
    bc = {"y+": FlowBoundary("wall", velocity=(1.0, 0.0, 0.0)), **fv.SLIP_Z}
    return FlowProblem(fv._grid_2d(f, f), fluid, bc, name=f"cavity Re {Re:g}")


def test_coarsening_merges_pairs_between_kept_faces():
    """Ten cells with a feature at face 3: segments of 3 and 7 cells become 2 and 4."""
    f = np.linspace(0.0, 1.0, 11)
    c = coarsen_faces(f, [0.3])
    assert np.allclose(c, [0.0, 0.2, 0.3, 0.5, 0.7, 0.9, 1.0])


def test_coarse_hall_keeps_every_block_face():
    """The quick air hall: the coarse mesh has fewer than 60 % of the cells, and every
    coordinate that bounds a block, porous server, fan, cooler or chip on the fine mesh is
    a face of the coarse one."""
    data = yaml.safe_load(open(CASES / "air_cooled_quick.yaml"))
    problem = problem_from_case(Case.from_dict(expand(data)))
    coarse = coarser(problem)
    assert coarse is not None and coarse.grid.ncells < 0.6 * problem.grid.ncells
    for a, (fine, cf) in enumerate(zip((problem.grid.x, problem.grid.y, problem.grid.z),
                                       (coarse.grid.x, coarse.grid.y, coarse.grid.z))):
        for x in feature_faces(problem, a):
            snapped = fine[np.argmin(np.abs(fine - x))]
            assert np.min(np.abs(cf - snapped)) < 1e-12, (a, x)
    # the coarse problem meshes (no block lost) and keeps its power
    FlowSolver(coarse)


def test_transfer_is_exact_for_linear_fields():
    """Linear velocity, temperature and pressure fields on a 16^2 mesh interpolate exactly
    onto the 32^2 one at the fine faces and cell centres (interior)."""
    fine = FlowSolver(_cavity(100.0, 32))
    coarse = FlowSolver(_cavity(100.0, 16))
    g = coarse.problem.grid
    xc, yc = g.centres(0), g.centres(1)
    coarse.vel[0][1:, 1:-1, 1] = (0.3 + 2.0 * g.x[:, None] - 0.5 * yc[None, :])
    coarse.T[1:-1, 1:-1, 1] = 300.0 + 4.0 * xc[:, None] + 1.0 * yc[None, :]
    coarse.phi[1:-1, 1:-1, 1] = 0.1 * xc[:, None] - 0.2 * yc[None, :]
    # the halos extrapolated linearly, as a linear field would have them
    for arr in (coarse.T, coarse.phi):
        for a in (0, 1):
            lo = [slice(None)] * 3
            lo[a] = 0
            n1 = [slice(None)] * 3
            n1[a] = 1
            n2 = [slice(None)] * 3
            n2[a] = 2
            arr[tuple(lo)] = 2 * arr[tuple(n1)] - arr[tuple(n2)]
            hi, m1, m2 = list(lo), list(n1), list(n2)
            hi[a], m1[a], m2[a] = -1, -2, -3
            arr[tuple(hi)] = 2 * arr[tuple(m1)] - arr[tuple(m2)]
    transfer(coarse, fine)
    G = fine.problem.grid
    xf, yf = G.centres(0), G.centres(1)
    inner = (slice(2, -2), slice(2, -2), 1)     # away from the walls the BCs reset
    u = 0.3 + 2.0 * G.x[:, None] - 0.5 * yf[None, :]
    assert np.allclose(fine.vel[0][1:, 1:-1, 1][1:-1, 1:-1], u[1:-1, 1:-1])
    T = 300.0 + 4.0 * xf[:, None] + 1.0 * yf[None, :]
    assert np.allclose(fine.T[inner], T[1:-1, 1:-1])
    phi = 0.1 * xf[:, None] - 0.2 * yf[None, :]
    assert np.allclose(fine.phi[inner], phi[1:-1, 1:-1])


def test_start_from_coarse_meshes_reaches_the_same_steady_state():
    """Cavity Re 100 on 64^2 (4,096 cells: one coarse level, 32^2): from rest and from the
    coarse answer, both to 1e-7, agree to 1e-5 of the lid speed; the coarse level is
    recorded, and the fine mesh needs fewer outer iterations after it."""
    rest = FlowSolver(_cavity(100.0, 64))
    r0 = rest.run(tolerance=1e-7, method="simplec", multigrid=False)
    seq = FlowSolver(_cavity(100.0, 64))
    r1 = seq.run(tolerance=1e-7, method="simplec", sequence=True, multigrid=False)
    assert r0.stats.converged and r1.stats.converged
    assert [c[0] for c in seq.stats.coarse] == [32 * 32]
    assert np.abs(r0.u - r1.u).max() < 1e-5 and np.abs(r0.v - r1.v).max() < 1e-5
    assert seq.stats.steps < rest.stats.steps, (seq.stats.steps, rest.stats.steps)


def test_a_coarse_start_is_told_and_stored(tmp_path):
    """``thermosim run`` of a 64 x 64 cavity case with ``flow.start: coarse``: the summary
    names the coarse mesh and its iterations, and /solver in the HDF5 keeps them beside
    what ``steps`` counts."""
    import h5py
    from click.testing import CliRunner

    from thermosim.cli import main

    case = tmp_path / "cavity.yaml"
    # the 12 x 12 cavity of test_bench_steady, refined to 64 x 64 (one coarse level)
    case.write_text(CAVITY.replace("cells: [12, 12, 1]", "cells: [64, 64, 1]")
                    .replace("0.000833", "0.000156") + "  method: simplec\n  start: coarse\n"
                    "  multigrid: 'off'\n")
    out = tmp_path / "cavity.h5"
    r = CliRunner().invoke(main, ["run", str(case), "-o", str(out), "--backend", "cpu"])
    assert r.exit_code == 0, r.output
    with h5py.File(out) as f:
        a = f["solver"].attrs
        assert a["steps_unit"] == "outer iterations"
        assert list(a["coarse_cells"]) == [1024] and a["coarse_iterations"][0] > 0
        n, m = int(a["steps"]), int(a["coarse_iterations"][0])
    assert f"steady after {n:,} outer iterations, after {m:,} on 1,024 cells" in r.output


def test_transfer_keeps_a_jump_at_a_feature_face():
    """The quick air hall's pressure with a jump of 100 m^2/s^2 across the plane of CRAH1's
    fan (a coarse face: the coarse mesh keeps every feature's faces) and 2 m/s^2 along z
    on either side: on the fine mesh every cell centre takes its own side's value, to
    within the field's change over a coarse cell, none a blend of the two (linear
    interpolation across the plane put half the jump into the cells beside it: a spurious
    pressure gradient of 1e4 m/s^2 beside a CRAH column of the 20-rack hall on 0.08 m
    cells).  Between two features only one coarse cell apart the value is that cell's."""
    data = yaml.safe_load(open(CASES / "air_cooled_quick.yaml"))
    problem = problem_from_case(Case.from_dict(expand(data)))
    fan = next(f for f in problem.fans if f.name.startswith("CRAH1"))
    fine = FlowSolver(problem)
    coarse = FlowSolver(coarser(problem))
    zc = coarse.problem.grid.z
    zp = np.concatenate([[zc[0] - 0.5 * (zc[1] - zc[0])], 0.5 * (zc[1:] + zc[:-1]),
                         [zc[-1] + 0.5 * (zc[-1] - zc[-2])]])

    def pressure(z):
        return np.where(z < fan.position, 100.0, 0.0) + 2.0 * z

    coarse.phi[...] = pressure(zp)[None, None, :]
    transfer(coarse, fine)
    zf = fine.problem.grid.z
    centres = 0.5 * (zf[1:] + zf[:-1])
    got = np.asarray(fine.phi)[5, 5, 1:-1]
    below = centres < fan.position
    assert below.any() and (~below).any()
    assert got[below].min() > 99.0 and got[~below].max() < 50.0, np.c_[centres, got]
    step = np.diff(zc).max()
    assert np.abs(got - pressure(centres)).max() <= 2.0 * step + 1e-12


def _net_outflow(solver) -> np.ndarray:
    """Each fluid cell's net volume outflow (m^3/s) on ``solver``'s mesh."""
    g = solver.problem.grid
    nx, ny, nz = g.shape
    h = [g.spacing(a) for a in range(3)]
    u, v, w = (np.asarray(x) for x in solver.vel)
    q = (np.diff(u[1:nx + 2, 1:-1, 1:-1], axis=0) * np.multiply.outer(h[1], h[2])[None]
         + np.diff(v[1:-1, 1:ny + 2, 1:-1], axis=1) * np.multiply.outer(h[0], h[2])[:, None]
         + np.diff(w[1:-1, 1:-1, 1:nz + 2], axis=2) * np.multiply.outer(h[0], h[1])[:, :, None])
    return q[np.asarray(solver.model.mesh.fluid_host)[1:-1, 1:-1, 1:-1] != 0]


def test_a_coarse_start_hands_on_a_divergence_free_field():
    """The quick air hall's coarse mesh after 20 outer iterations, transferred: the
    interpolated faces leave cells of the fine mesh with net outflows of a few percent of
    a CRAH's flow through a cell face; projected (``solenoidal``, as the coarse start
    does), none is above 1e-9 of it, the fans' held faces keep their flow and the
    pressure is the interpolated one."""
    data = yaml.safe_load(open(CASES / "air_cooled_quick.yaml"))
    problem = problem_from_case(Case.from_dict(expand(data)))
    coarse = FlowSolver(coarser(problem))
    with pytest.raises(NotSteady):
        coarse.run(tolerance=1e-4, max_steps=20, method="simplec", multigrid=False,
                   unsteady="stop")
    plain, projected = FlowSolver(problem), FlowSolver(problem)
    transfer(coarse, plain)
    transfer(coarse, projected, solenoidal=True)
    cell = 0.2 * 0.2
    scale = max(abs(float(np.asarray(v).max())) for v in coarse.vel) * cell
    assert np.abs(_net_outflow(plain)).max() > 1e-2 * scale
    assert np.abs(_net_outflow(projected)).max() < 1e-9 * scale
    for c in range(3):
        held = projected.model.terms.held_faces(c)
        if held is not None:
            np.testing.assert_array_equal(np.asarray(projected.vel[c])[held],
                                          np.asarray(plain.vel[c])[held])
    np.testing.assert_array_equal(np.asarray(projected.phi), np.asarray(plain.phi))
