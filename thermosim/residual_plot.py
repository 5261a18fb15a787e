"""The residual history of a flow run as a small PNG (matplotlib's Agg canvas: no OpenGL,
no display), written beside the result of a steady run that did not converge."""

from __future__ import annotations

import math
from pathlib import Path

from .atomic import atomic_path


def residual_plot_path(h5_path) -> Path:
    """Where the residual plot of the result ``h5_path`` goes: ``out.h5`` ->
    ``out.residuals.png`` in the same folder."""
    p = Path(h5_path)
    return p.with_name(p.stem + ".residuals.png")


def draw_residuals(png_path, history, stall: dict | None = None, title: str = "") -> Path:
    """Draw the residuals (dimensionless) of ``history`` rows (step, time s, velocity
    residual, temperature residual) against the iteration on a log axis, with the
    tolerances and the stored heat fraction of ``stall`` (``FlowStats.stall``) when given;
    write ``png_path`` (600 x 400 pixels) and return it."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    stall = stall or {}
    unit = stall.get("unit", "steps")
    fig = Figure(figsize=(6.0, 4.0), dpi=100, facecolor="white", layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    steps = [r[0] for r in history]
    tol = stall.get("tolerances", {})
    for column, label, colour, key in ((2, "velocity (momentum)", "tab:blue", "velocity"),
                                       (3, "temperature (energy)", "tab:red", "temperature")):
        vals = [r[column] if r[column] > 0 and math.isfinite(r[column]) else math.nan
                for r in history]
        if any(math.isfinite(v) for v in vals):
            ax.plot(steps, vals, color=colour, lw=1.2, label=f"{label} residual")
        if tol.get(key) and not (key == "temperature" and tol[key] == tol.get("velocity")):
            same = key == "velocity" and tol.get("temperature") == tol[key]
            ax.axhline(tol[key], color="0.3" if same else colour, ls="--", lw=0.8,
                       label="tolerance (flow.tolerance)" if same else None)
    for c in stall.get("unmet", []):
        if c["key"] == "flow.energy_tolerance" and c["value"] > 0 and \
                math.isfinite(c["value"]):
            # the stored heat is measured at the end only: one point, and its tolerance
            ax.plot([stall.get("steps", steps[-1] if steps else 0)], [c["value"]], "o",
                    color="tab:orange", label="heat still stored / power")
            ax.axhline(c["tolerance"], color="tab:orange", ls="--", lw=0.8)
    ax.set_yscale("log")
    ax.set_xlabel(unit)
    ax.set_ylabel("residual (dimensionless); dashed: tolerance")
    ax.grid(True, which="both", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="best")
    head = title or "residual history"
    if stall.get("equation") and stall["equation"] != "none":
        verb = {"falling": "still converging", "flat": "stalled", "rising": "rising"}.get(
            stall.get("trend"), "not converged")
        head += f"\nUNCONVERGED after {stall.get('steps', 0):,} {unit}: " \
                f"{stall['equation']} equation {verb}"
    ax.set_title(head, fontsize=9)
    with atomic_path(png_path, suffix=".tmp.png") as tmp:
        fig.savefig(tmp, format="png", dpi=fig.dpi, facecolor="white")
    return Path(png_path)


__all__ = ["draw_residuals", "residual_plot_path"]
