"""Output paths checked before a run spends its time: a result file's name and folder
(:func:`check_output_file`), a results folder (:func:`check_output_dir`), each refused in
one line (``thermosim: error: PATH: OPTION: REASON``) when nothing could be written there."""

from __future__ import annotations

import tempfile
from pathlib import Path

from .errors import CaseError


def _nearest_existing(p: Path) -> Path:
    q = p
    while not q.exists() and q != q.parent:
        q = q.parent
    return q


def _check_writable_dir(target: Path, shown: str, option: str) -> None:
    """``target``'s nearest existing ancestor must be a folder where a file can be made."""
    base = _nearest_existing(target)
    if not base.is_dir():
        raise CaseError(f"{base} is a file, not a folder", option, shown)
    try:
        with tempfile.NamedTemporaryFile(dir=base, prefix=".thermosim-write-test-"):
            pass
    except OSError as e:
        raise CaseError(f"cannot write in {base} ({e.strerror or e})", option, shown) from None


def check_output_file(path, option: str = "-o", suffixes=(".h5", ".hdf5")) -> Path:
    """A result file to be written after the solve: checked before it (suffix; not a
    folder; its folder, or the nearest one that exists, takes a new file)."""
    p = Path(path)
    shown = str(path)
    if p.suffix.lower() not in suffixes:
        raise CaseError(f"a result is an HDF5 file: give a name ending in "
                        f"{' or '.join(suffixes)}, not '{p.suffix or p.name}'", option, shown)
    if p.is_dir():
        raise CaseError("is a folder: give a file name", option, shown)
    _check_writable_dir(p.parent if str(p.parent) else Path("."), shown, option)
    return p


def check_output_dir(path, option: str = "-o") -> Path:
    """A results folder: it is a folder or does not exist yet, and it (or the nearest
    folder above it that exists) takes a new file."""
    p = Path(path)
    shown = str(path)
    if p.exists() and not p.is_dir():
        raise CaseError("is a file, not a folder", option, shown)
    # (thermosim compare builds the report beside the folder, a sweep inside it)
    _check_writable_dir(p.parent if str(p.parent) else Path("."), shown, option)
    if p.exists():
        _check_writable_dir(p, shown, option)
    return p
