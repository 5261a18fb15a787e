"""Incompressible flow with heat transfer: staggered (MAC) grid, projection method.

Velocities live on cell faces, pressure and temperature at cell centres, on the same
non-uniform tensor grid as the conduction solver.  One time step is Heun's method (the
two-stage strong-stability-preserving Runge-Kutta scheme); each stage

1. predicts the face velocities with central (or upwind), conservative advection, viscous
   diffusion, Boussinesq buoyancy ``-beta (T - T_ref) g`` (m/s^2) and the terms' forces,
2. projects them onto divergence-free fields: a pressure equation in conductance form,
   ``sum_f (A_f / d_f) (phi_P - phi_N) = -(net outflow of P) / dt``, solved by conjugate
   gradients preconditioned with the geometric multigrid of the conduction solver,
3. advances the temperature: bounded second-order (van Leer) advection in the fluid and
   conduction through harmonic-mean face conductances everywhere, solids included
   (conjugate heat transfer).

Steady states are reached by marching until the scaled rates of change of velocity and
temperature fall below a tolerance; where diffusion on the smallest cells limits the
explicit step, a steady march treats it implicitly (:mod:`.implicit`).  Units: SI
throughout; ``phi`` is the kinematic pressure p / rho (m^2/s^2).

The package, layer by layer (each module imports only those above it):

- :mod:`.problem` (faces, boundary specs, blocks, the problem), :mod:`.result`
- :mod:`.mesh` (widths, masks), :mod:`.boundaries` (one object per face, halo fills)
- :mod:`.terms` (buoyancy, body force, fans, eddy viscosity, porous sinks, coolers, chips)
- :mod:`.heat` (the energy equation's parts), :mod:`.pressure` (the projection),
  :mod:`.implicit` (implicit diffusion)
- :mod:`.model` (the tendencies), :mod:`.steppers` (Heun, run modes), :mod:`.march`
  (steady and transient policies), :mod:`.report` (figures of a state)
- :mod:`.solver` (:class:`FlowSolver`), :mod:`.from_case` (a problem from a YAML case)
"""

from ..fluid import Fluid
from .from_case import problem_from_case
from .problem import FACES, KINDS, FlowBoundary, FlowProblem, SolidBlock
from .result import FlowResult, FlowStats
from .solver import FlowSolver
from .steppers import TIME_ACCURATE, RunMode

__all__ = ["FACES", "KINDS", "Fluid", "FlowBoundary", "FlowProblem", "FlowResult",
           "FlowSolver", "FlowStats", "RunMode", "SolidBlock", "TIME_ACCURATE",
           "problem_from_case"]
