"""The assembled linear system of a conduction step or of the pressure equation, a value
type below every solver (the conduction discretisation, the flow solver and the multigrid
all take it; none of them is needed to hold one)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class LinearSystem:
    """``A T = b`` in conductance form: ``(A T)_P = D_P T_P + sum_f G_f (T_P - T_N)``.

    ``Gx`` has shape (nx+1, ny, nz): face i lies between cells i-1 and i; faces 0 and nx
    couple to the halo, which holds zero for the homogeneous operator (the boundary
    temperatures are already in ``b``).  Units: G and D in W/K, b in W.
    """

    Gx: np.ndarray
    Gy: np.ndarray
    Gz: np.ndarray
    D: np.ndarray
    b: np.ndarray

    def row_sums(self) -> np.ndarray:
        """A applied to a uniform field of 1 K: D plus the boundary-face conductances."""
        s = self.D.copy()
        s[0] += self.Gx[0]
        s[-1] += self.Gx[-1]
        s[:, 0] += self.Gy[:, 0]
        s[:, -1] += self.Gy[:, -1]
        s[:, :, 0] += self.Gz[:, :, 0]
        s[:, :, -1] += self.Gz[:, :, -1]
        return s

    def shifted_rhs(self, T_ref: float) -> np.ndarray:
        """Right-hand side for the rise T - T_ref (W)."""
        return self.b - T_ref * self.row_sums()
