"""``thermosim.solve``, the Python entry point, runs every kind of case (conduction, flow,
rack layouts) and returns numpy arrays on the host with the grid's shape."""

import copy

import numpy as np
import pytest

import thermosim as ts
from thermosim.checkpoint import Checkpointer

T_IN, T_WALL, U_IN = 300.0, 310.0, 0.2          # K, K, m/s

# air through a 10 x 4 x 1 channel over a warm wall: steady in a few hundred steps (~1 s)
CHANNEL = {
    "name": "tiny_channel",
    "domain": {"min": [0, 0, 0], "max": [0.10, 0.02, 0.01], "background": "air"},
    "grid": {"cells": [10, 4, 1]},
    "initial_temperature": T_IN,
    "flow": {"fluid": "air", "reference_temperature": T_IN, "gravity": [0, 0, 0],
             "boundaries": {"x-": {"type": "inflow", "velocity": [U_IN, 0, 0], "T": T_IN},
                            "x+": {"type": "outflow"},
                            "y-": {"type": "wall", "T": T_WALL},
                            "z-": {"type": "slip"}, "z+": {"type": "slip"}},
             "max_steps": 2000, "tolerance": 1e-4},
}

# the smallest air-cooled hall: 2 racks of 2 servers (40 chips) on 0.4 m cells, three steps
# (``unsteady: stop``: a run cut short stops unconverged, not averaged, the layouts' default)
HALL = {"layout": "air_cooled", "racks_per_row": 1, "cell": 0.4, "max_steps": 3,
        "unsteady": "stop"}
IT_POWER = 4 * (8 * 700 + 2 * 350 + 2000)        # W: 4 servers of 8 GPUs, 2 CPUs and the rest


@pytest.fixture(scope="module")
def channel():
    return ts.solve(CHANNEL, backend="cpu")


def test_flow_case_gives_host_arrays_on_the_grid(channel):
    r = channel
    assert isinstance(r, ts.FlowResult) and r.stats.converged
    shape = r.grid.shape
    assert shape == (10, 4, 1)
    for name, want in (("T", shape), ("pressure", shape), ("velocity", (*shape, 3))):
        a = getattr(r, name)
        assert type(a) is np.ndarray and a.shape == want and a.dtype == np.float64, name
        assert np.all(np.isfinite(a)), name
    assert r.u.shape == (11, 4, 1) and r.v.shape == (10, 5, 1) and r.w.shape == (10, 4, 2)
    # the velocity at cell centres is the mean of the cell's two face velocities
    np.testing.assert_allclose(r.velocity[..., 0], 0.5 * (r.u[1:] + r.u[:-1]))
    # heated only by the wall: every temperature between the inflow's and the wall's
    assert T_IN - 1e-9 <= r.T.min() and r.T.max() <= T_WALL + 1e-9 and r.T.max() > T_IN + 0.1
    assert "tiny_channel  (flow, 40 cells, air)" in r.summary()


def test_flow_case_conserves_mass_and_energy(channel):
    r = channel
    dy, dz = (np.diff(r.grid.faces[a]) for a in (1, 2))
    area = np.outer(dy, dz)
    q_in, q_out = float((r.u[0] * area).sum()), float((r.u[-1] * area).sum())
    assert q_in == pytest.approx(U_IN * 0.02 * 0.01, rel=1e-12)          # m^3/s
    assert q_out == pytest.approx(q_in, rel=1e-6)
    # what the wall gives the air leaves with it: heat flows sum to zero
    wall = -r.heat_flows["y- (wall)"]
    assert wall > 0.01                                                    # W
    assert r.heat_flows["x+ (outflow)"] + r.heat_flows["x- (inflow)"] == \
        pytest.approx(wall, rel=1e-3)
    assert r.energy_balance_error < 1e-3


def test_flow_result_saves_what_it_holds(channel, tmp_path):
    out = channel.save(tmp_path / "channel.h5")
    assert (tmp_path / "channel.xdmf").is_file()
    d = ts.read_result(out)
    np.testing.assert_array_equal(d["T"], channel.T)
    np.testing.assert_array_equal(d["velocity"], channel.velocity)
    np.testing.assert_array_equal(d["p"], channel.pressure)


def test_simulate_is_the_same_run(channel):
    """``ts.simulate`` (the older name, used by compare and sweeps) gives the same run."""
    r = ts.simulate(ts.Case.from_dict(copy.deepcopy(CHANNEL)), "cpu")
    assert r.stats.steps == channel.stats.steps
    np.testing.assert_array_equal(r.T, channel.T)


def test_flow_resumes_from_its_checkpoint(tmp_path):
    """``checkpoint`` and ``resume`` work for flow cases as for conduction: the march goes
    on from the saved step, and the checkpoint is gone once the run is complete."""
    from thermosim.flow import FlowSolver, problem_from_case

    case = ts.Case.from_dict(copy.deepcopy(CHANNEL))
    solver = FlowSolver(problem_from_case(case), "cpu")
    for _ in range(13):
        solver.step()
    ckpt = tmp_path / "channel.checkpoint.h5"
    Checkpointer(ckpt, case).save_state(*solver.state())
    seen = []
    r = ts.solve(case, backend="cpu", checkpoint=ckpt, resume=True,
                 progress=lambda step, t, ru, rt: seen.append(step))
    # progress comes at step 1 and every 10th: from step 13 on, the first call is at 20
    assert seen[0] == 20 and r.stats.steps == seen[-1] and r.stats.converged
    assert not ckpt.exists()


def test_layout_case_runs_and_reports_its_chips():
    """A layout as a case file holds it (``layout: air_cooled`` and the builder's
    parameters); a steady run cut at ``max_steps`` gives its last iteration when asked to."""
    # (the air-cooled layout's steady solver counts outer iterations)
    with pytest.raises(ts.SolverError, match="no steady state after 3 outer iterations"):
        ts.solve(HALL, backend="cpu")
    r = ts.solve(HALL, backend="cpu", unsteady_ok=True)
    assert isinstance(r, ts.FlowResult)
    assert r.stats.steps == 3 and not r.stats.converged
    assert r.T.shape == r.grid.shape and r.velocity.shape == (*r.grid.shape, 3)
    assert type(r.T) is np.ndarray and np.all(np.isfinite(r.T))
    m = r.metrics()
    assert len(m["chips"]) == 2 * 2 * (8 + 2)          # 2 racks x 2 servers x (8 GPU + 2 CPU)
    assert {c["name"].split("/")[0] for c in m["chips"]} == {"A01", "B01"}
    assert m["it_power"] == pytest.approx(IT_POWER)
    assert "RCI_HI" in r.summary()


def test_layout_transient_keeps_the_air_between_supply_and_chips():
    """The expanded layout (what :func:`thermosim.layouts.air_cooled` returns) run as a
    0.05 s transient: the air warms from the supply temperature, never below it, and each
    chip's junction sits its resistances' rise above its air."""
    from thermosim.layouts import AIR_DEFAULTS as P, air_cooled

    d = air_cooled(racks_per_row=1, cell=0.4)
    d["flow"]["end_time"] = 0.05
    r = ts.solve(d, backend="cpu")
    supply = d["layout"]["parameters"]["supply_temperature"]
    assert r.stats.time == pytest.approx(0.05)
    assert r.T.min() >= supply - 1e-9 and supply + 1.0 < r.T.max() < supply + 50.0
    chips = r.metrics()["chips"]
    assert len(chips) == 40 and all(supply - 1e-9 <= c["air_temperature"] for c in chips)
    for c in chips:
        k = c["kind"].lower()
        rise = c["power"] * (P[f"{k}_resistance"] + P[f"{k}_junction_resistance"])
        assert c["junction_temperature"] - c["air_temperature"] == pytest.approx(rise)


def test_conduction_case_from_a_file(tmp_path):
    f = tmp_path / "slab.yaml"
    f.write_text("name: slab\n"
                 "domain: {max: [0.02, 0.01, 0.004], background: void}\n"
                 "grid: {cells: [4, 2, 2]}\n"
                 "blocks: [{name: chip, material: copper, min: [0, 0, 0], "
                 "max: [0.02, 0.01, 0.004], power: 2.0}]\n"
                 "boundaries: {z+: {type: convective, h: 1000.0, T_ambient: 300.0}}\n")
    r = ts.solve(f, backend="cpu")
    assert isinstance(r, ts.Result)
    assert type(r.T) is np.ndarray and r.T.shape == r.grid.shape == (4, 2, 2)
    m = r.metrics()
    assert m["total_power"] == pytest.approx(2.0)
    # 2 W through 2e-4 m^2 at 1000 W/(m^2 K): 10 K above the ambient, copper adds little
    assert m["max_temperature"] == pytest.approx(310.0, abs=0.1)
    assert sum(m["heat_flows"].values()) == pytest.approx(2.0, rel=1e-6)
    assert m["block_temperatures"]["chip"]["max"] == m["max_temperature"]
    np.testing.assert_array_equal(ts.solve(str(f), backend="cpu").T, r.T)


def test_solve_names_what_it_takes():
    with pytest.raises(TypeError, match="a Case, a case mapping .* not int"):
        ts.solve(42)
