"""What a flow run gives back: the fields on the interior cells, the run's counters, and the
heat flows and component figures computed from them (:mod:`thermosim.flow.report`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ..grid import Grid
from ..unconverged import averaged_phrase
from .problem import FACES, FlowProblem


@dataclass
class FlowStats:
    steps: int = 0
    time: float = 0.0                       # simulated time, s
    wall_time: float = 0.0
    converged: bool = False
    residual_velocity: float = math.inf     # max |du/dt| L / U^2
    residual_temperature: float = math.inf  # max |dT/dt| L / (U dT)
    pressure_iterations: int = 0            # CG iterations, all solves together
    pressure_solves: int = 0
    pressure_reduction: float = 0.0         # mean residual reduction per CG iteration
    history: list = field(default_factory=list)
    dt: float = 0.0
    implicit_iterations: int = 0            # CG iterations of the implicit diffusion solves
    implicit_solves: int = 0
    diffusion: str = "explicit"             # how the last step treated diffusion
    stored_fraction: float = math.nan       # heat being stored / power (energy criterion)
    stopped: str = ""                       # why a transient ended before its end time
    # a steady run stopped unconverged: the equation that stalled, its residual against its
    # tolerance and its trend (one line), and the details (thermosim.unconverged.Stall)
    stalled: str = ""
    stall: dict = field(default_factory=dict)
    # the coarse meshes a steady run started from (thermosim.flow.sequence) or cycled
    # through (thermosim.flow.fas), coarsest first: (cells, outer iterations, CPU s) each
    coarse: list = field(default_factory=list)
    cycles: int = 0                         # multigrid V-cycles of a steady run
    unit: str = "steps"                     # what ``steps`` counts (or "outer iterations")
    # a time mean (thermosim.flow.unsteady): its window (from, to, window s), implicit
    # steps and their length (s), batches; after a stall also the settling time (s), the
    # turnover time (s), the steady iterations before it and the outer iterations after
    averaged: dict = field(default_factory=dict)
    # the steady iterations' longest local step over the global one and the residual at its
    # last control (thermosim.flow.local_steps; nan: not started), kept so that a run
    # continued (or resumed from its checkpoint) controls it as the run would have
    step_factor: float = math.nan
    step_residual: float = math.nan
    # why the steady iterations started again from the start (thermosim.flow.retry: the
    # first try diverged), "" if they did not; a resumed run keeps the second try's d
    retried: str = ""


def coarse_phrase(coarse, cycles: int) -> str:
    """What a steady run did on coarser meshes, to follow its count of outer iterations:
    ", after 120 on 1,024 cells" (a coarse start) or " in 24 multigrid cycles (with 196
    on 4,096 cells, ...)" (``coarse``: (cells, outer iterations, CPU s), coarsest first)."""
    if cycles:
        return f" in {cycles:,} multigrid cycles (with " + ", ".join(
            f"{n:,} on {int(c):,} cells" for c, n, _ in coarse[::-1]) + ")"
    return "".join(f", after {n:,} on {int(c):,} cells" for c, n, _ in coarse)


@dataclass
class FlowResult:
    """Fields on the interior cells: face velocities (m/s, staggered arrays with one more
    entry along their own axis), cell-centred kinematic pressure phi (m^2/s^2) and
    temperature (K); ``fluid`` marks fluid cells."""

    problem: FlowProblem
    u: np.ndarray
    v: np.ndarray
    w: np.ndarray
    phi: np.ndarray
    T: np.ndarray
    fluid: np.ndarray
    stats: FlowStats
    backend: str = "cpu"
    device: str = ""
    heat_flows: dict = field(default_factory=dict)     # W leaving, per boundary
    total_power: float = 0.0                           # W put in (blocks, heat-flux faces)
    block_index: Optional[np.ndarray] = None           # block of each cell, -1 in the fluid
    components: dict = field(default_factory=dict)     # fans, coolers, porous blocks
    # a time mean's consecutive parts, each a result (their spread: the mean's uncertainty)
    batches: list = field(default_factory=list)

    @property
    def grid(self) -> Grid:
        return self.problem.grid

    @property
    def energy_balance_error(self) -> float:
        """|heat in - heat out| / heat in (relative; steady runs)."""
        out = sum(self.heat_flows.values())
        scale = max(abs(self.total_power), sum(abs(v) for v in self.heat_flows.values()),
                    1e-300)
        return abs(self.total_power - out) / scale

    def hotspot(self) -> dict:
        idx = np.unravel_index(int(np.argmax(self.T)), self.T.shape)
        blk = -1 if self.block_index is None else int(self.block_index[idx])
        name = self.problem.blocks[blk].name if blk >= 0 else self.problem.fluid.name
        return {"T": float(self.T[idx]), "index": [int(i) for i in idx], "block": name,
                "position": [float(self.grid.centres(a)[idx[a]]) for a in range(3)]}

    def metrics(self) -> dict:
        """Rack-cooling metrics of the components (see :mod:`thermosim.metrics`)."""
        from ..metrics import rack_metrics

        return rack_metrics(self)

    def pressure_drop(self) -> float | None:
        """Mean static pressure on the inflow faces minus that on the outflow faces (Pa)."""
        means = {"inflow": [], "outflow": []}
        for f, b in self.problem.boundaries.items():
            if b.kind in means:
                axis, side = FACES.index(f) // 2, FACES.index(f) % 2
                sl = [slice(None)] * 3
                sl[axis] = -1 if side else 0
                means[b.kind].append(float(self.pressure[tuple(sl)].mean()))
        if not means["inflow"] or not means["outflow"]:
            return None
        return float(np.mean(means["inflow"]) - np.mean(means["outflow"]))

    def summary(self) -> str:
        st, hs = self.stats, self.hotspot()
        speed = np.sqrt((self.cell_velocity() ** 2).sum(axis=0))
        stored = "" if math.isnan(st.stored_fraction) else \
            f", heat still stored {st.stored_fraction:.1e} of the power"
        after = coarse_phrase(st.coarse, st.cycles)
        state = (averaged_phrase(st) if st.averaged
                 else f"steady after {st.steps:,} {st.unit}{after} (residuals "
                 f"{st.residual_velocity:.1e} "
                 f"velocity, {st.residual_temperature:.1e} temperature{stored})" if st.converged
                 else f"UNCONVERGED: no steady state after {st.steps:,} "
                 f"{st.stall.get('unit', 'steps')}: {st.stalled} (the figures below: the last "
                 "iteration's)" if st.stalled
                 else f"{st.steps} steps to t = {st.time:.4g} s"
                 + (f" ({st.stopped})" if st.stopped else ""))
        lines = [
            f"case          {self.problem.name}  (flow, {self.T.size:,} cells, "
            f"{self.problem.fluid.name})",
            f"state         {state}",
            *([f"retried       {st.retried}"] if st.retried else []),
            f"max T         {hs['T']:.3f} K ({hs['T'] - 273.15:.2f} degC) in '{hs['block']}' "
            f"at ({', '.join(f'{v * 1e3:.2f}' for v in hs['position'])}) mm",
            f"max speed     {float(speed.max()):.4g} m/s",
        ]
        dp = self.pressure_drop()
        if dp is not None:
            lines.append(f"pressure drop {dp:.5g} Pa (inflow minus outflow)")
        lines.append(f"power in      {self.total_power:.6g} W")
        for label, q in self.heat_flows.items():
            lines.append(f"  out via {label:<28s} {q:.6g} W")
        if self.stats.converged and self.total_power:
            lines.append(f"energy balance {self.energy_balance_error:.2e} (relative error)")
        elif self.total_power:
            stored = self.total_power - sum(self.heat_flows.values())
            what = "stored, mean over the window" if st.averaged else \
                "still being stored (not steady)"
            lines.append(f"  {what}  {stored:.6g} W")
        lines.append(f"pressure      {st.pressure_iterations / max(st.pressure_solves, 1):.1f} "
                     f"CG iterations per solve, residual x{st.pressure_reduction:.3f} per "
                     "iteration")
        if st.implicit_solves:
            lines.append(f"diffusion     implicit (steady march), "
                         f"{st.implicit_iterations / st.implicit_solves:.1f} CG iterations "
                         "per solve")
        lines.append(f"wall time     {st.wall_time:.3f} s")
        lines.append(f"backend       {self.backend}: {self.device}")
        if self.components:
            from ..metrics import format_metrics

            lines.append(format_metrics(self.metrics()))
        return "\n".join(lines)

    def save(self, path, **kw):
        from ..output import write_flow_result

        return write_flow_result(self, path, **kw)

    @property
    def pressure(self) -> np.ndarray:
        """Static pressure relative to the reference (Pa), cell-centred."""
        return self.phi * self.problem.fluid.density

    def cell_velocity(self) -> np.ndarray:
        """Velocity at the cell centres (m/s), shape (3, nx, ny, nz)."""
        return np.stack([0.5 * (self.u[1:] + self.u[:-1]),
                         0.5 * (self.v[:, 1:] + self.v[:, :-1]),
                         0.5 * (self.w[:, :, 1:] + self.w[:, :, :-1])])

    @property
    def velocity(self) -> np.ndarray:
        """Velocity at the cell centres (m/s), shape (nx, ny, nz, 3): ``velocity[i, j, k]``
        is the (u, v, w) vector of cell (i, j, k), as ``/fields/velocity`` in the saved
        file."""
        return np.moveaxis(self.cell_velocity(), 0, -1)
