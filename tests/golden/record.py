"""Write the golden references of tests/test_golden.py (tests/golden/<case>.npz).

Run this ONLY when the numerics change on purpose (a new scheme, a fixed bug that moves the
fields), and from a checkout of the commit whose results are to become the references, on
the CPU, float64:

    NUMBA_NUM_THREADS=1 python tests/golden/record.py            # every case
    NUMBA_NUM_THREADS=1 python tests/golden/record.py cavity     # some of them
    python tests/golden/record.py --out /tmp/golden              # elsewhere (to compare)

To record from another checkout than the one the tests live in (such as a worktree of the
commit before a restructure), put it first on the path: ``PYTHONPATH=/path/to/checkout``.
A restructure that changes no numerics must never rerun this: the point of the references is
that they were written by the code before it.  Each file stores the commit it came from (and
whether the working tree was clean).  Prints each file written, its size and what it holds.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))          # tests/, for golden_cases

# one CPU thread: the parallel reductions (dot products) sum in an order set by the thread
# count, so references are written, and checked, on one
os.environ["THERMOSIM_THREADS"] = "1"

import golden_cases as gc  # noqa: E402


def _commit(where: Path) -> str:
    """The commit of the checkout ``where`` holds ('+dirty' when thermosim/ has changes)."""
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "thermosim"], cwd=where,
                               capture_output=True, text=True, check=True).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("cases", nargs="*", help=f"cases to record (default: all: "
                    f"{', '.join(n for n, c in gc.CASES.items() if not c.reference)})")
    ap.add_argument("--out", type=Path, default=gc.GOLDEN, help="folder (default: %(default)s)")
    args = ap.parse_args(argv)
    import thermosim

    source = Path(thermosim.__file__).resolve().parents[1]
    commit = _commit(source)
    print(f"recording from {source} (commit {commit}) into {args.out}")
    names = args.cases or [n for n, c in gc.CASES.items() if not c.reference]
    unknown = [n for n in names if n not in gc.CASES or gc.CASES[n].reference]
    if unknown:
        print(f"record.py: error: no such recorded case: {', '.join(unknown)}", file=sys.stderr)
        return 2
    total = 0
    for name in names:
        t0 = time.perf_counter()
        out, text = gc.snapshot(*gc.CASES[name].run("cpu"))
        path = gc.save(name, out, text, args.out, commit)
        size = path.stat().st_size
        total += size
        print(f"  {path.name:<36s} {size / 1024:7.1f} KiB  {len(out):3d} arrays "
              f"{len(text):3d} words  {time.perf_counter() - t0:6.2f} s  {gc.CASES[name].what}")
    print(f"{len(names)} files, {total / 1024:.1f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
