#!/usr/bin/env bash
# Wheels for a GPU machine that has CuPy, numpy, numba, h5py, scipy, click, PyYAML and rich
# but not the rest of thermosim's pure-Python needs (and cannot reach a package index).
# Run where pip works, from the repository root; then carry .whl/ to the GPU machine and run
# benchmarks/device_check.sh there (it installs whatever .whl/ holds).
set -euo pipefail
py=${PYVER:-3.12}
mkdir -p .whl
python3 -m pip download --no-deps --only-binary=:all: --python-version "$py" \
  --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl \
  pydantic==2.14.4 pydantic_core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5 \
  typing_extensions==4.16.0 CoolProp==8.0.0 threadpoolctl==3.8.0
ls -la .whl
