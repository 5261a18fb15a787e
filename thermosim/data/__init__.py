"""Reference tables shipped with thermosim (see README.md)."""
