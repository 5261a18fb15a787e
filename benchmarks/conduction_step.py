"""Conduction-step and steady-iteration throughput (the same tables as `thermosim bench`).

    python benchmarks/conduction_step.py --backend gpu --size 256 --size 512 --json out.json

Prints GLUPS (1e9 cell updates/s) and effective bandwidth as a share of a device-to-device
copy measured in the same run, beside the slicing implementation of the same step.
"""

import sys

from thermosim.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
