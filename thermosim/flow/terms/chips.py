"""Compact chips: a chip's power (W) heats the air in its box through its case resistance
(K/W); with a cold plate the heat splits between the plate's coolant and the air, the air's
share linear in each cell's temperature (:func:`thermosim.components.cold_plate_split`)."""

from __future__ import annotations

import numpy as np

from ...components import box_slices, cold_plate_split
from ...errors import CaseError
from .base import Term


class Chips(Term):
    report_key = "chips"

    def __init__(self, problem, mesh):
        self.problem, self.mesh = problem, mesh
        g, n = problem.grid, mesh.shape
        vol = g.cell_volumes()
        self.slices = []
        plate_G, plate_GT = np.zeros(n), np.zeros(n)
        for c in problem.chips:
            try:
                sl = box_slices(g, c.lower, c.upper, c.name, "chip")
            except CaseError:
                # smaller than a cell: the compact model heats the cell holding its centre
                i = g.locate([0.5 * (c.lower[a] + c.upper[a]) for a in range(3)])
                sl = tuple(slice(int(x), int(x) + 1) for x in i)
            if mesh.solid[sl].any():
                raise CaseError(f"chip '{c.name}' overlaps a solid block: a compact chip "
                                "heats the air in its box", f"chips.{c.name}")
            if c.cold_plate is not None:
                # the air's share is linear in each cell's temperature (see
                # cold_plate_split): a conductance per cell to the temperature the case
                # would take with no air path, T_in + P R_e, summing to 1 / (R_e + R_a)
                w = vol[sl] / vol[sl].sum()
                Re = c.cold_plate.effective_resistance
                g_cell = w / (Re + c.resistance)
                plate_G[sl] += g_cell
                plate_GT[sl] += g_cell * (c.cold_plate.inlet_temperature + c.power * Re)
            self.slices.append(sl)
        self.plate_host = (plate_G, plate_GT) if plate_G.any() else None
        # the cells cold plates couple to their coolant, as flat indices of the padded
        # arrays (a few per chip: gathered, not a full-grid array)
        self.plate = None
        if self.plate_host is not None:
            be, dt_ = mesh.be, mesh.dtype
            pG, pGT = (np.pad(x, 1) for x in self.plate_host)
            idx = np.flatnonzero(pG)
            self.plate = (be.asarray(idx, np.int64), be.asarray(pG.reshape(-1)[idx], dt_),
                          be.asarray(pGT.reshape(-1)[idx], dt_))

    def add_power(self, heat) -> None:
        vol = self.problem.grid.cell_volumes()
        for c, sl in zip(self.problem.chips, self.slices):
            if c.cold_plate is None and c.power:
                heat[sl] += c.power * (vol[sl] / vol[sl].sum())

    def add_coupling(self, conductance) -> None:
        if self.plate_host is not None:
            conductance += self.plate_host[0]

    def add_coupling_padded(self, rate) -> None:
        """rate (backend, padded, W/K) += the plates' conductances."""
        if self.plate is not None:
            rate.reshape(-1)[self.plate[0]] += self.plate[1]

    def add_heat(self, T, Q) -> None:
        """Q += the heat cold-plated chips put into their cells' air (W), each cell's share
        ``G (T_nl - T)`` (T_nl: the case temperature with no air path)."""
        if self.plate is None:
            return
        idx, g, gt = self.plate
        Qf = Q.reshape(-1)
        Qf[idx] += gt - g * T.reshape(-1)[idx]

    def air_share(self, T) -> float:
        """The heat (W) cold-plated chips give their air now (local to this process)."""
        idx, g, gt = self.plate
        return float(self.mesh.be.xp.sum(gt - g * T.reshape(-1)[idx]))

    def with_air_share(self, sources, T) -> np.ndarray:
        """Host (interior): ``sources`` (W per cell) plus what the plates give each cell's
        air at temperature T (K)."""
        return sources + self.plate_host[1] - self.plate_host[0] * T

    def report(self, ctx) -> list:
        p = self.problem
        T = ctx.T
        vol = p.grid.cell_volumes()
        rows = []
        liquid = 0.0
        for c, sl in zip(p.chips, self.slices):
            air = float((T[sl] * vol[sl]).sum() / vol[sl].sum())
            row = {"heat_to_air": c.power, "heat_to_liquid": 0.0}
            if c.cold_plate is not None:
                cp = c.cold_plate
                row = cold_plate_split(c.power, cp, c.resistance, air)
                row.update(coolant=cp.coolant, coolant_flow=cp.flow,
                           coolant_inlet_temperature=cp.inlet_temperature,
                           plate_pressure_drop=cp.pressure_drop,
                           plate_resistance=cp.effective_resistance)
                case_T = row["case_temperature"]
                liquid += row["heat_to_liquid"]
            else:
                case_T = air + c.power * c.resistance
            j = case_T + c.power * c.junction_resistance
            centre = [0.5 * (c.lower[a] + c.upper[a]) for a in range(3)]
            rows.append({**row, "name": c.name, "kind": c.kind, "power": c.power,
                         "air_temperature": air, "case_temperature": case_T,
                         "junction_temperature": j, "limit": c.limit,
                         "over_limit": bool(c.limit is not None and j > c.limit),
                         "position": centre})
        if any(c.cold_plate is not None for c in p.chips):
            ctx.flows["cold plates (to liquid)"] = liquid
        return rows
