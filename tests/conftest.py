from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def gpu_ok() -> bool:
    from thermosim.backends import gpu_available

    return gpu_available()


BACKENDS = ["cpu", pytest.param("gpu", marks=pytest.mark.skipif(not gpu_ok(),
                                                                reason="no CUDA GPU"))]
