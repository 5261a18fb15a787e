#!/usr/bin/env bash
# One-shot GPU check: kernel tests against the CPU backend, the conduction validation suite
# on the GPU, and the throughput benchmark.  Run it on a machine with an NVIDIA GPU and
# CuPy, from the repository root:
#
#   bash benchmarks/device_check.sh [OUTDIR]
#
# On a machine without thermosim's pure-Python dependencies (pydantic, PyYAML, click, rich,
# CoolProp), bring them as wheels in .whl/ first; this script installs whatever is there.
set -uo pipefail
out=${1:-device_check_out}
mkdir -p "$out"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl \
    && export PYTHONPATH="$PYTHONPATH:/tmp/site"
fi
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv | tee "$out/gpu.txt"
python3 -c "import cupy; print('cupy', cupy.__version__, 'cuda', cupy.cuda.runtime.runtimeGetVersion())" \
  | tee -a "$out/gpu.txt"
# 1. every GPU kernel against the CPU backend, and the suite on both backends
python3 -m pytest -q -p no:cacheprovider tests/test_gpu_backend.py tests/test_verification.py \
  2>&1 | tee "$out/pytest.txt"
# 2. the validation table on the GPU
python3 -m thermosim.cli validate --suite conduction --backend gpu --json "$out/validate_gpu.json" \
  2>&1 | tee "$out/validate_gpu.txt"
# 3. throughput: copy bandwidth, material-id step, constant-k step, slicing, steady iteration
python3 -m thermosim.cli bench --backend gpu --json "$out/bench_gpu.json" 2>&1 | tee "$out/bench_gpu.txt"
# 4. flow: the flow kernels against the CPU on the quick suite, the flow table on the GPU,
#    and the flow step / Poisson benchmark at 256^3 in float32 (with cupyx's CG beside it)
python3 -m pytest -q -p no:cacheprovider tests/test_flow.py -k "verification_case and gpu" \
  2>&1 | tee "$out/pytest_flow.txt"
python3 benchmarks/flow_step.py --backend gpu --size 256 --precision float32 \
  --json "$out/flow_gpu.json" 2>&1 | tee "$out/flow_gpu.txt"
python3 -m thermosim.cli validate --suite flow --backend gpu --quick \
  --json "$out/validate_flow_gpu.json" 2>&1 | tee "$out/validate_flow_gpu.txt"
