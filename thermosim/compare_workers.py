"""``thermosim compare``'s layout runs: each kept in the comparison's cache
(:func:`run_or_reuse`), and those not kept run side by side in worker processes first
(:func:`run_ahead`).

Below 100,000 cells a run keeps to one thread (:data:`thermosim.backends.numba_setup.
SINGLE_THREAD_BELOW`: a second thread was never a clear gain there), so the three quick
halls run one after the other leave every other core idle, and a grid study's nine runs
more so.  Here the runs not already kept in the comparison's cache are run first, in
``workers`` spawned processes, the largest first (the longest run starts first, so the
others fill the time beside it); each keeps its run in the cache as a serial run does, and
the comparison then reads them from there in its usual order.  The figures are the serial
run's: the same code solves the same case, and each worker gets its share of the cores.

Each worker's progress lines come back through a queue to the comparison's log, prefixed
with the layout and its cells (a grid study runs the same file on three meshes).  A run
that fails stops the comparison with its one line; what finished stays in the cache.
"""

from __future__ import annotations

import copy
import json
import os
import queue as queue_module
import shutil
import time
from pathlib import Path

from .errors import ThermosimError


_log = None                     # in a worker: the queue its log lines go to


def run_or_reuse(path, data, case, kind: str, workdir: Path, backend: str, log,
                 cache: Path | None, ahead=frozenset()) -> tuple[dict, Path | None]:
    """The run of one layout: simulated, its result saved under ``workdir/runs`` and kept
    in ``cache``; or, kept there before, copied from it (``ahead``: the cache keys run by
    this comparison's workers, whose reuse is not news).  Returns (the run: metrics, wall
    time in s, steps, steady, when; its folder in the cache, or None)."""
    from .study import case_key, jsonable, simulate
    from .unconverged import NotSteady, averaged_phrase

    names = [f"{kind}.h5", f"{kind}.xdmf", f"{kind}.png", f"{kind}.residuals.png"]
    held = cache / case_key(data, backend, str(path)) if cache else None
    if held is not None and (held / "run.json").exists():
        run = json.loads((held / "run.json").read_text())
        for n in names:
            if (held / n).exists():
                shutil.copy2(held / n, workdir / "runs" / n)
        if held.name not in ahead:
            log(f"  the run of {run['when']} (same case): not run again")
        return run, held
    t0 = time.perf_counter()
    try:
        result = simulate(case, backend, log)
    except NotSteady as e:
        # kept, marked UNCONVERGED in the report (issue 19, item 8), not thrown away
        log(f"  {case.name}: UNCONVERGED, its last iteration taken: {e}")
        result = e.result
    wall = time.perf_counter() - t0
    h5 = workdir / "runs" / names[0]
    result.save(h5)
    st = result.stats
    run = {"metrics": jsonable(result.metrics()), "wall": wall,
           "steps": int(st.steps), "steady": bool(st.converged),
           "stalled": st.stalled if not st.converged else "",
           # no steady state, so its time mean (thermosim.flow.unsteady): what it is the
           # mean of, and each part of the window's figures (their spread: its uncertainty)
           "averaged": averaged_phrase(st) if getattr(st, "averaged", None) else "",
           "batch_metrics": [jsonable(b.metrics()) for b in getattr(result, "batches", [])],
           "when": time.strftime("%Y-%m-%d %H:%M")}
    if run["averaged"]:
        log(f"  {case.name}: {run['averaged']}")
    if held is not None:
        held.mkdir(parents=True, exist_ok=True)
        for n in names[:2] + names[3:]:          # (the hotspot picture is drawn later)
            if (workdir / "runs" / n).exists():
                shutil.copy2(workdir / "runs" / n, held / n)
        tmp = held / "run.json.tmp"
        tmp.write_text(json.dumps(run))
        os.replace(tmp, held / "run.json")       # last: the run is whole
    return run, held


def _start(lines, threads: int, parent: int) -> None:
    """A worker's set-up: where its log lines go, its share of the cores, and a watch on
    the comparison's process ``parent`` (its pid; :func:`thermosim.study.watch_parent`)."""
    global _log
    _log = lines
    from .backends.numba_setup import share_threads
    from .study import watch_parent

    share_threads(threads)
    watch_parent(parent)


def _run(path: str, data: dict, kind: str, workdir: str, backend: str, cache: str,
         tag: str) -> str | None:
    """One layout's run in a worker (:func:`run_or_reuse`); returns None, or the one line
    of the mistake (:class:`ThermosimError`) that stopped it."""
    from .case import Case

    def say(line: str) -> None:
        _log.put(f"  {tag}: {line.strip()}")

    try:
        case = Case.from_dict(copy.deepcopy(data), path)
        (Path(workdir) / "runs").mkdir(parents=True, exist_ok=True)
        run, _ = run_or_reuse(Path(path), data, case, kind, Path(workdir), backend, say,
                              Path(cache))
    except ThermosimError as e:
        return "; ".join(e.lines())
    say(f"finished in {run['wall']:.0f} s")
    return None


def pending(jobs, backend: str, cache: Path) -> list:
    """The jobs (path, data, case, kind, workdir) whose run is not kept in ``cache``, each
    case once."""
    from .study import case_key

    out, seen = [], set()
    for job in jobs:
        key = case_key(job[1], backend, str(job[0]))
        if key in seen or (cache / key / "run.json").exists():
            continue
        seen.add(key)
        out.append(job)
    return out


def worker_count(cases, backend: str, workers: int | None) -> int:
    """How many processes run the ``cases`` at once: ``workers`` (None: one per core), no
    more than there are cases, one where a run goes to the GPU (the device is one), and no
    more than the largest runs' memory together allows."""
    from .sizing import estimate, memory_limit, resolve_backend

    n = min(workers or os.cpu_count() or 1, len(cases))
    if n < 2:
        return max(n, 1)
    ests = [estimate(case, "cpu") for case in cases]
    if any(resolve_backend(backend, e.cells) != "cpu" for e in ests):
        return 1
    need = sorted((e.host_need for e in ests), reverse=True)
    limit, _ = memory_limit("host")
    while n > 1 and sum(need[:n]) > limit:
        n -= 1
    return n


def run_ahead(jobs, backend: str, cache: Path | None, log, workers: int | None) -> set:
    """Run the jobs (path, data, case, kind, workdir) not kept in ``cache`` in worker
    processes, the largest first, when more than one can run at once; returns the cache
    keys of those run (none: the comparison runs them itself, one after the other)."""
    if cache is None or workers == 1:
        return set()
    from .compare_report import LABEL
    from .sizing import estimate
    from .study import case_key

    todo = pending(jobs, backend, cache)
    n = worker_count([job[2] for job in todo], backend, workers)
    if n < 2:
        return set()
    cells = [estimate(job[2], "cpu").cells for job in todo]
    order = sorted(range(len(todo)), key=lambda i: -cells[i])
    tags = [f"{LABEL[todo[i][3]]}, {cells[i]:,.0f} cells" for i in range(len(todo))]
    log(f"{len(todo)} runs in {n} worker processes, the largest first: "
        + "; ".join(tags[i] for i in order))
    _pool_runs([(todo[i], tags[i]) for i in order], n, backend, cache, log)
    return {case_key(job[1], backend, str(job[0])) for job in todo}


def _pool_runs(jobs, n: int, backend: str, cache: Path, log) -> None:
    """The runs in ``n`` spawned processes, their log lines handed to ``log`` as they
    come; the first failure stops the rest."""
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    ctx = mp.get_context("spawn")
    lines = ctx.Queue()
    threads = max(1, (os.cpu_count() or 1) // n)
    pool = ProcessPoolExecutor(n, mp_context=ctx, initializer=_start,
                               initargs=(lines, threads, os.getpid()))
    futures = {pool.submit(_run, str(path), data, kind, str(workdir), backend, str(cache),
                           tag) for (path, data, _, kind, workdir), tag in jobs}
    try:
        while futures:
            done, futures = wait(futures, timeout=0.5, return_when=FIRST_COMPLETED)
            _drain(lines, log)
            for f in done:
                try:
                    failed = f.result()
                except BrokenProcessPool as e:
                    raise ThermosimError(f"a worker process was lost ({e}; out of memory?): "
                                         "run the layouts one at a time, --workers 1") from None
                if failed:
                    raise ThermosimError(failed)
    except BaseException:
        # stop now: the queued runs cancelled, the running ones ended (what finished is
        # kept in the cache; the next comparison runs the rest)
        from .study import end_pool

        end_pool(pool)
        raise
    pool.shutdown()
    _drain(lines, log)              # (the workers have flushed their last lines on exit)


def _drain(lines, log) -> None:
    while True:
        try:
            log(lines.get_nowait())
        except queue_module.Empty:
            return
