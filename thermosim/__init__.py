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

__version__ = "0.1.0"

# every public name loads its module on first use (PEP 562): a script that needs only the
# flow solver (``from thermosim.flow import FlowSolver``) does not pay for the case
# reader's pydantic models, the conduction runner and HDF5 (0.17 s of a 0.3 s import)
_WHERE = {
    **{name: "case" for name in ("Adiabatic", "Block", "Boundary", "Case", "Convective",
                                 "Domain", "GridSpec", "HeatFlux", "MaterialSpec",
                                 "Region", "SolverSpec", "Temperature", "Transient",
                                 "load_case")},
    **{name: "errors" for name in ("BackendError", "CaseError", "SolverError",
                                   "ThermosimError")},
    "build_model": "conduction", "Result": "conduction_run", "Grid": "grid",
    "read_result": "output", "solve": "runner", "FlowResult": "flow", "simulate": "study",
}

__all__ = ["Adiabatic", "Block", "Boundary", "Case", "Convective", "Domain", "GridSpec",
           "HeatFlux", "MaterialSpec", "Region", "SolverSpec", "Temperature", "Transient",
           "load_case", "BackendError", "CaseError", "SolverError", "ThermosimError", "Grid",
           "build_model", "Result", "solve", "FlowResult", "simulate", "read_result",
           "__version__"]


def __getattr__(name):
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'thermosim' has no attribute '{name}'")
    import importlib

    value = getattr(importlib.import_module(f".{where}", __name__), name)
    globals()[name] = value             # later lookups find it without this call
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
