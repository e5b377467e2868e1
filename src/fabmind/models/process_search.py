"""The constrained setpoint search behind :func:`fabmind.models.process.recommend_setpoints`.

A vectorised random screen of the feasible box seeds optuna's TPE sampler (the default setpoints
and the best screened points are enqueued first); output constraints are penalised and a
recommendation must satisfy them all, else :class:`InfeasibleConstraints` says which one failed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from fabmind.domain import Recipe
from fabmind.models.base import FeatureContribution
from fabmind.models.process import (
    Constraint,
    InfeasibleConstraints,
    ProcessSurrogate,
    RecipeLimitsError,
    Recommendation,
    recipe_limits,
)

_SCREEN = 3000
_PENALTY = 1e3


def _box(
    features: list[str],
    limits: dict[str, tuple[float, float, float]],
    context: Mapping[str, float],
    constraints: Sequence[Constraint],
    outputs: Mapping[str, Any],
    rid: str,
) -> dict[str, tuple[float, float]]:
    """The search box per free feature: recipe limits narrowed by parameter constraints."""
    box = {}
    for f in features:
        if f in context:
            continue
        if f not in limits:
            raise RecipeLimitsError(
                f"recipe {rid}: the surrogate uses {f!r} but the recipe gives no limits for it; add limits to the "
                f"recipe or fix its value with context={{{f!r}: ...}}"
            )
        lo, hi, _ = limits[f]
        box[f] = (lo, hi)
    for c in constraints:
        if c.name in box:
            lo, hi = box[c.name]
            new_lo = lo if c.low is None else max(lo, c.low)
            new_hi = hi if c.high is None else min(hi, c.high)
            if new_lo > new_hi:
                raise InfeasibleConstraints(
                    f"constraint {c.name} in [{c.low}, {c.high}] does not overlap the recipe {rid} limits "
                    f"[{lo}, {hi}] of {c.name!r}"
                )
            box[c.name] = (new_lo, new_hi)
        elif c.name in context:
            v = context[c.name]
            if (c.low is not None and v < c.low) or (c.high is not None and v > c.high):
                raise InfeasibleConstraints(
                    f"constraint {c.name} in [{c.low}, {c.high}] excludes its fixed value {v}"
                )
        elif c.name not in outputs:
            raise InfeasibleConstraints(
                f"constraint on unknown name {c.name!r}: not a recipe parameter {sorted(box)} nor a predicted "
                f"output {sorted(outputs)}"
            )
    if not box:
        raise RecipeLimitsError(f"recipe {rid}: no free parameter to optimise (all fixed by context)")
    return box


def search(
    surrogate: ProcessSurrogate,
    recipe: Recipe | Mapping[str, Any],
    *,
    target: str,
    objective: str | float,
    constraints: Sequence[Constraint],
    context: Mapping[str, float] | None,
    outputs: Mapping[str, ProcessSurrogate] | None,
    risk: float,
    n_trials: int,
    seed: int,
    trust_region: bool = True,
) -> Recommendation:
    import optuna

    surrogate._check_fitted()
    rid = recipe.recipe_id if isinstance(recipe, Recipe) else "(given limits)"
    limits = recipe_limits(recipe)
    features = [str(f) for f in surrogate.feature_names_in_]
    outputs = dict(outputs or {})
    for name, model in outputs.items():
        if [str(f) for f in model.feature_names_in_] != features:
            raise RecipeLimitsError(
                f"output model {name!r} was trained on other features than the target's surrogate"
            )
    ctx = dict(context or {})
    box = _box(features, limits, ctx, constraints, outputs, rid)
    if trust_region:  # stay where the data are: recipe limits and constraints, within the data's 1-99 %
        support = surrogate.support_
        for f in box:
            j = features.index(f)
            lo, hi = max(box[f][0], support[0, j]), min(box[f][1], support[1, j])
            box[f] = (lo, hi) if lo <= hi else box[f]  # constraint outside the data: trust the limits
    free = list(box)
    out_cons = [c for c in constraints if c.name in outputs]

    def frame(values: np.ndarray) -> pd.DataFrame:
        data = {}
        for j, f in enumerate(features):
            data[f] = values[:, free.index(f)] if f in box else np.full(len(values), float(ctx[f]))
        return pd.DataFrame(data, columns=features)

    def utility(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        df = frame(values)
        mean, std = surrogate.predict_std(df)
        if objective == "maximize":
            u = mean - risk * std
        elif objective == "minimize":
            u = -mean - risk * std
        else:
            u = -np.abs(mean - float(objective)) - risk * std
        violation = np.zeros(len(values))
        for c in out_cons:
            pred = outputs[c.name].predict(df)
            if c.low is not None:
                violation += np.maximum(c.low - pred, 0.0)
            if c.high is not None:
                violation += np.maximum(pred - c.high, 0.0)
        return u, violation

    rng = np.random.default_rng(seed)
    lo = np.array([box[f][0] for f in free])
    hi = np.array([box[f][1] for f in free])
    screen = lo + rng.random((_SCREEN, len(free))) * (hi - lo)
    default = np.array([min(max(limits[f][2], box[f][0]), box[f][1]) for f in free])
    screen = np.vstack([default, screen])
    u, viol = utility(screen)
    if out_cons and not (viol <= 1e-9).any():
        best = int(np.argmin(viol))
        preds = {
            c.name: round(float(outputs[c.name].predict(frame(screen[best : best + 1]))[0]), 4)
            for c in out_cons
        }
        raise InfeasibleConstraints(
            f"no setpoints within the recipe {rid} limits satisfy the output constraints "
            f"{[(c.name, c.low, c.high) for c in out_cons]}; the closest point found predicts {preds}"
        )
    penalised = u - _PENALTY * viol

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=10)
    )
    for idx in np.argsort(-penalised)[:5]:
        study.enqueue_trial({f: float(screen[idx, j]) for j, f in enumerate(free)})

    def objective_fn(trial: optuna.Trial) -> float:
        x = np.array(
            [
                [
                    trial.suggest_float(f, box[f][0], box[f][1]) if box[f][0] < box[f][1] else box[f][0]
                    for f in free
                ]
            ]
        )
        uu, vv = utility(x)
        trial.set_user_attr("violation", float(vv[0]))
        return float(uu[0] - _PENALTY * vv[0])

    study.optimize(objective_fn, n_trials=n_trials)
    feasible = [t for t in study.trials if t.value is not None and t.user_attrs.get("violation", 0.0) <= 1e-9]
    best_trial = max(feasible, key=lambda t: t.value)
    best = np.array([best_trial.params.get(f, box[f][0]) for f in free])

    pair = frame(np.vstack([best, default]))
    mean, cov = surrogate.predict_cov(pair)
    sign = 1.0 if objective == "maximize" else -1.0
    if isinstance(objective, (int, float)) and not isinstance(objective, bool):
        gain = float(abs(mean[1] - objective) - abs(mean[0] - objective))  # closer to target = positive gain
    else:
        gain = float(sign * (mean[0] - mean[1]))
    gain_var = max(float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]), 0.0)
    gain_std = math.sqrt(gain_var)
    prob = float(stats.norm.cdf(gain / gain_std)) if gain_std > 0 else float(gain > 0)
    _, std = surrogate.predict_std(pair.iloc[:1])

    # why: the target's change moving one parameter at a time from the default to the recommendation
    probes = np.repeat(default[None, :], len(free), axis=0)
    probes[np.arange(len(free)), np.arange(len(free))] = best
    eff = surrogate.predict(frame(probes)) - mean[1]
    effects = sorted(
        (
            FeatureContribution(
                feature=f,
                contribution=float(e),
                value=float(best[j]),
                expected=float(default[j]),
                deviation_sigma=float((best[j] - default[j]) / (surrogate.x_scale_[features.index(f)])),
            )
            for j, (f, e) in enumerate(zip(free, eff))
        ),
        key=lambda c: -abs(c.contribution),
    )
    return Recommendation(
        recipe_id=rid,
        target=target,
        objective=objective if isinstance(objective, str) else f"target={objective}",
        setpoints={f: float(best[j]) for j, f in enumerate(free)},
        default_setpoints={f: float(default[j]) for j, f in enumerate(free)},
        predicted=float(mean[0]),
        predicted_std=float(std[0]),
        predicted_default=float(mean[1]),
        gain=gain,
        gain_std=gain_std,
        gain_probability=prob,
        outputs={c.name: float(outputs[c.name].predict(pair.iloc[:1])[0]) for c in out_cons},
        effects=tuple(effects),
        constraints=tuple(constraints),
        context=ctx,
        n_trials=len(study.trials),
        model_version=getattr(getattr(surrogate, "metadata_", None), "version", ""),
    )
