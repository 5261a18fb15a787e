"""A row of a verification table (``thermosim validate``): what was compared, the
reference and computed values, the error against its tolerance, and where the reference
comes from.  Below the suites (:mod:`thermosim.verification` for conduction,
:mod:`thermosim.flow_verification` for flow) so that neither imports the other for it."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class Row:
    """One comparison: ``reference`` and ``computed`` in the unit the quantity names,
    ``error`` relative (or absolute, as :func:`table_row` was told) against ``tolerance``."""

    case: str
    quantity: str
    reference: float
    computed: float
    error: float
    tolerance: float
    passed: bool
    source: str = ""

    def as_dict(self) -> dict:
        d = asdict(self)
        d["passed"] = bool(d["passed"])
        return d


def table_row(case, quantity, reference, computed, tolerance, source="", relative=True,
              error=None) -> Row:
    """A :class:`Row`; the error is ``|computed - reference|`` over ``|reference|`` (when
    ``relative`` and the reference is not 0) unless given."""
    if error is None:
        error = abs(computed - reference) / (abs(reference) if relative and reference else 1.0)
    return Row(case, quantity, float(reference), float(computed), float(error),
               float(tolerance), bool(error <= tolerance), source)
