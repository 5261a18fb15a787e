"""Two MPI ranks equal one process: `mpiexec -n 2 python -m thermosim.parallel.mpi_check`
(the seam: halos, reductions, the pressure solve) and `... thermosim.parallel.flow_check`
(whole flows: the lid-driven and buoyant cavities, a channel periodic across the split,
a channel with an inflow and an outflow, and a steady march).

The check (thermosim/parallel/mpi_check.py) runs halo exchanges (a periodic split axis
too), the reductions, and pressure-like Poisson solves (non-uniform 3D grid, solid cells, a
periodic axis, a closed domain: singular) with pcg and the multigrid preconditioner split
into x slabs over the two ranks, against one process's solve on every rank.  Skipped, with
the reason, where mpi4py or mpiexec is missing (``pip install -e ".[mpi]"`` brings both: the
mpich wheel puts mpiexec beside the interpreter).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _mpiexec() -> str | None:
    """The mpiexec of the interpreter's environment (the mpich wheel's), else the PATH's."""
    here = Path(sys.executable).parent / "mpiexec"
    if here.exists():
        return str(here)
    return shutil.which("mpiexec")


def _skip_reason() -> str | None:
    if importlib.util.find_spec("mpi4py") is None:
        return "mpi4py is not installed (pip install -e '.[mpi]')"
    if _mpiexec() is None:
        return "no mpiexec beside the interpreter or on PATH (pip install -e '.[mpi]')"
    return None


def _run(module: str, *args: str) -> dict:
    """Rank 0's JSON line of ``mpiexec -n 2 python -m module args``, with its exit status."""
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    # one thread per rank: two ranks of multithreaded OpenBLAS on two cores take 50x longer
    # over the coarsest level's pseudo-inverse (3.9 s against 0.07 s, measured)
    env = dict(os.environ, NUMBA_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    r = subprocess.run([_mpiexec(), "-n", "2", sys.executable, "-m", module, *args],
                       capture_output=True, text=True, timeout=900, env=env, cwd=ROOT)
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("{")]
    assert lines, f"no result from mpiexec (status {r.returncode}):\n{r.stdout}\n{r.stderr}"
    out = json.loads(lines[-1])
    out["returncode"] = r.returncode
    return out


@pytest.fixture(scope="module")
def two_ranks() -> dict:
    return _run("thermosim.parallel.mpi_check")


@pytest.fixture(scope="module")
def two_rank_flows() -> dict:
    return _run("thermosim.parallel.flow_check", "--steps", "20")


def test_two_rank_flows_equal_one_process(two_rank_flows):
    """Each flow split into two x slabs: every field (halos included) within 1e-12 of one
    process's, the same steps and pressure iterations, the time within 1e-12 (a sum of
    steps from reduced speeds); the steady march stops at the same step."""
    rows = {r["case"]: r for r in two_rank_flows["rows"]}
    assert set(rows) == {"lid-driven cavity", "buoyant cavity", "periodic channel",
                         "inflow-outflow channel", "lid-driven cavity, steady march"}
    for r in rows.values():
        assert r["largest_difference"] <= 1e-12, r
        assert r["same_steps_time_iterations"], r
        assert r["pressure_iterations"][0] > 0, r
    assert rows["lid-driven cavity, steady march"]["steps"] > 100
    assert two_rank_flows["passed"] and two_rank_flows["returncode"] == 0


def test_two_ranks_pass_every_check(two_ranks):
    assert two_ranks["ranks"] == 2
    assert two_ranks["failures"] == []
    assert two_ranks["returncode"] == 0


def test_two_rank_pressure_solves_equal_one_process(two_ranks):
    solves = two_ranks["solves"]
    # x periodic (the split axis wraps), deeper distributed levels, point and line smoothers,
    # and lines along the split axis (everything gathered)
    assert len(solves) == 5
    assert {s["case"].split("gather level ")[1] for s in solves} >= {"0", "1", "2"}
    for s in solves:
        assert s["iterations_n"] == s["iterations_1"] > 0, s
        assert s["max_rel_diff"] <= 1e-12, s
        assert s["residual_n"] < 1e-10, s
