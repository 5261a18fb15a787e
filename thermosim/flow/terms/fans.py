"""Fans: a plane of faces that either holds a fixed volume flow (m^3/s) or adds the
pressure rise its curve gives at the flow now through it (a source ``dp / (rho d)`` in
m/s^2 on its faces, lagged by a step)."""

from __future__ import annotations

import numpy as np

from ...components import fan_faces
from ...errors import CaseError
from .base import Term


class Fans(Term):
    report_key = "fans"

    def __init__(self, problem, mesh, arch):
        self.problem, self.mesh, self.arch = problem, mesh, arch
        g, n = problem.grid, mesh.shape
        fl = mesh.fluid_host != 0
        self.faces = []                     # per fan, host mask of its faces (padded)
        held = [np.zeros((n[0] + 2, n[1] + 2, n[2] + 2), bool) for _ in range(3)]
        for f in problem.fans:
            i, sl = fan_faces(g, f)
            a = f.axis
            idx = [slice(s_.start + 1, s_.stop + 1) if s_ is not None else i for s_ in sl]
            lo = list(idx)
            lo[a] = i - 1
            open_ = fl[tuple(idx)] & fl[tuple(lo)]
            if not open_.any():
                raise CaseError(f"fan '{f.name}' has no fluid on both sides of its plane",
                                f"fans.{f.name}")
            m = np.zeros_like(held[a])
            m[tuple(idx)] = open_
            if f.flow is not None:
                if (held[a] & m).any():
                    raise CaseError(f"fan '{f.name}' overlaps another fan", f"fans.{f.name}")
                held[a] |= m
            self.faces.append(m)
        self.held_host = held if any(h.any() for h in held) else None

    def held_faces(self, axis: int):
        return None if self.held_host is None else self.held_host[axis]

    def build(self) -> None:
        """Backend arrays, per axis: the fan (1-based, 0 none) of each face, direction x
        area (for the flow through each fan, one weighted bincount) and direction /
        (rho d) (the source per pascal of a curve fan); the held faces' keep/value."""
        be, dt_, p, n = self.mesh.be, self.mesh.dtype, self.problem, self.mesh.shape
        nf = len(p.fans)
        self.pressure_rise = np.zeros(nf)         # Pa, per fan
        self.flow = np.zeros(nf)                  # m^3/s, per fan
        self.by_axis = []
        src = [None, None, None]
        rho = p.fluid.density
        for c in range(3):
            ks = [k for k, f in enumerate(p.fans) if f.axis == c]
            if not ks:
                continue
            ids = np.zeros([s + 2 for s in n], np.int32)
            aw = np.zeros(ids.shape)
            geo = np.zeros(ids.shape)
            area = self.mesh.face_area(c)
            shp = [1, 1, 1]
            shp[c] = -1
            inv_d = 1.0 / self.mesh.d_host[c].reshape(shp)
            for k in ks:
                f, m = p.fans[k], self.faces[k]
                ids[m] = k + 1
                aw[m] = (f.direction * area)[m]
                if f.curve is not None:
                    geo[m] = np.broadcast_to(f.direction / rho * inv_d, m.shape)[m]
            curve = any(p.fans[k].curve is not None for k in ks)
            self.by_axis.append((c, be.asarray(ids, np.int32), be.asarray(aw, dt_),
                                 be.asarray(geo, dt_) if curve else None))
            if curve:
                src[c] = be.zeros(ids.shape, dt_)
        self.source = src
        self.rate = [None if x is None else be.zeros(x.shape, dt_) for x in src]
        self.slope_area = np.zeros(nf)            # -d(dp)/dQ x the fan's area, Pa s/m
        self.held = None
        if self.held_host is not None:
            self.held = []
            for c in range(3):
                h = self.held_host[c]
                if not h.any():
                    self.held.append(None)
                    continue
                value = np.zeros(h.shape)
                area = self.mesh.face_area(c)
                for f, m in zip(p.fans, self.faces):
                    if f.axis == c and f.flow is not None:
                        value[m] = f.direction * f.flow / area[m].sum()
                self.held.append((be.asarray(np.where(h, 0.0, 1.0), dt_),
                                  be.asarray(value, dt_)))

    def update(self, vel, T) -> None:
        """Each curve fan's pressure rise at the flow now through it."""
        p, be = self.problem, self.mesh.be
        xp = be.xp
        nf = len(p.fans)
        Q = np.zeros(nf + 1)
        for c, ids, aw, _ in self.by_axis:
            Q += np.asarray(be.to_host(xp.bincount(
                ids.ravel(), weights=(vel[c] * aw).ravel(), minlength=nf + 1)), float)
        self.flow = np.array([self.arch.sum(q) for q in Q[1:]])
        for k, f in enumerate(p.fans):
            if f.curve is not None:
                q = float(self.flow[k])
                self.pressure_rise[k] = f.pressure_rise(q)
                # the curve's slope there, for the steady solver's operator
                eps = 1e-3 * max(abs(q), self.fan_scale(k))
                slope = (f.pressure_rise(q + eps) - f.pressure_rise(q - eps)) / (2 * eps)
                self.slope_area[k] = max(-slope, 0.0) * self.areas[k]
        table = xp.asarray(np.concatenate([[0.0], self.pressure_rise]).astype(self.mesh.dtype))
        slopes = xp.asarray(np.concatenate([[0.0], self.slope_area]).astype(self.mesh.dtype))
        for c, ids, _, geo in self.by_axis:
            if geo is not None:
                self.source[c][...] = geo * table[ids]
                # |direction| = 1: the rate is the source's fall per m/s on every face at once
                self.rate[c][...] = xp.abs(geo) * slopes[ids]

    def fan_scale(self, k: int) -> float:
        """A flow scale of fan k (m^3/s): the largest flow of its curve."""
        f = self.problem.fans[k]
        return max(abs(float(q)) for q, _ in f.curve) or 1.0

    @property
    def areas(self) -> np.ndarray:
        """Each fan's open area (m^2)."""
        if getattr(self, "_areas", None) is None:
            self._areas = np.array([
                self.arch.sum(float((self.mesh.face_area(f.axis) * m).sum()))
                for f, m in zip(self.problem.fans, self.faces)])
        return self._areas

    def implicit_rate(self, c, vel, coupled=False):
        return self.rate[c]

    def add_momentum(self, c, vel, T, rhs) -> None:
        if self.source[c] is not None:
            self.mesh.be.axpy(rhs, 1.0, self.source[c])

    def hold_velocity(self, vel) -> None:
        if self.held is None:
            return
        for c in range(3):                      # fixed-flow fans' faces
            if self.held[c] is not None:
                keep, value = self.held[c]
                vel[c] *= keep
                vel[c] += value

    def operating_points(self, vel, phi) -> list[dict]:
        """Per fan: flow (m^3/s) and pressure rise (Pa): the curve's at that flow, or for a
        fixed-flow fan the static pressure jump across its plane."""
        out = []
        host = self.mesh.be.to_host
        phi = np.asarray(host(phi), float)
        rho = self.problem.fluid.density
        for k, f in enumerate(self.problem.fans):
            m = self.faces[k]
            area = self.mesh.face_area(f.axis)
            Q = f.direction * self.arch.sum(
                (np.asarray(host(vel[f.axis]), float) * m * area).sum())
            down = phi if f.direction > 0 else np.roll(phi, 1, axis=f.axis)
            up = np.roll(phi, 1, axis=f.axis) if f.direction > 0 else phi
            jump = self.arch.sum(((down - up) * m * area).sum()) / \
                self.arch.sum((m * area).sum()) * rho
            dp = f.pressure_rise(Q) if f.curve is not None else jump
            out.append({"name": f.name, "flow": Q, "pressure_rise": dp, "static_jump": jump,
                        "mode": "curve" if f.curve is not None else "fixed flow"})
        return out

    def report(self, ctx) -> list:
        return self.operating_points(ctx.vel, ctx.phi_padded)
