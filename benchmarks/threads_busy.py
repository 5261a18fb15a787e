"""CPU flow steps with 1 and 2 Numba threads, alone and beside a CPU-bound neighbour.

A thread pool whose workers spin while they wait for each other turns a busy machine into a
many-fold slowdown (issue 17: 57 s against 0.8 s for 30 steps of a small periodic duct).
This runs a small flow case -- the heated block in a periodic duct of
tests/flow_compare_cases.py, ``--across`` cells across (the grid is 2N x N x N/2) -- for
``--steps`` time steps with each thread count (and ``auto``: thermosim's own choice for the
grid), first alone, then beside one busy-loop process
per core, each configuration in a fresh process, and prints the time per step and the
slowdown ratios.  A configuration stops early after ``--cap`` seconds (the time per step is
then from the steps done).  The thread count is requested the way a user would
(``THERMOSIM_THREADS``), so that thermosim's policy for small grids does not override it.

    python benchmarks/threads_busy.py                   # 16 across: 4,096 cells
    python benchmarks/threads_busy.py --across 32 --json threads.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def child(args) -> None:
    """One configuration: warm-up steps (compile or load the kernels), then timed steps."""
    sys.path.insert(0, str(ROOT / "tests"))
    import numba
    import numpy as np

    from flow_compare_cases import periodic_flow
    from thermosim.flow import FlowSolver

    problem = periodic_flow(args.across)
    solver = FlowSolver(problem, "cpu", np.float64)
    if args.threads != "auto":
        numba.set_num_threads(int(args.threads))    # (a thermosim without the policy too)
    dt = 2e-3 * 8 / args.across
    for _ in range(2):
        solver.step(dt)
    t0 = time.perf_counter()
    n = 0
    best = float("inf")             # the fastest step: what the threads give on free cores
    while n < args.steps and time.perf_counter() - t0 < args.cap:
        ts = time.perf_counter()
        solver.step(dt)
        best = min(best, time.perf_counter() - ts)
        n += 1
    el = time.perf_counter() - t0
    try:
        layer = numba.threading_layer()
    except ValueError:
        layer = "none"
    print(json.dumps({"threads": numba.get_num_threads(), "steps": n, "seconds": el,
                      "per_step": el / max(n, 1), "best_step": best,
                      "cells": int(problem.grid.ncells),
                      "layer": layer, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY"),
                      "GOMP_SPINCOUNT": os.environ.get("GOMP_SPINCOUNT")}))


def run_one(args, threads: str) -> dict:
    """``threads``: a count, asked for as a user would, or ``auto``: thermosim's choice."""
    env = dict(os.environ)
    env.pop("THERMOSIM_THREADS", None)
    # the pool must be able to hold the threads asked for (a session may have exported 1);
    # auto: a pool of one thread per core, as on a machine left to its defaults
    pool = os.cpu_count() or 1
    if threads != "auto":
        env["THERMOSIM_THREADS"] = threads
        pool = max(int(threads), int(env.get("NUMBA_NUM_THREADS", "0") or 0))
    env["NUMBA_NUM_THREADS"] = str(pool)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in env.get(
        "PYTHONPATH", "").split(os.pathsep) if p])
    cmd = [sys.executable, __file__, "--child", "--threads", threads, "--across",
           str(args.across), "--steps", str(args.steps), "--cap", str(args.cap)]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True,
                       timeout=args.cap + 300)
    if r.returncode != 0:
        raise SystemExit(f"threads_busy: the {threads}-thread run failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def neighbours(n: int) -> list[subprocess.Popen]:
    """``n`` CPU-bound processes (pure Python busy loops), ended by the caller."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--across", type=int, default=16, help="cells across (a multiple of 4)")
    ap.add_argument("--steps", type=int, default=30, help="timed steps per configuration")
    ap.add_argument("--cap", type=float, default=60.0,
                    help="seconds after which a configuration stops early")
    ap.add_argument("--threads", nargs="+", default=["1", "2", "auto"],
                    help="thread counts to run, or auto (thermosim's choice for the grid)")
    ap.add_argument("--busy", type=int, default=os.cpu_count() or 1,
                    help="neighbour busy loops (default: one per core)")
    ap.add_argument("--json", help="also write the figures here")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        args.threads = args.threads[0]
        return child(args)
    for t in args.threads:
        if t != "auto" and not (t.isdigit() and int(t) >= 1):
            ap.error(f"--threads: {t!r} is neither a count >= 1 nor auto")

    rows = {}
    for t in args.threads:
        rows[(t, "alone")] = run_one(args, t)
    for t in args.threads:
        procs = neighbours(args.busy)
        try:
            time.sleep(0.5)
            rows[(t, "busy")] = run_one(args, t)
        finally:
            for p in procs:
                p.kill()
            for p in procs:
                p.wait()
    first = rows[(args.threads[0], "alone")]
    base = first["per_step"]
    print(f"periodic duct with a heated block, {first['cells']} cells, {os.cpu_count()} cores, "
          f"threading layer {first['layer']}, OMP_WAIT_POLICY={first['OMP_WAIT_POLICY']}, "
          f"GOMP_SPINCOUNT={first['GOMP_SPINCOUNT']}, {args.busy} busy neighbours, load "
          f"average at the end {os.getloadavg()[0]:.1f}")
    print(f"{'threads':>7} | {'alone ms/step':>13} | {'busy ms/step':>12} | "
          f"{'busy/alone':>10} | {'busy vs 1 alone':>15} | steps timed (alone, busy)")
    for t in args.threads:
        a, b = rows[(t, "alone")], rows[(t, "busy")]
        label = t if t != "auto" else f"auto={a['threads']}"
        print(f"{label:>7} | {a['per_step'] * 1e3:>13.1f} | {b['per_step'] * 1e3:>12.1f} | "
              f"{b['per_step'] / a['per_step']:>10.1f} | {b['per_step'] / base:>15.1f} | "
              f"{a['steps']}, {b['steps']}")
    if args.json:
        Path(args.json).write_text(json.dumps(
            [{"threads": t, "neighbour": k, **v} for (t, k), v in rows.items()], indent=1))


if __name__ == "__main__":
    main()
