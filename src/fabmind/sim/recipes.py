"""Recipes (parameters with limits, and the hidden true optimum), the route steps and the products.

The true optimum of each parameter (``ParamDef.optimum``) is the simulator's ground truth for
process optimisation: it lies inside the limits and differs from the recipe default. It is never
written to the store; :func:`fabmind.sim.process.optimum` returns it for benchmarks.
"""

from __future__ import annotations

from dataclasses import dataclass

from fabmind.domain import Product, Recipe, RecipeParameter, Step


@dataclass(frozen=True)
class ParamDef:
    name: str
    unit: str
    default: float
    low: float
    high: float
    optimum: float  # hidden ground truth
    weight: float  # yield curvature: yield points lost at |(value-optimum)/(high-low)| = 1 is 100*weight
    sensitivity: float  # relative change of the main outcome per unit of (value-optimum)/(high-low)

    def domain(self) -> RecipeParameter:
        return RecipeParameter(name=self.name, unit=self.unit, default=self.default, low=self.low, high=self.high)


@dataclass(frozen=True)
class RecipeDef:
    recipe_id: str
    type_id: str
    params: tuple[ParamDef, ...]
    outcome: str  # main outcome measured after the step
    outcome_unit: str
    target: float  # main outcome at the optimum setpoints (the default is a few % off)
    tolerance: float  # spec half-width of the main outcome (inspection fails outside)
    second: str  # second measured outcome
    second_target: float

    def domain(self, steps: tuple[str, ...]) -> Recipe:
        return Recipe(recipe_id=self.recipe_id, type_id=self.type_id, steps=steps,
                      parameters=tuple(p.domain() for p in self.params))

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)


P = ParamDef


def _cvd(recipe_id: str, gas2: str, d_rf: float, d_p: float, d_sih4: float, d_g2: float, target: float) -> RecipeDef:
    return RecipeDef(
        recipe_id=recipe_id, type_id="PECVD-X",
        params=(
            P("RF_POWER_W", "W", d_rf, d_rf * 0.7, d_rf * 1.4, d_rf * 1.12, 0.30, 0.12),
            P("PRESSURE_MTORR", "mTorr", d_p, d_p * 0.7, d_p * 1.3, d_p * 0.92, 0.20, -0.04),
            P("SIH4_SCCM", "sccm", d_sih4, d_sih4 * 0.6, d_sih4 * 1.4, d_sih4 * 1.05, 0.25, 0.15),
            P(f"{gas2}_SCCM", "sccm", d_g2, d_g2 * 0.6, d_g2 * 1.4, d_g2 * 0.9, 0.10, 0.02),
            P("TEMP_C", "degC", 350.0, 300.0, 400.0, 362.0, 0.35, 0.02),
            P("SPACING_MM", "mm", 15.0, 10.0, 25.0, 13.5, 0.15, -0.06),
        ),
        outcome="thickness_nm", outcome_unit="nm", target=target, tolerance=target * 0.06,
        second="uniformity_pct", second_target=3.0,
    )


def _etch(recipe_id: str, gas: str, d_src: float, d_bias: float, d_p: float, d_gas: float, cd: float) -> RecipeDef:
    return RecipeDef(
        recipe_id=recipe_id, type_id="DRYETCH-X",
        params=(
            P("SRC_POWER_W", "W", d_src, d_src * 0.7, d_src * 1.3, d_src * 1.08, 0.20, -0.10),
            P("BIAS_POWER_W", "W", d_bias, d_bias * 0.6, d_bias * 1.4, d_bias * 0.85, 0.35, -0.25),
            P("PRESSURE_MTORR", "mTorr", d_p, d_p * 0.6, d_p * 1.5, d_p * 1.1, 0.15, 0.15),
            P(f"{gas}_SCCM", "sccm", d_gas, d_gas * 0.6, d_gas * 1.4, d_gas * 1.12, 0.25, -0.12),
            P("O2_SCCM", "sccm", 50.0, 20.0, 120.0, 65.0, 0.10, -0.05),
            P("CHUCK_TEMP_C", "degC", 20.0, 5.0, 45.0, 26.0, 0.25, 0.08),
            P("HE_PRESS_TORR", "Torr", 10.0, 6.0, 15.0, 11.0, 0.10, 0.02),
        ),
        outcome="cd_um", outcome_unit="um", target=cd, tolerance=cd * 0.05,
        second="etch_depth_nm", second_target=300.0,
    )


def _photo(recipe_id: str, d_rpm: float, cd: float) -> RecipeDef:
    return RecipeDef(
        recipe_id=recipe_id, type_id="TRACK-X",
        params=(
            P("SPIN_RPM", "rpm", d_rpm, d_rpm * 0.75, d_rpm * 1.3, d_rpm * 1.07, 0.30, -0.30),
            P("DISPENSE_ML", "mL", 2.0, 1.2, 3.0, 2.3, 0.20, 0.05),
            P("SOFTBAKE_C", "degC", 110.0, 95.0, 125.0, 104.0, 0.30, 0.06),
            P("HMDS_SCCM", "sccm", 500.0, 300.0, 800.0, 560.0, 0.08, 0.0),
        ),
        outcome="cd_um", outcome_unit="um", target=cd, tolerance=cd * 0.05,
        second="pr_thickness_um", second_target=1.5,
    )


RECIPES: dict[str, RecipeDef] = {r.recipe_id: r for r in (
    _cvd("CVD-SIN-GI", "NH3", 1500.0, 1500.0, 250.0, 1500.0, 400.0),
    _cvd("CVD-SIN-PAS", "NH3", 1200.0, 1300.0, 200.0, 1800.0, 300.0),
    _cvd("CVD-SIO-ILD", "N2O", 1000.0, 1100.0, 150.0, 3000.0, 500.0),
    _etch("ETCH-ASI", "CL2", 2000.0, 800.0, 40.0, 300.0, 4.0),
    _etch("ETCH-SIN-CH", "SF6", 2400.0, 1000.0, 30.0, 400.0, 3.0),
    _etch("ETCH-MO-PIX", "CL2", 1800.0, 600.0, 50.0, 250.0, 5.0),
    _photo("PR-ACT", 1200.0, 4.0),
    _photo("PR-CH", 1300.0, 3.0),
    _photo("PR-PIX", 1100.0, 5.0),
)}


@dataclass(frozen=True)
class StepDef:
    step_id: str
    name: str
    type_id: str
    recipe_id: str


ROUTE: tuple[StepDef, ...] = (
    StepDef("S01-GI-DEP", "gate insulator SiNx deposition", "PECVD-X", "CVD-SIN-GI"),
    StepDef("S02-ACT-PHO", "active layer photoresist coat", "TRACK-X", "PR-ACT"),
    StepDef("S03-ACT-ETCH", "active a-Si island etch", "DRYETCH-X", "ETCH-ASI"),
    StepDef("S04-PAS-DEP", "passivation SiNx deposition", "PECVD-X", "CVD-SIN-PAS"),
    StepDef("S05-CH-PHO", "contact hole photoresist coat", "TRACK-X", "PR-CH"),
    StepDef("S06-CH-ETCH", "contact hole SiNx etch", "DRYETCH-X", "ETCH-SIN-CH"),
    StepDef("S07-ILD-DEP", "interlayer SiO2 deposition", "PECVD-X", "CVD-SIO-ILD"),
    StepDef("S08-PIX-PHO", "pixel electrode photoresist coat", "TRACK-X", "PR-PIX"),
    StepDef("S09-PIX-ETCH", "pixel metal etch", "DRYETCH-X", "ETCH-MO-PIX"),
)
STEP_BY_ID: dict[str, StepDef] = {s.step_id: s for s in ROUTE}

PRODUCTS: dict[str, tuple[str, ...]] = {
    "TFT-A": tuple(s.step_id for s in ROUTE),
    "TFT-B": tuple(s.step_id for s in ROUTE if s.step_id != "S07-ILD-DEP"),
}
PRODUCT_NAMES = {"TFT-A": "15.6in a-Si TFT backplane with ILD", "TFT-B": "10.1in a-Si TFT backplane"}


def domain_steps(area_of_type: dict[str, str]) -> list[Step]:
    return [Step(step_id=s.step_id, seq=i + 1, area_id=area_of_type[s.type_id], type_id=s.type_id,
                 recipe_id=s.recipe_id, name=s.name) for i, s in enumerate(ROUTE)]


def domain_products() -> list[Product]:
    return [Product(product_id=p, name=PRODUCT_NAMES[p], route=r) for p, r in PRODUCTS.items()]
