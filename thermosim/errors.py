"""User-facing errors: one line naming the file, the key and the reason."""

from __future__ import annotations


class ThermosimError(Exception):
    """Base class for errors that are reported to the user without a traceback."""


class CaseError(ThermosimError):
    """A mistake in a case description (YAML file or Python-built case).

    The message reads ``FILE: KEY: REASON`` so that the user can go straight to the line.
    """

    def __init__(self, reason: str, key: str | None = None, file: str | None = None):
        self.reason = reason
        self.key = key
        self.file = file
        super().__init__(self._format())

    def _format(self) -> str:
        parts = [p for p in (self.file, self.key) if p]
        return ": ".join(parts + [self.reason])

    def with_file(self, file: str) -> "CaseError":
        return CaseError(self.reason, self.key, file)


class SolverError(ThermosimError):
    """The solver stopped: divergence, no convergence, or an ill-posed problem."""


class BackendError(ThermosimError):
    """A requested backend (for example the GPU) is not available."""


class Interrupted(ThermosimError):
    """The run was interrupted; a checkpoint holds its state."""
