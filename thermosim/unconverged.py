"""A steady run that did not converge within its iteration limit: which equation stalled,
how its residual was going, and what to change (issue 19, item 8).

The time march (:mod:`thermosim.flow.march`) and the steady solver both end such a run
through :func:`thermosim.flow.march.not_steady`, which diagnoses the residual history with
:func:`diagnose` and raises :class:`NotSteady`: a :class:`SolverError` that carries the
result of the last iteration, marked unconverged (``stats.stalled`` and ``stats.stall``),
so that ``thermosim run`` and ``thermosim compare`` write it, with the residual plot
(:mod:`thermosim.residual_plot`), instead of throwing it away.

The residuals are dimensionless: velocity max |du/dt| L / U^2, temperature
max |dT/dt| L / (U dT), and the heat still being stored over the power put in.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from .errors import SolverError

#: ``thermosim run``'s exit status for a steady run that did not converge: its result is
#: written and marked, but its figures are not a steady state (2 is a mistake in the input)
EXIT_UNCONVERGED = 3

# a residual that has not fallen to half its value over the last half of the run has
# stalled: at that pace the usual 3-5 decades still to go need 5-8 times the steps run
FALLING = 0.5
RISING = 2.0
# at the recent rate, the tolerance reached within this many times the steps run so far is
# worth a larger max_steps
WORTH_CONTINUING = 10.0
# history rows (one every check_every iterations) a trend needs
MIN_ROWS = 4


@dataclass
class Criterion:
    """One steady criterion not met: its equation (``momentum`` or ``energy``), what is
    measured, its value and tolerance (dimensionless), the case key of the tolerance, and
    how it went over the last ``window`` iterations: ``trend`` ``falling``, ``flat``,
    ``rising`` or ``unknown`` (too little history), changing ``factor`` times; ``more``:
    the iterations still needed at that rate (None unless falling)."""

    equation: str
    quantity: str
    value: float
    tolerance: float
    key: str
    trend: str = "unknown"
    factor: float = math.nan
    window: int = 0
    more: int | None = None

    @property
    def excess(self) -> float:
        """How many times the tolerance the value is (inf for a non-finite value)."""
        v = self.value
        return v / self.tolerance if math.isfinite(v) else math.inf

    def text(self, unit: str = "steps") -> str:
        how = {"falling": "still falling", "flat": "not falling", "rising": "rising"}
        t = f"{self.quantity} {self.value:.1e} against {self.tolerance:.0e} ({self.key})"
        if self.trend in how:
            t += f", {how[self.trend]} (x{self.factor:.2g} over the last {self.window:,} {unit})"
        return t


@dataclass
class Stall:
    """Why a steady run stopped unconverged after ``steps`` iterations (``unit``: steps of
    the march or outer iterations).  ``unmet``: the criteria not met, the one that stalled
    first (not falling, furthest from its tolerance; when all are falling, the one that
    needs the most iterations still)."""

    steps: int
    unit: str
    unmet: list = field(default_factory=list)
    tolerances: dict = field(default_factory=dict)   # velocity, temperature, stored
    advection: str = ""                # the momentum advection scheme (central, upwind)
    cfl: float | None = None           # the march's fraction of the stable step

    @property
    def worst(self) -> Criterion | None:
        return self.unmet[0] if self.unmet else None

    @property
    def equation(self) -> str:
        return self.worst.equation if self.worst else "none"

    @property
    def trend(self) -> str:
        return self.worst.trend if self.worst else "unknown"

    @property
    def more(self) -> int | None:
        return self.worst.more if self.worst else None

    def describe(self) -> str:
        """One clause: the equation that stalled, its value against its tolerance and how
        it was going, e.g. ``the momentum equation stalled: velocity residual 1.7e-02
        against 1e-04 (flow.tolerance), not falling (x0.93 over the last 8,000 steps)``."""
        w = self.worst
        if w is None:
            return "every criterion met at the last check, but not at a check step"
        verb = {"falling": "is still converging", "unknown": "has not converged"}.get(
            w.trend, "stalled")
        text = f"the {w.equation} equation {verb}: {w.text(self.unit)}"
        others = [c.text(self.unit) for c in self.unmet[1:]]
        if others:
            text += "; also " + "; ".join(others)
        return text

    def advice(self, checkpoint: str | None = None) -> str:
        """What to change, the likeliest fix first; ``checkpoint``: where the state is saved
        (a larger max_steps continues from it with --resume)."""
        def cont(note: str = "") -> str:
            text = "raise flow.max_steps" + note
            if checkpoint:
                text += (f" and rerun with --resume to continue from {self.unit_one} "
                         f"{self.steps:,} (saved in {checkpoint})")
            return text

        if self.trend == "unknown":
            return cont() + f" (too few {self.unit} to tell whether it is converging)"
        slow = ""
        if self.trend == "falling" and self.more is not None:
            if self.more <= WORTH_CONTINUING * max(self.steps, 1):
                return cont(f" to about {_round_up(self.steps + self.more):,} (about "
                            f"{self.more:,} more {self.unit} if it keeps falling at the "
                            "recent rate)")
            slow = f" (falling too slowly: about {self.more:,} more {self.unit} needed)"
        fixes = []
        w = self.worst
        if w is not None and w.equation == "energy" and w.key == "flow.tolerance":
            # the temperature residual is a largest-cell measure that a recirculation zone,
            # exchanging heat with the rest only by diffusion, holds up for a long time
            fixes.append("judge the energy equation by the heat still stored "
                         "(flow.energy_tolerance: 1e-3)")
        fixes.append("if the flow is unsteady (plumes, shedding), run it as a transient "
                     "(flow.end_time) and average")
        if self.advection != "upwind":
            # bounded first-order advection damps the wiggles central differences let a
            # coarse grid keep
            fixes.append("use flow.advection: upwind")
        fixes.append("refine the grid where the velocity is largest")
        if self.trend == "rising":
            now = f", now {self.cfl:g}" if self.cfl else ""
            fixes.insert(0, f"lower flow.cfl (the residual is rising{now})"
                         if self.unit == "steps" else
                         "under-relax more (the residual is rising)")
        tail = "or " + cont(slow or " (unlikely to help while it is not falling)")
        return "; ".join(fixes) + "; " + tail

    @property
    def unit_one(self) -> str:
        """The unit in the singular (``step``, ``outer iteration``)."""
        return self.unit[:-1] if self.unit.endswith("s") else self.unit

    @classmethod
    def from_dict(cls, d: dict) -> Stall:
        """The stall :meth:`as_dict` describes (a checkpoint's)."""
        return cls(int(d["steps"]), d["unit"], [Criterion(**c) for c in d.get("unmet", [])],
                   dict(d.get("tolerances", {})), d.get("advection", ""), d.get("cfl"))

    def as_dict(self, checkpoint: str | None = None) -> dict:
        """What ``FlowStats.stall`` keeps (the HDF5's /solver attributes ``stalled_*``)."""
        d = asdict(self)
        d.update(equation=self.equation, trend=self.trend, more=self.more,
                 describe=self.describe(), advice=self.advice(checkpoint))
        return d


def _round_up(n: int) -> int:
    """``n`` rounded up to two significant digits (a max_steps a person would write)."""
    if n < 100:
        return n
    q = 10 ** (len(str(n)) - 2)
    return -(-n // q) * q


def _trend(history: list, column: int, c: Criterion) -> None:
    """Set ``c``'s trend from column ``column`` (2: velocity, 3: temperature) of the
    history rows (step, time s, ru, rt): a least-squares fit of log10 of the residual to
    the step over the last half of the run (robust to the residual's wiggles, which the
    first-to-last ratio is not).  Fewer than MIN_ROWS rows: unknown."""
    rows = [(r[0], r[column]) for r in history if r[column] > 0 and math.isfinite(r[column])]
    if len(rows) < MIN_ROWS:
        return
    last = rows[-1][0]
    tail = [r for r in rows if r[0] >= last - (last - rows[0][0]) / 2]
    if len(tail) < MIN_ROWS:
        tail = rows[-MIN_ROWS:]
    n = len(tail)
    xs = [s for s, _ in tail]
    ys = [math.log10(v) for _, v in tail]
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx > 0 else 0.0
    c.window = int(xs[-1] - xs[0])
    c.factor = 10 ** (slope * c.window)
    c.trend = "falling" if c.factor < FALLING else "rising" if c.factor > RISING else "flat"
    if c.trend == "falling" and math.isfinite(c.excess):
        c.more = max(math.ceil(math.log10(c.excess) / -slope), 1)


def _stalled_first(c: Criterion) -> tuple:
    """Sort key: criteria not falling first (furthest from their tolerance first), then the
    falling ones (most iterations still needed first)."""
    if c.trend == "falling":
        return (1, -(c.more or 0))
    return (0, -c.excess)


def diagnose(history: list, steady_tolerance: float, energy_tolerance: float | None = None,
             stored_fraction: float = math.nan, residual_velocity: float = math.nan,
             residual_temperature: float = math.nan, steps: int = 0,
             unit: str = "steps", advection: str = "", cfl: float | None = None) -> Stall:
    """The stall of a steady run: its unmet criteria (the velocity residual against
    ``steady_tolerance``; the temperature residual against it too, or with
    ``energy_tolerance`` the stored heat fraction ``stored_fraction`` against that), each
    with its trend over the last half of ``history`` (rows (step, time s, velocity
    residual, temperature residual)), the one that stalled first.  Without history rows
    the latest residuals are ``residual_velocity`` and ``residual_temperature``;
    ``advection`` and ``cfl``: the run's (the advice leaves out what is already so)."""
    if history:
        steps = max(steps, int(history[-1][0]))
        residual_velocity, residual_temperature = history[-1][2], history[-1][3]
    tol = steady_tolerance
    unmet = []
    if not residual_velocity < tol:
        unmet.append(Criterion("momentum", "velocity residual", residual_velocity, tol,
                               "flow.tolerance"))
        _trend(history, 2, unmet[-1])
    if energy_tolerance:
        if not stored_fraction < energy_tolerance:
            unmet.append(Criterion("energy", "heat still stored (fraction of the power)",
                                   stored_fraction, energy_tolerance,
                                   "flow.energy_tolerance"))
            # the stored heat has no history of its own: the temperature residual, its
            # local counterpart, stands in for its trend
            _trend(history, 3, unmet[-1])
    elif not residual_temperature < tol:
        unmet.append(Criterion("energy", "temperature residual", residual_temperature, tol,
                               "flow.tolerance"))
        _trend(history, 3, unmet[-1])
    unmet.sort(key=_stalled_first)
    return Stall(steps, unit, unmet, tolerances={
        "velocity": tol, "temperature": None if energy_tolerance else tol,
        "stored": energy_tolerance}, advection=advection, cfl=cfl)


class NotSteady(SolverError):
    """No steady state within the iteration limit.  ``result``: the last iteration's
    :class:`~thermosim.flow.FlowResult`, marked unconverged (``stats.stalled``);
    ``stall``: the :class:`Stall`; ``checkpoint``: where the state is saved (or None)."""

    def __init__(self, message: str, result=None, stall: Stall | None = None,
                 checkpoint: str | None = None):
        super().__init__(message)
        self.result = result
        self.stall = stall
        self.checkpoint = checkpoint


def marked(stats) -> bool:
    """Whether a flow run's ``stats`` are those of a steady run stopped unconverged (not
    one whose result became its time mean, ``stats.averaged``)."""
    return bool(getattr(stats, "stalled", "")) and not stats.converged and \
        not getattr(stats, "averaged", None)


def unconverged_line(file, error: NotSteady, h5_path) -> str:
    """The one line ``thermosim run`` ends an unconverged steady run with (after
    ``thermosim: error:``): ``FILE: flow.max_steps: no steady state after N steps: the
    equation that stalled, its value against its tolerance: where the marked result and
    its residual plot are: what to change``."""
    from .residual_plot import residual_plot_path

    st = error.result.stats if error.result is not None else None
    unit = error.stall.unit if error.stall is not None else "steps"
    steps = f"{st.steps:,} {unit}" if st is not None else "the iteration limit"
    where = f"the result is written to {h5_path}, marked UNCONVERGED"
    plot = residual_plot_path(h5_path)
    if plot.exists():
        where += f", its residual history drawn in {plot}"
    stall = error.stall
    reason = (f"no steady state after {steps}: {stall.describe()}; {where}: "
              f"{stall.advice(error.checkpoint)}" if stall is not None else
              f"{error}; {where}")
    return ": ".join(p for p in (str(file) if file else "", "flow.max_steps", reason) if p)


def stall_attrs(stats) -> dict:
    """The HDF5 /solver attributes of a flow run's ``stats`` stopped unconverged (none for
    any other run): ``stalled`` (the equation: momentum or energy), ``stalled_description``
    (one line), ``stalled_criterion``, ``stalled_value`` and ``stalled_tolerance``
    (dimensionless), ``stalled_tolerance_key`` (the case key), ``stalled_trend``
    (falling, flat, rising or unknown) and ``advice``."""
    if not marked(stats):
        return {}
    st = stats.stall
    w = (st.get("unmet") or [{}])[0]
    return {"stalled": st.get("equation", ""), "stalled_description": stats.stalled,
            "stalled_criterion": w.get("quantity", ""),
            "stalled_value": float(w.get("value", math.nan)),
            "stalled_tolerance": float(w.get("tolerance", math.nan)),
            "stalled_tolerance_key": w.get("key", ""),
            "stalled_trend": st.get("trend", ""), "advice": st.get("advice", "")}


def averaged_phrase(st) -> str:
    """What a time mean is the mean of: "time-averaged over 60 s (400 implicit steps of
    0.15 s), after settling for 30 s; no steady state after 1,500 outer iterations:
    ..." (``st.averaged``, see :mod:`thermosim.flow.unsteady`)."""
    av = st.averaged
    text = (f"time-averaged over {av['window']:.4g} s ({av['steps']:,} implicit steps of "
            f"{av['time_step']:.3g} s")
    if av.get("unsolved"):
        text += (f"; {av['unsolved']:,} of all {av['all_steps']:,} steps ended at their "
                 "limit of outer iterations unsolved")
    text += ")"
    if "after" in av:
        more, slid = av.get("settle_extensions", 0), av.get("window_slides", 0)
        text += f", after settling for {av['settle']:.4g} s"
        if more or slid:
            said = [f"{more} turnover{'s' if more > 1 else ''} more" if more else "",
                    f"the window slid {slid} part{'s' if slid > 1 else ''} later" if slid
                    else ""]
            text += (f" ({' and '.join(x for x in said if x)} than planned: the heat "
                     f"stored drifted above {100 * av['settled_share']:.3g} % of the "
                     "power)")
        if av.get("drifting"):
            text += (f"; NOT SETTLED: the window stored {100 * av['stored_share']:.2g} % "
                     f"(+- {100 * av['stored_share_error']:.2g}) of the power, part after "
                     "part: a longer flow.average_window settles longer")
        text += (f"; no steady state after {av['after']:,} "
                 f"{st.stall.get('unit', st.unit)}: {st.stalled}")
    return text


__all__ = ["Criterion", "EXIT_UNCONVERGED", "NotSteady", "Stall", "averaged_phrase",
           "diagnose", "marked", "stall_attrs", "unconverged_line"]
