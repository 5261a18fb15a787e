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
        from .fluid_cache import properties
        from .materials import FLUIDS, LIQUIDS, fluid_names

        if name in LIQUIDS:
            d = LIQUIDS[name]
            return cls(name, d["density"], d["kinematic_viscosity"] * d["density"],
                       d["conductivity"], d["specific_heat"], d["expansion"], d["source"])
        if name not in FLUIDS:
            raise CaseError(f"unknown fluid '{name}' (known: {', '.join(fluid_names())})")
        cp_name = FLUIDS[name]
        try:
            # (kept on disk: CoolProp's import alone is 2.9 s, see fluid_cache)
            q = properties(cp_name, temperature, pressure)
            return cls(name, q["D"], q["V"], q["L"], q["C"], q["beta"],
                       f"CoolProp {cp_name} at {temperature:g} K, {pressure:g} Pa")
        except ValueError as e:          # CoolProp: a state outside its data
            from .materials import no_properties

            raise CaseError(no_properties(name, temperature, pressure, e)) from None
