"""Charts of the chamber page: T²/SPE per run against the active FDC model's limits, sensor trends,
contributions of the latest alarm, predictive-maintenance risk when a model exists."""

from __future__ import annotations

from typing import Any

import numpy as np

from fabmind.web.charts import bar_chart, line_chart

N_RUNS = 150
TREND_SENSORS = 4


def chamber_charts(store, chamber_id: str, settings=None) -> dict[str, Any]:
    runs = store.run_records(chamber_id=chamber_id)[-N_RUNS:]
    traces = store.traces([r.run_id for r in runs])
    out: dict[str, Any] = {"n_runs": len(runs), "trends": [], "spc": "", "contrib": "", "risk": ""}
    if not traces:
        return out
    # sensor trends: run means of the sensors whose run means vary most (relative to their level)
    first = next(iter(traces.values()))
    means = np.array([t.values.mean(axis=0) for t in traces.values() if t.sensors == first.sensors])
    if len(means) > 1:
        rel = means.std(axis=0) / (np.abs(means.mean(axis=0)) + 1e-9)
        for j in np.argsort(rel)[::-1][:TREND_SENSORS]:
            out["trends"].append(line_chart({first.sensors[j]: means[:, j].tolist()}, height=120,
                                            title=first.sensors[j], labels=(f"{runs[0].start:%m-%d}", f"{runs[-1].start:%m-%d}")))
    if settings is not None:
        out["spc"] = _spc_chart(store, settings, chamber_id, runs, traces)
        out["risk"] = _risk_chart(store, settings, chamber_id)
    alarms = store.alarm_records(chamber_id=chamber_id)
    if alarms:
        latest = max(alarms, key=lambda a: a.ts)
        if latest.contributions:
            out["contrib"] = bar_chart([(c.sensor, c.deviation_sigma) for c in latest.contributions[:8]], unit=" σ",
                                       title=f"{latest.source} at {latest.ts:%m-%d %H:%M}: deviation in sigmas")
    return out


def _spc_chart(store, settings, chamber_id: str, runs, traces) -> str:
    from fabmind.models.fdc import FdcConfig, indicators, model_name, store_pm_ends
    from fabmind.models.registry import ModelRegistry

    registry = ModelRegistry.from_settings(settings)
    recipes = {r.recipe_id: r for r in store.recipes()}
    by_recipe: dict[str, list] = {}
    for r in runs:
        by_recipe.setdefault(r.recipe_id, []).append(r)
    recipe_id, group = max(by_recipe.items(), key=lambda kv: len(kv[1]))
    mv = registry.active(model_name(recipe_id), chamber_id)
    if mv is None:
        return ""
    model = registry.load(mv.name, mv.scope)
    cfg = FdcConfig()
    pm_ends = store_pm_ends(store).get(chamber_id) if cfg.pm_age else None  # the model expects PM age as the FDC pipeline gives it
    X = indicators(group, traces, recipes.get(recipe_id), cfg.stats, cfg.setpoints, pm_ends=pm_ends)
    if X.empty:
        return ""
    stats = model.statistics(X)
    return (line_chart({"T²": stats.t2.tolist()}, limits={"T² limit": stats.t2_limit}, height=150, log=True,
                       title=f"Hotelling T² · {recipe_id} · {mv.version}")
            + line_chart({"SPE": stats.spe.tolist()}, limits={"SPE limit": stats.spe_limit}, height=150, log=True,
                         title=f"SPE (Q) · {recipe_id}"))


def _risk_chart(store, settings, chamber_id: str) -> str:
    """Failure risk after the latest run, with the features that drove it (log-odds), if a model is active."""
    from html import escape

    from fabmind.models.pdm_store import chamber_risk
    from fabmind.models.registry import ModelRegistry

    risk = chamber_risk(store, ModelRegistry.from_settings(settings), chamber_id)
    if risk is None:
        return ""
    head = (f"<strong>{risk.risk:.0%}</strong> probability of a failure within {risk.horizon_h:g} h "
            f"after run {escape(risk.run_id)} · model {escape(risk.model_version)}")
    bars = bar_chart([(c.feature, c.contribution) for c in risk.drivers[:8]],
                     title="drivers (contribution to the log-odds of failure)")
    return f"{head}<br>{bars}"
