"""thermosim: GPU-accelerated finite-volume heat transfer for electronics and data centres.

    import thermosim as ts
    case = ts.Case(domain=ts.Domain(max=(0.05, 0.05, 0.005)), blocks=[...], boundaries={...})
    result = ts.solve(case)              # GPU when there is one, else CPU
    result.save("out.h5")                # and out.xdmf beside it (ParaView, pyvista.read)

``ts.solve`` is the entry point for every kind of case: conduction, flow (a ``flow``
section) and rack layouts (``layout: air_cooled``, ...); it takes a Case, a mapping as a
case file holds it, or a case file's path, and returns numpy arrays on the host
(``result.T`` in K, and for flow ``result.velocity`` in m/s and ``result.pressure`` in Pa).
``ts.simulate`` is an older name for it with the batch runners' options.

SI units throughout: metres, watts, kelvin, seconds.
"""

from .case import (Adiabatic, Block, Boundary, Case, Convective, Domain, GridSpec, HeatFlux,
                   MaterialSpec, Region, SolverSpec, Temperature, Transient, load_case)
from .conduction import build_model
from .conduction_run import Result
from .errors import BackendError, CaseError, SolverError, ThermosimError
from .grid import Grid
from .output import read_result
from .runner import solve

__version__ = "0.1.0"

__all__ = ["Adiabatic", "Block", "Boundary", "Case", "Convective", "Domain", "GridSpec",
           "HeatFlux", "MaterialSpec", "Region", "SolverSpec", "Temperature", "Transient",
           "load_case", "BackendError", "CaseError", "SolverError", "ThermosimError", "Grid",
           "build_model", "Result", "solve", "FlowResult", "simulate", "read_result",
           "__version__"]


def __getattr__(name):
    # the flow solver and the study runners load on first use: plain conduction scripts
    # do not pay their import
    if name == "FlowResult":
        from .flow import FlowResult

        return FlowResult
    if name == "simulate":
        from .study import simulate

        return simulate
    raise AttributeError(f"module 'thermosim' has no attribute '{name}'")
