"""The immersion tanks' steady outer iterations (issue 19, stop 45): which flows are
heat-driven, and what Anderson weighs there (:func:`thermosim.flow.outer.tank_weights`)."""

import numpy as np

from thermosim.flow import FlowSolver
from thermosim.flow.anderson import StateVector, temperature_joins
from thermosim.flow.outer import OuterIteration, tank_weights
from thermosim.flow.problem import heat_driven


def _solver(name: str) -> FlowSolver:
    from thermosim.case import load_case
    from thermosim.cases import HERE
    from thermosim.flow import problem_from_case

    case = load_case(HERE / name)
    return FlowSolver(problem_from_case(case), "cpu", np.float64)


def test_a_tank_is_heat_driven_and_a_hall_is_not():
    """Porous servers and no fans: the tank; the air-cooled hall has fans.  The tank's
    temperature is one of Anderson's unknowns, as a hall's is."""
    tank, hall = _solver("immersion_quick.yaml"), _solver("air_cooled_quick.yaml")
    assert heat_driven(tank.problem) and not heat_driven(hall.problem)
    assert temperature_joins(tank.problem) and temperature_joins(hall.problem)


def test_a_tanks_anderson_weighs_its_servers_faces_by_stiffness_and_pressure_by_buoyancy():
    """A face with the sink k (1/s) moves by its residual times dt / (1 + k dt), so its
    weight is 1 + k dt over U: a server's vertical face (k = 114 1/s) 1 + 114 dt, an open
    face 1; the pressure over max(U^2, a L), a the buoyant acceleration (m/s^2)."""
    s = _solver("immersion_quick.yaml")
    it = OuterIteration(s.model, 0.1)
    it.energy_first = True
    it.dt = 0.25
    # the oil's speed and a 10 K rise, as at the quick tank's answer
    U, L, dT = 3.6e-3, 0.45, 10.0
    s.T[:, :, -2] += dT
    pressure, stiff = tank_weights(it, s, (U, L, dT))
    a = s.model.acceleration(s.T)
    assert a > 0.0 and pressure == a * L and pressure > 1000.0 * U * U
    k = np.asarray(s.model.linear_sinks[2])
    server = np.argwhere((k > 100.0) & (k < 200.0))[0]
    open_ = np.argwhere((k == 0.0) & (np.asarray(it.solved[2]) != 0))[0]
    assert stiff[2][tuple(server)] == 1.0 + k[tuple(server)] * it.dt
    assert stiff[2][tuple(open_)] == 1.0
    vec = StateVector(s)
    vec.weigh(U, dT, pressure, stiff)
    w = vec.weights
    i, sizes = 0, dict()
    for (name, c, sl), m in zip(vec.parts, vec.sizes):
        sizes[(name, c)] = (i, sl, m)
        i += m
    i0, sl, m = sizes[("vel", 2)]
    expect = (np.asarray(stiff[2])[sl] / U).ravel()
    assert np.allclose(w[i0:i0 + m], expect, rtol=1e-12)
    i0, _, m = sizes[("phi", None)]
    assert np.allclose(w[i0:i0 + m], 1.0 / pressure)
    # a hall keeps its weights: none of this
    hall = _solver("air_cooled_quick.yaml")
    assert tank_weights(OuterIteration(hall.model, 0.1), hall, (U, L, dT)) == (None, None)
