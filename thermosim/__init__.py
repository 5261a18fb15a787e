"""thermosim: GPU-accelerated finite-volume heat transfer for electronics and data centres.

    import thermosim as ts
    case = ts.Case(domain=ts.Domain(max=(0.05, 0.05, 0.005)), blocks=[...], boundaries={...})
    result = ts.solve(case)              # GPU when there is one, else CPU
    result.save("out.h5")

SI units throughout: metres, watts, kelvin, seconds.
"""

from .case import (Adiabatic, Block, Boundary, Case, Convective, Domain, GridSpec, HeatFlux,
                   MaterialSpec, Region, SolverSpec, Temperature, Transient, load_case)
from .errors import BackendError, CaseError, SolverError, ThermosimError
from .grid import Grid
from .model import build_model
from .simulation import Result, solve

__version__ = "0.1.0"

__all__ = ["Adiabatic", "Block", "Boundary", "Case", "Convective", "Domain", "GridSpec",
           "HeatFlux", "MaterialSpec", "Region", "SolverSpec", "Temperature", "Transient",
           "load_case", "BackendError", "CaseError", "SolverError", "ThermosimError", "Grid",
           "build_model", "Result", "solve", "__version__"]
