"""CPU threads that help, never hurt (issue 17): small grids on one thread, --threads and
$THERMOSIM_THREADS set the count, OpenMP threads wait passively, compiled kernels cached in
a per-user folder, and a one-line notice before a first-run compile.

Every check runs in a fresh interpreter: Numba's settings are read when it is imported and
its thread pool starts once per process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_OURS = ("THERMOSIM_THREADS", "NUMBA_NUM_THREADS", "NUMBA_CACHE_DIR", "OMP_WAIT_POLICY",
         "GOMP_SPINCOUNT", "KMP_BLOCKTIME", "NUMBA_THREADING_LAYER",
         "NUMBA_THREADING_LAYER_PRIORITY", "XDG_CACHE_HOME")


def _py(code: str, tmp_path, **env) -> subprocess.CompletedProcess:
    e = {k: v for k, v in os.environ.items() if k not in _OURS}
    e.update(NUMBA_NUM_THREADS="2", XDG_CACHE_HOME=str(tmp_path / "xdg"))
    e.update(env)
    e["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in e.get(
        "PYTHONPATH", "").split(os.pathsep) if p])
    return subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=e,
                          capture_output=True, text=True, timeout=120)


def _json(code: str, tmp_path, **env):
    r = _py(code, tmp_path, **env)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


_COUNTS = """
import json, numba
from thermosim.backends import backend_for
from thermosim.backends.numba_setup import SINGLE_THREAD_BELOW as N
out = []
for cells in (1000, N - 1, N, 10 * N):
    backend_for("cpu", cells)
    out.append(numba.get_num_threads())
print(json.dumps(out))
"""


def test_small_grids_run_on_one_thread_large_ones_on_the_pool(tmp_path):
    assert _json(_COUNTS, tmp_path) == [1, 1, 2, 2]


def test_thermosim_threads_sets_the_count_for_every_size(tmp_path):
    assert _json(_COUNTS, tmp_path, THERMOSIM_THREADS="2") == [2, 2, 2, 2]


def test_threads_option_sets_the_count_and_passes_it_to_workers(tmp_path):
    # the option acts while the command line is parsed; a missing case file then stops the
    # command before any solve, and the count holds for the rest of the process
    code = """
import json, os, numba
from thermosim.cli import main
try:
    main(["run", "no_such_case.yaml", "--threads", "2"], standalone_mode=False)
except BaseException:
    pass
from thermosim.backends import backend_for
backend_for("cpu", 1000)
print(json.dumps([numba.get_num_threads(), os.environ.get("THERMOSIM_THREADS")]))
"""
    assert _json(code, tmp_path) == [2, "2"]


def test_a_sweep_workers_share_caps_a_large_grid_but_not_a_small_one(tmp_path):
    code = """
import json, numba
from thermosim.backends import backend_for
from thermosim.backends.numba_setup import share_threads
share_threads(1)
backend_for("cpu", 10**7); big = numba.get_num_threads()
share_threads(2)
backend_for("cpu", 10**7); big2 = numba.get_num_threads()
backend_for("cpu", 100); small = numba.get_num_threads()
print(json.dumps([big, big2, small]))
"""
    assert _json(code, tmp_path) == [1, 2, 1]


def test_a_bad_thermosim_threads_is_one_line_before_any_work(tmp_path):
    r = _py("from thermosim.cli import main; main(['run', '-o', 'x.h5'])", tmp_path,
            THERMOSIM_THREADS="two")
    assert r.returncode == 2
    assert r.stderr.strip() == ("thermosim: error: THERMOSIM_THREADS: expected a whole number "
                                "of threads >= 1, got 'two'"), r.stderr
    assert not list(tmp_path.glob("x.h5*"))


_SETTINGS = """
import json, os
import thermosim.backends.cpu, numba
print(json.dumps({k: os.environ.get(k) for k in ("OMP_WAIT_POLICY", "NUMBA_CACHE_DIR",
                  "NUMBA_THREADING_LAYER_PRIORITY")} | {"cfg": numba.config.CACHE_DIR}))
"""


def test_openmp_waits_passively_and_kernels_are_cached_per_user(tmp_path):
    s = _json(_SETTINGS, tmp_path)
    assert s["OMP_WAIT_POLICY"] == "PASSIVE"
    assert s["NUMBA_THREADING_LAYER_PRIORITY"].split()[0] == "omp"
    want = str(tmp_path / "xdg" / "thermosim" / "numba")
    assert s["NUMBA_CACHE_DIR"] == s["cfg"] == want


def test_a_users_own_numba_and_openmp_settings_are_kept(tmp_path):
    s = _json(_SETTINGS, tmp_path, OMP_WAIT_POLICY="ACTIVE",
              NUMBA_CACHE_DIR=str(tmp_path / "mine"), NUMBA_THREADING_LAYER="workqueue")
    assert s["OMP_WAIT_POLICY"] == "ACTIVE"
    assert s["NUMBA_CACHE_DIR"] == s["cfg"] == str(tmp_path / "mine")
    assert s["NUMBA_THREADING_LAYER_PRIORITY"] is None
    # a spin count of the user's is theirs too: no wait policy imposed over it
    assert _json(_SETTINGS, tmp_path, GOMP_SPINCOUNT="1000")["OMP_WAIT_POLICY"] is None


def test_the_compile_notice_appears_only_while_numbas_cache_is_cold(tmp_path):
    # a tiny cached kernel stands in for thermosim's (which take ~25 s to compile)
    (tmp_path / "tiny_kernel.py").write_text(
        "from numba import njit\n\n@njit(cache=True)\ndef total(a):\n    return a.sum()\n")
    code = """
import io, json, sys
import numpy as np
from thermosim.backends import numba_setup as ns
ns.configure()
sys.path.insert(0, ".")
from tiny_kernel import total
out = []
def notice(dtype):
    buf = io.StringIO()
    ns._noticed.clear()
    said = ns.compile_notice("tiny", 25, [total], dtype, out=buf)
    out.append([said, buf.getvalue()])
notice(np.float64)                     # nothing compiled yet
total(np.ones(3))
notice(np.float64)                     # compiled and cached for float64 ...
notice(np.float32)                     # ... not for float32
print(json.dumps(out))
"""
    first = _json(code, tmp_path)
    assert [s for s, _ in first] == [True, False, True]
    line = first[0][1]
    assert line.count("\n") == 1 and line.startswith("compiling the CPU tiny kernels (float64;")
    assert str(tmp_path / "xdg" / "thermosim" / "numba") in line
    # a new process finds the float64 version in the cache: no notice
    assert [s for s, _ in _json(code, tmp_path)] == [False, False, True]


def test_every_kernel_the_flow_notice_checks_is_one_the_steady_solver_runs():
    # the notice says "compiling ... about 60 s" while any of its kernels is cold; one that
    # only the march calls stayed cold in a steady user's cache and the notice came every run
    import numpy as np

    from thermosim.backends.cpu import CG_KERNELS
    from thermosim.backends.cpu_flow import FLOW_KERNELS
    from thermosim.flow import FlowBoundary, FlowProblem, FlowSolver, Fluid
    from thermosim.flow_verification import SLIP_Z
    from thermosim.grid import Grid

    f = np.linspace(0.0, 1.0, 9)
    problem = FlowProblem(Grid(f, f, np.array([0.0, 0.125])),
                          Fluid("cavity", 1.0, 0.01, 0.01, 1.0),
                          {"y+": FlowBoundary("wall", velocity=(1.0, 0.0, 0.0)), **SLIP_Z})
    s = FlowSolver(problem, "cpu", np.float64)
    try:
        s.run(tolerance=1e-12, max_steps=4, method="simplec", multigrid=False)
    except Exception as e:              # not steady in 4: it has run them all the same
        assert getattr(e, "result", None) is not None
    cold = [k.py_func.__name__ for k in FLOW_KERNELS + CG_KERNELS if not k.signatures]
    assert cold == []


_TANK = """
import hashlib, json
from thermosim.runner import solve
r = solve(r"{case}", "cpu")
fields = b"".join(a.tobytes() for a in (r.u, r.v, r.w, r.phi, r.T))
print(json.dumps([r.stats.steps, hashlib.sha256(fields).hexdigest()]))
"""


@pytest.mark.parametrize("blas, numba", [("2", "1"), ("1", "2")])
def test_a_steady_state_does_not_depend_on_the_thread_counts(tmp_path, blas, numba):
    """The quick tank's steady state, bit for bit, with OpenBLAS and Numba on one thread
    each and with either on two: a sweep worker (its share of the cores) and the process
    that started it give the same run.  It did not (stop 48): the iterations' tail
    amplifies the last bits of the sums, and both libraries split their sums by thread
    (a parallel dot product's reduction; LAPACK's factorisations, BLAS's matrix-vector
    product): 366 outer iterations with everything on one thread, 384 with OpenBLAS on
    two, 253 with Numba on two, on the 0.1 m tanks of tests/test_compare_workers.py; the
    quick tank here took 161 in every case, its fields differing in the last bits."""
    from thermosim.backends.numba_setup import cache_dir

    case = ROOT / "meshes" / "immersion_quick.yaml"
    code = _TANK.format(case=case)
    cache = str(cache_dir())            # this process's compiled kernels, not a cold cache
    one = _json(code, tmp_path, THERMOSIM_THREADS="1", OPENBLAS_NUM_THREADS="1",
                NUMBA_CACHE_DIR=cache)
    other = _json(code, tmp_path, THERMOSIM_THREADS=numba, OPENBLAS_NUM_THREADS=blas,
                  NUMBA_CACHE_DIR=cache)
    assert other == one
