"""Launch-shape sweep of the GPU conduction steps (run on a GPU machine).

    python benchmarks/tune_explicit.py --size 512 [--json tune.json]

Sets the benchmark's 512^3 float32 case up once (thermosim.bench.step_arrays: 32-cell blocks
of real materials, stretched grid), measures the device-to-device copy bandwidth, then times
the material-id step for every combination of reciprocal (IEEE or the hardware's
approximate one), planes prefetched ahead, thread-block shape and march chunk length (planes
of x that one block walks; "auto" is GPUBackend's choice), and the constant-k step for every
prefetch, block and chunk.  Prints GLUPS and the share of the copy bandwidth (9 and 8 bytes
per cell), best first.  Put the winner in thermosim/backends/gpu.py (PREFETCH,
GPUBackend.block_explicit, GPUBackend.march_chunk, GPUBackend.fast_reciprocal).
"""

from __future__ import annotations

import argparse
import itertools
import json

import numpy as np

from thermosim.backends import get_backend
from thermosim.bench import BYTES_ID8, BYTES_UNIFORM, step_arrays, timeit

BLOCKS = [(32, 4), (32, 8), (64, 2), (64, 4), (128, 1), (128, 2), (256, 1)]
CHUNKS = [None, 32, 64, 128, 256, 512]
PREFETCHES = [2, 4, 8]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--json")
    a = p.parse_args(argv)
    be = get_backend("gpu")
    n = a.size
    cells = n ** 3
    T, Tn, ids, tab, h, inv_d, dt = step_arrays(be, n, np.float32)
    src = be.zeros(T.size, np.float32)
    dst = be.zeros(T.size, np.float32)
    copy_bw = 2 * src.nbytes / timeit(lambda: be.copy(dst, src), be, 20)
    src = dst = None
    print(f"{be.device_name}: {n}^3 float32, copy {copy_bw / 1e9:.0f} GB/s", flush=True)
    default = (be.fast_reciprocal, be.prefetch, be.block_explicit, be.march_chunk)
    rows = []
    for kind in ("material", "uniform"):
        fasts = (False, True) if kind == "material" else (False,)
        for fast, pf, block, chunk in itertools.product(fasts, PREFETCHES, BLOCKS, CHUNKS):
            be.fast_reciprocal, be.prefetch, be.block_explicit, be.march_chunk = \
                fast, pf, block, chunk
            if kind == "material":
                t = timeit(lambda: be.explicit_step(T, Tn, ids, tab, h, inv_d, dt,
                                                    contact=False), be, a.repeats)
                nbytes = BYTES_ID8
            else:
                t = timeit(lambda: be.explicit_step_uniform(T, Tn, 0.1), be, a.repeats)
                nbytes = BYTES_UNIFORM
            r = dict(kernel=kind, fast_reciprocal=fast, prefetch=pf, block=list(block),
                     chunk=chunk or "auto", GLUPS=cells / t / 1e9,
                     pct_copy=100 * cells * nbytes / t / copy_bw)
            rows.append(r)
            print(f"{kind:8s} fast={fast!s:5s} pf={pf} block={block} chunk={r['chunk']}: "
                  f"{r['GLUPS']:.1f} GLUPS, {r['pct_copy']:.0f}% of copy", flush=True)
    be.fast_reciprocal, be.prefetch, be.block_explicit, be.march_chunk = default
    for kind in ("material", "uniform"):
        best = sorted((r for r in rows if r["kernel"] == kind), key=lambda r: -r["GLUPS"])
        print(f"best {kind}:")
        for r in best[:5]:
            print(f"  {r['GLUPS']:.1f} GLUPS ({r['pct_copy']:.0f}% of copy): fast "
                  f"{r['fast_reciprocal']}, prefetch {r['prefetch']}, block {r['block']}, "
                  f"chunk {r['chunk']}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(dict(device=be.device_name, size=n, copy_GBps=copy_bw / 1e9, rows=rows),
                      f, indent=1)


if __name__ == "__main__":
    main()
