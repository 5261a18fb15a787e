"""Cases shipped with thermosim (YAML files beside this module)."""

from __future__ import annotations

from pathlib import Path

from ..case import Case, load_case

HERE = Path(__file__).parent
DEFAULT = HERE / "default.yaml"


def gpu_package(coarse: bool = False) -> Case:
    """The 700 W GPU package with cold plate (coarse grid when ``coarse``)."""
    return load_case(DEFAULT if coarse else HERE / "gpu_package.yaml")
