"""Cooling components (porous blocks, fans, coolers, chips), the zero-equation turbulence
model and the air-cooled rack layout.

Analytic references: in a duct with slip walls the flow is uniform, so a fan's operating
point is where its curve meets the porous block's loss, exactly; the turbulent channel's
friction factor is Dean's correlation (R. B. Dean, "Reynolds number dependence of skin
friction and other bulk flow variables in two-dimensional rectangular duct flow", J. Fluids
Eng. 100, 1978): C_f = 0.073 Re_m^-1/4, Re_m = U_b 2 delta / nu.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from conftest import QUICK_HALLS, gpu_ok
from thermosim.components import (Chip, ColdPlate, Cooler, Fan, PorousBlock, cold_plate_split,
                                  perforated_plate_loss)
from thermosim.errors import CaseError, SolverError
from thermosim.flow import FlowBoundary, FlowProblem, FlowSolver, Fluid
from thermosim.grid import Grid
from thermosim import turbulence as turb

SLIP = {f: FlowBoundary("slip") for f in ("y-", "y+", "z-", "z+")}
PERIODIC_X = {"x-": FlowBoundary("periodic"), "x+": FlowBoundary("periodic")}


def _air(viscous=True):
    air = Fluid.from_coolprop("air", 300.0)
    if viscous:
        # a slow-diffusing air would leave central advection undamped on this coarse duct;
        # the uniform flow does not depend on the viscosity (slip walls)
        air = dataclasses.replace(air, viscosity=air.density * 0.02,
                                  conductivity=air.volumetric_heat_capacity * 0.02)
    return air


def _duct(fan: Fan, power=1000.0, chips=(), backend="cpu"):
    """A periodic duct 2 m long, 0.4 x 0.4 m: a fan, a server (K = 10 over 0.4 m, sideways
    blocked) with ``power``, and a coil at 300 K."""
    g = Grid.uniform((0, 0, 0), (2, 0.4, 0.4), (40, 4, 4))
    air = _air()
    server = PorousBlock.with_loss("rack/server", (0.8, 0, 0), (1.2, 0.4, 0.4), 0,
                                   loss_coefficient=10.0, density=air.density, power=power)
    coil = Cooler("coil", (1.6, 0, 0), (1.8, 0.4, 0.4), 300.0)
    p = FlowProblem(g, air, {**PERIODIC_X, **SLIP}, porous=[server], fans=[fan],
                    coolers=[coil], chips=list(chips), name="duct")
    return p, FlowSolver(p, backend)


def _fan(**kw):
    return Fan("fan", 0, 0.4, (0, 0, 0), (2, 0.4, 0.4), 1, **kw)


def test_fan_sits_where_its_curve_meets_the_server_loss():
    p, s = _duct(_fan(curve=((0.0, 200.0), (0.5, 0.0))))
    r = s.run(tolerance=1e-7)
    rho = p.fluid.density
    A = 0.16
    # 200 (1 - Q/0.5) = rho K (Q/A)^2 / 2, K = 10
    a, b, c = rho * 10 / (2 * A * A), 400.0, -200.0
    Q = (-b + math.sqrt(b * b - 4 * a * c)) / (2 * a)
    fan = r.components["fans"][0]
    assert fan["flow"] == pytest.approx(Q, rel=1e-6)
    assert fan["pressure_rise"] == pytest.approx(200 * (1 - Q / 0.5), rel=1e-6)
    assert fan["static_jump"] == pytest.approx(fan["pressure_rise"], rel=1e-6)
    server = r.components["porous"][0]
    assert server["pressure_drop"] == pytest.approx(rho * 10 * (Q / A) ** 2 / 2, rel=1e-6)


def test_fixed_flow_fan_holds_its_flow_and_reports_the_pressure_it_needs():
    p, s = _duct(_fan(flow=0.3))
    r = s.run(tolerance=1e-7)
    fan = r.components["fans"][0]
    assert fan["flow"] == pytest.approx(0.3, rel=1e-12)
    u = 0.3 / 0.16
    assert fan["pressure_rise"] == pytest.approx(p.fluid.density * 10 * u * u / 2, rel=1e-6)


def test_a_fan_driven_runaway_stops_with_what_to_change():
    """A room driven by fans alone (this duct is periodic, slip-walled) has no boundary
    velocity to measure a runaway by; its fans' fastest speed does: a curve's highest
    pressure rise all turned into speed, sqrt(2 x 200 Pa / rho) = 18.6 m/s here, or a
    fixed flow over its plane's area.  At ten times that the run stops with what to
    change (the 1.2e6-cell hall reached 3,900 m/s unseen); at nine it goes on; and not
    where something else drives faster than the fans (an inflow, buoyancy, a body force:
    the free-fall speed over the domain)."""
    p, s = _duct(_fan(curve=((0.0, 200.0), (0.5, 0.0))))
    rho = p.fluid.density
    assert s.fan_speed == pytest.approx(math.sqrt(400.0 / rho), rel=1e-12)
    assert 18.0 < s.fan_speed < 19.0
    assert _fan(flow=0.3).driving_speed(rho) == pytest.approx(0.3 / 0.16, rel=1e-12)
    # a fixed flow's speed over the faces it blows through (half its plane blocked: twice)
    assert _fan(flow=0.3).driving_speed(rho, 0.08) == pytest.approx(0.3 / 0.08, rel=1e-12)
    assert _duct(_fan(flow=0.3))[1].fan_speed == pytest.approx(0.3 / 0.16, rel=1e-12)
    s.vel[0][5, 2, 2] = 9.0 * s.fan_speed
    s.check_divergence(s.scales()[0])
    s.vel[0][5, 2, 2] = 11.0 * s.fan_speed
    with pytest.raises(SolverError, match=r"ran away to 20\d m/s \(11 x 18\.\d m/s, the "
                                          r"fastest the fans can drive\) at step 0"):
        s.check_divergence(s.scales()[0])
    # a weak fan (0.5 Pa: 0.93 m/s) in a duct that a body force of 10 m/s^2 drives faster
    # (free fall over its 0.4 m: 2 m/s): 15 m/s is not yet a runaway, 25 m/s is
    p, s = _duct(_fan(curve=((0.0, 0.5), (0.5, 0.0))))
    s = FlowSolver(dataclasses.replace(p, body_force=(10.0, 0.0, 0.0)), "cpu")
    assert s.fan_speed == pytest.approx(math.sqrt(1.0 / rho), rel=1e-12)
    s.vel[0][5, 2, 2] = 15.0
    s.check_divergence(s.scales()[0])
    s.vel[0][5, 2, 2] = 25.0
    with pytest.raises(SolverError, match="ran away to 25 m/s"):
        s.check_divergence(s.scales()[0])


def test_each_component_conserves_energy():
    """Server: the heat leaving its faces equals its power; coil: removes all of it; chips
    inside the server count towards its heat (issue 4: within 0.1 %)."""
    chip = Chip("rack/server/GPU1", (0.9, 0.1, 0.1), (1.1, 0.3, 0.3), 500.0, 0.05, 0.02,
                limit=360.0, kind="GPU")
    p, s = _duct(_fan(flow=0.3), power=1000.0, chips=[chip])
    r = s.run(tolerance=1e-7)
    server = r.components["porous"][0]
    assert server["heat_in"] == pytest.approx(1500.0, rel=1e-12)
    assert server["heat_out"] == pytest.approx(1500.0, rel=1e-3)
    coil = r.components["coolers"][0]
    assert coil["heat_removed"] == pytest.approx(1500.0, rel=1e-3)
    assert r.energy_balance_error < 1e-3
    # the air warms by P / (m c_p) through the server (cell-centre temperatures either
    # side of it: 2 %, what conduction over the coarse cells moves)
    rise = 1500.0 / (0.3 * p.fluid.density * p.fluid.specific_heat)
    assert server["outlet_temperature"] - server["inlet_temperature"] == \
        pytest.approx(rise, rel=0.05)
    c = r.components["chips"][0]
    assert c["case_temperature"] == pytest.approx(c["air_temperature"] + 500 * 0.05)
    assert c["junction_temperature"] == pytest.approx(c["case_temperature"] + 500 * 0.02)


def _plate(flow=1.5 / 6e4, resistance=0.02, inlet=303.15):
    water = Fluid.from_coolprop("water", inlet)
    return ColdPlate(resistance, flow, inlet, "water", 15e3, water.density,
                     water.specific_heat)


def test_cold_plate_compact_model_limits_and_split():
    """The plate's effective resistance R + 1 / (2 m c_p) (case over a coolant warming
    linearly under a uniform flux) meets the isothermal-case heat-exchanger form
    1 / (eps m c_p) where R m c_p >> 1 (their difference falls as 1 / (12 R (m c_p)^2));
    the split of a chip's power between the coolant and the air satisfies both paths'
    equations."""
    for flow in (1.5 / 6e4, 15 / 6e4, 150 / 6e4):
        cp = _plate(flow, 0.02)
        C = cp.capacity_rate
        assert cp.effective_resistance - 0.02 == pytest.approx(0.5 / C, rel=1e-12)
        iso = 1.0 / (C * -math.expm1(-1.0 / (0.02 * C)))
        assert abs(iso - cp.effective_resistance) < 1.1 / (12 * 0.02 * C * C)
    cp = _plate()
    P, Ra, Tair = 700.0, 2.0, 300.0
    s = cold_plate_split(P, cp, Ra, Tair)
    assert s["heat_to_air"] + s["heat_to_liquid"] == pytest.approx(P, rel=1e-12)
    Tc = s["case_temperature"]
    assert (Tc - cp.inlet_temperature) / cp.effective_resistance == \
        pytest.approx(s["heat_to_liquid"], rel=1e-12)
    assert (Tc - Tair) / Ra == pytest.approx(s["heat_to_air"], rel=1e-12)
    assert s["coolant_outlet_temperature"] - cp.inlet_temperature == \
        pytest.approx(s["heat_to_liquid"] / cp.capacity_rate, rel=1e-12)
    # air hotter than the plate's no-air-path case temperature: the plate cools the air
    hot = cold_plate_split(P, cp, Ra, cp.inlet_temperature + P * cp.effective_resistance + 10)
    assert hot["heat_to_air"] < 0 and hot["heat_to_liquid"] > P


def test_plate_mean_rise_meets_its_limits_and_a_marched_plate():
    """The closed-form mean case rise of a uniformly heated plate with axial conduction
    against a finite-volume march of the same balances (2,000 cells along the plate), and
    its limits: no conduction R + 1/(2C), infinite conduction the isothermal 1/(eps C)."""
    from thermosim.components import plate_mean_rise

    def marched(R, C, G, N=2000):
        g, gax, q = 1.0 / (R * N), G * N, 1.0 / N
        n = 2 * N + 1
        A, b = np.zeros((n, n)), np.zeros(n)
        for i in range(N):                     # base cell i, coolant faces N+i, N+i+1
            A[i, i] -= g
            A[i, N + i] += g / 2
            A[i, N + i + 1] += g / 2
            for j in (i - 1, i + 1):
                if 0 <= j < N:
                    A[i, i] -= gax
                    A[i, j] += gax
            b[i] = -q
            A[N + i + 1, N + i + 1] += C + g / 2
            A[N + i + 1, N + i] += -C + g / 2
            A[N + i + 1, i] -= g
        A[N, N] = 1.0
        return np.linalg.solve(A, b)[:N].mean()

    R, C = 2.0, 0.17
    for G in (0.01, 0.09, 1.0):
        assert plate_mean_rise(R, C, G) == pytest.approx(marched(R, C, G), rel=1e-4)
    assert plate_mean_rise(R, C, 1e-9) == pytest.approx(R + 0.5 / C, rel=1e-6)
    assert plate_mean_rise(R, C, None) == R + 0.5 / C
    assert plate_mean_rise(R, C, 1e6) == pytest.approx(1 / (C * -math.expm1(-1 / (R * C))),
                                                       rel=1e-5)


def test_resolved_cold_plate_matches_its_compact_model():
    """A resolved copper mini-channel plate (one channel's unit cell, laminar water, two
    cells across the channel) against the compact model built from the same geometry:
    within 10 % (issue 4), and between the model's no-conduction and isothermal limits.
    (``thermosim validate --suite flow --case cold_plate_compact``: also four cells across,
    grid-converged to 1 %.)"""
    from thermosim.flow_verification import cold_plate_run

    r = cold_plate_run(2)
    assert abs(r["resolved"] / r["compact"] - 1) < 0.10
    assert r["uniform_flux"] < r["resolved"] < r["isothermal"]


def test_cold_plated_chip_conserves_energy_in_the_flow():
    """A cold-plated 700 W chip in the duct's server: the coil removes the server's power
    and the chip's air share, the coolant the rest; together the whole power to 0.1 %
    (issue 4), and the server's faces carry out what its air received."""
    chip = Chip("rack/server/GPU1", (0.9, 0.1, 0.1), (1.1, 0.3, 0.3), 700.0, 0.5, 0.02,
                limit=360.0, kind="GPU", cold_plate=_plate(inlet=305.0))
    p, s = _duct(_fan(flow=0.3), power=1000.0, chips=[chip])
    r = s.run(tolerance=1e-7)
    c = r.components["chips"][0]
    assert c["heat_to_air"] + c["heat_to_liquid"] == pytest.approx(700.0, rel=1e-12)
    assert 0 < c["heat_to_air"] < 0.1 * 700            # most of it to the liquid
    coil = r.components["coolers"][0]
    assert coil["heat_removed"] + c["heat_to_liquid"] == pytest.approx(1700.0, rel=1e-3)
    assert coil["heat_removed"] == pytest.approx(1000.0 + c["heat_to_air"], rel=1e-3)
    server = r.components["porous"][0]
    assert server["heat_in"] == pytest.approx(1000.0 + c["heat_to_air"], rel=1e-9)
    assert server["heat_out"] == pytest.approx(server["heat_in"], rel=1e-3)
    assert r.energy_balance_error < 1e-3
    assert c["junction_temperature"] == pytest.approx(c["case_temperature"] + 700 * 0.02)


def test_porous_sink_is_stable_at_any_resistance():
    """A perforated tile 5 % open (K ~ 300) in a duct: the point-implicit sink takes the
    fluid's own step, and the fixed-flow fan's pressure is the tile's loss."""
    g = Grid.uniform((0, 0, 0), (1, 0.2, 0.2), (20, 2, 2))
    air = _air()
    K = perforated_plate_loss(0.05)
    tile = PorousBlock.with_loss("tile", (0.5, 0, 0), (0.55, 0.2, 0.2), 0, K,
                                 density=air.density)
    p = FlowProblem(g, air, {**PERIODIC_X, **SLIP}, porous=[tile],
                    fans=[Fan("fan", 0, 0.2, (0, 0, 0), (1, .2, .2), 1, flow=0.04)])
    r = FlowSolver(p).run(tolerance=1e-7)
    u = 0.04 / 0.04
    assert r.components["fans"][0]["pressure_rise"] == pytest.approx(
        air.density * K * u * u / 2, rel=1e-6)


def test_perforated_plate_loss_matches_idelchik():
    # Idelchik diagram 8-1 values: f = 0.5 -> K = 4.0 (tabulated 4.0), f = 0.25 -> 30.6 (29.8)
    assert perforated_plate_loss(0.5) == pytest.approx(4.0, rel=0.03)
    assert perforated_plate_loss(0.25) == pytest.approx(29.8, rel=0.03)
    assert perforated_plate_loss(1.0) == 0.0
    with pytest.raises(CaseError):
        perforated_plate_loss(0.0)


def test_fan_curve_must_increase():
    with pytest.raises(CaseError, match="flow increasing"):
        _fan(curve=((0.5, 0.0), (0.0, 200.0)))
    with pytest.raises(CaseError, match="either a curve or a flow"):
        _fan()


# -- turbulence ------------------------------------------------------------------------------
def test_spalding_inversion_and_its_limits():
    re = np.logspace(-6, 10, 400)
    up = turb.spalding_uplus(re)
    assert np.allclose(up * turb.spalding_yplus(up), re, rtol=1e-12)
    # viscous sublayer: u+ = y+; log layer: u+ = ln(y+)/kappa + B (Spalding's asymptotes)
    assert turb.spalding_uplus(np.array([1e-4]))[0] == pytest.approx(1e-2, rel=1e-3)
    big = turb.spalding_uplus(np.array([1e8]))[0]
    assert big == pytest.approx(math.log(1e8 / big) / turb.KAPPA + turb.B_LOG, rel=2e-3)
    # the wall function is the laminar shear in the sublayer, rho u_tau^2 above it
    assert turb.wall_viscosity_ratio(np.array([1e-3]))[0] == pytest.approx(1.0, rel=1e-6)
    r = turb.wall_viscosity_ratio(np.array([1e4]))[0]
    u = turb.spalding_uplus(np.array([1e4]))[0]
    assert r == pytest.approx(turb.spalding_yplus(u) / u, rel=1e-12)


def _turbulent_channel(ny, model="lvel", backend="cpu"):
    from thermosim.flow_verification import turbulent_channel_problem

    p = turbulent_channel_problem(ny, model=model)
    return p, FlowSolver(p, backend)


def test_turbulent_channel_friction_matches_dean():
    """LVEL with Escudier's length cap, wall functions on a coarse grid (first cell at y+ 49):
    C_f within 10 % of Dean's correlation (issue 4).  Full grids (16, 32 cells: +1.2 %,
    +5.8 %) in the README."""
    from thermosim.flow_verification import channel_cf

    p, s = _turbulent_channel(8)
    cf, dean, yp = channel_cf(s.run(tolerance=1e-5))
    assert abs(cf / dean - 1) < 0.10, (cf, dean)
    assert yp == pytest.approx(49.4, abs=0.1)
    # the eddy viscosity dominates in the core, vanishes outside the fluid
    nut = np.asarray(s.model.terms.eddy.model.nut)
    assert nut[2, 1:-1, 1].max() > 10 * p.fluid.kinematic_viscosity
    assert nut[2, 0, 1] == 0


def test_smagorinsky_strain_rate_of_a_uniform_shear():
    """|S| = sqrt(2 S_ij S_ij) = S for u = S y (exact for a linear profile) away from the
    walls, and nu_t = (C_s Delta f)^2 |S| with van Driest's f <= 1."""
    p, s = _turbulent_channel(16, "smagorinsky")
    S = 3.0
    yc = p.grid.centres(1)
    u = np.asarray(s.vel[0])
    u[:, 1:-1, :] = S * yc[None, :, None]
    s.vel[0][...] = u
    rate = np.asarray(s.model.terms.eddy.model.strain_rate(s.vel))
    assert rate[2, 4:13, 1] == pytest.approx(S, rel=1e-12)
    s.model.terms.eddy.model.update(s.vel)
    nut = np.asarray(s.model.terms.eddy.model.nut)[2, 1:-1, 1]
    vol = p.grid.cell_volumes()[0, :, 0]
    bound = (turb.SMAGORINSKY_CS ** 2) * vol ** (2 / 3) * S
    assert np.all(nut[4:12] <= bound[4:12] * (1 + 1e-12))
    # van Driest's damping with y+ from the law of the wall at the local |u| y / nu
    y = np.minimum(yc, 2 - yc)[4:12]
    re = S * yc[4:12] * y / p.fluid.kinematic_viscosity
    yp = turb.spalding_yplus(turb.spalding_uplus(re))
    assert nut[4:12] == pytest.approx(bound[4:12] * (1 - np.exp(-yp / 26)) ** 2, rel=1e-9)


def test_wall_shear_is_spaldings_and_lvel_the_law_of_the_wall():
    """The turbulence kernels against the law of the wall (thermosim.turbulence's array
    functions, Spalding 1961).  A plug flow U = 20 u_tau in a channel, nu_t = 0: the
    first row's momentum loses the wall shear u_tau^2 = (U / u+)^2 at Re = U h/2 / nu
    (the laminar part nu U / (h/2) is the laminar operator's), the rows inside nothing;
    the wall function's rate is its extra viscosity over (h/2)^2, and its rate on the
    steady solver's diagonal the extra viscosity over h/2 h.  LVEL's nu_t in a cell
    is nu (dy+/du+ - 1) at its own |u| y / nu, or Escudier's cap (0.09 delta)^2 |S|."""
    p, s = _turbulent_channel(8)
    eddy = s.model.terms.eddy
    ev = eddy.model
    nu, U = p.fluid.kinematic_viscosity, 20.0
    vel = [np.zeros_like(np.asarray(v)) for v in s.vel]
    vel[0][:, 1:-1, :] = U                       # the wall halos keep the wall's 0
    ev.nut[...] = 0
    out = np.zeros_like(vel[0])
    ev.add_momentum(0, vel, out, eddy.computed[0])
    half = 0.5 * p.grid.spacing(1)[0]
    re = U * half / nu
    up = turb.spalding_uplus(np.array([re]))[0]
    extra = (turb.wall_viscosity_ratio(np.array([re]))[0] - 1.0) * nu
    assert re > 100 and extra > 2 * nu            # the log layer, not the sublayer
    assert -out[2, 1, 1] * 2 * half == pytest.approx((U / up) ** 2 - nu * U / half, rel=1e-12)
    assert out[2, -2, 1] == pytest.approx(out[2, 1, 1], rel=1e-12)    # the upper wall
    assert np.all(out[2, 2:-2, 1] == 0)
    # the steady solver's diagonal there: the wall shear's rate with u_P, extra / (h/2 h)
    diag = np.asarray(ev.wall_diagonal[0])
    assert diag[2, 1, 1] == pytest.approx(extra / (half * 2 * half), rel=1e-12)
    assert diag[2, -2, 1] == pytest.approx(diag[2, 1, 1], rel=1e-12)
    assert np.all(diag[2, 2:-2, 1] == 0)
    ev.update(vel)
    assert ev.wall_rate == pytest.approx(2 * extra / half ** 2, rel=1e-12)
    # LVEL: a shear flow u = S y, |S| = S between the walls
    S = 3.0
    yc = p.grid.centres(1)
    vel[0][:, 1:-1, :] = S * yc[None, :, None]
    ev.update(vel)
    nut = np.asarray(ev.nut)[2, 1:-1, 1]
    y = np.minimum(yc, 2 - yc)
    law = nu * turb.lvel_viscosity_ratio(turb.spalding_uplus(S * yc * y / nu))
    assert nut == pytest.approx(np.minimum(law, ev.length_cap ** 2 * S), rel=1e-12)
    assert np.any(law < ev.length_cap ** 2 * S) and np.any(law > ev.length_cap ** 2 * S)


def test_turbulence_keeps_steps_explicit():
    g = Grid.uniform((0, 0, 0), (1, 1, 1), (4, 4, 4))
    p = FlowProblem(g, Fluid("f", 1.0, 1e-3, 1e-3, 1.0), {}, turbulence="lvel")
    with pytest.raises(CaseError, match="implicit diffusion is not available"):
        FlowSolver(p, diffusion="implicit")
    assert FlowSolver(p).diffusion == "explicit"


# -- rack metrics and the air-cooled layout ----------------------------------------------------
def test_rack_cooling_index_follows_herrlin():
    from thermosim.metrics import C0, ashrae_status, rack_cooling_index

    assert rack_cooling_index([20 + C0, 25 + C0]) == (100.0, 100.0)
    # one of two intakes at the allowable maximum (32 degC, A1): RCI_HI = 50 %
    hi, lo = rack_cooling_index([32 + C0, 20 + C0])
    assert hi == pytest.approx(50.0) and lo == 100.0
    hi, lo = rack_cooling_index([15 + C0, 15 + C0])
    assert lo == pytest.approx(0.0)
    assert ashrae_status(30 + C0) == "allowable"
    assert ashrae_status(33 + C0) == "out of range"


def _small_hall(**kw):
    from thermosim.case import Case
    from thermosim.flow import problem_from_case
    from thermosim.layouts import air_cooled

    d = air_cooled(racks_per_row=1, cell=0.25, **kw)
    c = Case.from_dict(d)
    return d, c, problem_from_case(c)


def test_air_cooled_layout_builds_runs_and_reports(tmp_path):
    import h5py

    d, c, p = _small_hall()
    assert len(p.chips) == 2 * 2 * (8 + 2)           # 2 racks x 2 servers x (8 GPU + 2 CPU)
    assert d["layout"]["it_power"] == pytest.approx(4 * (8 * 700 + 2 * 350 + 2000))
    assert sum(b.power for b in p.porous) + sum(ch.power for ch in p.chips) == \
        pytest.approx(d["layout"]["it_power"])
    s = FlowSolver(p)
    r = s.run(steady=False, end_time=0.5)
    m = r.metrics()
    assert {x["name"] for x in m["racks"]} == {"A01", "B01"}
    assert len(m["hotspots"]) == 5 and len(m["servers"]) == 4
    assert m["hotspots"][0]["junction_temperature"] >= m["hotspots"][-1]["junction_temperature"]
    crah = [f for f in m["fans"] if f["name"].startswith("CRAH")]
    assert all(f["flow"] == pytest.approx(d["layout"]["crah_flow"], rel=1e-9) for f in crah)
    for f in m["fans"]:
        if f["mode"] == "curve":            # every server fan sits on its curve
            assert f["pressure_rise"] == pytest.approx(np.interp(
                f["flow"], [0.0, 0.8, 1.6], [500.0, 250.0, 0.0]), rel=1e-9)
    out = r.save(tmp_path / "hall.h5")
    with h5py.File(out) as f:
        g = f["metrics"]
        assert g.attrs["rci_hi"] == pytest.approx(m["rci_hi"])
        assert list(g["racks/name"].asstr()) == [x["name"] for x in m["racks"]]
        assert g["chips/junction_temperature"].shape == (40,)
        assert g["hotspots/position"].shape == (5, 3)
    assert "RCI_HI" in r.summary() and "hotspot" in r.summary()
    pytest.importorskip("pyvista")
    from thermosim.view import render_layout

    info = render_layout(out, tmp_path / "hall.png")
    assert (tmp_path / "hall.png").stat().st_size > 10_000
    assert [h["name"] for h in info["hotspots"]] == [h["name"] for h in m["hotspots"]]


def test_overhead_supply_mirrors_the_raised_floor():
    """``supply: overhead``: the plenum over a ceiling, the CRAH fans blowing up into it and
    their air coming down through the ceiling's diffusers over the cold aisle, the plenum's
    only way out (2 %: in a transient some leaks through the CRAH column's blocked sides,
    about dt grad(psi); the steady quick hall, meshes/air_cooled_overhead_quick.yaml, puts
    6.887 m^3/s through the tiles against 2 x 3.443 from the fans)."""
    d, c, p = _small_hall(supply="overhead")
    tiles = next(b for b in p.porous if b.name == "tiles")
    assert tiles.lower[2] == pytest.approx(3.0) and tiles.upper[2] == pytest.approx(3.25)
    crah = [f for f in p.fans if f.name.startswith("CRAH")]
    assert all(f.direction == 1 and f.position < 3.0 for f in crah)
    assert all(b.lower[2] >= 0.0 for b in p.porous if "/" in b.name)    # servers on the floor
    r = FlowSolver(p, advection="upwind").run(steady=False, end_time=0.3)
    m = r.metrics()
    t = next(b for b in m["other_porous"] if b["name"] == "tiles")
    assert t["flow"] == pytest.approx(2 * d["layout"]["crah_flow"], rel=0.02)
    i, j, k = (r.grid.index_range(a, tiles.lower[a], tiles.upper[a]) for a in range(3))
    assert r.w[slice(*i), slice(*j), k[0]].max() < 0                    # all downwards
    with pytest.raises(CaseError, match="supply is raised_floor or overhead"):
        _small_hall(supply="ducted")


def test_crah_units_stand_against_the_end_walls_unless_a_gap_is_asked():
    """The CRAH columns (0.8 m deep) touch the hall's end walls by default, as units are
    installed; ``crah_wall_gap`` moves them off (0.2 m: the hall before issue 19's stop 49,
    the floor slab then closing the gap's foot); a gap that pushes a unit into the racks'
    end space (1.4 m) is refused, naming the parameter."""
    for gap in (0.0, 0.2):
        _, _, p = _small_hall(**({} if gap == 0.0 else {"crah_wall_gap": gap}))
        Lx = p.grid.x[-1]
        cols = sorted((b for b in p.porous if b.name.startswith("CRAH")),
                      key=lambda b: b.lower[0])
        assert [(b.lower[0], b.upper[0]) for b in cols] == \
            [pytest.approx((gap, gap + 0.8)), pytest.approx((Lx - gap - 0.8, Lx - gap))]
        col = cols[0]
        under = [b for b in p.blocks if b.lower[0] <= 0.5 * gap < b.upper[0]
                 and b.lower[1] <= 0.5 * (col.lower[1] + col.upper[1]) < b.upper[1]]
        assert bool(under) == (gap > 0)         # the slab closes a gap; none without one
    with pytest.raises(CaseError, match="crah_wall_gap"):
        _small_hall(crah_wall_gap=0.7)


def test_crah_units_at_one_end_stand_side_by_side():
    """Units alternate between the ends and those at one end stand side by side, each 2 m
    wide (the 1.2 m cold aisle and 0.4 m either side), centred on the aisle's line: no
    two columns, fans or coils share a cell (before, a third unit stood inside the
    first), the total flow is the same for any count, and more than fit the hall's width
    (5.6 m: two a side) are refused, naming the parameter."""
    flows = []
    for n in (1, 2, 3, 4):
        d, _, p = _small_hall(crah_units=n)
        cols = [b for b in p.porous if b.name.startswith("CRAH")]
        assert len(cols) == n
        for a in range(n):
            for b in range(a + 1, n):
                apart = any(cols[a].upper[i] <= cols[b].lower[i] + 1e-9 or
                            cols[b].upper[i] <= cols[a].lower[i] + 1e-9 for i in range(3))
                assert apart, (cols[a].name, cols[b].name)
        y_mid = 0.5 * (p.grid.y[0] + p.grid.y[-1])
        for end in (0, 1):
            at_end = [b for b in cols[end::2]]
            if at_end:
                centre = 0.5 * (min(b.lower[1] for b in at_end) + max(b.upper[1] for b in at_end))
                assert centre == pytest.approx(y_mid)
                assert all(b.upper[1] - b.lower[1] == pytest.approx(2.0) for b in at_end)
        flows.append(n * d["layout"]["crah_flow"])
        assert sum(f.flow for f in p.fans if f.name.startswith("CRAH")) == \
            pytest.approx(flows[-1])
    assert flows == pytest.approx([flows[0]] * 4)
    with pytest.raises(CaseError, match="crah_units"):
        _small_hall(crah_units=5)


def test_server_fan_speed_follows_the_fan_laws():
    """``server_fan_speed`` s scales the air-cooled server's fan curve by the fan laws
    (flow x s, pressure x s^2), so the operating point through the same server moves in
    proportion (flow x s) and its hydraulic power goes with s^3; ``null`` takes the speed
    for the air-side heat: (2 kW other + the plated chips' air share) / 8.3 kW = 0.249."""
    from thermosim.layouts import AIR_DEFAULTS, liquid_cooled, server_operating_flow

    full = liquid_cooled(racks_per_row=1, cell=0.2, server_fan_speed=1.0)
    half = liquid_cooled(racks_per_row=1, cell=0.2)
    auto = liquid_cooled(racks_per_row=1, cell=0.2, server_fan_speed=None)
    q1, q2 = (d["layout"]["server_flow_estimate"] for d in (full, half))
    assert q2 == pytest.approx(0.5 * q1, rel=1e-6)
    curve = [tuple(c) for c in half["flow"]["fans"][0]["curve"]]
    assert curve == [(q * 0.5, dp * 0.25) for q, dp in AIR_DEFAULTS["server_fan_curve"]]
    area = 0.6 * 8 * 0.04445
    dp = [36.0 * 1.2 * (q / area) ** 2 / 2 for q in (q1, q2)]
    assert q2 * dp[1] == pytest.approx(q1 * dp[0] / 8, rel=1e-5)
    share = (2000 + 8 * 700 * 0.02 / 2.02 + 2 * 350 * 0.03 / 2.03) / 8300
    assert auto["layout"]["parameters"]["server_fan_speed"] == pytest.approx(share)
    assert server_operating_flow(auto["flow"]["fans"][0]["curve"], 36.0, area) == \
        pytest.approx(share * q1, rel=1e-6)
    with pytest.raises(CaseError, match="server_fan_speed"):
        liquid_cooled(racks_per_row=1, cell=0.2, server_fan_speed=0.0)


def test_layout_yaml_expands_and_names_bad_parameters(tmp_path):
    from thermosim.case import load_case

    f = tmp_path / "hall.yaml"
    f.write_text("layout: air_cooled\nracks_per_row: 1\ncell: 0.25\n")
    c = load_case(f)
    assert c.flow is not None and c.layout["kind"] == "air_cooled"
    f.write_text("layout: air_cooled\nrack_count: 3\n")
    with pytest.raises(CaseError, match=r"hall.yaml: rack_count: not a parameter of this "
                                        r"layout"):
        load_case(f)
    f.write_text("layout: water_cooled\n")
    with pytest.raises(CaseError, match="unknown layout 'water_cooled'"):
        load_case(f)
    # a cold plate's coolant at 30 K (degrees Celsius meant): refused as it is read; a gas:
    # when the flow problem is built; one line, no traceback
    f.write_text("layout: liquid_cooled\nracks_per_row: 1\ncell: 0.25\n"
                 "cdu_supply_temperature: 30\n")
    with pytest.raises(CaseError, match=r"hall.yaml: cdu_supply_temperature: 30 is below "
                                        r"200 K: temperatures are in kelvin"):
        load_case(f)
    from thermosim.flow import problem_from_case

    for extra, reason in (("coolant: air\n", "'air' is not a liquid"),):
        f.write_text("layout: liquid_cooled\nracks_per_row: 1\ncell: 0.25\n" + extra)
        with pytest.raises(CaseError, match=r"hall.yaml: flow.chips\[0\] \(A01/S1/GPU1\): .*"
                                            + reason):
            problem_from_case(load_case(f))


def test_liquid_cooled_layout_reports_the_coolant_loop(tmp_path):
    """Cold plates on every chip: the loop's flow is the plates' sum, the CDU return is the
    supply plus the liquid's heat over m c_p, the pump moves the plates' and the loop's
    pressure drops; the rest of the power goes to air."""
    import h5py

    from thermosim.case import Case
    from thermosim.flow import problem_from_case
    from thermosim.layouts import LIQUID_DEFAULTS, liquid_cooled

    d = liquid_cooled(racks_per_row=1, cell=0.25)
    p = problem_from_case(Case.from_dict(d))
    assert all(c.cold_plate is not None for c in p.chips) and len(p.chips) == 40
    r = FlowSolver(p, advection="upwind").run(steady=False, end_time=0.5)
    m = r.metrics()
    cl = m["coolant"]
    q_gpu, q_cpu = LIQUID_DEFAULTS["gpu_plate_flow"], LIQUID_DEFAULTS["cpu_plate_flow"]
    assert cl["flow"] == pytest.approx(4 * (8 * q_gpu + 2 * q_cpu), rel=1e-12)
    pg = Fluid.from_coolprop("propylene_glycol_25", 303.15)
    rise = cl["heat"] / (pg.density * pg.specific_heat * cl["flow"])
    assert cl["return_temperature"] - cl["supply_temperature"] == pytest.approx(rise, rel=1e-9)
    assert cl["supply_temperature"] == pytest.approx(303.15, rel=1e-12)
    assert cl["pump_hydraulic_power"] == pytest.approx(
        4 * (8 * q_gpu * 15e3 + 2 * q_cpu * 10e3) + cl["flow"] * 100e3, rel=1e-12)
    chips = sum(c.power for c in p.chips)
    assert 0.9 * chips < m["heat_to_liquid"] < chips       # a little of it to the air
    assert m["heat_to_air"] + m["heat_to_liquid"] == pytest.approx(m["it_power"], rel=1e-12)
    out = r.save(tmp_path / "liquid.h5")
    with h5py.File(out) as f:
        assert f["metrics/coolant"].attrs["pump_hydraulic_power"] == \
            pytest.approx(cl["pump_hydraulic_power"])
        assert f["metrics/chips/coolant_outlet_temperature"].shape == (40,)
    assert "coolant" in r.summary() and "CDU supply" in r.summary()


def test_immersion_layout_builds_and_reports_its_tanks(tmp_path):
    """Tanks of upright servers in oil: all the power to the liquid, fed in at the design
    flow (P / (rho c_p dT)) and the set return temperature, the pump's power from the
    tank's and the loop's pressure drops, no ASHRAE air class for immersed inlets; the
    fin-gap friction of the servers scales with the liquid's viscosity."""
    from thermosim.case import Case
    from thermosim.flow import problem_from_case
    from thermosim.layouts import IMMERSION_DEFAULTS, immersion

    d = immersion(tanks=1, servers_per_tank=2, cell=0.05)
    p = problem_from_case(Case.from_dict(d))
    oil = p.fluid
    assert oil.name == "hydrocarbon_oil" and oil.prandtl > 100
    server_power = 8 * 700 + 2 * 350 + 2000
    q = 2 * server_power / (oil.volumetric_heat_capacity * 10.0)
    assert d["layout"]["pump_flow"] == pytest.approx(q, rel=1e-12)
    r = FlowSolver(p, advection="upwind").run(steady=False, end_time=2.0)
    m = r.metrics()
    assert m["rci_hi"] is None and all(x["status"] == "in hydrocarbon_oil" for x in m["racks"])
    assert m["heat_to_liquid"] == m["it_power"] == pytest.approx(2 * server_power)
    cl = m["coolant"]
    assert cl["flow"] == pytest.approx(q, rel=1e-9)          # the floor's inflow
    assert cl["supply_temperature"] == IMMERSION_DEFAULTS["supply_temperature"]
    assert m["pump_hydraulic_power"] > q * 50e3             # the loop's drop and the tank's
    assert "liquid loop" in r.summary() and "no ASHRAE air class" in r.summary()
    fc = problem_from_case(Case.from_dict(immersion(tanks=1, servers_per_tank=2, cell=0.05,
                                                    fluid="fc40")))
    ratio = fc.porous[0].linear[2] / p.porous[0].linear[2]
    # a = c1 A / (rho L): the kinematic viscosities' ratio
    assert ratio == pytest.approx(fc.fluid.kinematic_viscosity / oil.kinematic_viscosity,
                                  rel=1e-12)


# -- GPU against CPU -----------------------------------------------------------------------
gpu = pytest.mark.skipif(not gpu_ok(), reason="no CUDA GPU")


@gpu
@pytest.mark.parametrize("which", ["components", "turbulence", "hall", "liquid", "immersion"])
def test_gpu_components_and_turbulence_equal_cpu(which):
    def build(backend):
        if which in ("liquid", "immersion"):
            from thermosim.case import Case
            from thermosim.flow import problem_from_case
            from thermosim.layouts import immersion, liquid_cooled

            d = liquid_cooled(racks_per_row=1, cell=0.25) if which == "liquid" else \
                immersion(tanks=1, servers_per_tank=2, cell=0.05)
            return FlowSolver(problem_from_case(Case.from_dict(d)), backend,
                              advection="upwind")
        if which == "components":
            chip = Chip("rack/server/GPU1", (0.9, 0.1, 0.1), (1.1, 0.3, 0.3), 500.0, 0.05)
            return _duct(_fan(curve=((0.0, 200.0), (0.5, 0.0))), chips=[chip],
                         backend=backend)[1]
        if which == "turbulence":
            return _turbulent_channel(8, backend=backend)[1]
        return FlowSolver(_small_hall()[2], backend)
    cpu, gpu_ = build("cpu"), build("gpu")
    for _ in range(20):
        dt = cpu.stable_dt()
        assert gpu_.stable_dt() == pytest.approx(dt, rel=1e-9)
        cpu.step(dt)
        gpu_.step(dt)
    a, b = cpu.result(), gpu_.result()
    for k in ("u", "v", "w", "T", "phi"):
        x, y = getattr(a, k), getattr(b, k)
        assert np.max(np.abs(x - y)) <= 1e-9 * max(np.max(np.abs(x)), 1.0), k
    if which != "turbulence":
        ma, mb = a.metrics(), b.metrics()
        for key in ("rci_hi", "max_inlet_temperature", "heat_removed_by_coolers",
                    "heat_to_liquid", "pump_hydraulic_power"):
            if ma[key] is None:
                assert mb[key] is None
                continue
            assert mb[key] == pytest.approx(ma[key], rel=1e-9, abs=1e-9), key
        for ca, cb in zip(ma["chips"], mb["chips"]):
            assert cb["junction_temperature"] == pytest.approx(ca["junction_temperature"],
                                                               rel=1e-12, abs=1e-9)


@QUICK_HALLS
def test_small_hall_reaches_a_steady_state_that_conserves_energy(simulate_once):
    """The quick hall (meshes/air_cooled_quick.yaml: two racks per row, 0.2 m cells) marches
    to a steady state with upwind advection and local energy steps within 20,000 steps: the
    coils remove the IT power to 0.1 % (issue 4), every server's faces carry out its heat
    to 0.1 %, and the two rows, mirror images, see the same inlet temperatures.  (One rack
    per row on 0.25 m cells kept a velocity residual near 6e-4 over 20,000 steps: not every
    coarse hall is steady.)"""
    r = _quick("air_cooled_quick", simulate_once, max_steps=20000)
    assert r.stats.stored_fraction < 1e-3
    m = r.metrics()
    assert m["heat_removed_by_coolers"] == pytest.approx(m["it_power"], rel=1e-3)
    for srv in m["servers"]:
        assert srv["heat_out"] == pytest.approx(srv["heat_in"], rel=1e-3), srv["name"]
    inlets = [x["max_inlet_temperature"] for x in m["racks"]]
    assert max(inlets) - min(inlets) < 0.05


def _quick(name, simulate_once, max_steps=30000):
    """The shipped quick hall ``name`` marched to its steady state: the session's one run
    of it (conftest.simulate_once, shared with ``thermosim compare``'s test), which must
    have settled with upwind advection to 1e-4 (velocity) and 1e-3 (heat stored) within
    ``max_steps``."""
    from pathlib import Path

    from thermosim.case import load_case

    c = load_case(Path(__file__).parents[1] / "meshes" / f"{name}.yaml")
    f = c.flow
    assert (f.advection, f.tolerance, f.energy_tolerance, c.solver.precision) == \
        ("upwind", 1e-4, 1e-3, "float64")
    r = simulate_once(c, "cpu")
    assert r.stats.converged and r.stats.steps <= max_steps, r.stats.steps
    return r


@QUICK_HALLS
def test_liquid_hall_reaches_a_steady_state_that_conserves_energy(simulate_once):
    """The quick liquid-cooled hall (meshes/liquid_cooled_quick.yaml) settles; the coils
    remove what reaches the air and the cold plates take the rest, together the IT power to
    0.1 % (issue 4); every server's faces carry out what its air received; three quarters
    of the power goes to the liquid."""
    r = _quick("liquid_cooled_quick", simulate_once)
    assert r.stats.converged
    m = r.metrics()
    assert m["heat_removed_by_coolers"] + m["heat_to_liquid"] == \
        pytest.approx(m["it_power"], rel=1e-3)
    assert m["heat_removed_by_coolers"] == pytest.approx(m["heat_to_air"], rel=1e-3)
    for srv in m["servers"]:
        assert srv["heat_out"] == pytest.approx(srv["heat_in"], rel=1e-3), srv["name"]
    assert 0.70 < m["heat_to_liquid"] / m["it_power"] < 0.80


@QUICK_HALLS
def test_immersion_tanks_reach_a_steady_state_that_conserves_energy(simulate_once):
    """The quick immersion tanks settle; the liquid leaving over the weirs carries the IT
    power to 0.1 % and returns at the supply plus the design rise (10 K), every server's
    faces carry out its heat, and the pumps overcome the servers' friction."""
    r = _quick("immersion_quick", simulate_once)
    assert r.stats.converged
    m = r.metrics()
    cl = m["coolant"]
    # the tank's drop is its servers' fin-gap friction, plane Poiseuille in 2 mm gaps half
    # the section open, 12 mu L u / (phi s^2), plus the form loss K rho u^2 / 2, less the
    # thermosiphon's help: the warmed liquid's buoyancy, rho beta g (T - T_ref) summed up
    # the tank (Boussinesq: the pressure is relative to the reference's hydrostatics)
    oil = r.problem.fluid
    u = cl["flow"] / (2 * 4 * 8 * 0.04445 * 0.45)
    friction = 12 * oil.viscosity * 0.8 * u / (0.5 * 0.002 ** 2) + 36 * oil.density * u * u / 2
    fl = r.fluid
    rise = np.array([(r.T[:, :, k][fl[:, :, k]] - r.problem.reference_temperature).mean()
                     for k in range(r.T.shape[2])])
    head = oil.density * oil.expansion * 9.81 * float((rise * r.grid.spacing(2)).sum())
    assert 0.05 * friction < head < 0.15 * friction
    assert cl["tank_pressure_drop"] == pytest.approx(friction - head, rel=0.02)
    assert m["pump_hydraulic_power"] == pytest.approx(
        cl["flow"] * (cl["tank_pressure_drop"] + 50e3), rel=1e-12)
    assert cl["heat_carried"] == pytest.approx(m["it_power"], rel=1e-3)
    assert cl["return_temperature"] - cl["supply_temperature"] == pytest.approx(10.0, rel=1e-3)
    for srv in m["servers"]:
        assert srv["heat_out"] == pytest.approx(srv["heat_in"], rel=1e-3), srv["name"]


def test_porous_loss_does_not_depend_on_how_the_block_meets_the_grid():
    """A block whose faces fall mid-cell (0.81-1.19 m on 0.05 m cells: 7 cells, 0.35 m of
    them) still loses K rho u^2 / 2: its sink is scaled to its own depth."""
    g = Grid.uniform((0, 0, 0), (2, 0.4, 0.4), (40, 4, 4))
    air = _air()
    block = PorousBlock.with_loss("b", (0.81, 0, 0), (1.19, 0.4, 0.4), 0, 10.0,
                                  density=air.density)
    p = FlowProblem(g, air, {**PERIODIC_X, **SLIP}, porous=[block], fans=[_fan(flow=0.3)])
    r = FlowSolver(p).run(tolerance=1e-7)
    u = 0.3 / 0.16
    assert r.components["fans"][0]["pressure_rise"] == pytest.approx(
        air.density * 10 * u * u / 2, rel=1e-6)


def test_wall_function_rate_bounds_the_next_step():
    p, s = _turbulent_channel(8)
    s.step()
    s.stable_dt()
    assert s.model.terms.eddy.model.wall_rate > 0
