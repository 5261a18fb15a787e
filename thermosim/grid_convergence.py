"""Richardson extrapolation and the grid-convergence index (GCI) from three solutions on
systematically refined meshes, as Celik, Ghia, Roache, Freitas, Coleman and Raad set the
procedure out ("Procedure for Estimation and Reporting of Uncertainty Due to
Discretization in CFD Applications", J. Fluids Eng. 130, 078001, 2008; Roache's GCI; the
same steps as ASME V&V 20-2009, section 2-4).

For a figure ``f`` computed on a fine, a medium and a coarse mesh (``f1``, ``f2``,
``f3``) with representative cell sizes ``h1 < h2 < h3`` and refinement ratios
``r21 = h2/h1``, ``r32 = h3/h2`` (each above 1, not necessarily equal):

- ``eps21 = f2 - f1``, ``eps32 = f3 - f2``, ``s = sign(eps32/eps21)``: ``s > 0``
  is monotone convergence, ``s < 0`` oscillatory (Celik's step 3);
- the observed order ``p`` solves ``p = |ln|eps32/eps21| + q(p)| / ln r21`` with
  ``q(p) = ln((r21^p - s)/(r32^p - s))`` (``q = 0`` for a constant ratio); solved by
  Celik's fixed-point iteration, with bisection when that iteration does not settle;
- the extrapolated value ``f_ext = (r21^p f1 - f2)/(r21^p - 1)``;
- the approximate relative error ``e_a21 = |(f1 - f2)/f1|``, the extrapolated relative
  error ``e_ext21 = |(f_ext - f1)/f_ext|`` and the fine-grid convergence index
  ``GCI_fine = Fs e_a21/(r21^p - 1)`` with the safety factor ``Fs = 1.25`` (three meshes).

The GCI is relative; :attr:`GridConvergence.uncertainty` is the band reported, in the
figure's own unit, ``Fs |f1 - f2|/(r21^q - 1)``, which (unlike the relative one) does not
depend on where the unit's zero lies (a temperature in degC or K gets the same band).
``q`` is the observed order, or the scheme's formal order where the observed one is above
it and a formal order is given: an observed order of 7 from differences near round-off is
noise, and at face value it would shrink the band to nothing (the conservative choice
Roache recommends).

Degenerate cases, reported as such rather than as numbers that look like a result:

- the three values equal (to ``rtol``): ``unchanged``, no order, ``f_ext = f1``, zero band;
- ``f1 == f2`` but ``f3`` differs: ``fine pair equal`` (the order is infinite: nothing to
  extrapolate from; no band);
- differences that do not shrink with refinement (no positive order solves the equation,
  or ``f2 == f3`` with ``f1`` apart): ``divergent``, no extrapolation, no band;
- a value that is not finite (a run that failed): ``undefined``.

Oscillatory convergence keeps Celik's numbers (his Table 1 reports them for an oscillating
column) with the classification and a note; its band is at least half the range of the
three values (Stern, Wilson, Coleman and Paterson, J. Fluids Eng. 123, 793, 2001), since it
rests on three points of an oscillation.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

SAFETY_FACTOR = 1.25      # Roache's Fs for three meshes (3.0 is his factor for two)


@dataclass(frozen=True)
class GridConvergence:
    """One figure's grid study: the three values (fine first), the ratios, the
    classification (``monotone``, ``oscillatory``, ``unchanged``, ``fine pair equal``,
    ``divergent``, ``undefined``) and, where they exist, the observed order ``p``, the
    Richardson-extrapolated value (the figure's unit), ``e_a21``, ``e_ext21`` and
    ``gci_fine`` (fractions, Celik's, with the observed order) and ``uncertainty`` (the
    band reported, in the figure's unit: ``Fs |f1 - f2|/(r21^q - 1)`` with ``q`` =
    ``band_order``, the observed order capped at the scheme's formal order where one is
    given; at least half the three values' range when they oscillate); ``note``: why a
    number is missing, or what to be wary of."""

    values: tuple
    r21: float
    r32: float
    convergence: str
    order: float | None = None
    band_order: float | None = None
    extrapolated: float | None = None
    e_a21: float | None = None
    e_ext21: float | None = None
    gci_fine: float | None = None
    uncertainty: float | None = None
    note: str = ""

    def to_dict(self) -> dict:
        d = asdict(self)
        d["values"] = list(self.values)
        return d


def representative_size(volume: float, cells: float, dim: int = 3) -> float:
    """Celik's representative cell size ``h = (V/N)^(1/dim)`` (m, for a volume in m^3 and
    ``dim`` 3; m for an area in m^2 and ``dim`` 2) of a mesh of ``cells`` cells."""
    if not (volume > 0 and cells > 0):
        raise ValueError(f"volume {volume} and cells {cells} must be positive")
    return (float(volume) / float(cells)) ** (1.0 / dim)


def _order_residual(ratio: float, s: float, r21: float, r32: float):
    """h(p) = p ln r21 - ln ratio - q(p): zero at Celik's observed order (his eq. 3a without
    the absolute value, so that differences growing with refinement have no root)."""
    ln_ratio, ln_r21 = math.log(ratio), math.log(r21)

    def h(p: float) -> float:
        a, b = r21 ** p - s, r32 ** p - s
        return p * ln_r21 - ln_ratio - math.log(a / b)
    return h


def observed_order(eps21: float, eps32: float, r21: float, r32: float,
                   iterations: int = 200, tol: float = 1e-12) -> float | None:
    """Celik's observed order from the differences ``eps21 = f2 - f1``, ``eps32 = f3 - f2``
    and the ratios (his eqs. 3a-3c): fixed-point iteration from ``q = 0``; where that runs
    off or cycles (strongly unequal ratios), the smallest root of the same equation on
    (0, 64] by bisection.  None when no positive order solves it: the differences do not
    shrink with refinement.

    Celik writes ``p = |ln|eps32/eps21| + q| / ln r21``; the absolute value there would
    give a positive order to differences that grow with refinement (for a constant ratio,
    ``|eps21| > |eps32|``).  Here the bracket must be positive, so such a study is told
    divergent instead; where it is positive (every converging case, his Table 1 included)
    the two agree."""
    ratio = abs(eps32 / eps21)
    s = 1.0 if eps32 / eps21 > 0 else -1.0
    ln_r21 = math.log(r21)
    p = math.log(ratio) / ln_r21
    for _ in range(iterations):
        if not (0 < p < 1e3):
            break
        new = (math.log(ratio) + math.log((r21 ** p - s) / (r32 ** p - s))) / ln_r21
        if abs(new - p) <= tol * max(1.0, abs(new)):
            return new if new > 0 else None
        p = new
    h = _order_residual(ratio, s, r21, r32)
    prev_p, prev_h = None, None
    for k in range(1, 2049):
        q = 64.0 * (k / 2048) ** 2          # denser near 0, where orders of 1-2 lie
        hq = h(q)
        if prev_h is not None and (hq == 0 or (hq > 0) != (prev_h > 0)):
            lo, hi, hlo = prev_p, q, prev_h
            for _ in range(200):
                mid = 0.5 * (lo + hi)
                hm = h(mid)
                if (hm > 0) == (hlo > 0):
                    lo, hlo = mid, hm
                else:
                    hi = mid
            return 0.5 * (lo + hi)
        prev_p, prev_h = q, hq
    return None


def grid_convergence(f1: float, f2: float, f3: float, r21: float, r32: float | None = None,
                     safety_factor: float = SAFETY_FACTOR, rtol: float = 1e-9,
                     formal_order: float | None = None) -> GridConvergence:
    """The grid study of one figure: ``f1`` on the fine mesh, ``f2`` the medium, ``f3``
    the coarse; ``r21 = h2/h1`` and ``r32 = h3/h2`` (``r32`` defaults to ``r21``).  Two
    values closer than ``rtol`` times the largest magnitude count as equal.  A ratio that
    is not above 1 raises ValueError; the other degenerate cases come back classified (see
    the module's text).  ``formal_order``: the scheme's; the band (not the extrapolation,
    nor Celik's ``gci_fine``) uses the observed order capped at it."""
    r32 = r21 if r32 is None else r32
    if not (r21 > 1 and r32 > 1) or not (math.isfinite(r21) and math.isfinite(r32)):
        raise ValueError(f"refinement ratios must be finite and above 1 (got r21 = {r21}, "
                         f"r32 = {r32}): the meshes fine first, each coarser than the last")
    vals = (float(f1), float(f2), float(f3))
    base = {"values": vals, "r21": float(r21), "r32": float(r32)}
    if not all(math.isfinite(v) for v in vals):
        return GridConvergence(**base, convergence="undefined",
                               note="a value is not finite (a run that failed or diverged)")
    eps21, eps32 = vals[1] - vals[0], vals[2] - vals[1]
    scale = max(abs(v) for v in vals)
    same21 = abs(eps21) <= rtol * scale
    same32 = abs(eps32) <= rtol * scale
    e_a = abs(eps21 / vals[0]) if vals[0] != 0 else None
    if same21 and same32:
        return GridConvergence(**base, convergence="unchanged", extrapolated=vals[0],
                               e_a21=0.0 if e_a is not None else None,
                               e_ext21=0.0 if e_a is not None else None,
                               gci_fine=0.0 if e_a is not None else None, uncertainty=0.0,
                               note="the same on all three meshes")
    if same21:
        return GridConvergence(**base, convergence="fine pair equal", e_a21=e_a,
                               note="the two finest meshes agree while the coarsest differs: "
                               "the order is not finite, nothing to extrapolate from")
    if same32:
        return GridConvergence(**base, convergence="divergent", e_a21=e_a,
                               note="the two coarsest meshes agree and the finest moves away: "
                               "the change grows with refinement")
    s = 1.0 if eps32 / eps21 > 0 else -1.0
    p = observed_order(eps21, eps32, r21, r32)
    if p is None or not math.isfinite(p):
        return GridConvergence(**base, convergence="divergent", e_a21=e_a,
                               note="the change between meshes does not shrink with "
                               "refinement: no positive observed order")
    rp = r21 ** p
    ext = (rp * vals[0] - vals[1]) / (rp - 1.0)
    gci = safety_factor * e_a / (rp - 1.0) if e_a is not None else None
    e_ext = abs((ext - vals[0]) / ext) if ext != 0 else None
    notes = []
    p_band = p
    if formal_order is not None and p > formal_order:
        # an observed order far above what the scheme can give is noise in small
        # differences; taken at face value it would shrink the band to nothing
        p_band = float(formal_order)
        notes.append(f"observed order {p:.2f} above the scheme's formal {p_band:g}: the band "
                     f"uses {p_band:g}")
    band = safety_factor * abs(eps21) / (r21 ** p_band - 1.0)
    if s < 0:
        half = 0.5 * (max(vals) - min(vals))
        band = max(band, half)
        notes.append("oscillatory convergence: the band rests on three points of an "
                     "oscillation, so it is at least half their range; read it with care")
    return GridConvergence(**base, convergence="monotone" if s > 0 else "oscillatory",
                           order=p, band_order=p_band, extrapolated=ext, e_a21=e_a,
                           e_ext21=e_ext, gci_fine=gci, uncertainty=band,
                           note="; ".join(notes))
