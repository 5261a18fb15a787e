"""The CUDA kernels checked on the CPU, without a GPU, through tests/cuda_emulator/.

The emulator library (every CUDA thread a std::thread) is built from the package's own
thermosim/kernels/*.cu into a temporary folder; then, in subprocesses whose PYTHONPATH puts
the fake ``cupy`` package first, tests/test_gpu_backend.py must pass with nothing skipped, and
end-to-end solves on the emulated GPU must agree with the CPU backend.  The fake cupy is never
imported by this (the main) process.  Skipped where g++ with C++20 (<barrier>) is missing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EMU = ROOT / "tests" / "cuda_emulator"
ENV_LIB = "THERMOSIM_CUDA_EMULATOR_LIB"
TIMEOUT = 600


def _compiler() -> str | None:
    """g++ if it compiles C++20 with <barrier> and threads, else None."""
    cxx = shutil.which("g++")
    if cxx is None:
        return None
    probe = "#include <barrier>\n#include <thread>\nint main() { std::barrier<> b(1); " \
            "b.arrive_and_wait(); }\n"
    try:
        r = subprocess.run([cxx, "-std=c++20", "-pthread", "-fsyntax-only", "-x", "c++", "-"],
                           input=probe, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return cxx if r.returncode == 0 else None


@pytest.fixture(scope="module")
def emulator_lib(tmp_path_factory) -> Path:
    cxx = _compiler()
    if cxx is None:
        pytest.skip("g++ with C++20 (<barrier>) not found: CUDA emulator not built")
    lib = tmp_path_factory.mktemp("cuda_emulator") / "libthermosim_cuda_emu.so"
    cmd = [cxx, "-O2", "-std=c++20", "-shared", "-fPIC", "-pthread", "-Wno-unknown-pragmas",
           str(EMU / "emu.cpp"), "-o", str(lib)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 0, f"emulator build failed:\n{' '.join(cmd)}\n{r.stderr[-4000:]}"
    return lib


def _run(args, lib: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("THERMOSIM_KERNELS", None)           # the library holds the repository's kernels
    env["PYTHONPATH"] = os.pathsep.join(
        [str(EMU), str(ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    env[ENV_LIB] = str(lib)
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=TIMEOUT)


def _summary(out: str) -> dict[str, int]:
    """Counts from pytest's final summary line ('43 passed, 1 skipped in 6.4s')."""
    lines = [ln for ln in out.strip().splitlines() if re.search(r"\bin [\d.]+s\b", ln)]
    assert lines, f"no pytest summary in:\n{out[-4000:]}"
    counts = {k: int(n) for n, k in re.findall(
        r"(\d+) (passed|failed|skipped|errors?|xfailed|xpassed|deselected)", lines[-1])}
    if "errors" in counts:
        counts["error"] = counts.pop("errors")
    return counts


def _no_leak():
    assert not any(str(EMU) == p or p.startswith(str(EMU) + os.sep) for p in sys.path)
    mod = sys.modules.get("cupy")
    assert mod is None or not str(getattr(mod, "__file__", "")).startswith(str(EMU))
    assert ENV_LIB not in os.environ


def test_gpu_backend_tests_on_emulator(emulator_lib):
    r = _run(["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_gpu_backend.py"],
             emulator_lib)
    out = r.stdout + r.stderr
    counts = _summary(r.stdout)
    assert r.returncode == 0, out[-6000:]
    assert counts.get("passed", 0) > 0 and counts.get("failed", 0) == 0 \
        and counts.get("error", 0) == 0, (counts, out[-6000:])
    assert counts.get("skipped", 0) == 0, ("emulated GPU tests skipped", counts, out[-6000:])
    _no_leak()


def test_end_to_end_on_emulator(emulator_lib):
    r = _run([str(EMU / "end_to_end.py")], emulator_lib)
    assert r.returncode == 0, (r.stdout + r.stderr)[-6000:]
    assert "end-to-end on the emulated GPU" in r.stdout, r.stdout
    _no_leak()


TINY_CASE = """name: tiny
domain: {max: [0.01, 0.01, 0.002], background: void}
grid: {cells: [6, 5, 4]}
blocks:
  - {name: die, material: silicon, min: [0.002, 0.002, 0.0], max: [0.008, 0.008, 0.001], power: 10}
  - {name: lid, material: copper, min: [0.0, 0.0, 0.001], max: [0.01, 0.01, 0.002],
     contact_resistance: 1.0e-5}
boundaries:
  z+: {type: convective, h: 5000, T_ambient: 300}
"""


def test_cli_run_and_bench_on_emulator(emulator_lib, tmp_path):
    """What a first session on a GPU machine runs: `thermosim run --backend gpu` (summary and
    HDF5 written) and `thermosim bench --backend gpu` (every table), here on the emulator."""
    case = tmp_path / "tiny.yaml"
    case.write_text(TINY_CASE)
    out = tmp_path / "tiny.h5"
    r = _run(["-m", "thermosim.cli", "run", str(case), "-o", str(out), "--backend", "gpu"],
             emulator_lib)
    assert r.returncode == 0, (r.stdout + r.stderr)[-6000:]
    assert "backend       gpu" in r.stdout and out.exists()
    ref = _run(["-m", "thermosim.cli", "run", str(case), "-o", str(tmp_path / "cpu.h5"),
                "--backend", "cpu"], emulator_lib)
    t_gpu = re.search(r"max T\s+([\d.]+) K", r.stdout).group(1)
    t_cpu = re.search(r"max T\s+([\d.]+) K", ref.stdout).group(1)
    assert t_gpu == t_cpu
    r = _run(["-m", "thermosim.cli", "bench", "--backend", "gpu", "--size", "8", "--steps",
              "1", "--json", str(tmp_path / "bench.json")], emulator_lib)
    assert r.returncode == 0, (r.stdout + r.stderr)[-6000:]
    import json

    report = json.loads((tmp_path / "bench.json").read_text())
    assert report["backend"] == "gpu" and report["step"] and report["steady"]
    for row in report["steady"]:
        assert abs(row["T_max_minus_T_wall"] - 0.125) < 1e-3
    _no_leak()


def test_flow_steps_on_emulator(emulator_lib):
    """thermosim/kernels/flow.cu against the CPU flow kernels: a few steps of four flows,
    and the golden cases marked ``emulated`` (tests/golden_cases.py) against the CPU's
    stored references."""
    r = _run([str(EMU / "flow_end_to_end.py")], emulator_lib)
    assert r.returncode == 0, (r.stdout + r.stderr)[-6000:]
    assert "flow end-to-end on the emulated GPU: all checks passed" in r.stdout, r.stdout
    _no_leak()


def test_steady_kernels_on_emulator(emulator_lib):
    """steady.cu against cpu_steady.py on the emulated GPU (see steady_kernels.py)."""
    r = _run([str(EMU / "steady_kernels.py")], emulator_lib)
    assert r.returncode == 0, (r.stdout + r.stderr)[-6000:]
    assert "steady kernels on the emulated GPU: all checks passed" in r.stdout, r.stdout
    _no_leak()


def test_turbulence_kernels_on_emulator(emulator_lib):
    """turbulence.cu against cpu_turbulence.py on the emulated GPU (see
    turbulence_kernels.py)."""
    r = _run([str(EMU / "turbulence_kernels.py")], emulator_lib)
    assert r.returncode == 0, (r.stdout + r.stderr)[-6000:]
    assert "turbulence kernels on the emulated GPU: all checks passed" in r.stdout, r.stdout
    _no_leak()
