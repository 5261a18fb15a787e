"""How the CPU kernels run: Numba's settings made before Numba is imported, the thread count
for a problem of a given size, and the one-line notice before a first-run compile.

- **Compiled kernels** are cached in a per-user folder (``$XDG_CACHE_HOME/thermosim/numba``,
  else ``~/.cache/thermosim/numba``) unless ``NUMBA_CACHE_DIR`` is set: an installed
  package's own folder is often not writable, and Numba raises (not warns) when a
  ``cache=True`` kernel has nowhere to go.
- **Threading layer and waiting**: OpenMP first, its idle threads waiting passively
  (``OMP_WAIT_POLICY=PASSIVE``), unless the user set them.  With the default spinning wait,
  a thread that finishes its share of a parallel loop burns its core until the others
  finish; beside a CPU-bound neighbour those spinning threads take the time the working
  ones need, and a small periodic duct ran 70x slower per step with two threads than with
  one (benchmarks/threads_busy.py: 1.45 s against 0.021 s per step on two shared cores);
  waiting passively it runs in proportion to the cores it gets.
- **Threads per run**: ``--threads N`` or ``THERMOSIM_THREADS=N`` set the count; otherwise a
  grid below :data:`SINGLE_THREAD_BELOW` cells runs on one thread, a larger one on every
  thread of Numba's pool (``NUMBA_NUM_THREADS``, by default one per core).

Nothing here imports Numba at import time; :func:`configure` runs first in every module that
does (thermosim.backends.cpu, cpu_flow).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from ..errors import BackendError

#: The environment variable that sets the number of CPU threads of every run.
ENV_THREADS = "THERMOSIM_THREADS"

#: Grids with fewer cells than this run on one thread unless a count is asked for.  Each
#: parallel loop costs waking the pool and joining it: measured 37-160 us per empty loop
#: with two passively waiting threads against 4-9 us with one (2 cores, numba 0.68, omp).
#: A second thread gains only when a loop holds at least about twice that in work -- ~0.1 ms,
#: a vector update of the pressure solve over roughly 100,000 cells; a flow step is hundreds
#: of such loops, many on multigrid's coarse levels.  Measured with the periodic duct of
#: benchmarks/threads_busy.py on 2 cores shared with other work: two threads took 1.2-3.8x
#: as long per step as one at 512-4,096 cells, 0.9-2.0x at 13,824-32,768, 0.8-1.45x at
#: 64,000-110,592 and 0.9-1.1x at 262,144 cells.  Those cores were never free, so on an idle
#: machine the crossover is lower; below 100,000 cells a second thread was never a clear
#: gain and often a loss, so such grids stay on one.
SINGLE_THREAD_BELOW = 100_000

_configured = False
_requested: int | None = None       # --threads, for this process
_share: int | None = None           # a sweep worker's share of the cores (a cap)


def cache_dir() -> Path:
    """Where thermosim's compiled CPU kernels are kept: ``$NUMBA_CACHE_DIR`` if set, else a
    per-user folder (a temporary one where the home folder cannot be written)."""
    env = os.environ.get("NUMBA_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    for d in (Path(base) / "thermosim" / "numba",
              Path(tempfile.gettempdir()) / f"thermosim-numba-{_user()}"):
        try:
            d.mkdir(parents=True, exist_ok=True)
            tempfile.TemporaryFile(dir=d).close()
            return d
        except OSError:
            continue
    return Path(base) / "thermosim" / "numba"


def _user() -> str:
    try:
        return str(os.getuid())
    except AttributeError:              # (Windows)
        return os.environ.get("USERNAME", "user")


def _int(text) -> int | None:
    try:
        n = int(str(text).strip())
    except (TypeError, ValueError):
        return None
    return n if n >= 1 else None


def configure() -> None:
    """Set Numba's environment for thermosim (once; a user's own settings are kept).  Call
    before ``import numba``; where Numba was imported already, its config is set too (it
    takes effect for kernels defined and a thread pool started afterwards)."""
    global _configured
    if _configured:
        return
    _configured = True
    env = os.environ
    env.setdefault("NUMBA_CACHE_DIR", str(cache_dir()))
    if "NUMBA_THREADING_LAYER" not in env:
        # OpenMP (its passive wait measured, see above); TBB or the workqueue where absent
        env.setdefault("NUMBA_THREADING_LAYER_PRIORITY", "omp tbb workqueue")
    # GNU and LLVM/Intel OpenMP read this when the layer's library loads (first parallel
    # loop); GOMP_SPINCOUNT or KMP_BLOCKTIME set by the user are theirs to keep
    if "GOMP_SPINCOUNT" not in env and "KMP_BLOCKTIME" not in env:
        env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    # a count asked for above the default pool (one per core) needs a pool that large
    asked = _requested or _int(env.get(ENV_THREADS))
    if asked and "NUMBA_NUM_THREADS" not in env and asked > (os.cpu_count() or 1):
        env["NUMBA_NUM_THREADS"] = str(asked)
    numba = sys.modules.get("numba")
    if numba is not None:
        cfg = numba.config
        cfg.CACHE_DIR = env["NUMBA_CACHE_DIR"]
        if "NUMBA_THREADING_LAYER_PRIORITY" in env and "NUMBA_THREADING_LAYER" not in env:
            cfg.THREADING_LAYER_PRIORITY = env["NUMBA_THREADING_LAYER_PRIORITY"].split()


def request_threads(n: int | None) -> None:
    """``--threads N``: every later run of this process (and of the processes it starts)
    uses ``n`` CPU threads; None leaves the choice to :func:`threads_for`."""
    global _requested
    if n is None:
        return
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise BackendError(f"--threads: expected a whole number >= 1, got {n!r}")
    _requested = n
    os.environ[ENV_THREADS] = str(n)            # sweep workers are other processes
    if "numba" not in sys.modules and "NUMBA_NUM_THREADS" not in os.environ \
            and n > (os.cpu_count() or 1):
        os.environ["NUMBA_NUM_THREADS"] = str(n)


def share_threads(n: int | None) -> None:
    """A sweep worker's share of the cores: at most ``n`` threads for a large grid."""
    global _share
    _share = n if n and n >= 1 else None


def requested_threads() -> int | None:
    """The count asked for with ``--threads`` or ``$THERMOSIM_THREADS`` (None: none)."""
    if _requested:
        return _requested
    text = os.environ.get(ENV_THREADS, "").strip()
    if not text:
        return None
    n = _int(text)
    if n is None:
        raise BackendError(f"{ENV_THREADS}: expected a whole number of threads >= 1, got "
                           f"{text!r}")
    return n


def pool_size() -> int:
    """Threads in Numba's pool (``NUMBA_NUM_THREADS``; one per core by default)."""
    configure()
    import numba

    return int(numba.config.NUMBA_NUM_THREADS)


def threads_for(cells: int) -> int:
    """CPU threads for a problem of ``cells`` cells: the count asked for if any, else one
    below :data:`SINGLE_THREAD_BELOW` cells and the whole pool (a sweep worker: its share)
    above; never more than the pool holds."""
    pool = pool_size()
    asked = requested_threads()
    if asked:
        return min(asked, pool)
    if cells < SINGLE_THREAD_BELOW:
        return 1
    return max(1, min(_share or pool, pool))


def apply_threads(cells: int) -> int:
    """Set the calling thread's Numba thread count for a problem of ``cells`` cells (Numba's
    count is per calling thread); returns it."""
    n = threads_for(cells)
    import numba

    numba.set_num_threads(n)
    return n


# -- the first-run compile notice -------------------------------------------------------

_noticed: set = set()


def kernels_cached(kernels, dtype) -> bool:
    """Whether each of ``kernels`` (Numba dispatchers with ``cache=True``) has a version for
    ``dtype`` arrays in Numba's on-disk cache that is fresh for its source: Numba's own index
    files, read without loading anything.  Where they cannot be read (a changed private
    API), a cache folder without any index file counts as cold."""
    import numpy as np

    name = np.dtype(dtype).name
    try:
        for k in kernels:
            index = k._cache._cache_file._load_index()
            if not any(name in str(key[0]) for key in index):
                return False
        return True
    except Exception:               # noqa: BLE001 (a private API that may change)
        return any(Path(cache_dir()).rglob("*.nbi"))


def compile_notice(what: str, seconds: float, kernels, dtype, out=None) -> bool:
    """Print one line before a compile that Numba's cache cannot spare (checked once per
    process, ``what`` and ``dtype``); returns whether it printed."""
    import numpy as np

    key = (what, np.dtype(dtype).name)
    if key in _noticed:
        return False
    _noticed.add(key)
    if kernels_cached(kernels, dtype):
        return False
    print(f"compiling the CPU {what} kernels ({np.dtype(dtype).name}; first run only, about "
          f"{seconds:.0f} s; cached in {cache_dir()})", file=out or sys.stderr, flush=True)
    return True
