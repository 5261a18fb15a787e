import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def gpu_ok() -> bool:
    from thermosim.backends import gpu_available

    return gpu_available()


BACKENDS = ["cpu", pytest.param("gpu", marks=pytest.mark.skipif(not gpu_ok(),
                                                                reason="no CUDA GPU"))]

#: The tests that share the quick halls' steady runs (:func:`simulate_once`).  Under
#: pytest-xdist with ``--dist loadgroup`` they run on one worker, so each hall is still
#: marched once; without xdist the mark does nothing.
QUICK_HALLS = pytest.mark.xdist_group("quick_halls")


def pytest_configure(config):
    # registered here as well as by pytest-xdist, so that a run without xdist does not warn
    config.addinivalue_line("markers", "xdist_group(name): run on one pytest-xdist worker")


class SharedRuns:
    """``solve`` (:func:`thermosim.study.simulate`'s arguments) with each distinct case
    solved once: the key is the case as thermosim expands it (a layout's defaults
    included), the backend and ``unsteady_ok``, so only an identical input gets an earlier
    result, and the first call of each is the real solve.  ``solves`` counts those."""

    def __init__(self, solve):
        self._solve = solve
        self._runs = {}
        self.solves = 0

    @staticmethod
    def key(case, backend, unsteady_ok) -> tuple:
        return (json.dumps(case.model_dump(mode="json"), sort_keys=True), backend,
                bool(unsteady_ok))

    def __call__(self, case, backend="auto", log=None, quiet_every=1000, unsteady_ok=False):
        key = self.key(case, backend, unsteady_ok)
        if key not in self._runs:
            self._runs[key] = self._solve(case, backend, log, quiet_every, unsteady_ok)
            self.solves += 1
        return self._runs[key]


@pytest.fixture(scope="session")
def simulate_once():
    """:func:`thermosim.study.simulate` with each distinct case solved once a session
    (:class:`SharedRuns`).  The three quick halls' steady marches take minutes each on two
    cores, and ``thermosim compare``'s report, the halls' energy-balance tests and the
    case-follows test all need the same runs.  The results are shared: a test reads them
    and never changes them."""
    from thermosim.study import simulate

    return SharedRuns(simulate)
