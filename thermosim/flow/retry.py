"""A steady run whose outer iterations run away tries once more from its start, with
SIMPLEC's ``d`` consistent with the momentum operator.

SIMPLEC's ``d_f = 1 / (1 / dt_f + k)`` is how far a face moves for a unit pressure
gradient.  With an eddy viscosity the steady solver's momentum operator couples the eddy
diffusion in full, whose neighbours balance its diagonal ``2 nu_t sum(1 / h^2)``: the
``d`` consistent with that operator leaves the diagonal out (``EDDY_IN_D = 0`` in
:mod:`.local_steps`).  Taking it in (``EDDY_IN_D = 1``, the default since issue 19's stop
39) makes ``d`` smaller where the eddy viscosity is large, SIMPLE's choice rather than
SIMPLEC's, without SIMPLE's pressure under-relaxation.  On the halls up to 180,000
cells it takes 2-27 % fewer outer iterations, and the 0.11 m 20-rack hall steady where it
stalled without (the constant's comment has the table), but on the 1.2e6-cell halls (0.055 m cells) it runs away from the second iteration (the
fan runaway check stops it at the tenth: 1,620 m/s in the air hall, 993 m/s in the
cold-plate hall), where the consistent ``d`` stays bounded (17-21 m/s over the first 23
iterations, issue 19, stop 43).

So the first try keeps the faster ``d``, and a run that diverges under it
(:class:`~thermosim.errors.SolverError` from the checks: NaN, or a runaway) starts again
from the state it began with, under the consistent ``d``; the outer iterations of both
tries are counted, and the result says why it tried again (``stats.retried``).  A second
divergence stops the run as the first would have.  Problems without an eddy viscosity
have one ``d`` only and are not tried again.
"""

from __future__ import annotations

import numpy as np

from ..errors import SolverError
from ..unconverged import NotSteady
from .outer import solve_steady


def has_eddy_viscosity(solver) -> bool:
    """Whether ``solver``'s momentum operator couples an eddy viscosity (whose diagonal
    SIMPLEC's ``d`` may take or leave)."""
    return any(t.coupled_viscosity() is not None for t in solver.model.terms.all)


def solve_steady_or_retry(solver, mode, max_iterations: int, progress, check_every: int,
                          checkpoint, relax, sweeps: int, depth, sequence: bool):
    """:func:`~thermosim.flow.outer.solve_steady`, and once more from the start with the
    consistent ``d`` if it diverges (see the module's text); returns its result."""
    def run():
        return solve_steady(solver, mode, max_iterations, progress, check_every, checkpoint,
                            relax, sweeps, depth, sequence)

    st = solver.stats
    if st.retried or not has_eddy_viscosity(solver):
        return run()
    arrays, attrs = solver.state()
    # copies (on the CPU the host arrays are the fields themselves): 5 fields, the counters
    start = ({k: np.array(v, copy=True) for k, v in arrays.items()}, dict(attrs))
    try:
        return run()
    except NotSteady:
        raise                           # no steady state, but nothing diverged
    except SolverError as e:
        first = str(e).split(": run it with")[0]      # what, not the advice for it
        ran, history = st.steps, list(st.history)
    solver.build_model()
    solver.load_state(*start)
    st.steps, st.history = ran, history
    st.retried = (f"the first {ran:,} outer iterations diverged with SIMPLEC's d taking the "
                  f"eddy viscosity's diagonal ({first}); from the start again with the d "
                  "consistent with the momentum operator")
    try:
        return run()
    except NotSteady:
        raise
    except SolverError as e:
        raise SolverError(f"{e} (the second try, with SIMPLEC's d consistent with the "
                          f"momentum operator; the first diverged after {ran:,} outer "
                          "iterations)") from None
