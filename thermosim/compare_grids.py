"""``thermosim compare --resolutions``: every layout on three meshes, the layout's cell size
(its ``cell`` key, m) divided by a constant ratio from one to the next, and the report's
grid-convergence part: each figure per mesh, its Richardson-extrapolated value and its
grid-convergence index (:mod:`thermosim.grid_convergence`; Celik et al. 2008, Roache,
ASME V&V 20), a plain sentence when the facility saving moves by more than one percentage
point between the two finest meshes, and a headline with the finest mesh's savings and
their uncertainty.  :mod:`thermosim.compare` runs the meshes; this module makes their
variants and writes up the study (``grid_convergence.json``, a ``grid_convergence`` group
in ``results.h5`` and a section of ``report.md``).

The refinement ratios used in the extrapolation are not the nominal one: the layouts'
grids are graded and snapped to the racks' and tanks' faces, so each mesh's representative
size is Celik's ``h = (V/N)^(1/3)`` from its cell count ``N`` and domain volume ``V``
(m^3), and the ratios follow from those (unequal ones through Celik's iteration).
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np

from .compare_report import C0, LABEL, savings_against_air
from .errors import CaseError
from .grid_convergence import grid_convergence, representative_size

MESHES = 3                  # the quick mesh and two finer
DEFAULT_RATIO = 1.5         # cell size divided by this from one mesh to the next
MIN_RATIO = 1.3             # Celik et al. 2008: "desirable that r be greater than 1.3"
MOVE_LIMIT = 1.0            # percentage points of facility saving between the finest two

# (key, label, unit, value from a record in SI units, offset to the unit shown): the
# figures of every layout; temperatures are extrapolated in K and shown in degC (the
# order, extrapolation and band do not depend on the zero)
FIGURES = [
    ("hottest_junction", "hottest junction", "degC",
     lambda r: max(c["junction_temperature"] for c in r["metrics"]["chips"]), C0),
    ("hottest_inlet", "hottest server inlet", "degC",
     lambda r: r["metrics"]["max_inlet_temperature"], C0),
    ("server_fans", "server fans, hydraulic", "W",
     lambda r: r["metrics"]["server_fan_hydraulic_power"], 0.0),
    ("crah_fans", "CRAH fans, hydraulic", "W",
     lambda r: r["metrics"]["unit_fan_hydraulic_power"], 0.0),
    ("pumps", "pumps, hydraulic", "W", lambda r: r["metrics"]["pump_hydraulic_power"], 0.0),
    ("pue", "PUE", "", lambda r: r["energy"]["pue"], 0.0),
]
# the savings against air (fractions; shown in % and their band in percentage points)
SAVINGS = [("cooling_with_server_fans", "cooling saving (server fans included)"),
           ("facility", "facility saving")]


def check_ratio(ratio: float) -> float:
    """The refinement ratio, refused (one line) below Celik's 1.3 or when not a number."""
    try:
        r = float(ratio)
    except (TypeError, ValueError):
        raise CaseError(f"the refinement ratio must be a number (got {ratio!r})",
                        "--ratio") from None
    if not (math.isfinite(r) and r >= MIN_RATIO):
        raise CaseError(f"the refinement ratio must be at least {MIN_RATIO} (got {ratio}; "
                        "Celik et al. 2008: below it the differences between meshes are "
                        "lost in the iteration error)", "--ratio")
    return r


def with_method(data: dict, method: str | None, file) -> dict:
    """The layout mapping ``data`` with the flow solver's ``method`` (``march``,
    ``simplec``) as its layout parameter, when this thermosim's layouts take one; None
    leaves the case's own (or the default).  A layout that takes none: one line."""
    if method is None:
        return data
    from .layouts import DEFAULTS

    kind = data.get("layout")
    if kind not in DEFAULTS or "method" not in DEFAULTS[kind]:
        raise CaseError(f"--method {method}: the {kind} layout takes no method parameter in "
                        "this thermosim (its flow solver's default is used; leave --method "
                        "out)", "method", str(file))
    return {**data, "method": method}


def refined(data: dict, ratio: float, level: int) -> dict:
    """The layout mapping ``data`` with its cell size (``cell``, m) divided by ``ratio``
    ``level`` times (level 0: as given), rounded to six digits so that the same mesh has
    the same name in the run cache."""
    from .layouts import DEFAULTS

    base = float(data.get("cell", DEFAULTS[data["layout"]]["cell"]))
    out = copy.deepcopy(data)
    out["cell"] = float(f"{base / ratio ** level:.6g}")
    return out


def mesh_size(case) -> tuple[float, float, float]:
    """(cells, domain volume in m^3, representative size h in m) of a case's mesh (its
    cells counted from the case, :func:`thermosim.sizing.estimate`, as the grid has them)."""
    from .sizing import estimate

    cells = estimate(case, "cpu").cells
    volume = float(np.prod(np.asarray(case.domain.max, float) -
                           np.asarray(case.domain.min, float)))
    return cells, volume, representative_size(volume, cells)


def _value(get, record) -> float:
    """A figure of a record, NaN where the run does not have it (no inlet of that kind)."""
    try:
        v = get(record)
    except (KeyError, ValueError, TypeError):
        return math.nan
    return math.nan if v is None else float(v)


def time_mean_error(get, record, scale: float = 1.0) -> float | None:
    """The standard error (in the unit shown: times ``scale``) of a figure of a run whose
    result is a time mean, from its window's parts (:mod:`thermosim.flow.unsteady`); None
    for a steady run."""
    from .flow.unsteady import standard_error

    if not record.get("averaged") or not record.get("batch_metrics"):
        return None
    parts = [_value(get, {"metrics": m, "energy": e})
             for m, e in zip(record["batch_metrics"], record["batch_energy"])]
    se = standard_error([v for v in parts if math.isfinite(v)])
    return se * scale if math.isfinite(se) else None


def saving_error(air: dict, other: dict, kind: str, key: str) -> float | None:
    """The standard error (percentage points) of a saving against air from the time means'
    parts of either run (each run's parts against the other's mean, in quadrature); None
    when neither is a time mean."""
    from .flow.unsteady import standard_error

    parts = []
    for run, mate, first in ((other, air, False), (air, other, True)):
        if not run.get("averaged") or not run.get("batch_energy"):
            continue
        vals = []
        for e in run["batch_energy"]:
            pair = {"air_cooled": e, kind: mate["energy"]} if first else \
                {"air_cooled": mate["energy"], kind: e}
            vals.append(100.0 * savings_against_air(pair)[kind][key])
        parts.append(standard_error(vals))
    parts = [p for p in parts if math.isfinite(p)]
    return math.sqrt(sum(p * p for p in parts)) if parts else None


def formal_order(case) -> float:
    """The formal order of a layout's flow solution: 1 with upwind momentum advection (the
    layouts' default), 2 with central differences."""
    return 1.0 if case.flow.advection == "upwind" else 2.0


def _study_row(values, hs, formal, offset=0.0, scale=1.0) -> dict:
    """One figure's values per mesh (coarse first, SI units) and its grid study (fine
    first; the band's order capped at ``formal``), with the numbers in the unit shown
    (``(value - offset) * scale``)."""
    f3, f2, f1 = values
    h3, h2, h1 = hs
    g = grid_convergence(f1, f2, f3, h2 / h1, h3 / h2, formal_order=formal).to_dict()
    show = {"values": [(v - offset) * scale for v in values]}
    if g["extrapolated"] is not None:
        show["extrapolated"] = (g["extrapolated"] - offset) * scale
    if g["uncertainty"] is not None:
        show["uncertainty"] = g["uncertainty"] * scale
    return {**g, "shown": show}


def grid_study(levels: list[list[dict]], ratio: float) -> dict:
    """The grid study of a comparison on three meshes: ``levels`` holds each mesh's
    records (coarse first; :func:`thermosim.compare.run_layouts`' records, one a layout).
    Returns meshes (cell size, cells, h, steps, steady per layout), figures (kind -> key
    -> study), savings (kind -> key -> study), the facility saving's move between the two
    finest meshes (percentage points), notes and the headline."""
    kinds = [r["kind"] for r in levels[-1]]
    by = [{r["kind"]: r for r in lv} for lv in levels]
    meshes = []
    for lv in by:
        row = {}
        for k, r in lv.items():
            cells, volume, h = mesh_size(r["case"])
            row[k] = {"cell": float(r["data"].get("cell", math.nan)), "cells": cells,
                      "volume": volume, "h": h, "steps": r["steps"],
                      "steady": bool(r["steady"]), "averaged": bool(r.get("averaged"))}
        meshes.append(row)
    hs = {k: [m[k]["h"] for m in meshes] for k in kinds}
    formal = {k: formal_order(by[-1][k]["case"]) for k in kinds}
    figures = {}
    for k in kinds:
        figures[k] = {}
        for key, label, unit, get, offset in FIGURES:
            vals = [_value(get, lv[k]) for lv in by]
            if all(not math.isfinite(v) for v in vals):
                continue
            figures[k][key] = {"label": label, "unit": unit,
                               **_study_row(vals, hs[k], formal[k], offset),
                               "time_mean_error": time_mean_error(get, by[-1][k])}
    savings, moves = {}, {}
    per_mesh = [savings_against_air({k: r["energy"] for k, r in lv.items()}) for lv in by]
    for k in kinds:
        if k == "air_cooled":
            continue
        # a saving rests on two layouts' meshes: its h is the geometric mean of theirs
        pair = [math.sqrt(a * b) for a, b in zip(hs["air_cooled"], hs[k])]
        savings[k] = {key: {"label": label, "unit": "%",
                            **_study_row([sv[k][key] for sv in per_mesh], pair,
                                         min(formal[k], formal["air_cooled"]), 0.0, 100.0),
                            "time_mean_error": saving_error(by[-1]["air_cooled"], by[-1][k],
                                                            k, key)}
                      for key, label in SAVINGS}
        fac = savings[k]["facility"]["shown"]["values"]
        moves[k] = fac[-1] - fac[-2]
    study = {"ratio": ratio, "meshes": meshes, "figures": figures, "savings": savings,
             "facility_move": moves, "kinds": kinds}
    study["notes"] = _notes(study)
    study["headline"] = headline(study)
    return study


def _notes(study: dict) -> list[str]:
    """What to be wary of: runs that did not settle, savings that move by more than a
    point between the two finest meshes, figures with no band."""
    notes = []
    means = [f"{LABEL[k]} on mesh {i + 1}" for i, m in enumerate(study["meshes"])
             for k, x in m.items() if not x["steady"] and x.get("averaged")]
    if means:
        notes.append("Time means (no steady state; their figures are means over a window of "
                     "implicit time steps): " + ", ".join(means) + ". The finest mesh's "
                     "standard error of each such figure, from the means of the window's "
                     "four parts, is the 's.e.' column: a grid band smaller than it is "
                     "within the averaging's own uncertainty.")
    unsteady = [f"{LABEL[k]} on mesh {i + 1}" for i, m in enumerate(study["meshes"])
                for k, x in m.items() if not x["steady"] and not x.get("averaged")]
    if unsteady:
        notes.append("UNCONVERGED (their last iteration is used): " + ", ".join(unsteady) +
                     ". Their differences between meshes mix iteration error with "
                     "discretization error, so the orders and bands that use them are not "
                     "grid-convergence estimates.")
    for k, dv in study["facility_move"].items():
        c = study["meshes"][-1][k]["cell"], study["meshes"][-2][k]["cell"]
        mv = ("+" if dv >= 0 else "") + _small(dv, 1)
        if abs(dv) > MOVE_LIMIT:
            notes.append(f"The facility saving of {LABEL[k]} moves by {mv} percentage "
                         f"points between the two finest meshes (cells of {c[1]:g} m and "
                         f"{c[0]:g} m): more than one point, so it is not grid-converged "
                         "at these meshes; the finest mesh's figure is reported, with that "
                         "caveat.")
        else:
            notes.append(f"The facility saving of {LABEL[k]} moves by {mv} percentage "
                         f"points between the two finest meshes (cells of {c[1]:g} m and "
                         f"{c[0]:g} m), within one point.")
    return notes


def _small(u: float, digits: int) -> str:
    """``u`` to ``digits`` decimals, or to two significant figures when that would show a
    non-zero band as zero."""
    return f"{u:.2g}" if 0 < abs(u) < 0.5 * 10.0 ** -digits else f"{u:.{digits}f}"


def _band(s: dict, digits: int) -> str:
    """'± U' in the unit shown, or why there is none."""
    u = s["shown"].get("uncertainty")
    return f"± {_small(u, digits)}" if u is not None else f"none ({s['convergence']})"


def headline(study: dict) -> str:
    """One line: each layout's finest-mesh savings against air with their GCI bands (and
    the extrapolated values) -- the figure the README's headline quotes."""
    parts = []
    for k, sv in study["savings"].items():
        txt = []
        for key, what in (("facility", "facility"),
                          ("cooling_with_server_fans", "cooling (server fans included)")):
            s = sv[key]
            fine = s["shown"]["values"][-1]
            ext = s["shown"].get("extrapolated")
            u = s["shown"].get("uncertainty")
            se = s.get("time_mean_error")
            txt.append(f"{fine:.1f} %" + (f" ± {_small(u, 1)} points" if u is not None else
                                         f" (no band: {s['convergence']})") +
                       (f" (a time mean: s.e. {_small(se, 1)} points)" if se is not None
                        else "") +
                       f" of the {what} energy" +
                       (f" (extrapolated {ext:.1f} %)" if ext is not None else ""))
        parts.append(f"{LABEL[k]} saves " + " and ".join(txt))
    cells = study["meshes"][-1]["air_cooled"]
    return (f"Grid study (finest mesh, {cells['cell']:g} m cells in the halls, "
            f"{cells['cells']:,.0f} cells; GCI bands, Fs 1.25): against air, "
            + "; ".join(parts) + ".")


def _fmt(v: float, unit: str) -> str:
    if not math.isfinite(v):
        return "-"
    return f"{v:.3f}" if unit == "" else f"{v:.1f}" if unit in ("degC", "%") else f"{v:.0f}"


def _table(head, rows) -> list[str]:
    from .compare_report import _md_table

    return [_md_table(head, rows), ""]


def grid_markdown(study: dict) -> list[str]:
    """The report's section on the three meshes (lines of Markdown)."""
    kinds, meshes = study["kinds"], study["meshes"]
    parts = ["## Grid convergence: three meshes", "",
             f"**{study['headline']}**", "",
             (f"Every layout ran on three meshes, its cell size divided by "
              f"{study['ratio']:g} from one to the next. Each figure's observed order, "
             "Richardson-extrapolated value and fine-grid convergence index (GCI, safety "
             "factor 1.25) follow Celik et al. 2008 (J. Fluids Eng. 130, 078001) and "
             "ASME V&V 20; the refinement ratios come from each mesh's cell count, "
             "h = (V/N)^(1/3) (the grids are graded and snapped to the racks, so they are "
             "not the nominal ratio). The band is in the figure's unit (percentage points "
             "for the savings); it uses the observed order capped at the scheme's formal "
             "order (1 with upwind advection, 2 with central), and is at least half the "
             "three values' range where they oscillate. The rest of this report is the "
             "finest mesh's."), ""]
    parts += _table(["layout", "cells (coarse / medium / fine)", "cell m", "r21 / r32",
                     "steps", "steady"],
                    [[LABEL[k], " / ".join(f"{m[k]['cells']:,.0f}" for m in meshes),
                      " / ".join(f"{m[k]['cell']:g}" for m in meshes),
                      (f"{meshes[1][k]['h'] / meshes[2][k]['h']:.3f} / "
                       f"{meshes[0][k]['h'] / meshes[1][k]['h']:.3f}"),
                      " / ".join(f"{m[k]['steps']:,}" for m in meshes),
                      " / ".join("yes" if m[k]["steady"] else "time mean"
                                 if m[k].get("averaged") else "UNCONVERGED"
                                 for m in meshes)]
                     for k in kinds])
    head = ["figure", "coarse", "medium", "fine", "order p", "extrapolated", "GCI band",
            "convergence", "s.e. (fine)"]

    def rows(studies):
        out = []
        for s in studies.values():
            sh, u = s["shown"], s["unit"]
            out.append([f"{s['label']}" + (f" ({u})" if u else ""),
                        *(_fmt(v, u) for v in sh["values"]),
                        f"{s['order']:.2f}" if s["order"] is not None else "-",
                        _fmt(sh["extrapolated"], u) if "extrapolated" in sh else "-",
                        _band(s, 3 if u == "" else 1 if u in ("degC", "%") else 0),
                        s["convergence"],
                        "-" if s.get("time_mean_error") is None else
                        _small(s["time_mean_error"],
                               3 if u == "" else 1 if u in ("degC", "%") else 0)])
        return out
    for k in kinds:
        parts += [f"### {LABEL[k]}", ""] + _table(head, rows(study["figures"][k]))
        if k in study["savings"]:
            parts += [f"Savings of {LABEL[k]} against air:", ""] + _table(
                head, rows(study["savings"][k]))
    parts += [f"- {n}" for n in study["notes"]] + [
        ("- The layouts' floor slab, server plinth and tank walls are one cell thick, so "
         "the geometry changes slightly with the mesh too (the domain's volume with it): "
         "the differences between meshes, and so the bands, hold that change beside the "
         "discretization error."), ""]
    return parts


def with_grid_section(md: str, study: dict) -> str:
    """report.md with the grid section placed after the verdict (before the first
    section)."""
    section = "\n".join(grid_markdown(study))
    at = md.find("\n## ")
    return md + "\n" + section if at < 0 else md[:at + 1] + section + "\n" + md[at + 1:]


def write_grid_results(folder: Path, study: dict) -> None:
    """grid_convergence.json, and the ``grid_convergence`` group of results.h5 (each
    figure's values per mesh, coarse first, in SI units: K, W, fractions; order,
    extrapolated value, band and classification as attributes).  ``gci_fine`` and the
    other relative errors are relative to the SI value (a temperature's to kelvin)."""
    import h5py

    (folder / "grid_convergence.json").write_text(json.dumps(study, indent=1, default=float))
    with h5py.File(folder / "results.h5", "a") as f:
        g = f.require_group("grid_convergence")
        g.attrs["headline"] = study["headline"]
        g.attrs["ratio"] = study["ratio"]
        g.attrs["notes"] = "\n".join(study["notes"])
        for k in study["kinds"]:
            gk = g.require_group(k)
            m = study["meshes"]
            gk["cells"] = np.array([x[k]["cells"] for x in m])
            gk["h"] = np.array([x[k]["h"] for x in m])
            gk["steady"] = np.array([x[k]["steady"] for x in m])
            for where, studies in (("figures", study["figures"].get(k, {})),
                                   ("savings", study["savings"].get(k, {}))):
                for key, s in studies.items():
                    d = gk.require_group(f"{where}/{key}")
                    d["values"] = np.array(s["values"][::-1])      # coarse first
                    for a in ("order", "extrapolated", "gci_fine", "uncertainty"):
                        d.attrs[a] = np.nan if s[a] is None else s[a]
                    d.attrs["convergence"] = s["convergence"]
                    d.attrs["unit"] = "K" if s["unit"] == "degC" else \
                        "fraction" if s["unit"] == "%" else s["unit"] or "1"
