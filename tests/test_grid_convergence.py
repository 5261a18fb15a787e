"""Richardson extrapolation and the grid-convergence index (thermosim/grid_convergence.py):
Celik et al. 2008's worked example (J. Fluids Eng. 130, 078001, Table 1), manufactured
solutions of known order and limit, and the degenerate cases."""

import math

import pytest

from thermosim.grid_convergence import (
    grid_convergence,
    observed_order,
    representative_size,
)


def test_celik_table1_first_column():
    """Celik et al. 2008, Table 1, first column: a 2-D backward-facing step's reattachment
    length on 18,000, 8,000 and 4,500 cells.  Published (rounded as printed): r21 = 1.5,
    r32 = 1.333, p = 1.53, phi_ext21 = 6.1685, e_a21 = 1.5 %, e_ext21 = 1.7 %,
    GCI_fine21 = 2.2 %, monotone."""
    h = [representative_size(76.0, n, dim=2) for n in (18000, 8000, 4500)]
    r21, r32 = h[1] / h[0], h[2] / h[1]
    assert r21 == pytest.approx(1.5) and r32 == pytest.approx(4 / 3)
    g = grid_convergence(6.063, 5.972, 5.863, r21, r32)
    assert g.convergence == "monotone"
    assert round(g.order, 2) == 1.53
    assert round(g.extrapolated, 4) == 6.1685
    assert round(100 * g.e_a21, 1) == 1.5
    assert round(100 * g.e_ext21, 1) == 1.7
    assert round(100 * g.gci_fine, 1) == 2.2
    # the band in the figure's unit is the relative index times the fine value
    assert g.uncertainty == pytest.approx(g.gci_fine * 6.063)


@pytest.mark.parametrize("phi, p, ext, e_a, gci, kind", [
    # second column: an order below one (published p = 0.75, phi_ext = 10.8801)
    ((10.7880, 10.7250, 10.6050), 0.75, 10.8801, 0.6, 1.1, "monotone"),
    # third column: oscillatory convergence (published p = 1.51, phi_ext = 6.0269)
    ((6.0042, 5.9624, 6.0909), 1.51, 6.0269, 0.7, 0.5, "oscillatory"),
])
def test_celik_table1_unequal_ratios(phi, p, ext, e_a, gci, kind):
    """Celik et al. 2008, Table 1, second and third columns: 18,000, 4,500 and 980 cells,
    r21 = 2.0 and r32 = 2.143 (unequal: the order from the fixed-point iteration).
    (The second column's e_ext21 is not asserted: the table's own p and phi_ext give
    0.85 %, and the transcription at hand reads 0.9 %.)"""
    r21, r32 = math.sqrt(18000 / 4500), math.sqrt(4500 / 980)
    g = grid_convergence(*phi, r21, r32)
    assert g.convergence == kind
    assert round(g.order, 2) == p
    assert round(g.extrapolated, 4) == ext
    assert round(100 * g.e_a21, 1) == e_a
    assert round(100 * g.gci_fine, 1) == gci
    assert ("oscillat" in g.note) == (kind == "oscillatory")


@pytest.mark.parametrize("p", [0.5, 1.0, 2.0, 3.3])
@pytest.mark.parametrize("h", [(0.1, 0.2, 0.4), (0.1, 0.13, 0.2), (0.05, 0.09, 0.1)])
def test_manufactured_order_and_limit_recovered(p, h):
    """f(h) = f0 + C h^p exactly (constant and unequal ratios): the observed order is p
    and the extrapolated value f0, to round-off; the band covers the true error of f1."""
    f0, c = 4.2, 0.7
    f = [f0 + c * x ** p for x in h]
    g = grid_convergence(*f, h[1] / h[0], h[2] / h[1])
    assert g.convergence == "monotone"
    assert g.order == pytest.approx(p, rel=1e-8)
    assert g.extrapolated == pytest.approx(f0, abs=1e-10)
    assert g.e_ext21 == pytest.approx(abs(f[0] - f0) / f0, rel=1e-6)
    # Fs = 1.25: the band is 1.25 times the exact error of the fine value
    assert g.uncertainty == pytest.approx(1.25 * abs(f[0] - f0), rel=1e-6)


def test_decreasing_and_offset_figures():
    """A figure falling with refinement and a shift of its zero (degC against K): the same
    order, extrapolation shifted by the offset, the same band in the unit."""
    h = (0.1, 0.15, 0.225)
    f = [310.0 - 2.0 * x ** 1.7 for x in h]
    a = grid_convergence(*f, 1.5, 1.5)
    b = grid_convergence(*(x - 273.15 for x in f), 1.5, 1.5)
    assert a.order == pytest.approx(1.7) and b.order == pytest.approx(1.7)
    assert b.extrapolated == pytest.approx(a.extrapolated - 273.15)
    assert b.uncertainty == pytest.approx(a.uncertainty)


def test_degenerate_cases_are_named():
    same = grid_convergence(2.0, 2.0, 2.0, 1.5)
    assert same.convergence == "unchanged" and same.uncertainty == 0.0
    assert same.extrapolated == 2.0 and same.order is None
    fine = grid_convergence(2.0, 2.0, 2.1, 1.5)
    assert fine.convergence == "fine pair equal"
    assert fine.extrapolated is None and fine.uncertainty is None and fine.order is None
    # the differences grow with refinement (0.5 then 1.0 for a constant ratio)
    grow = grid_convergence(1.0, 2.0, 2.5, 2.0)
    assert grow.convergence == "divergent" and grow.extrapolated is None
    assert grow.gci_fine is None and "shrink" in grow.note
    # the coarse pair equal, the fine one apart
    assert grid_convergence(3.0, 3.1, 3.1, 2.0).convergence == "divergent"
    # a failed run
    bad = grid_convergence(1.0, math.nan, 1.2, 2.0)
    assert bad.convergence == "undefined" and bad.order is None
    # a zero fine value: no relative error, the band in the unit still
    zero = grid_convergence(0.0, 0.01, 0.05, 2.0)
    assert zero.e_a21 is None and zero.gci_fine is None and zero.uncertainty > 0
    with pytest.raises(ValueError, match="above 1"):
        grid_convergence(1.0, 1.1, 1.2, 1.0)
    with pytest.raises(ValueError, match="above 1"):
        grid_convergence(1.0, 1.1, 1.2, 1.5, 0.8)


def test_growing_differences_get_no_order():
    """Celik's |...| would give the growing differences (2, 1 for r = 2) an order of 1;
    no positive order solves the equation without it."""
    assert observed_order(2.0, 1.0, 2.0, 2.0) is None
    assert observed_order(1.0, 2.0, 2.0, 2.0) == pytest.approx(1.0)


@pytest.mark.parametrize("h", [(1.0, 1.1, 3.3), (1.0, 3.0, 3.3)])
def test_strongly_unequal_ratios_solved(h):
    """Ratios of 1.1 and 3 either way round (where plain fixed-point iteration may not
    settle, or start from a negative order: converging differences can grow from the
    coarse pair to the fine one when r21 is much the larger): the root of Celik's equation
    still gives back a manufactured order."""
    for p in (0.5, 0.8, 2.0, 4.0):
        f = [1.0 + x ** p for x in h]
        g = grid_convergence(*f, h[1] / h[0], h[2] / h[1])
        assert g.convergence == "monotone"
        assert g.order == pytest.approx(p, rel=1e-6)
        assert g.extrapolated == pytest.approx(1.0, abs=1e-8)


def test_band_order_capped_at_the_formal_order():
    """An observed order above the scheme's formal one (differences of 1e-3 then 1e-1
    for r = 1.5: p = 11.4) gives its band with the formal order; the extrapolation and
    Celik's index keep the observed one."""
    free = grid_convergence(1.0, 1.001, 1.101, 1.5)
    capped = grid_convergence(1.0, 1.001, 1.101, 1.5, formal_order=1.0)
    assert capped.order == pytest.approx(free.order) and free.order > 11
    assert capped.band_order == 1.0 and free.band_order == pytest.approx(free.order)
    assert capped.extrapolated == free.extrapolated and capped.gci_fine == free.gci_fine
    assert capped.uncertainty == pytest.approx(1.25 * 0.001 / 0.5)
    assert "formal 1" in capped.note
    # an order below the formal one is used as observed
    f = [2.0 + x ** 0.8 for x in (0.1, 0.15, 0.225)]
    g = grid_convergence(*f, 1.5, 1.5, formal_order=2.0)
    assert g.band_order == pytest.approx(0.8)


def test_oscillating_band_at_least_half_the_range():
    """Celik's third column: his index kept (0.47 %, 0.028 in the unit), the band raised
    to half the three values' range, 0.064 (Stern et al. 2001)."""
    g = grid_convergence(6.0042, 5.9624, 6.0909, 2.0, math.sqrt(4500 / 980))
    assert g.gci_fine * 6.0042 == pytest.approx(0.02834, abs=1e-4)
    assert g.uncertainty == pytest.approx(0.5 * (6.0909 - 5.9624))
