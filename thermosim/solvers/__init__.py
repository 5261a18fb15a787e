"""Linear solvers (multigrid-preconditioned conjugate gradients) and time stepping."""
