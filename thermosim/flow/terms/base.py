"""What a physics term of the flow model is: one small object behind one protocol.

The model sums its terms; adding a term means writing one of these and listing it in
:func:`thermosim.flow.terms.build_terms`, with no change to the time steppers.  Every method
has a do-nothing default, so a term overrides only what it adds:

* set-up (host arrays, once): :meth:`add_power` (heat sources, W per cell),
  :meth:`add_coupling` (conductance to a fixed temperature, W/K per cell: it bounds the
  explicit step of conduction), :meth:`held_faces` (faces whose velocity the term holds:
  no pressure coupling there);
* each step: :meth:`update` (lagged coefficients: an eddy viscosity, a fan's pressure rise
  at the flow now through it), :meth:`add_momentum` (explicit right-hand side, m/s^2),
  :meth:`momentum_sink` (a linear sink coefficient, 1/s, the model treats point-implicitly),
  :meth:`implicit_rate` (how fast the explicit force falls with the velocity, 1/s: the
  steady solver's operator takes it), :meth:`coupled_viscosity` (a viscosity whose
  diffusion that operator couples in full: the eddy viscosity),
  :meth:`add_heat` (heat into cells that depends on the temperature, W),
  :meth:`hold_temperature` / :meth:`hold_velocity` (constraints after a stage);
* the step's length: :meth:`stable_rate` (1/s, added to the explicit limit),
  :meth:`acceleration` (m/s^2: how fast it can start the fluid at rest);
* :meth:`report` (plain data for the result).
"""

from __future__ import annotations


class Term:
    """A physics term of the flow model (see the module docstring for the protocol)."""

    #: the key of :meth:`report` in the result's ``components`` (None: reports nothing)
    report_key: str | None = None

    def add_power(self, heat) -> None:
        """heat (host, interior cells, W) += this term's fixed heat sources."""

    def add_coupling(self, conductance) -> None:
        """conductance (host, interior cells, W/K) += this term's conductance to a fixed
        temperature."""

    def held_faces(self, axis: int):
        """Host mask (padded) of the faces normal to ``axis`` whose velocity this term holds,
        or None."""
        return None

    def update(self, vel, T) -> None:
        """Recompute what this term lags by a step, from the velocities (m/s) and
        temperatures (K) the step starts from."""

    def add_momentum(self, c: int, vel, T, rhs) -> None:
        """rhs (m/s^2, faces normal to ``c``) += this term's explicit force per unit mass."""

    def momentum_sink(self, c: int, vel):
        """A linear sink coefficient (1/s) on the faces normal to ``c`` for the momentum
        ``du/dt = ... - k u``, taken point-implicitly; None for no sink."""
        return None

    def coupled_viscosity(self):
        """A viscosity (m^2/s, padded cells) whose diffusion of momentum the steady solver's
        operator couples in full, neighbours included; None for none."""
        return None

    def implicit_rate(self, c: int, vel, coupled: bool = False):
        """The rate (1/s, scalar or an array on the faces normal to ``c``) at which this
        term's explicit force falls as the velocity there rises, -dF/du: the steady
        solver adds it to its momentum operator's diagonal (the right-hand side, and so
        the answer, unchanged); None for none.  ``coupled``: the rate beside what
        :meth:`coupled_viscosity` puts into the operator (the operator's diagonal), not
        the whole (SIMPLEC's d)."""
        return None

    def add_heat(self, T, Q) -> None:
        """Q (W, padded cells) += heat that depends on the temperature T (K)."""

    def hold_temperature(self, T) -> None:
        """Impose the temperatures (K) this term holds."""

    def hold_velocity(self, vel) -> None:
        """Impose the face velocities (m/s) this term holds."""

    def stable_rate(self) -> float:
        """The rate (1/s) this term adds to the explicit step's limit."""
        return 0.0

    def acceleration(self, T) -> float:
        """The largest acceleration (m/s^2) this term can give the fluid at rest, with the
        temperatures T (K)."""
        return 0.0

    def report(self, ctx) -> list | None:
        """What the result shows of this term (``ctx``: :class:`thermosim.flow.report.
        ReportContext`)."""
        return None
