"""The normal velocity on an outflow face in the steady outer iterations: its own momentum.

An outflow face holds phi = 0 (the pressure halo mirrors the last cell, :class:`~.boundaries.
Outflow`).  The time march and the implicit steps predict its normal velocity as a copy of
the face behind (zero gradient) and let the projection correct it.  Copied in every outer
iteration, that copy is an equation of the fixed point (w_b = w_behind), and with the
last cell's continuity it asks the flow in the last layer to spread sideways without
divergence: where the liquid leaves unevenly (an immersion tank, its servers' plumes under
the open surface) the projection's correction of the face and the next copy fought, and
the quick tank's outer iterations stalled near a velocity residual of 5 (800 iterations,
issue 19, stop 44).  Not copied at all, nothing ties the last cells' pressure to the face's
zero and the fixed point is not unique (a heated channel's outflow velocity 0.09 apart
between one mesh and cycles: see :class:`~.outer.OuterIteration`).

Here the face has the momentum equation of a pressure outlet instead, advanced by the
global pseudo-step before the projection:

    dw/dt = -u_n dw/dn (upwind, leaving only) + nu_e (d2w/dn2 + lateral Laplacian)
            - beta g (T_P - T_ref) - dphi/dn,     dphi/dn = (0 - phi_P) / (h_P / 2)

with w beyond the face equal to w (zero gradient: d2w/dn2 = (w_behind - w) / h_P^2), the
last cell's temperature and eddy viscosity (nu_e = nu + nu_t), lateral neighbours that are
not fluid taken as no-slip walls half a cell away; and the liquid only leaves: where the
pressure would draw it back in, the face is closed (w = 0), as a tank's surface is but
for its weir.  Its fixed point is a traction-free outlet that lets nothing in.

Measured (issue 19, stop 44, one thread), outer iterations of the immersion tank (2
tanks) on 0.05 / 0.038 / 0.0333 / 0.025 / 0.0222 / 0.019 m cells (11,115 / 26,244 /
38,626 / 82,764 / 129,465 / 190,944 cells), with the projection held to the residual's
speed (:mod:`.outer`): 260 / 248 / 684 / 307 / 401 / 657 (with the energy first and the
tank's weights of Anderson, stop 45: 161 / 135 / 255 / 234 / 574 / 448); with the copy
963 / stalled near 5e-2 at 660 / stalled near 5 at 940.  Before that floor: this outlet
311 / 238 / stalled (0.18 at 830) / 319 / 1.2e-2 at 1,480 / stalled (5.4e-2 at 980);
open both ways 329 / stalled near 6 at 670 (413 of the 960 top faces drawing oil in at
up to 3.0 cm/s) / - / stalled near 11 at 600; the copy 396 / stalled near 2e-2 at 660 (and with the energy's
pseudo-step at the momentum's, 5.5 at 800 on 0.05 m).  The quick tank's hottest junction
82.0265 degC, the march's 82.0256; on 0.038 m 81.0846 against the march's time mean over
9,000 steps, 81.0845.  The face's local step (up to ten times the global one,
:mod:`.local_steps`) instead of the global one: 477 on the quick tank then.

Since stop 48 the face takes its own local step where the iterations have them: the step
the projection's d already took for it (the face's conductance in the pressure operator,
``LocalSteps.update``), so that the face moves under a pressure gradient as the correction
assumes; with the global step it moved up to ten times less.  The fixed point is the same
(the step only scales the update).  At the 0.025 m tank's answer the outer iteration's
slowest modes (benchmarks/outer_spectrum.py: real eigenvalues 1.03-1.06 and a cluster near
1) were the top layer's w with the temperature, over the servers' tops.  Outer iterations
on the six meshes above (one thread, with the energy first and the tank's weights of
Anderson): 161 / 135 / 259 / 233 / 583 / 516 with the global step, 155 / 164 / 238 / 238 /
262 / 168 with the face's own (the 0.019 m tank in 38 s, not 97); four tanks on 0.05 /
0.025 m 160 / 237 against 160 / 253; the fluorocarbon (``fluid: fc40``) on 0.05 / 0.025 m
stalled at 870 and not steady in 1,240 with the global step, steady in 1,138 and 521 with
the face's own (0.0222 m: stalled near 1.8 at 670).

Only in the steady iterations with local pseudo-steps (the halls and tanks, whose terms lag
the flow: :func:`~.problem.lagged`); implicit time steps keep the march's prediction (a
copy in their first outer iteration, the projection after), and the multigrid cycles of
the laminar cases keep the copy, because a coarse level has no forcing for the face (its
residual is not among the restricted ones), and with the face's equation there the heated
channel's cycles ran away (2e4 m/s by the 72nd iteration).
"""

from __future__ import annotations


def predict(it, state, dt: float) -> None:
    """The outflow faces' normal velocity (m/s) before the projection of one outer
    iteration ``it`` at ``state``; ``dt``: its global pseudo-step (s)."""
    m = it.model
    if it.local is None or it.step is not None:     # cycles, implicit time steps
        m.boundaries.extrapolate(state.vel)
        return
    for b in m.boundaries.open:
        _advance(it, b, state, dt)


def _advance(it, b, state, dt: float) -> None:
    m = it.model
    mesh, xp = m.mesh, m.be.xp
    vel, a = state.vel, b.axis
    sgn = 1.0 if b.side else -1.0               # the outward normal along axis a
    hP = float(mesh.h_host[a][b.inner])
    w, wb = vel[a][b.at_normal], vel[a][b.at_behind]
    fluid = mesh.fluid[b.at_inner] != 0         # the last layer of cells, padded
    nu = m.problem.fluid.kinematic_viscosity
    eddy = m.terms.eddy
    nue = nu if eddy is None else nu + eddy.nut[b.at_inner]
    out = sgn * w                               # > 0: leaving
    force = xp.where(out > 0, -out * (w - wb) / hP, 0.0) + nue * (wb - w) / hP ** 2
    rate = xp.maximum(out, 0.0) / hP + nue / hP ** 2
    lateral, lateral_rate = _lateral(mesh, xp, b, w, fluid)
    force = force + nue * lateral
    rate = rate + nue * lateral_rate
    buoy = m.terms.buoyancy
    force = force - buoy.coefficient(a) * (state.T[b.at_inner] - buoy.reference_temperature)
    force = force + sgn * state.phi[b.at_inner] / (0.5 * hP)      # -dphi/dn, phi = 0 on it
    # the face's own local pseudo-step where the iterations have them: the step the
    # projection's d takes for this face (its conductance, LocalSteps.update), so that
    # the face moves under a pressure gradient as the correction assumes
    inv = 1.0 / dt if it.local.inv[a] is None else it.local.inv[a][b.at_normal]
    # leaving only: where the pressure would draw the liquid back in, the face is closed
    new = sgn * xp.maximum(sgn * (w + force / (inv + rate)), 0.0)
    vel[a][b.at_normal] = xp.where(fluid, new, 0.0)


def _lateral(mesh, xp, b, w, fluid):
    """The Laplacian (1/m^2 times m/s) of the face layer ``w`` along its two tangential
    axes, and its diagonal (1/m^2): neighbours whose cell is fluid through their centre
    distance, others as no-slip walls half a cell away."""
    lap = xp.zeros_like(w)
    diag = xp.zeros_like(w)
    axes = [t for t in range(3) if t != b.axis]
    for k, t in enumerate(axes):
        if mesh.shape[t] < 2:
            continue
        shp = [1, 1]
        shp[k] = -1
        h = mesh.h[t].reshape(shp)
        d = mesh.d[t].reshape(shp)
        n = w.shape[k]
        mid, lo, hi = [slice(None)] * 2, [slice(None)] * 2, [slice(None)] * 2
        mid[k], lo[k], hi[k] = slice(1, n - 1), slice(0, n - 2), slice(2, n)
        mid, lo, hi = tuple(mid), tuple(lo), tuple(hi)
        hm, dm, dp = h[mid], d[mid], d[hi]
        for nb, dist in ((hi, dp), (lo, dm)):
            open_ = fluid[nb]
            c = xp.where(open_, 1.0 / dist, 2.0 / hm) / hm
            lap[mid] += c * (xp.where(open_, w[nb], 0.0) - w[mid])
            diag[mid] += c
    return lap, diag
