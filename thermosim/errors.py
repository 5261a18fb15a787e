"""User-facing errors: one line naming the file, the key and the reason."""

from __future__ import annotations


class ThermosimError(Exception):
    """Base class for errors that are reported to the user without a traceback."""

    def lines(self) -> list[str]:
        """What the command line prints after ``thermosim: error:``: one line (a message
        that holds line breaks is joined, so that every problem stays one line)."""
        text = " ".join(part.strip() for part in str(self).splitlines() if part.strip())
        return [text or type(self).__name__]


class CaseError(ThermosimError):
    """A mistake in a case description (YAML file or Python-built case).

    The message reads ``FILE: KEY: REASON`` so that the user can go straight to the line.
    """

    def __init__(self, reason: str, key: str | None = None, file: str | None = None,
                 problems: "list[CaseError] | None" = None):
        self.reason = reason
        self.key = key
        self.file = file
        # several mistakes found at once (every schema error of a file): each its own
        # line; reason/key/file are the first one's
        self.problems = list(problems) if problems and len(problems) > 1 else []
        super().__init__(self._format())

    @classmethod
    def several(cls, errors: "list[CaseError]") -> "CaseError":
        """One error that reports every one of ``errors`` (at least one), a line each."""
        flat = []
        for e in errors:
            flat.extend(e.problems or [e])
        seen, unique = set(), []
        for e in flat:
            if e._line() not in seen:
                seen.add(e._line())
                unique.append(e)
        if len(unique) == 1:
            return unique[0]
        first = unique[0]
        return cls(first.reason, first.key, first.file, unique)

    def _line(self) -> str:
        parts = [p for p in (self.file, self.key) if p]
        return ": ".join(parts + [self.reason])

    def _format(self) -> str:
        if self.problems:
            return "\n".join(p._line() for p in self.problems)
        return self._line()

    def lines(self) -> list[str]:
        if self.problems:
            return [line for p in self.problems for line in p.lines()]
        return super().lines()

    def with_file(self, file: str) -> "CaseError":
        if self.problems:
            return CaseError.several([p.with_file(file) for p in self.problems])
        return CaseError(self.reason, self.key, file)

    def with_file_if_missing(self, file: str | None) -> "CaseError":
        """This error naming ``file`` where it (or one of its problems) names none."""
        if not file:
            return self
        if self.problems:
            return CaseError.several([p.with_file_if_missing(file) for p in self.problems])
        return self if self.file else CaseError(self.reason, self.key, file)


def names_case_file(file_of):
    """Decorator: a :class:`CaseError` raised inside the function that names no file
    gets the file ``file_of(*args, **kwargs)`` returns (for errors found while a solver is
    set up from a case, far from where the case was read)."""
    import functools

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except CaseError as e:
                try:
                    file = file_of(*args, **kwargs)
                except Exception:          # noqa: BLE001 (the original error matters more)
                    file = None
                named = e.with_file_if_missing(file)
                if named is e:
                    raise
                raise named from None
        return wrapper
    return decorate


class SolverError(ThermosimError):
    """The solver stopped: divergence, no convergence, or an ill-posed problem."""


class BackendError(ThermosimError):
    """A requested backend (for example the GPU) is not available."""


class Interrupted(ThermosimError):
    """The run was interrupted; a checkpoint holds its state."""
