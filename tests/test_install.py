"""A wheel carries everything the package loads at run time, above all the CUDA sources.

The wheel is built (offline, without build isolation) from a copy of the package, installed
with ``pip --target`` into a fresh folder, and inspected in a subprocess whose ``thermosim``
comes from that folder, never from the source tree (an editable install's finder is appended
after the path finder, so the target folder on PYTHONPATH wins; the test checks it did).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytest.importorskip("setuptools", minversion="77", reason="the wheel build needs setuptools "
                    ">= 77 (pip install -e '.[test]')")

# Run in the installed copy.  gpu.py imports CuPy at import time; where there is none, an
# empty stand-in lets the module load: kernels_dir() and the kernel list need nothing of it.
_PROBE = r"""
import importlib.util, json, os, re, sys, types
if importlib.util.find_spec("cupy") is None:
    sys.modules["cupy"] = types.ModuleType("cupy")
import thermosim
from thermosim.backends import gpu, gpu_flow, gpu_steady, gpu_turbulence
src = "".join(open(m.__file__).read() for m in (gpu, gpu_flow, gpu_steady, gpu_turbulence))
kdir = gpu.kernels_dir()
os.environ["THERMOSIM_KERNELS"] = "/somewhere/else"
override = str(gpu.kernels_dir())
print(json.dumps({
    "thermosim": thermosim.__file__, "gpu": gpu.__file__, "kernels_dir": str(kdir),
    "kernel_files": list(gpu.KERNEL_FILES),
    "called": sorted(set(re.findall(r'_function\(\s*"(\w+)"', src))),
    "names": {f: len(gpu.name_expressions(f)) for f in gpu.KERNEL_FILES},
    "present": {p.name: p.read_bytes().hex() for p in sorted(kdir.glob("*.cu"))},
    "override": override}))
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("install")
    src = tmp / "src"                 # a copy: an in-tree build would leave build/ behind
    src.mkdir()
    for f in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / f, src / f)
    shutil.copytree(ROOT / "thermosim", src / "thermosim",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.nbi", "*.nbc"))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    r = subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                        "-w", str(tmp / "dist"), str(src)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    wheels = list((tmp / "dist").glob("thermosim-*.whl"))
    assert len(wheels) == 1, wheels
    site = tmp / "site"
    r = subprocess.run([*pip, "install", "--no-deps", "--no-index", "--no-compile", "--target",
                        str(site), str(wheels[0])], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    env = {k: v for k, v in os.environ.items() if k not in ("THERMOSIM_KERNELS", "PYTHONPATH")}
    env["PYTHONPATH"] = str(site)
    r = subprocess.run([sys.executable, "-c", _PROBE], cwd=tmp, env=env, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-4000:]
    info = json.loads(r.stdout.strip().splitlines()[-1])
    info["site"] = str(site)
    return info


def test_the_installed_package_is_the_one_inspected(installed):
    site = Path(installed["site"]).resolve()
    for key in ("thermosim", "gpu", "kernels_dir"):
        assert Path(installed[key]).resolve().is_relative_to(site), (key, installed[key])


def test_the_wheel_ships_every_cuda_source_the_gpu_backend_loads(installed):
    # the files the backend's code asks for are the ones it declares ...
    assert installed["called"] == sorted(installed["kernel_files"])
    assert all(n > 0 for n in installed["names"].values()), installed["names"]
    # ... each is in the installed kernels_dir() ...
    present = installed["present"]
    missing = [f"{f}.cu" for f in installed["kernel_files"] if f"{f}.cu" not in present]
    assert not missing, f"not in the wheel: {missing} (package-data in pyproject.toml)"
    # ... and every .cu of the source tree is shipped unchanged
    for p in sorted((ROOT / "thermosim" / "kernels").glob("*.cu")):
        assert present.get(p.name) == p.read_bytes().hex(), p.name


def test_thermosim_kernels_still_overrides_the_folder(installed):
    assert installed["override"] == "/somewhere/else"


def test_a_sweep_scheduler_without_the_cluster_extra_is_one_line(tmp_path):
    """Without Dask's distributed (the extra 'cluster') --scheduler says which extra to
    install, before any run; local sweeps never import it."""
    case = ROOT / "thermosim" / "cases" / "default.yaml"
    (tmp_path / "study.yaml").write_text(f"case: {case}\ngrid: {{powers.die: [300.0]}}\n")
    code = ("import sys; sys.modules['distributed'] = None\n"   # import fails as if absent
            "from thermosim.cli import main\n"
            "main(['sweep', 'study.yaml', '-o', 'out', '--scheduler', 'tcp://127.0.0.1:9'])")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(ROOT)
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stderr[-3000:]
    assert r.stderr.strip() == ("thermosim: error: --scheduler: needs Dask's distributed, the "
                                "extra 'cluster': pip install 'thermosim[cluster]' (local "
                                "sweeps need none of it)"), r.stderr
    assert not (tmp_path / "out" / "results.csv").exists()


def test_no_module_imports_distributed_or_pyvista_at_import_time():
    """The base install has neither: importing thermosim and its command line must not need
    them (pictures and remote sweeps import them where they are used)."""
    code = ("import sys, thermosim, thermosim.cli, thermosim.study, thermosim.compare\n"
            "print(sorted(m for m in ('distributed', 'dask', 'pyvista', 'vtk', 'mpi4py') "
            "if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.strip() == "[]"
