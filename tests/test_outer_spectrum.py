"""benchmarks/outer_spectrum.py: the outer iteration's map linearised at a steady state.
Its products are finite differences of whole outer iterations; if they were not the
map's (a wrong scaling, a state not restored between products, local steps refreshed
between them) the eigenvalues would be far from the unit circle or scattered."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np


sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import outer_spectrum  # noqa: E402

from thermosim.cases import HERE  # noqa: E402


def test_the_quick_air_halls_plain_iteration_neither_contracts_fast_nor_diverges(capsys,
                                                                                 tmp_path):
    """The quick air hall (12,880 cells) converges in about 160 outer iterations only
    with Anderson, and from its answer the plain iteration drifts away slowly: measured
    (issue 19, stop 42) a temperature mode of 1.04 and a pair of modulus 1.003.  The
    largest modulus must lie between 0.98 (a map contracting at 2 % an iteration would
    converge in a few hundred plain iterations, which it does not) and 1.2 (growing by a
    fifth an iteration the plain iterations would blow up within tens).  The modes written
    with ``--modes-out`` are ARPACK's unit vectors, every unknown in its place: each
    mode's fields, summed over the state's padded arrays, have norm 1."""
    modes = tmp_path / "modes.npz"
    assert outer_spectrum.main([str(HERE / "air_cooled_quick.yaml"), "--modes", "3",
                                "--modes-out", str(modes)]) == 0
    out = capsys.readouterr().out
    top = abs(outer_spectrum.main.eigenvalues[0])
    assert 0.98 < top < 1.2, out
    assert out.count("eigenvalue ") >= 1 and "share" in out
    z = np.load(modes)
    assert sorted(np.abs(z["eigenvalues"])) == sorted(np.abs(outer_spectrum.main.eigenvalues))
    for j in range(len(z["eigenvalues"])):
        norm = sum(float((np.abs(z[f"mode{j}_{k}"]) ** 2).sum()) for k in "uvwTP")
        assert abs(norm - 1.0) < 1e-9, (j, norm)
