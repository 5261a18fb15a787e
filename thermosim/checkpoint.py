"""Checkpoints: interrupt a long run (Ctrl-C) or lose the machine, then resume it.

A checkpoint is a small HDF5 file holding the solver state (the temperature field, the time
step reached, the snapshots taken so far) and a fingerprint of the case, so that a run is only
ever resumed with the case that wrote it.  It is written atomically (temporary name, then
rename), periodically and on interruption, and removed when the run completes.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import h5py
import numpy as np

from .atomic import atomic_path
from .errors import CaseError


#: Run controls that say when to stop, not what is solved: a run stopped by them ("no
#: steady state ... raise flow.max_steps") continues from its checkpoint with new values.
#: Kept in the fingerprint: everything that changes the discrete equations or the steps
#: taken (grid, physics, precision, cfl, diffusion and advection schemes, dt, end_time).
RUN_CONTROLS = {"solver": ("tolerance", "max_iterations"),
                "flow": ("max_steps", "tolerance", "energy_tolerance")}


def fingerprint(case) -> str:
    """A hash of everything in the case that changes the solution (not its name, nor the
    stopping controls of :data:`RUN_CONTROLS`, nor their copies in a layout's
    parameters)."""
    data = case.model_dump(mode="json", exclude={"name"})
    for section, keys in RUN_CONTROLS.items():
        for k in keys:
            if isinstance(data.get(section), dict):
                data[section].pop(k, None)
    params = (data.get("layout") or {}).get("parameters")
    if isinstance(params, dict):
        for k in (*RUN_CONTROLS["flow"], "name"):
            params.pop(k, None)
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class Checkpointer:
    """Writes the state every ``every`` seconds of wall time and when asked."""

    def __init__(self, path, case, every: float = 60.0):
        self.path = Path(path)
        self.case = case
        self.every = every
        self._last = time.perf_counter()

    def due(self) -> bool:
        return time.perf_counter() - self._last >= self.every

    def save(self, T: np.ndarray, step: int = 0, time_s: float = 0.0,
             snapshots=(), mode: str = "steady") -> Path:
        arrays = {"T": T}
        if snapshots:
            arrays["snapshot_times"] = np.asarray([t for t, _ in snapshots])
            arrays["snapshots"] = np.stack([s for _, s in snapshots])
        return self.save_state(arrays, {"mode": mode, "step": int(step),
                                        "time": float(time_s)})

    def _read(self, read):
        """read(f) on the open checkpoint once its fingerprint matches the case; None when
        there is no checkpoint."""
        if not self.path.exists():
            return None
        file = str(self.path)
        try:
            with h5py.File(self.path, "r") as f:
                if f.attrs.get("fingerprint") != fingerprint(self.case):
                    raise CaseError("this checkpoint was written for a different case (or "
                                    "different settings); delete it to start afresh", None,
                                    file)
                return read(f)
        except OSError as e:
            raise CaseError(f"cannot read the checkpoint ({e})", None, file) from None

    def load(self) -> dict | None:
        """The saved state, or None when there is no checkpoint."""
        def read(f):
            state = {"T": f["T"][...], "step": int(f.attrs["step"]),
                     "time": float(f.attrs["time"]), "mode": str(f.attrs["mode"]),
                     "snapshots": []}
            if "snapshots" in f:
                state["snapshots"] = list(zip(f["snapshot_times"][...].tolist(),
                                              list(f["snapshots"][...])))
            return state
        return self._read(read)

    def save_state(self, arrays: dict, attrs: dict) -> Path:
        """A solver's whole state: named arrays and scalar attributes (flow runs)."""
        with atomic_path(self.path) as tmp:
            with h5py.File(tmp, "w") as f:
                f.attrs["fingerprint"] = fingerprint(self.case)
                for k, v in attrs.items():
                    f.attrs[k] = v
                for k, v in arrays.items():
                    f.create_dataset(k, data=v)
        self._last = time.perf_counter()
        return self.path

    def load_state(self) -> tuple[dict, dict] | None:
        """(arrays, attributes) saved by :meth:`save_state`, or None without a checkpoint."""
        return self._read(lambda f: ({k: f[k][...] for k in f.keys()},
                                     {k: f.attrs[k] for k in f.attrs.keys()
                                      if k != "fingerprint"}))

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
