"""Material properties in SI units.

Solids come from a small library of values at room temperature (sources in each entry);
fluids are evaluated with CoolProp at a stated temperature and pressure, so a conduction
model of still air or water uses the same property source as the flow solver will.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import CaseError


@dataclass(frozen=True)
class Material:
    """A homogeneous material.

    conductivity: W/(m K) along x, y, z (orthotropic; equal for isotropic materials)
    density: kg/m^3;  specific_heat: J/(kg K)
    """

    name: str
    conductivity: tuple[float, float, float]
    density: float
    specific_heat: float
    kind: str = "solid"  # "solid", "fluid" or "void"
    source: str = ""

    @property
    def volumetric_heat_capacity(self) -> float:
        """rho * c_p in J/(m^3 K)."""
        return self.density * self.specific_heat

    @property
    def is_void(self) -> bool:
        return self.kind == "void"


def _solid(name, k, rho, cp, source):
    k = (float(k),) * 3 if np.isscalar(k) else tuple(float(v) for v in k)
    return Material(name, k, float(rho), float(cp), "solid", source)


# Values at about 300 K.  Incropera, DeWitt et al., Fundamentals of Heat and Mass Transfer,
# 7th ed., Table A.1 (metals, silicon); FR4 in-plane/through-plane values are typical of
# multilayer boards with copper planes (JEDEC JESD51-7 style 2s2p boards); TIM is a
# representative filled grease/pad.
SOLIDS: dict[str, Material] = {m.name: m for m in [
    _solid("copper", 401.0, 8933.0, 385.0, "Incropera Table A.1, pure copper, 300 K"),
    _solid("aluminium", 237.0, 2702.0, 903.0, "Incropera Table A.1, pure aluminium, 300 K"),
    _solid("aluminium_6061", 167.0, 2700.0, 896.0, "ASM handbook, 6061-T6"),
    _solid("silicon", 148.0, 2330.0, 712.0, "Incropera Table A.1, silicon, 300 K"),
    _solid("steel", 60.5, 7854.0, 434.0, "Incropera Table A.1, plain carbon steel, 300 K"),
    _solid("stainless_steel", 14.9, 7900.0, 477.0, "Incropera Table A.1, AISI 304, 300 K"),
    _solid("fr4", (20.0, 20.0, 0.35), 1850.0, 1100.0,
           "multilayer PCB with copper planes: in-plane 20, through-plane 0.35 W/(m K)"),
    _solid("fr4_bare", (0.81, 0.81, 0.29), 1850.0, 1100.0, "bare FR4 laminate datasheet"),
    _solid("tim", 5.0, 2500.0, 800.0, "filled thermal grease, typical datasheet value"),
    _solid("solder", 50.0, 7400.0, 220.0, "SAC305 solder"),
    _solid("substrate", (30.0, 30.0, 1.0), 2000.0, 900.0,
           "organic package substrate with copper layers (in-plane/through-plane)"),
]}
SOLIDS["aluminum"] = SOLIDS["aluminium"]

VOID = Material("void", (0.0, 0.0, 0.0), 0.0, 0.0, "void", "empty space: no heat path")

# CoolProp fluid names.  Propylene glycol 25 % by mass is CoolProp's incompressible MPG.
FLUIDS: dict[str, str] = {
    "air": "Air",
    "water": "Water",
    "propylene_glycol_25": "INCOMP::MPG[0.25]",
    "nitrogen": "Nitrogen",
}


# Liquids CoolProp does not hold, with constant properties (SI) and their sources: the
# immersion-cooling fluids.  Properties near 25-40 degC; a tank's oil spans a few kelvin.
#   hydrocarbon_oil: a low-viscosity synthetic hydrocarbon (polyalphaolefin, PAO 4 grade)
#     of the kind single-phase immersion tanks use.  Density and kinematic viscosity at
#     40 degC from ExxonMobil SpectraSyn 4 PAO's typical properties (820 kg/m^3 at 15.6 degC
#     less 0.07 %/K; 19 cSt at 40 degC); conductivity, specific heat and expansion of a
#     hydrocarbon oil from Incropera et al., Fundamentals of Heat and Mass Transfer, 7th ed.,
#     Table A.5 (unused engine oil at 320 K: k 0.143 W/(m K), c_p 1,993 J/(kg K),
#     beta 7.0e-4 1/K).
#   fc40: an engineered fluorocarbon dielectric, 3M Fluorinert Electronic Liquid FC-40,
#     product information (typical properties at 25 degC): density 1,855 kg/m^3, kinematic
#     viscosity 2.2 cSt, specific heat 1,100 J/(kg K), conductivity 0.065 W/(m K),
#     expansion 0.0012 1/K; boils at 165 degC (single-phase use).
LIQUIDS: dict[str, dict] = {
    "hydrocarbon_oil": dict(density=806.0, kinematic_viscosity=19.0e-6, conductivity=0.143,
                            specific_heat=1993.0, expansion=7.0e-4,
                            source="PAO 4 (ExxonMobil SpectraSyn 4: rho, nu at 40 degC); "
                                   "k, c_p, beta: Incropera Table A.5, engine oil 320 K"),
    "fc40": dict(density=1855.0, kinematic_viscosity=2.2e-6, conductivity=0.065,
                 specific_heat=1100.0, expansion=1.2e-3,
                 source="3M Fluorinert FC-40 product information, 25 degC"),
}


def fluid_names() -> list[str]:
    """Every fluid a case may name: CoolProp's and the constant-property liquids."""
    return sorted(set(FLUIDS) | set(LIQUIDS))


def fluid(name: str, temperature: float = 300.0, pressure: float = 101325.0) -> Material:
    """A still fluid at ``temperature`` (K) and ``pressure`` (Pa), properties from CoolProp
    (the constant-property liquids: their table's values)."""
    if name in LIQUIDS:
        d = LIQUIDS[name]
        k = d["conductivity"]
        return Material(name, (k, k, k), d["density"], d["specific_heat"], "fluid",
                        d["source"])
    from .fluid_cache import properties

    cp_name = FLUIDS[name]
    try:
        q = properties(cp_name, temperature, pressure)      # (kept on disk: fluid_cache)
        k, rho, cp = q["L"], q["D"], q["C"]
    except ValueError as e:                # CoolProp: a state outside its data
        raise CaseError(no_properties(name, temperature, pressure, e)) from None
    return Material(name, (k, k, k), rho, cp, "fluid",
                    f"CoolProp {cp_name} at {temperature:g} K, {pressure:g} Pa")


def no_properties(name: str, temperature, pressure, error: Exception) -> str:
    """The reason CoolProp gives no properties of a fluid at a state, for a CaseError."""
    why = (str(error).strip().splitlines() or [""])[0]
    return (f"no properties of {name} at {temperature:g} K and {pressure:g} Pa: outside "
            f"CoolProp's data for it (frozen, or past its range: {why})")


def lookup(name: str, user: dict[str, Material] | None = None,
           temperature: float = 300.0) -> Material:
    """Find a material by name: user-defined first, then solids, fluids, ``void``."""
    if user and name in user:
        return user[name]
    if name in SOLIDS:
        return SOLIDS[name]
    if name in FLUIDS or name in LIQUIDS:
        return fluid(name, temperature)
    if name == "void":
        return VOID
    known = sorted(set(SOLIDS) | set(fluid_names()) | {"void"} | set(user or {}))
    raise CaseError(f"unknown material '{name}' (known: {', '.join(known)})")


def make_material(name: str, conductivity, density: float, specific_heat: float,
                  key: str = "materials") -> Material:
    """A user-defined solid, checked for physical values."""
    k = (conductivity,) * 3 if np.isscalar(conductivity) else tuple(conductivity)
    if len(k) != 3:
        raise CaseError("conductivity must be one value or three (kx, ky, kz)",
                        f"{key}.{name}.k")
    for v in k:
        if not np.isfinite(v) or v <= 0:
            raise CaseError(f"conductivity must be positive, got {v}", f"{key}.{name}.k")
    for label, v in (("rho", density), ("cp", specific_heat)):
        if not np.isfinite(v) or v <= 0:
            raise CaseError(f"must be positive, got {v}", f"{key}.{name}.{label}")
    return Material(name, tuple(float(v) for v in k), float(density), float(specific_heat),
                    "solid", "user-defined")
