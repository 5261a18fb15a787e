"""What a flow state tells: the fields on the interior cells, the heat leaving through each
face, the heat still being stored, and each term's figures (fans' operating points, chips'
junction temperatures, coolers' heat, porous blocks' drops), as a
:class:`~thermosim.flow.result.FlowResult`."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .problem import FACES
from .result import FlowResult


@dataclass
class ReportContext:
    """Host copies a term's report reads: interior fields (``velocity`` the three face
    arrays, ``phi`` m^2/s^2, ``T`` K), the padded backend arrays ``vel``/``phi_padded``,
    the net heat ``Q`` into each cell and the ``sources`` (W), and the ``flows`` and
    ``components`` gathered so far (a term may add to both)."""

    velocity: tuple
    phi: np.ndarray
    T: np.ndarray
    vel: list
    phi_padded: object
    Q: np.ndarray | None
    sources: np.ndarray | None
    flows: dict
    components: dict = field(default_factory=dict)


def flow_result(model, state, stats) -> FlowResult:
    """The result of ``model`` in ``state`` (with ``stats``, the run's counters)."""
    be, mesh, p = model.be, model.mesh, model.problem
    host = lambda a: np.asarray(be.to_host(a), dtype=np.float64)  # noqa: E731
    nx, ny, nz = mesh.shape
    u = host(state.vel[0])[1:nx + 2, 1:-1, 1:-1]
    v = host(state.vel[1])[1:-1, 1:ny + 2, 1:-1]
    w = host(state.vel[2])[1:-1, 1:-1, 1:nz + 2]
    phi = host(state.phi)[1:-1, 1:-1, 1:-1]
    if model.pressure.singular:
        phi = phi - phi[~mesh.solid].mean()
    Tpad = host(state.T)
    T = Tpad[1:-1, 1:-1, 1:-1]
    flows, power = heat_flows(model, Tpad, (u, v, w))
    Q = sources = None
    terms = model.terms
    if terms.coolers is not None or terms.porous is not None:
        # net heat into each cell (W): sources plus advection and conduction from the
        # cells around
        model.net_heat(state.T, state.vel, model._Q)
        Q = host(model._Q)[1:-1, 1:-1, 1:-1]
        sources = np.asarray(model.heat.power_host, float)
        if terms.chips is not None and terms.chips.plate_host is not None:
            sources = terms.chips.with_air_share(sources, T)  # what cold plates give air
    ctx = ReportContext((u, v, w), phi, T, state.vel, state.phi, Q, sources, flows)
    for t in terms.reporting():
        ctx.components[t.report_key] = t.report(ctx)
    r = FlowResult(p, u, v, w, phi, T, ~mesh.solid, stats, getattr(be, "name", "cpu"),
                   getattr(be, "device_name", ""), flows, power, mesh.block_index)
    r.components = ctx.components
    return r


def heat_flows(model, Tpad, vel) -> tuple[dict, float]:
    """Heat leaving through each domain face (W): carried by the flow (inflow and outflow
    faces, relative to no datum: their sum is what the flow takes away) and conducted
    through fixed-temperature faces; and the power put in (blocks, heat-flux faces)."""
    p = model.problem
    n = model.mesh.shape
    rhoc = p.fluid.volumetric_heat_capacity
    flows = {}
    power = float(sum(b.power for b in p.blocks) + sum(b.power for b in p.porous)
                  + sum(c.power for c in p.chips))
    g = p.grid
    for f, b in p.boundaries.items():
        if b.kind == "periodic":          # what leaves one face enters the other
            continue
        axis, side = FACES.index(f) // 2, FACES.index(f) % 2
        others = [a for a in range(3) if a != axis]
        area = np.multiply.outer(g.spacing(others[0]), g.spacing(others[1]))

        def at(a, i):
            sl = [slice(1, -1)] * 3
            sl[axis] = i
            return a[tuple(sl)]
        inner = at(Tpad, n[axis] if side else 1)
        halo = at(Tpad, n[axis] + 1 if side else 0)
        vn = vel[axis].take(-1 if side else 0, axis=axis)
        sign = 1.0 if side else -1.0                 # outward normal
        q = 0.0
        if b.kind in ("inflow", "outflow"):
            out = sign * vn
            Tf = np.where(out > 0, inner, halo)
            # enthalpy relative to the reference temperature: the faces' sum does not
            # depend on that datum (the flow conserves mass)
            q += float((rhoc * out * (Tf - p.reference_temperature) * area).sum())
        Gb = model.heat.G_host[axis].take(-1 if side else 0, axis=axis)
        q += float((Gb * (inner - halo)).sum())
        if b.heat_flux is not None:
            power += float(b.heat_flux * area.sum())
        if q != 0.0 or b.kind in ("inflow", "outflow") or b.temperature is not None:
            flows[f"{f} ({b.kind})"] = q
    return flows, power


class StoredHeat:
    """Heat being stored now over the power put into the fluid: the absolute net heat
    into every cell but the coolers' (whose heat they remove), summed, over the power
    (absolute values: zones warming and zones cooling do not cancel; cold-plated chips
    count with what they give the air, not what their coolant takes)."""

    def __init__(self, model):
        self.model = model
        mesh = model.mesh
        w = mesh.interior()
        if model.terms.coolers is not None:
            w *= model.terms.coolers.keep_host
        self.weight = model.be.asarray(w, model.dtype)
        self.power_in = model.arch.sum(float(model.heat.power_host.sum()))

    def fraction(self, state) -> float:
        m = self.model
        be, arch = m.be, m.arch
        m.net_heat(state.T, state.vel, m._Q)
        power = self.power_in
        chips = m.terms.chips
        if chips is not None and chips.plate is not None:
            # the power put into the fluid: cold-plated chips give it only their air share
            # (all of the power if that is none: plates alone, in a fluid they cool)
            power += abs(arch.sum(chips.air_share(state.T)))
            if power <= 0.0:
                power = sum(c.power for c in m.problem.chips)
        stored = arch.sum(be.xp.sum(be.xp.abs(m._Q) * self.weight))
        return stored / max(power, 1e-300)
