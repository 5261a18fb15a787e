"""The six faces of a box-shaped domain, by name: ``x-`` is the face at the lower x end,
``x+`` at the upper, and so on.  ``FACES[2 a + side]`` is on axis ``a`` (side 0 low, 1
high)."""

FACES = ("x-", "x+", "y-", "y+", "z-", "z+")


def axis_side(face: str) -> tuple[int, int]:
    """(axis 0-2, side 0 low / 1 high) of a face name."""
    i = FACES.index(face)
    return i // 2, i % 2
