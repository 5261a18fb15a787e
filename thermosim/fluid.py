"""A Newtonian fluid with constant properties: the value type every flow module shares.

Properties come from CoolProp (gases, water) or from the library's liquid table
(:mod:`thermosim.materials`); SI units throughout.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import CaseError


@dataclass(frozen=True)
class Fluid:
    """A Newtonian fluid with constant properties (Boussinesq).

    density kg/m^3, viscosity Pa s (dynamic), conductivity W/(m K), specific_heat J/(kg K),
    expansion 1/K (volumetric thermal expansion coefficient beta).
    """

    name: str
    density: float
    viscosity: float
    conductivity: float
    specific_heat: float
    expansion: float = 0.0
    source: str = ""

    @property
    def kinematic_viscosity(self) -> float:
        """nu in m^2/s."""
        return self.viscosity / self.density

    @property
    def diffusivity(self) -> float:
        """Thermal diffusivity alpha in m^2/s."""
        return self.conductivity / (self.density * self.specific_heat)

    @property
    def prandtl(self) -> float:
        return self.kinematic_viscosity / self.diffusivity

    @property
    def volumetric_heat_capacity(self) -> float:
        return self.density * self.specific_heat

    @classmethod
    def from_coolprop(cls, name: str, temperature: float = 300.0,
                      pressure: float = 101325.0) -> "Fluid":
        """Properties of a library fluid (``air``, ``water``, ...) from CoolProp at the
        reference ``temperature`` (K) and ``pressure`` (Pa)."""
        from CoolProp.CoolProp import PropsSI

        from .materials import FLUIDS, LIQUIDS, fluid_names

        if name in LIQUIDS:
            d = LIQUIDS[name]
            return cls(name, d["density"], d["kinematic_viscosity"] * d["density"],
                       d["conductivity"], d["specific_heat"], d["expansion"], d["source"])
        if name not in FLUIDS:
            raise CaseError(f"unknown fluid '{name}' (known: {', '.join(fluid_names())})")
        cp_name = FLUIDS[name]
        get = lambda key: PropsSI(key, "T", temperature, "P", pressure, cp_name)  # noqa: E731
        try:
            rho = get("D")
            try:
                beta = get("isobaric_expansion_coefficient")
            except ValueError:           # incompressible mixtures: from the density slope
                dT = 0.5
                r1 = PropsSI("D", "T", temperature + dT, "P", pressure, cp_name)
                r0 = PropsSI("D", "T", temperature - dT, "P", pressure, cp_name)
                beta = -(r1 - r0) / (2 * dT) / rho
            return cls(name, rho, get("V"), get("L"), get("C"), beta,
                       f"CoolProp {cp_name} at {temperature:g} K, {pressure:g} Pa")
        except ValueError as e:          # CoolProp: a state outside its data
            from .materials import no_properties

            raise CaseError(no_properties(name, temperature, pressure, e)) from None
