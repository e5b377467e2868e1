"""Yield, energy, maintenance and process tools (thin wrappers over the models and the store).

``predict_failure_risk`` and ``recommend_setpoints`` call services that the rooms owning those models
register per deployment: ``deps.cache["services"] = {"failure_risk": fn(chamber_id) -> dict,
"recommend_setpoints": fn(recipe_id) -> dict}`` (the API passes them in); without one the tool says so.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from fabmind.agents.fabtools.fdc import _store, data_now
from fabmind.agents.results import YieldSummary
from fabmind.agents.tools import ToolDeps, ToolUnavailable, tool


def window(deps: ToolDeps, days: float) -> tuple[datetime, datetime]:
    end = data_now(deps)
    return end - timedelta(days=days), end


def commonality(deps: ToolDeps, days: float) -> Any:
    """The :class:`~fabmind.models.commonality_types.CommonalityReport` over the last ``days`` (cached)."""
    key = f"commonality:{days}"
    if key not in deps.cache:
        from fabmind.models.commonality import YieldCommonality

        store = _store(deps)
        start, end = window(deps, days)
        history = store.lot_history(start=start, end=end)
        if history.empty:
            raise ToolUnavailable(f"no lot history between {start:%Y-%m-%d} and {end:%Y-%m-%d}")
        yields = store.yields(start=start, end=end, per_substrate=True)
        if yields.empty:
            yields = store.yields(start=start, end=end)
        deps.cache[key] = YieldCommonality().analyze(history, yields, store.work_orders(start=start, end=end))
    return deps.cache[key]


def _cause_view(c: Any) -> dict[str, Any]:
    return {"rank": c.rank, "kind": str(c.kind), "label": c.label(), "step_id": c.step_id, "chamber_id": c.chamber_id,
            "recipe_id": c.recipe_id, "work_order_id": c.work_order_id, "effect_size": round(c.effect_size, 3),
            "effect_sigma": round(c.effect_sigma, 2), "p_adjusted": float(f"{c.p_adjusted:.3g}"),
            "n_affected_lots": c.n_affected_lots, "onset": c.onset, "end": c.end,
            "tree_importance": round(c.tree_importance, 3)}


def _excursion_view(e: Any) -> dict[str, Any]:
    return {"excursion_id": e.excursion_id, "metric": e.metric, "start": e.start, "end": e.end, "n_lots": e.n_lots,
            "lots_sample": list(e.lots[:5]), "control_limit": round(e.control_limit, 2),
            "center_line": round(e.center_line, 2), "mean_value": round(e.mean_value, 2),
            "worst_value": round(e.worst_value, 2)}


@tool
def yield_excursions(deps: ToolDeps, days: float = 30.0) -> dict[str, Any]:
    """Yield excursions (lots below the robust control limit, grouped in time) over the last days.

    Parameters:
        days: how many days back from now
    """
    exc = commonality(deps, days).excursions
    return {"n_excursions": len(exc), "n_lots_affected": sum(e.n_lots for e in exc),
            "excursions": [_excursion_view(e) for e in exc[:20]]}


@tool
def commonality_analysis(deps: ToolDeps, days: float = 30.0, top: int = 5) -> dict[str, Any]:
    """Ranked candidate causes of low yield (step x chamber, recipe, time window, PM event) with statistics.

    Parameters:
        days: how many days back from now
        top: how many causes
    """
    rep = commonality(deps, days)
    return {"window_start": rep.window_start, "window_end": rep.window_end, "n_lots": rep.n_lots,
            "n_candidates_tested": rep.n_candidates, "correction": rep.correction,
            "causes": [_cause_view(c) for c in rep.causes[:top]]}


def yield_summary(deps: ToolDeps, days: float) -> YieldSummary:
    start, end = window(deps, days)
    y = _store(deps).yields(start=start, end=end)
    if y.empty:
        return YieldSummary(start, end, 0, float("nan"))
    prod = y.groupby("product_id")["yield_pct"].mean().round(2).to_dict() if "product_id" in y else {}
    return YieldSummary(start, end, int(y["lot_id"].nunique()), round(float(y["yield_pct"].mean()), 2),
                        {str(k): float(v) for k, v in prod.items()})


@tool
def get_yield_summary(deps: ToolDeps, days: float = 30.0) -> YieldSummary:
    """Mean lot yield overall and per product over the last days.

    Parameters:
        days: how many days back from now
    """
    return yield_summary(deps, days)


@tool
def get_yield_trend(deps: ToolDeps, days: float = 30.0) -> dict[str, Any]:
    """Daily mean lot yield over the last days, with the control limit used for excursions.

    Parameters:
        days: how many days back from now
    """
    start, end = window(deps, days)
    y = _store(deps).yields(start=start, end=end)
    if y.empty:
        raise ToolUnavailable(f"no yields between {start:%Y-%m-%d} and {end:%Y-%m-%d}")
    daily = y.set_index(pd.to_datetime(y["ts"], utc=True))["yield_pct"].resample("1D").mean().dropna()
    out: dict[str, Any] = {"days": [d.date().isoformat() for d in daily.index],
                           "mean_yield_pct": [round(float(v), 2) for v in daily.to_numpy()]}
    key = f"commonality:{days}"
    rep = deps.cache.get(key)
    if rep is not None and rep.excursions:
        out["control_limit"] = round(rep.excursions[0].control_limit, 2)
        out["center_line"] = round(rep.excursions[0].center_line, 2)
    return out


@tool
def energy_breakdown(deps: ToolDeps, days: float = 7.0, top: int = 10) -> list[dict[str, Any]]:
    """Electric energy per tool over the last days (kWh, share of total), largest first.

    Parameters:
        days: how many days back from now
        top: how many tools
    """
    start, end = window(deps, days)
    e = _store(deps).energy(start=start, end=end)
    if e.empty:
        raise ToolUnavailable(f"no energy readings between {start:%Y-%m-%d} and {end:%Y-%m-%d}")
    per = e.groupby("equipment_id")["kwh"].sum().sort_values(ascending=False)
    total = float(per.sum())
    return [{"equipment_id": k, "kwh": round(float(v), 1), "share_pct": round(100 * float(v) / total, 1)}
            for k, v in per.head(top).items()]


@tool
def work_order_history(deps: ToolDeps, chamber_id: str, days: float = 90.0) -> list[dict[str, Any]]:
    """Maintenance work orders (PM and corrective) of a chamber and its tool over the last days.

    Parameters:
        chamber_id: chamber id, e.g. ETCH-03/B
        days: how many days back from now
    """
    start, end = window(deps, days)
    wo = _store(deps).work_orders(chamber_id=chamber_id, start=start, end=end)
    cols = [c for c in ("work_order_id", "kind", "opened", "closed", "failure_mode", "action", "downtime_h")
            if c in wo.columns]
    return [{k: (v.to_pydatetime() if isinstance(v, pd.Timestamp) else v) for k, v in row.items()}
            for row in wo[cols].tail(20).to_dict("records")]


@tool
def predict_failure_risk(deps: ToolDeps, chamber_id: str) -> dict[str, Any]:
    """Failure risk within the model's horizon and remaining useful life of a chamber (predictive maintenance model).

    Parameters:
        chamber_id: chamber id, e.g. ETCH-03/B
    """
    fn = deps.cache.get("services", {}).get("failure_risk")
    if fn is None:
        raise ToolUnavailable("no trained predictive-maintenance model is registered for this fab yet")
    return fn(chamber_id)


@tool
def recommend_setpoints(deps: ToolDeps, recipe_id: str) -> dict[str, Any]:
    """Recommended recipe setpoints within the recipe's limits, with predicted gain and uncertainty (process model).

    Parameters:
        recipe_id: recipe id
    """
    fn = deps.cache.get("services", {}).get("recommend_setpoints")
    if fn is None:
        raise ToolUnavailable("no trained process-optimisation model is registered for this fab yet")
    return fn(recipe_id)
