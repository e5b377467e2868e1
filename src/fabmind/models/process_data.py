"""Training data for the process surrogate from the store, and the service function behind
``fabmind optimize`` (the same function serves the CLI, the API and the agents' tool).

One row per run of the recipe: its setpoints, the chamber state (``pm_age_days``: days since the
chamber's last PM work order, when work orders are known) and the measured output: the glass's
final ``yield_pct`` or an in-line measurement of the run's step (``thickness_nm``, ``cd_um`` ...).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from fabmind.models.base import ModelError
from fabmind.models.process import (
    Constraint,
    ProcessSurrogate,
    RecipeLimitsError,
    Recommendation,
    recommend_setpoints,
)

PM_AGE = "pm_age_days"


def process_frame(
    runs: pd.DataFrame,
    outcomes: pd.DataFrame,
    recipe_id: str,
    target: str,
    work_orders: pd.DataFrame | None = None,
    per_lot: bool = True,
) -> tuple[pd.DataFrame, pd.Series]:
    """``(X, y)`` for one recipe: setpoints (+ ``pm_age_days``) of its runs and the measured ``target``.

    ``runs``: ``Store.runs()`` (``setpoints`` holds a dict per run). ``outcomes``: per-substrate
    yields (``Store.yields(per_substrate=True)``) when ``target == 'yield_pct'``, else inspections
    (``Store.inspections()``, one column per measurement) matched on lot, substrate and step.
    ``per_lot`` (default) averages the glasses of one lot step into one row: setpoint levels are
    chosen per lot step and glasses of a lot share much of their yield, so rows per glass would
    count one experiment twenty times and make the surrogate overconfident.
    """
    mine = runs[runs["recipe_id"] == recipe_id]
    if mine.empty:
        known = sorted(runs["recipe_id"].unique())[:12] if len(runs) else []
        raise ModelError(f"no runs of recipe {recipe_id!r} in the data window; recipes with runs: {known}")
    sp = pd.DataFrame(list(mine["setpoints"]), index=mine.index)
    if sp.empty or sp.shape[1] == 0:
        raise RecipeLimitsError(f"runs of recipe {recipe_id!r} carry no setpoints; nothing to learn from")
    sp = sp.dropna(axis=1, how="all")
    frame = pd.concat([mine[["lot_id", "substrate_id", "step_id", "chamber_id", "start"]], sp], axis=1)
    if target not in outcomes.columns:
        raise ModelError(f"no measured {target!r} in the outcome table; it has {list(outcomes.columns)}")
    keys = ["lot_id", "substrate_id"] if target == "yield_pct" else ["lot_id", "substrate_id", "step_id"]
    out = outcomes[keys + [target]].dropna().drop_duplicates(keys, keep="last")
    frame = frame.merge(out, on=keys, how="inner")
    if frame["lot_id"].nunique() < 10:
        raise ModelError(
            f"only {frame['lot_id'].nunique()} lots ran recipe {recipe_id!r} with a measured {target!r}; "
            "need >= 10"
        )
    features = list(sp.columns)
    if work_orders is not None and len(work_orders) and "chamber_id" in work_orders:
        pm = work_orders[(work_orders["kind"].astype(str) == "pm") & work_orders["chamber_id"].notna()]
        if len(pm):
            done = pd.to_datetime(pm["closed"].fillna(pm["opened"]), utc=True)
            pm = pd.DataFrame({"chamber_id": pm["chamber_id"].astype(str), "pm_done": done}).sort_values(
                "pm_done"
            )
            frame["start"] = pd.to_datetime(frame["start"], utc=True)
            frame = pd.merge_asof(
                frame.sort_values("start"),
                pm,
                left_on="start",
                right_on="pm_done",
                by="chamber_id",
                direction="backward",
            )
            age = (frame["start"] - frame["pm_done"]).dt.total_seconds() / 86400.0
            frame[PM_AGE] = age.fillna(age.max() if age.notna().any() else 0.0)
            features.append(PM_AGE)
    if per_lot:
        frame = frame.groupby(["lot_id", "step_id"], sort=False)[features + [target]].mean()
    return frame[features].astype(float).reset_index(drop=True), frame[target].astype(float).reset_index(
        drop=True
    )


def optimize_recipe(
    store: Any,
    recipe_id: str,
    *,
    target: str = "yield_pct",
    objective: str | float = "maximize",
    constraints: Sequence[Constraint] = (),
    context: Mapping[str, float] | None = None,
    start: Any = None,
    end: Any = None,
    kind: str = "diagonal",
    n_trials: int = 120,
    seed: int = 0,
) -> tuple[Recommendation, ProcessSurrogate]:
    """Fit the surrogate of ``target`` for ``recipe_id`` on the store's runs and recommend setpoints.

    Chamber state defaults to just after a PM (``pm_age_days = 0``) unless ``context`` says otherwise.
    """
    recipes = {r.recipe_id: r for r in store.recipes()}
    if recipe_id not in recipes:
        raise RecipeLimitsError(f"unknown recipe {recipe_id!r}; the store has {sorted(recipes)}")
    recipe = recipes[recipe_id]
    runs = store.runs(start=start, end=end)
    if target == "yield_pct":
        outcomes = store.yields(start=start, end=None, per_substrate=True)
    else:
        outcomes = store.inspections(start=start, end=end)
    wo = store.work_orders()
    X, y = process_frame(runs, outcomes, recipe_id, target, wo)
    surrogate = ProcessSurrogate(kind=kind, seed=seed).fit(X, y)
    ctx = dict(context or {})
    if PM_AGE in X.columns and PM_AGE not in ctx:
        ctx[PM_AGE] = 0.0
    rec = recommend_setpoints(
        surrogate,
        recipe,
        target=target,
        objective=objective,
        constraints=constraints,
        context=ctx,
        n_trials=n_trials,
        seed=seed,
    )
    return rec, surrogate


def parse_constraint(text: str) -> Constraint:
    """``'RF_POWER_W<=1800'``, ``'cd_um>=3.9'``, ``'PRESSURE_MTORR=30..45'`` -> :class:`Constraint`."""
    t = text.replace(" ", "")
    bad = ValueError(f"constraint {text!r}: write NAME<=VALUE, NAME>=VALUE or NAME=LOW..HIGH")
    for op in ("<=", ">="):
        if op in t:
            name, v = t.split(op, 1)
            try:
                value = float(v)
            except ValueError:
                raise bad from None
            return Constraint(name, high=value) if op == "<=" else Constraint(name, low=value)
    if "=" in t and ".." in t:
        name, span = t.split("=", 1)
        try:
            lo, hi = (float(x) for x in span.split("..", 1))
        except ValueError:
            raise bad from None
        return Constraint(name, low=lo, high=hi)
    raise bad
