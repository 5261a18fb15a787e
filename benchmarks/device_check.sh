#!/usr/bin/env bash
# One-shot GPU check, sized for a short lease: the conduction benchmark, every GPU kernel
# against the CPU backend (conduction and flow), both validation tables on the GPU, the flow
# step / Poisson benchmark at 256^3, and (on request) the launch-shape sweep and the flow
# profile.  Run it on a machine with an NVIDIA GPU and CuPy, from the repository root:
#
#   bash benchmarks/device_check.sh [OUTDIR] [SECONDS] [PARTS]
#
# PARTS is a space-separated choice, in the order given, of: bench tests steady kernels
# validate flow flowval tune profile racktests rackbench rackbench8 rackprofile rackquick
# rackrun hallsteady cost (default: "bench tests steady validate flow flowval").  Everything goes to
# OUTDIR/log.txt plus one JSON per table (at most seven files).  Each part has its own time
# limit and the whole run stops by SECONDS (default 540), so that a slow part costs only
# itself.  On a machine without thermosim's pure-Python dependencies (pydantic, CoolProp,
# ...), bring them as wheels in .whl/ first (benchmarks/fetch_device_wheels.sh); this script
# installs whatever is there.
set -uo pipefail
out=${1:-device_check_out}
budget=${2:-540}
parts=${3:-bench tests steady validate flow flowval}
mkdir -p "$out"
log="$out/log.txt"
start=$SECONDS
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

part() {  # part TITLE LIMIT_S command...: run with the smaller of LIMIT_S and the time left
  local title=$1 limit=$2
  shift 2
  local left=$((budget - (SECONDS - start)))
  ((left < limit)) && limit=$left
  if ((limit < 10)); then
    echo "=== $title: skipped, out of time" | tee -a "$log"
    return
  fi
  echo "=== $title (limit ${limit} s, at $((SECONDS - start)) s)" | tee -a "$log"
  local t0=$SECONDS
  timeout "$limit" "$@" 2>&1 | tee -a "$log"
  echo "=== $title: exit ${PIPESTATUS[0]} after $((SECONDS - t0)) s" | tee -a "$log"
}

if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl \
    2>&1 | tail -3 | tee -a "$log" && export PYTHONPATH="$PYTHONPATH:/tmp/site"
fi
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm,driver_version --format=csv | tee -a "$log"
python3 -c "import cupy; print('cupy', cupy.__version__, 'cuda runtime',
cupy.cuda.runtime.runtimeGetVersion())" 2>&1 | tee -a "$log"

run_part() {
  case $1 in
  bench)     # conduction throughput (issue 2's target: 512^3 float32 material-id step)
    part "conduction benchmark" 120 python3 -m thermosim.cli bench --backend gpu --size 256 \
      --size 512 --json "$out/bench_gpu.json" ;;
  tests)     # every GPU kernel against the CPU backend, conduction and flow; fast suite rows
    part "GPU against CPU tests" 150 python3 -m pytest -q -rs -p no:cacheprovider \
      tests/test_gpu_backend.py tests/test_verification.py tests/test_flow.py \
      -k "gpu and not plane_poiseuille and not channel_heat and not lid_driven and not natural_conv" ;;
  steady)    # the steady solver (SIMPLEC outer iterations, steady.cu) against the CPU's answer
    part "GPU steady solver test" 120 python3 -m pytest -q -rs -s -p no:cacheprovider \
      tests/test_cuda_steady.py tests/test_unsteady.py tests/test_outlet.py \
      -k "gpu_simplec or gpu_implicit or on_the_gpu" ;;
  kernels)   # the GPU kernels against the CPU's alone (no suite rows)
    part "GPU kernel tests" 100 python3 -m pytest -q -rs -p no:cacheprovider \
      tests/test_gpu_backend.py tests/test_flow.py::test_gpu_flow_steps_equal_cpu ;;
  validate)  # the conduction validation table on the GPU
    part "conduction validation" 60 python3 -m thermosim.cli validate --suite conduction \
      --backend gpu --json "$out/validate_gpu.json" ;;
  flow)      # flow step and Poisson solve at 256^3 float32, with cupyx's CG beside it
    part "flow benchmark" 150 python3 benchmarks/flow_step.py --backend gpu --size 256 \
      --precision float32 --peer-maxiter 5000 --json "$out/flow_gpu.json" ;;
  flowval)   # the flow validation table (quick grids) on the GPU; the slowest case last
    part "flow validation" 300 python3 -m thermosim.cli validate --suite flow --backend gpu \
      --quick --case plane_poiseuille --case periodic_channel --case channel_heat_transfer \
      --case lid_driven_cavity \
      --case bounded_advection --case pressure_multigrid --case natural_convection_suite \
      --json "$out/validate_flow_gpu.json" ;;
  tune)      # launch-shape / reciprocal / prefetch sweep of the conduction steps at 512^3
    part "conduction launch sweep" 120 python3 benchmarks/tune_explicit.py --size 512 \
      --json "$out/tune_gpu.json" ;;
  profile)   # where the flow step's time goes, and the multigrid's pieces, at 256^3
    part "flow profile" 90 python3 benchmarks/profile_flow.py --backend gpu --size 256 \
      --precision float32 --json "$out/profile_gpu.json" ;;
  racktests) # components and turbulence on the GPU against the CPU
    part "rack component tests" 120 python3 -m pytest -q -rs -p no:cacheprovider \
      tests/test_components.py -k gpu ;;
  rackbench) # the three layouts' 1e6 and 1e7 benchmark meshes: time per step
    part "rack meshes benchmark" 240 python3 -m thermosim.cli bench --backend gpu \
      meshes/air_cooled_1e6.yaml meshes/liquid_cooled_1e6.yaml meshes/immersion_1e6.yaml \
      meshes/air_cooled_1e7.yaml meshes/liquid_cooled_1e7.yaml meshes/immersion_1e7.yaml \
      --json "$out/rack_bench_gpu.json" ;;
  rackbench8) # the 1e8 meshes (float32), immersion first (the lightest step)
    part "rack 1e8 benchmark" 400 python3 -m thermosim.cli bench --backend gpu \
      meshes/immersion_1e8.yaml meshes/air_cooled_1e8.yaml --json "$out/rack_bench8_gpu.json" ;;
  rackprofile) # where the air-cooled 1e6 hall's step goes on the GPU
    part "rack step profile" 90 python3 benchmarks/profile_case.py meshes/air_cooled_1e6.yaml \
      --backend gpu --json "$out/rack_profile_gpu.json" ;;
  rackquick) # the smallest layouts run to their steady states on the GPU, metrics printed
    part "immersion quick run" 90 python3 -m thermosim.cli run meshes/immersion_quick.yaml \
      --backend gpu -o /tmp/immersion_quick.h5
    part "air quick run" 150 python3 -m thermosim.cli run meshes/air_cooled_quick.yaml \
      --backend gpu -o /tmp/air_quick.h5 ;;
  rackrun)   # the 1e6-cell hall run to its end time, metrics printed (no picture: no pyvista)
    part "rack 1e6 run" 240 python3 -m thermosim.cli run meshes/air_cooled_1e6.yaml \
      --backend gpu -o /tmp/hall_1e6.h5 ;;
  hallsteady) # issue 19, item 5: the ten-tank 1e6 mesh (steady in 468 outer iterations on
    # one CPU core, stop 45) and the 1e6 and 1e7 air halls to their steady states (outer
    # iterations; bench --to-steady prints iterations, wall time, cells x iterations per s),
    # each within item 3's 500 (the 1e6 halls diverge at 10 and try again: flow/retry.py)
    part "tank and air halls to steady" 420 python3 -m thermosim.cli bench --backend gpu \
      meshes/immersion_1e6.yaml meshes/air_cooled_1e6.yaml meshes/air_cooled_1e7.yaml \
      --to-steady --steps 500 --json "$out/hall_steady_gpu.json" ;;
  cost)      # issue 19, item 5: a hall's outer iteration per cell against a laminar
    # flow's (at most 2x asked), halls of 0.05 m cells (about 8e5), float32
    part "hall iteration cost" 180 python3 benchmarks/iteration_cost.py --backend gpu \
      --cell 0.05 --precision float32 --json "$out/iteration_cost_gpu.json" ;;
  *) echo "=== unknown part $1" | tee -a "$log" ;;
  esac
}
for p in $parts; do run_part "$p"; done
echo "=== done at $((SECONDS - start)) s" | tee -a "$log"
