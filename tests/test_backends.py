"""Every backend gives the CPU (reference) backend's answer on the same cases."""

import numpy as np
import pytest

from thermosim.backends import available_backends
from thermosim.case import Transient
from thermosim.cases import gpu_package
from thermosim.runner import solve

OTHERS = [b for b in available_backends() if b != "cpu"]
pytestmark = pytest.mark.skipif(not OTHERS, reason="only the CPU backend is available")


def _cases():
    steady = gpu_package(coarse=True)
    steady.solver.tolerance = 1e-11
    out = {"steady_gpu_package": steady}
    for method in ("explicit", "crank_nicolson"):
        c = gpu_package(coarse=True)
        c.solver.mode = "transient"
        c.solver.tolerance = 1e-11
        c.solver.transient = Transient(method=method, end_time=0.05 if method == "explicit"
                                       else 1.0, dt="auto" if method == "explicit" else 0.1,
                                       snapshots=[0.02])
        out[f"transient_{method}"] = c
    return out


@pytest.mark.parametrize("backend", OTHERS or ["none"])
@pytest.mark.parametrize("name", sorted(_cases()))
def test_backend_matches_cpu(name, backend):
    case = _cases()[name]
    ref = solve(case, "cpu")
    got = solve(case, backend)
    rise = np.nanmax(ref.T) - case.initial_temperature
    np.testing.assert_allclose(got.T, ref.T, rtol=0, atol=1e-8 * rise, equal_nan=True)
    for (t0, a), (t1, b) in zip(ref.snapshots, got.snapshots):
        assert t0 == t1
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-8 * rise, equal_nan=True)
