"""Launch-shape sweep of the GPU material-id conduction step (run on a GPU machine).

    python benchmarks/tune_explicit.py --size 512

Times the step for several thread-block shapes and march chunk lengths (planes of x one
thread block walks) and prints GLUPS and the share of the device-to-device copy bandwidth
measured in the same run (9 bytes/cell), best first.  Put the winner in
thermosim/backends/gpu.py (GPUBackend.block_explicit, GPUBackend.march_chunk).
"""

from __future__ import annotations

import argparse
import itertools

from thermosim.backends import get_backend
from thermosim.bench import bench_step


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--repeats", type=int, default=20)
    a = p.parse_args()
    be = get_backend("gpu")
    print(be.device_name)
    rows = []
    blocks = [(32, 4), (32, 8), (64, 2), (64, 4), (128, 2), (256, 1)]
    chunks = [None, 16, 32, 64, 128]
    for block, chunk in itertools.product(blocks, chunks):
        be.block_explicit, be.march_chunk = block, chunk
        r = bench_step(be, a.size, a.repeats)
        rows.append((r["material_step_GLUPS"], r["material_step_pct_copy"], block, chunk))
        print(f"block {block} chunk {chunk}: {r['material_step_GLUPS']:.1f} GLUPS, "
              f"{r['material_step_pct_copy']:.0f}% of copy", flush=True)
    rows.sort(reverse=True)
    print("best:", rows[:3])


if __name__ == "__main__":
    main()
