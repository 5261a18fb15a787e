"""Coolers (the coils of CRAH units, heat exchangers): cells held at the supply
temperature (K); the heat one removes is the net heat flowing into its cells."""

from __future__ import annotations

import numpy as np

from ...components import box_slices
from ...errors import CaseError
from .base import Term


class Coolers(Term):
    report_key = "coolers"

    def __init__(self, problem, mesh):
        self.problem, self.mesh = problem, mesh
        n = mesh.shape
        cool = np.zeros(n, bool)
        cool_T = np.zeros(n)
        self.slices = []
        for c in problem.coolers:
            sl = box_slices(problem.grid, c.lower, c.upper, c.name, "cooler")
            if mesh.solid[sl].any():
                raise CaseError(f"cooler '{c.name}' overlaps a solid block", f"coolers.{c.name}")
            cool[sl] = True
            cool_T[sl] = c.temperature
            self.slices.append(sl)
        be, dt_ = mesh.be, mesh.dtype
        keep = np.ones([s + 2 for s in n])
        add = np.zeros_like(keep)
        keep[1:-1, 1:-1, 1:-1] = np.where(cool, 0.0, 1.0)
        add[1:-1, 1:-1, 1:-1] = np.where(cool, cool_T, 0.0)
        self.keep_host = keep
        self.keep, self.add = be.asarray(keep, dt_), be.asarray(add, dt_)

    def hold_temperature(self, T) -> None:
        T *= self.keep
        T += self.add

    def report(self, ctx) -> list:
        rows = []
        for c, sl in zip(self.problem.coolers, self.slices):
            q = float(ctx.Q[sl].sum())
            ctx.flows[f"cooler {c.name}"] = q
            rows.append({"name": c.name, "heat_removed": q, "supply_temperature": c.temperature})
        return rows
