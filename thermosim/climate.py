"""Climates: a year of hourly outdoor air (dry-bulb and wet-bulb temperature) for the heat
rejection plant's economizer hours.

Shipped (``thermosim/data/climates/``), each 8,760 hours of a typical meteorological year
from the U.S. National Renewable Energy Laboratory's National Solar Radiation Data Base
(public data; the files are those pvlib's tests carry, converted by :func:`convert`):

- ``miami``: Miami International Airport, FL (WBAN 12839), TMY2 (1961-1990 base); hot and
  humid (ASHRAE climate zone 1A).
- ``greensboro``: Greensboro Piedmont Triad International, NC (USAF 723170), TMY3
  (1976-2005 base); mixed humid (4A).
- ``sand_point``: Sand Point, AK (USAF 703165), TMY3; cool marine subarctic (7).

W. Marcus and S. Wilcox, Users Manual for TMY2s, NREL/TP-463-7668 (1995);
S. Wilcox and W. Marcus, Users Manual for TMY3 Data Sets, NREL/TP-581-43156 (2008).

Any EnergyPlus weather file (``.epw``), TMY3 ``.csv`` or TMY2 ``.tm2`` can be given
instead of a name.  The wet-bulb temperature is the psychrometric (thermodynamic) one of
the hour's dry bulb, dew point and station pressure, from CoolProp's humid-air properties
(ASHRAE RP-1485, Herrmann, Kretzschmar and Gatley 2009).
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import CaseError

DATA = Path(__file__).parent / "data" / "climates"
C0 = 273.15
HOURS = 8760


@dataclass(frozen=True)
class Climate:
    """Hourly outdoor air: ``dry_bulb`` and ``wet_bulb`` (K), one value an hour."""
    name: str
    source: str
    dry_bulb: np.ndarray
    wet_bulb: np.ndarray

    @property
    def hours(self) -> int:
        return len(self.dry_bulb)

    def summary(self) -> str:
        db, wb = self.dry_bulb - C0, self.wet_bulb - C0
        return (f"{self.name}: dry bulb mean {db.mean():.1f} degC (1 % {np.percentile(db, 99):.1f}"
                f"), wet bulb mean {wb.mean():.1f} degC (1 % {np.percentile(wb, 99):.1f})")


def shipped() -> list[str]:
    return sorted(p.stem for p in DATA.glob("*.csv"))


def _fill(values, bad) -> np.ndarray:
    """Missing hours (``bad``) interpolated from their neighbours in time."""
    v = np.asarray(values, float)
    ok = ~bad
    if not ok.any():
        raise ValueError("every hour is missing")
    if bad.any():
        h = np.arange(len(v))
        v[bad] = np.interp(h[bad], h[ok], v[ok])
    return v


def _wet_bulb(dry_bulb_c, dew_point_c, pressure_pa) -> np.ndarray:
    """Psychrometric wet bulb (K); weather files' missing-value markers (99.9 degC,
    999999 Pa and the like) are interpolated over first."""
    from CoolProp.HumidAirProp import HAPropsSI

    db = np.asarray(dry_bulb_c, float)
    dp = np.asarray(dew_point_c, float)
    p = np.asarray(pressure_pa, float)
    db = _fill(db, (db < -90) | (db > 70))
    dp = _fill(dp, (dp < -90) | (dp > 70))
    p = _fill(p, (p < 5e4) | (p > 1.2e5))
    tdb = db + C0
    tdp = np.minimum(dp + C0, tdb)
    out = np.empty(len(tdb))
    for i, (a, b, c) in enumerate(zip(tdb, tdp, p)):
        try:
            out[i] = HAPropsSI("B", "T", a, "P", c, "D", b)
        except ValueError as e:
            raise ValueError(f"hour {i + 1}: no wet bulb for dry bulb {a - C0:.1f} degC, dew "
                             f"point {b - C0:.1f} degC, {c:.0f} Pa ({e})") from None
    return out


def _read_tmy3(path: Path):
    with open(path, encoding="latin-1") as f:
        meta = next(csv.reader([f.readline()]))
        rows = list(csv.DictReader(f))
    db = [float(r["Dry-bulb (C)"]) for r in rows]
    dp = [float(r["Dew-point (C)"]) for r in rows]
    p = [100.0 * float(r["Pressure (mbar)"]) for r in rows]
    return f"{meta[1].strip()} {meta[2].strip()} (TMY3 {meta[0]})", db, dp, p


def _read_tmy2(path: Path):
    # fixed columns (Marion and Urban 1995, Table 2-2): dry bulb at 68-71, dew point 74-77
    # (tenths of degC), station pressure 85-88 (mbar); 1-based, a leading blank
    lines = Path(path).read_text(encoding="latin-1").splitlines()
    head = lines[0].split()
    db, dp, p = [], [], []
    for ln in lines[1:]:
        if not ln.strip():
            continue
        db.append(int(ln[67:71]) / 10.0)
        dp.append(int(ln[73:77]) / 10.0)
        p.append(100.0 * int(ln[84:88]))
    return f"{head[1].title()} {head[2]} (TMY2 {head[0]})", db, dp, p


def _read_epw(path: Path):
    # EnergyPlus weather: 8 header lines, then one line an hour; fields 7, 8, 10
    # (1-based) are dry bulb (degC), dew point (degC), station pressure (Pa)
    lines = Path(path).read_text(encoding="latin-1").splitlines()
    loc = lines[0].split(",")
    rows = [ln.split(",") for ln in lines[8:] if ln.strip()]
    return (f"{loc[1]} {loc[3]} (EPW {loc[5]})", [float(r[6]) for r in rows],
            [float(r[7]) for r in rows], [float(r[9]) for r in rows])


def convert(path, out=None, name: str | None = None) -> Climate:
    """Read a weather file (EPW, TMY3 CSV or TMY2) into a :class:`Climate`; with ``out``
    also write the compact CSV this module ships."""
    path = Path(path)
    suffix = path.suffix.lower()
    reader = {".epw": _read_epw, ".tm2": _read_tmy2}.get(suffix, _read_tmy3)
    try:
        source, db, dp, p = reader(path)
    except (OSError, ValueError, KeyError, IndexError) as e:
        raise CaseError(f"{path}: not a readable EPW, TMY3 or TMY2 weather file ({e})")
    if len(db) < HOURS:
        raise CaseError(f"{path}: {len(db)} hours of weather; a climate needs a year "
                        f"({HOURS} hours)")
    try:
        wb = _wet_bulb(db, dp, p)
    except ValueError as e:
        raise CaseError(f"{path}: {e}") from None
    db = _fill(db, (np.asarray(db) < -90) | (np.asarray(db) > 70))
    clim = Climate(name or path.stem, source, db + C0, wb)
    if out is not None:
        with open(out, "w", newline="") as f:
            f.write(f"# {clim.name}: {source}, converted by thermosim.climate.convert\n")
            f.write("dry_bulb_C,wet_bulb_C\n")
            for a, b in zip(db, wb - C0):
                f.write(f"{a:.1f},{b:.2f}\n")
    return clim


@functools.lru_cache(maxsize=16)
def load(name_or_path: str) -> Climate:
    """A shipped climate by name, or a weather file (see the module's text)."""
    f = DATA / f"{name_or_path}.csv"
    if f.exists():
        lines = f.read_text().splitlines()
        source = lines[0].lstrip("# ").split(": ", 1)[1]
        data = np.loadtxt(lines[2:], delimiter=",", ndmin=2)
        return Climate(name_or_path, source, data[:, 0] + C0, data[:, 1] + C0)
    p = Path(name_or_path)
    if not p.exists():
        raise CaseError(f"climate '{name_or_path}': neither a shipped climate "
                        f"({', '.join(shipped())}) nor a weather file")
    return convert(p)
