"""CoolProp's answers kept on disk, so that a run needs no CoolProp import once its fluids'
states have been asked for before.

Importing CoolProp loads its whole fluid library: 2.9 s of every process that builds a
flow case (measured, 2-core x86 machine, 2026-12-05: ``python -X importtime``), more than
half of the quick air hall's set-up (4.6 s) and paid again by every worker of
``thermosim compare`` and ``thermosim sweep``, for the same five numbers at the same few
states.  Those numbers are kept here, a file per CoolProp version, under thermosim's cache
folder, keyed by CoolProp's fluid name, temperature (K) and pressure (Pa) written exactly
(``repr``); the version is read from the installed package's metadata, without importing
it, so a new CoolProp asks again.  A state CoolProp refuses is not kept: it is asked again
(and refused again, with its message).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

#: the properties kept per state: PropsSI's keys (density kg/m^3, dynamic viscosity Pa s,
#: conductivity W/(m K), isobaric specific heat J/(kg K), isobaric expansion 1/K)
KEYS = ("D", "V", "L", "C", "beta")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("CoolProp")
    except PackageNotFoundError:
        return "unknown"


def cache_file() -> Path:
    """This CoolProp's file of kept states: ``$THERMOSIM_FLUID_CACHE`` if set, else in the
    per-user cache folder beside Numba's kernels (``$XDG_CACHE_HOME/thermosim`` or
    ``~/.cache/thermosim``; one that cannot be written is skipped)."""
    env = os.environ.get("THERMOSIM_FLUID_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "thermosim" / f"coolprop-{_version()}.json"


def _read(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):       # none yet, or one left half-written by a crash
        return {}
    return data if isinstance(data, dict) else {}


def _key(cp_name: str, temperature: float, pressure: float) -> str:
    return f"{cp_name}|{float(temperature)!r}|{float(pressure)!r}"


def _ask(cp_name: str, temperature: float, pressure: float) -> dict:
    """CoolProp's properties at the state (raises its ValueError outside its data)."""
    from CoolProp.CoolProp import PropsSI

    def get(k):
        return PropsSI(k, "T", temperature, "P", pressure, cp_name)

    out = {k: get(k) for k in ("D", "V", "L", "C")}
    try:
        out["beta"] = get("isobaric_expansion_coefficient")
    except ValueError:                  # incompressible mixtures: from the density slope
        dT = 0.5
        r1 = PropsSI("D", "T", temperature + dT, "P", pressure, cp_name)
        r0 = PropsSI("D", "T", temperature - dT, "P", pressure, cp_name)
        out["beta"] = -(r1 - r0) / (2 * dT) / out["D"]
    return out


def properties(cp_name: str, temperature: float, pressure: float) -> dict:
    """``KEYS`` of CoolProp's fluid ``cp_name`` at ``temperature`` (K) and ``pressure``
    (Pa): kept ones from the cache file, else asked of CoolProp and kept (a cache that
    cannot be written is skipped: the answer is the same, only slower next time)."""
    path = cache_file()
    key = _key(cp_name, temperature, pressure)
    kept = _read(path).get(key)
    if isinstance(kept, dict) and all(isinstance(kept.get(k), float) for k in KEYS):
        return {k: kept[k] for k in KEYS}
    out = _ask(cp_name, temperature, pressure)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = _read(path)              # again: another process may have added states
        data[key] = out
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(data, f)
            os.replace(tmp, path)       # whole or not at all
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except OSError:
        pass
    return out
