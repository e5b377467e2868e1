"""Process ground truth: how a recipe's setpoints and the chamber's condition decide a run's outcome.

The simulator computes every run's outcome with :func:`response_batch`; :func:`response` is the
same function for one run, for the process-optimisation room to evaluate recommended setpoints.

Model (per recipe; ``l, h`` the limits, ``d`` the default, ``o`` the hidden optimum of a parameter):

* step yield ``= 99.8 - 50 * (sum_i w_i z_i**2 + 0.15 * z_0 z_1) - 0.05 * pm_age_days - fault loss``
  with ``z_i = (p_i - o_i) / (h_i - l_i)``: a bowl whose maximum lies at the optimum, inside the limits
  and away from the default (so the default loses about 1-1.5 points per step);
* main outcome (thickness / CD) ``= target * (1 + sum_i s_i (p_i - o_i)/(h_i - l_i) - 0.003 * pm_age_days
  + fault shift)``: linear in the setpoints, on target at the optimum (a few % off at the default, in spec);
* second outcome (uniformity / etch depth / resist thickness) likewise, uniformity growing off-optimum.

    >>> from fabmind.sim.process import response, optimum, default_setpoints
    >>> best = response("CVD-SIN-GI", optimum("CVD-SIN-GI"))["yield_pct"]
    >>> base = response("CVD-SIN-GI", default_setpoints("CVD-SIN-GI"))["yield_pct"]
    >>> round(best, 1), best > base + 0.5
    (99.8, True)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from fabmind.sim.faults import FAULT_LIBRARY
from fabmind.sim.recipes import RECIPES, RecipeDef

MAX_YIELD = 99.8


@dataclass(frozen=True)
class ChamberState:
    """Condition of a chamber when a run happens: days since its last PM and active fault strengths (0..1)."""

    pm_age_days: float = 0.0
    faults: dict[str, float] = field(default_factory=dict)


def _recipe(recipe_id: str) -> RecipeDef:
    try:
        return RECIPES[recipe_id]
    except KeyError:
        raise KeyError(f"unknown recipe {recipe_id!r}; known: {', '.join(RECIPES)}") from None


def optimum(recipe_id: str) -> dict[str, float]:
    """The true optimum setpoints of a recipe (ground truth, never stored)."""
    return {p.name: p.optimum for p in _recipe(recipe_id).params}


def default_setpoints(recipe_id: str) -> dict[str, float]:
    return {p.name: p.default for p in _recipe(recipe_id).params}


def outcome_names(recipe_id: str) -> tuple[str, str]:
    r = _recipe(recipe_id)
    return r.outcome, r.second


def response(recipe_id: str, setpoints: Mapping[str, float],
             chamber_state: ChamberState | Mapping | None = None) -> dict[str, float]:
    """Expected outcomes of one run (no measurement noise): ``yield_pct`` and the recipe's two outcomes.

    Missing setpoints take the recipe default; values outside the limits are allowed (and penalised
    by the bowl). ``chamber_state`` is a :class:`ChamberState` or a mapping with the same keys.
    """
    if chamber_state is None:
        state = ChamberState()
    elif isinstance(chamber_state, ChamberState):
        state = chamber_state
    else:
        state = ChamberState(float(chamber_state.get("pm_age_days", 0.0)), dict(chamber_state.get("faults", {})))
    r = _recipe(recipe_id)
    unknown = set(setpoints) - set(r.param_names)
    if unknown:
        raise KeyError(f"recipe {recipe_id} has no parameter(s) {sorted(unknown)}; it has {list(r.param_names)}")
    sp = {p.name: np.array([float(setpoints.get(p.name, p.default))]) for p in r.params}
    shift: dict[str, np.ndarray] = {}
    loss = np.zeros(1)
    for name, strength in state.faults.items():
        ft = FAULT_LIBRARY[name]
        loss += ft.yield_effect * strength
        for k, v in ft.outcome_shift.items():
            shift[k] = shift.get(k, np.zeros(1)) + v * strength
    out = response_batch(recipe_id, sp, np.array([state.pm_age_days]), shift, loss)
    return {k: float(v[0]) for k, v in out.items()}


def response_batch(recipe_id: str, setpoints: Mapping[str, np.ndarray], pm_age_days: np.ndarray,
                   outcome_shift: Mapping[str, np.ndarray] | None = None,
                   fault_yield_loss: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Vectorised :func:`response` over ``n`` runs (arrays of shape ``[n]``)."""
    r = _recipe(recipe_id)
    age = np.asarray(pm_age_days, dtype=float)
    n = age.shape[0]
    shift = outcome_shift or {}
    bowl = np.zeros(n)
    lin = np.zeros(n)
    z = []
    for p in r.params:
        v = np.asarray(setpoints.get(p.name, np.full(n, p.default)), dtype=float)
        span = p.high - p.low
        zi = (v - p.optimum) / span
        z.append(zi)
        bowl += p.weight * zi**2
        lin += p.sensitivity * (v - p.optimum) / span
    bowl += 0.15 * z[0] * z[1]
    loss = np.zeros(n) if fault_yield_loss is None else np.asarray(fault_yield_loss, dtype=float)
    yield_pct = np.clip(MAX_YIELD - 50.0 * bowl - 0.05 * age - loss, 0.0, 100.0)
    main = r.target * (1.0 + lin - 0.003 * age + shift.get(r.outcome, 0.0))
    if r.second == "uniformity_pct":
        second = r.second_target * (1.0 + 6.0 * bowl + 0.01 * age + shift.get(r.second, 0.0))
    else:
        second = r.second_target * (1.0 + 0.5 * lin - 0.002 * age + shift.get(r.second, 0.0))
    return {"yield_pct": yield_pct, r.outcome: main, r.second: second}
