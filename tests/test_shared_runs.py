"""The session's shared solves (conftest.SharedRuns): one solve a distinct case, a changed
case, backend or ``unsteady_ok`` solved anew -- so that no test reads another case's run."""

import copy
from pathlib import Path

import yaml

from conftest import SharedRuns
from thermosim.case import Case

MESHES = Path(__file__).resolve().parents[1] / "meshes"


def test_each_distinct_case_is_solved_once():
    calls = []

    def solve(case, backend, log, quiet_every, unsteady_ok):
        calls.append((case.name, backend, unsteady_ok))
        return object()

    runs = SharedRuns(solve)
    data = yaml.safe_load((MESHES / "immersion_quick.yaml").read_text())

    def case(**changes):
        return Case.from_dict(dict(copy.deepcopy(data), **changes))

    first = runs(case(), "cpu")
    # the shipped supply temperature written out: the same expanded case, the same run
    assert runs(case(supply_temperature=303.15), "cpu", print) is first
    assert runs.solves == 1
    warmer = runs(case(supply_temperature=308.15), "cpu")
    assert warmer is not first
    assert runs(case(), "gpu") is not first
    assert runs(case(), "cpu", unsteady_ok=True) is not first
    assert runs(case(tanks=1), "cpu") is not first
    assert runs.solves == 5 and len(calls) == 5
    assert runs(case(supply_temperature=308.15), "cpu") is warmer and runs.solves == 5
