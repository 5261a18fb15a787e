"""Porous blocks (servers, heat sinks, perforated tiles, coils): a Darcy-Forchheimer sink
``-(a + b |u|) u`` (m/s^2) per axis on the superficial velocity, taken point-implicitly so
it is stable at any resistance, and the block's power (W) spread over its cells.

A block blocked sideways (``transverse: blocked``, a server's case walls) closes its faces
across the flow, its outer ones included: they are held at zero velocity with no pressure
coupling, as a fixed-flow fan's faces hold theirs.  A sink of 1e6 1/s left them all but
closed (about 1 mm/s) but made the momentum and pressure operators stiff there: the steady
iterations' first update put up to 3,400 m/s on a CRAH column's sides, and no pseudo-step
larger than the global one survived them."""

from __future__ import annotations

import numpy as np

from ...components import BLOCKED, box_slices, porous_metrics
from ...errors import CaseError
from .base import Term


class PorousSinks(Term):
    report_key = "porous"

    def __init__(self, problem, mesh):
        self.problem, self.mesh = problem, mesh
        g, n = problem.grid, mesh.shape
        lin = np.zeros((3, *n))
        quad = np.zeros((3, *n))
        blocked = np.zeros((3, *n), bool)
        self.slices = []
        for b in problem.porous:
            sl = box_slices(g, b.lower, b.upper, b.name, "porous block")
            if mesh.solid[sl].any():
                raise CaseError(f"porous block '{b.name}' overlaps a solid block",
                                f"porous.{b.name}")
            for a in range(3):
                # faces take the mean of the cells either side, so the block resists over
                # its cells' centre distances, the end faces at half weight; scaled to
                # resist over its own depth whatever the cells it was snapped to
                d = mesh.d_host[a]
                i0, i1 = sl[a].start, sl[a].stop
                depth = float(d[i0 + 2:i1 + 1].sum() + 0.5 * (d[i0 + 1] + d[i1 + 1]))
                scale = (b.upper[a] - b.lower[a]) / depth if depth > 0 else 1.0
                lin[a][sl] = b.linear[a] * scale
                quad[a][sl] = b.quadratic[a] * scale
                blocked[a][sl] |= b.linear[a] >= BLOCKED
            self.slices.append(sl)
        self.drag = self._face_drag(lin, quad)
        self.closed_host = self._closed_faces(blocked)
        self.keep = None if self.closed_host is None else [
            None if m is None else mesh.be.asarray(np.where(m, 0.0, 1.0), mesh.dtype)
            for m in self.closed_host]

    def _closed_faces(self, blocked) -> list | None:
        """Per axis, the host mask (padded faces) of the faces a blocked block closes:
        between two fluid cells, either of them blocked across that axis; None if none."""
        n = self.mesh.shape
        fl = self.mesh.fluid_host != 0
        out = []
        for a in range(3):
            m = np.zeros(fl.shape, bool)
            if n[a] >= 2 and blocked[a].any():
                cell = np.pad(blocked[a], 1)
                lo = tuple(slice(0, n[a] + 1) if b == a else slice(None) for b in range(3))
                hi = tuple(slice(1, n[a] + 2) if b == a else slice(None) for b in range(3))
                m[hi] = (cell[lo] | cell[hi]) & fl[lo] & fl[hi]
            out.append(m if m.any() else None)
        return out if any(m is not None for m in out) else None

    def held_faces(self, axis: int):
        return None if self.closed_host is None else self.closed_host[axis]

    def hold_velocity(self, vel) -> None:
        if self.keep is None:
            return
        for c in range(3):
            if self.keep[c] is not None:
                vel[c] *= self.keep[c]

    def _face_drag(self, lin, quad) -> list:
        """Per component, (a, b) on the faces (1/s and 1/m), or None for a flat axis."""
        be, dt_, n = self.mesh.be, self.mesh.dtype, self.mesh.shape
        drag = []
        for c in range(3):
            if n[c] < 2:
                drag.append(None)
                continue
            # a face takes the mean of the cells either side: a block of N cells along
            # c then resists over exactly its depth
            fa, fb = np.zeros((2, *[s + 2 for s in n]))
            for src, dst in ((lin[c], fa), (quad[c], fb)):
                cell = np.pad(src, 1)
                lo = [slice(1, -1)] * 3
                lo[c] = slice(0, n[c] + 1)
                hi = [slice(1, -1)] * 3
                hi[c] = slice(1, n[c] + 2)
                out = [slice(1, -1)] * 3
                out[c] = slice(1, n[c] + 2)
                dst[tuple(out)] = 0.5 * (cell[tuple(lo)] + cell[tuple(hi)])
            drag.append((be.asarray(fa, dt_), be.asarray(fb, dt_)))
        return drag

    def add_power(self, heat) -> None:
        vol = self.problem.grid.cell_volumes()
        for b, sl in zip(self.problem.porous, self.slices):
            if b.power:
                heat[sl] += b.power * vol[sl] / vol[sl].sum()

    def momentum_sink(self, c, vel):
        if self.drag[c] is None:
            return None
        a, b = self.drag[c]
        return a + b * self.mesh.be.xp.abs(vel[c])

    def report(self, ctx) -> list:
        p = self.problem
        rows = [porous_metrics(b, sl, ctx.velocity, ctx.phi * p.fluid.density, ctx.T,
                               p.grid, p.fluid)
                for b, sl in zip(p.porous, self.slices)]
        # each block's own energy balance: the heat its sources put in (its power and the
        # chips inside it) against the heat advection and conduction carry out of its
        # faces, power minus the net heat into its cells (equal once steady)
        for m, sl in zip(rows, self.slices):
            heat_in = float(ctx.sources[sl].sum())
            m["heat_in"] = heat_in
            m["heat_out"] = heat_in - float(ctx.Q[sl].sum())
        # a fan on a block's face or inside it (a server's fans, a CRAH's) raises the
        # pressure between the two points the block's drop is measured at: add its rise
        for m, b in zip(rows, p.porous):
            for f, op in zip(p.fans, ctx.components.get("fans", [])):
                a = "xyz".index(m["axis"])
                o = [x for x in range(3) if x != a]
                across = f.axis == a and b.lower[a] - 1e-9 <= f.position <= b.upper[a] + 1e-9
                inside = all(f.lower[x] < b.upper[x] and f.upper[x] > b.lower[x] for x in o)
                if across and inside:
                    m["pressure_drop"] += op["pressure_rise"]
        return rows
