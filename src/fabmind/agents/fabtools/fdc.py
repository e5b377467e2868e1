"""FDC tools: chamber health (MSPC on run-level indicators), chamber ranking, sensor trends, alarms.

The numbers come from the models room (``fabmind.models.features.fdc_indicators`` and
``fabmind.models.anomaly.MSPC``); this module only picks the data windows and packages results.
A chamber's recent runs are compared with its own earlier runs of the same recipe.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from fabmind.agents.results import ChamberHealth, ChamberRanking, SensorDeviation, SensorTrend, TrendPoint
from fabmind.agents.tools import ToolDeps, ToolUnavailable, tool

BASELINE_DAYS = 10.0
MAX_BASELINE_RUNS = 60  # per recipe: the oldest runs of the look-back
MAX_RECENT_RUNS = 60
MIN_GUARDED_RUNS = 40
MIN_RECIPE_BASELINE = 10
MIN_RECIPE_RECENT = 3  # a recipe needs this many runs in the window to be judged on its own
MAX_NORMAL_Z = 8.0  # a reference run with any indicator this many robust sigmas off is dropped from "normal"
FEATURE_STATS = ("mean",)  # per-step means: std/slope indicators add noise that blurs the contributions
MSPC_PARAMS: dict[str, Any] = {"n_components": 0.9, "confidence": 0.99, "limits": "cv"}


def _store(deps: ToolDeps) -> Any:
    if deps.store is None:
        raise ToolUnavailable("no store is connected to the assistant")
    return deps.store


def data_now(deps: ToolDeps) -> datetime:
    """The data's "now": ``deps.now`` or the end of the latest run in the store."""
    if deps.now is not None:
        return _as_utc(deps.now)
    if "data_now" not in deps.cache:
        from sqlalchemy import func, select

        from fabmind.store import schema as s

        with _store(deps).engine.connect() as c:
            latest = c.execute(select(func.max(s.runs.c.end))).scalar()
        if latest is None:
            raise ToolUnavailable("the store holds no runs")
        deps.cache["data_now"] = _as_utc(latest)
    return deps.cache["data_now"]


def _features(store: Any, run_ids: list[str], step_names: dict[str, tuple[str, ...]]) -> pd.DataFrame:
    from fabmind.models.features import fdc_indicators

    traces = store.traces(run_ids)
    if not traces:
        return pd.DataFrame()
    return fdc_indicators(list(traces.values()), step_names={r: step_names.get(r, ()) for r in traces},
                          stats=FEATURE_STATS)


def _as_utc(t: datetime) -> datetime:
    ts = pd.Timestamp(t)
    return (ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")).to_pydatetime()


@dataclass
class Frames:
    """Run-level indicators of one chamber: the window's runs and the normal runs before it.

    ``*_z`` are normalised per recipe (robust z against that recipe's own normal runs) and pooled, so a
    chamber running several recipes is judged on all of them; ``*_raw`` are the dominant recipe's values
    in sensor units (what the engineer reads)."""

    base_z: pd.DataFrame
    recent_z: pd.DataFrame
    base_raw: pd.DataFrame
    recent_raw: pd.DataFrame
    dominant_recipe: str
    start: datetime
    end: datetime
    recent_recipe: pd.Series  # recipe of each recent run (index = run id)
    raw: pd.DataFrame  # indicators of all runs used, in sensor units
    base_recipe: pd.Series  # recipe of each baseline run

    def raw_of(self, recipe: str) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(baseline, recent) indicators of one recipe in sensor units."""
        b = self.base_recipe[self.base_recipe == recipe].index
        r = self.recent_recipe[self.recent_recipe == recipe].index
        return self.raw.reindex(b), self.raw.reindex(r)


def _window_frames(deps: ToolDeps, chamber_id: str, hours: float, end: datetime | None = None) -> Frames:
    store = _store(deps)
    end = _as_utc(end) if end is not None else data_now(deps)
    start = end - timedelta(hours=hours)
    runs = store.runs(chamber_id=chamber_id, start=end - timedelta(days=BASELINE_DAYS) - timedelta(hours=hours),
                      end=end)
    if runs.empty:
        raise ToolCallErrorNoRuns(chamber_id, start, end)
    runs = runs.assign(_t=pd.to_datetime(runs["start"], utc=True))
    if not (runs["_t"] >= pd.Timestamp(start)).any():  # chamber idle or held: judge its last hours of work
        end = _as_utc(runs["end"].max())
        start = end - timedelta(hours=hours)
    picked: dict[str, tuple[pd.DataFrame, pd.DataFrame]] = {}
    for recipe, rr in runs.groupby("recipe_id", sort=False):
        recent = rr[rr["_t"] >= pd.Timestamp(start)]
        # normal = the oldest runs of the look-back, with a guard gap of one window length before the window
        # when enough runs remain, so that a fault that began shortly before the window does not leak into it
        base = rr[rr["_t"] < pd.Timestamp(start) - pd.Timedelta(hours=hours)]
        if len(base) < MIN_GUARDED_RUNS:
            base = rr[rr["_t"] < pd.Timestamp(start)]
        if len(recent) and len(base) >= MIN_RECIPE_BASELINE:
            picked[str(recipe)] = (base.head(MAX_BASELINE_RUNS), recent)
    if not picked:
        raise ToolUnavailable(f"chamber {chamber_id}: no recipe has both runs between {start:%Y-%m-%d %H:%M} and "
                              f"{end:%Y-%m-%d %H:%M} and {MIN_RECIPE_BASELINE} earlier normal runs")
    recent_all = pd.concat([r for _, r in picked.values()]).sort_values("_t")
    if len(recent_all) > MAX_RECENT_RUNS:  # evenly over the window, not just its end
        recent_all = recent_all.iloc[np.linspace(0, len(recent_all) - 1, MAX_RECENT_RUNS).round().astype(int)]
    keep_recent = set(recent_all["run_id"])
    ids = [i for b, _ in picked.values() for i in b["run_id"]] + list(recent_all["run_id"])
    recipe_of = dict(zip(runs["run_id"], runs["recipe_id"].astype(str)))
    feats = _features(store, ids, {r: _recipe_steps(deps, recipe_of[r]) for r in ids})
    base_z, recent_z = [], []
    setpoints = dict(zip(runs["run_id"], runs["setpoints"])) if "setpoints" in runs else {}
    for recipe, (b, r) in picked.items():
        fb = feats.reindex(list(b["run_id"])).dropna(how="all")
        fr = feats.reindex([i for i in r["run_id"] if i in keep_recent]).dropna(how="all")
        if len(fb) < MIN_RECIPE_BASELINE or fr.empty:
            continue
        fb = fb.loc[:, fb.notna().all()]
        fb, fr = _setpoint_residuals(fb, fr[fb.columns], setpoints)
        med = fb.median()
        scale = 1.4826 * (fb - med).abs().median()
        scale = scale.where(scale > 1e-9, fb.std().where(fb.std() > 1e-9, np.inf))
        clean = ((fb - med) / scale).abs().max(axis=1) <= MAX_NORMAL_Z  # runs of an earlier fault are not "normal"
        if MIN_RECIPE_BASELINE <= clean.sum() < len(fb) and clean.mean() >= 0.5:
            fb = fb[clean]
            med = fb.median()
            scale = 1.4826 * (fb - med).abs().median()
            scale = scale.where(scale > 1e-9, fb.std().where(fb.std() > 1e-9, np.inf))
        base_z.append((fb - med) / scale)
        recent_z.append((fr[fb.columns] - med) / scale)
    if not base_z or not recent_z:
        raise ToolCallErrorNoRuns(chamber_id, start, end)
    dominant = max(picked, key=lambda k: len(picked[k][1]))
    b_dom, r_dom = picked[dominant]
    bz, rz = pd.concat(base_z).fillna(0.0), pd.concat(recent_z).fillna(0.0)
    return Frames(
        base_z=bz, recent_z=rz,
        base_raw=feats.reindex(list(b_dom["run_id"])), recent_raw=feats.reindex(
            [i for i in r_dom["run_id"] if i in keep_recent]),
        dominant_recipe=dominant, start=start, end=end,
        recent_recipe=pd.Series({i: recipe_of[i] for i in rz.index}), raw=feats,
        base_recipe=pd.Series({i: recipe_of[i] for i in bz.index}))


def _setpoint_residuals(fb: pd.DataFrame, fr: pd.DataFrame,
                        setpoints: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Indicators minus what the run's recipe setpoints explain (linear, fitted on the normal runs).

    Sensors follow their setpoints: a process experiment or a run-to-run adjustment moves them without any
    fault. A ridge regression of every indicator on the runs' setpoints over the normal runs removes that
    part, so what remains is the chamber's own behaviour. Setpoints constant in the normal runs are skipped."""
    names = sorted({k for i in fb.index for k in (setpoints.get(i) or {})})
    if not names:
        return fb, fr

    def matrix(idx: pd.Index) -> np.ndarray:
        return np.array([[float((setpoints.get(i) or {}).get(n, np.nan)) for n in names] for i in idx])

    xb, xr = matrix(fb.index), matrix(fr.index)
    mu = np.nanmean(xb, axis=0)
    sd = np.nanstd(xb, axis=0)
    use = np.isfinite(mu) & (sd > 1e-9)
    if not use.any():
        return fb, fr
    xb = np.nan_to_num((xb[:, use] - mu[use]) / sd[use])
    xr = np.nan_to_num((xr[:, use] - mu[use]) / sd[use])
    yb = fb.to_numpy()
    ym = yb.mean(axis=0)
    lam = 1e-2 * len(xb)
    coef = np.linalg.solve(xb.T @ xb + lam * np.eye(xb.shape[1]), xb.T @ (yb - ym))
    return (fb - xb @ coef), (fr - xr @ coef)


class ToolCallErrorNoRuns(ToolUnavailable):
    def __init__(self, chamber_id: str, start: datetime, end: datetime) -> None:
        super().__init__(f"chamber {chamber_id} has no runs with traces between {start:%Y-%m-%d %H:%M} "
                         f"and {end:%Y-%m-%d %H:%M}")


def _recipe_steps(deps: ToolDeps, recipe_id: str) -> tuple[str, ...]:
    key = "recipe_steps"
    if key not in deps.cache:
        deps.cache[key] = {r.recipe_id: tuple(r.steps) for r in _store(deps).recipes()}
    return deps.cache[key].get(recipe_id, ())


def _chamber_info(deps: ToolDeps, chamber_id: str) -> tuple[str, str]:
    key = "chambers"
    if key not in deps.cache:
        frame = _store(deps).chambers_frame()
        deps.cache[key] = {r.chamber_id: (r.equipment_id, r.type_id) for r in frame.itertuples()}
    if chamber_id not in deps.cache[key]:
        known = ", ".join(sorted(deps.cache[key])[:8])
        raise ToolUnavailable(f"unknown chamber {chamber_id!r}; chambers look like {known} ...")
    return deps.cache[key][chamber_id]


def _units(deps: ToolDeps, type_id: str) -> dict[str, str]:
    key = f"units:{type_id}"
    if key not in deps.cache:
        deps.cache[key] = {s.name: s.unit for s in _store(deps).sensors(type_id)}
    return deps.cache[key]


def chamber_health(deps: ToolDeps, chamber_id: str, hours: float = 24.0, top: int = 6,
                   end: datetime | None = None) -> ChamberHealth:
    from fabmind.models.anomaly import MSPC, sensor_of
    from fabmind.models.base import ModelError

    equipment_id, type_id = _chamber_info(deps, chamber_id)
    fr = _window_frames(deps, chamber_id, hours, end)
    base, recent, start, end = fr.base_z, fr.recent_z, fr.start, fr.end
    cols = list(base.columns)
    if len(base) < 12 or len(cols) < 2:
        raise ToolUnavailable(f"chamber {chamber_id}: only {len(base)} baseline runs before {start:%Y-%m-%d %H:%M}; "
                              "need at least 12 to learn its normal behaviour")
    from fabmind.models.threads import one_blas_thread

    model = MSPC(**MSPC_PARAMS)
    # small matrices: a multi-threaded BLAS is ~100x slower here on busy cores (measured 0.27 s vs 3 ms per SVD)
    with one_blas_thread():
        try:
            model.fit(base)
            # Phase I cleaning: drop out-of-control runs from the reference set once and refit
            keep = model.score(base) <= 1.0
            if 0.7 * len(base) <= keep.sum() < len(base):
                base = base[keep]
                model = MSPC(**MSPC_PARAMS).fit(base)
        except ModelError as exc:
            raise ToolUnavailable(f"chamber {chamber_id}: {exc}") from None
        stats = model.statistics(recent)
        contrib = model.contributions(recent).to_numpy()
    score = stats.score
    # judged per recipe (a fault may show in some recipes only), the worst recipe with enough runs decides;
    # medians over runs, not sums: one run with an unusual setpoint must not outweigh a persistent fault
    recipes = fr.recent_recipe.reindex(recent.index).to_numpy()
    groups = {r: np.flatnonzero(recipes == r) for r in pd.unique(recipes)}
    enough = {r: g for r, g in groups.items() if len(g) >= MIN_RECIPE_RECENT} or groups
    worst = max(enough, key=lambda r: float(np.median(score[enough[r]])))
    g = enough[worst]
    rows = score > 1.0
    pick = g[rows[g]] if rows[g].any() else g
    use = contrib[pick]
    row_share = use / np.maximum(use.sum(axis=1, keepdims=True), 1e-12)
    shares = np.median(row_share, axis=0)
    shares = shares / shares.sum() if shares.sum() > 0 else shares
    sigma = np.median(recent.to_numpy()[g], axis=0)  # robust z against the recipe's own normal runs
    base_raw, recent_raw = fr.raw_of(worst)
    units = _units(deps, type_id)
    per_sensor: dict[str, list[int]] = {}
    for j, c in enumerate(cols):
        per_sensor.setdefault(sensor_of(c), []).append(j)
    devs = []
    for sensor, js in per_sensor.items():
        share = float(shares[js].sum())
        means = [j for j in js if cols[j].endswith(".mean")] or js
        jd = max(means, key=lambda j: abs(sigma[j]))
        devs.append(SensorDeviation(
            sensor=sensor, feature=cols[jd], contribution=round(share, 4),
            value=_median(recent_raw, cols[jd]), expected=_median(base_raw, cols[jd]),
            deviation_sigma=round(float(sigma[jd]), 2), direction=1 if sigma[jd] >= 0 else -1,
            unit=units.get(sensor, ""),
        ))
    devs.sort(key=lambda d: -d.contribution)
    return ChamberHealth(
        chamber_id=chamber_id, equipment_id=equipment_id, type_id=type_id, window_start=start, window_end=end,
        n_runs=len(recent), n_baseline_runs=len(base), recipe_id=worst, n_recipe_runs=len(g),
        t2=round(float(np.median(stats.t2[g])), 3), t2_limit=round(float(stats.t2_limit), 3),
        spe=round(float(np.median(stats.spe[g])), 3), spe_limit=round(float(stats.spe_limit), 3),
        score=round(float(np.median(score[g])), 3), share_out_of_control=round(float(rows.mean()), 3),
        top_sensors=tuple(devs[:top]), model="anomaly/mspc (PCA T²+SPE, 99 % limits)",
    )


def _median(frame: pd.DataFrame, col: str) -> float:
    v = frame[col].median() if col in frame and len(frame) else float("nan")
    return round(float(v), 4) if not np.isnan(v) else float("nan")


@tool
def get_chamber_health(deps: ToolDeps, chamber_id: str, hours: float = 24.0,
                       end: datetime | None = None) -> ChamberHealth:
    """FDC health of one chamber: MSPC T²/SPE of its recent runs vs its own baseline, with the top contributing sensors.

    Parameters:
        chamber_id: chamber id, e.g. ETCH-03/B
        hours: how many hours before the window end count as recent
        end: window end (ISO date-time, UTC); default now
    """
    return chamber_health(deps, chamber_id, hours, end=end)


@tool
def rank_chambers(deps: ToolDeps, equipment_id: str | None = None, hours: float = 24.0, top: int = 5) -> ChamberRanking:
    """Rank chambers (of one tool, or the whole fab) by FDC health score, worst first.

    Parameters:
        equipment_id: tool id like ETCH-03 to rank only its chambers; omit for the whole fab
        hours: how many hours back from now count as recent
        top: how many chambers to return
    """
    store = _store(deps)
    frame = store.chambers_frame()
    if equipment_id:
        frame = frame[frame["equipment_id"] == equipment_id]
        if frame.empty:
            raise ToolUnavailable(f"unknown tool {equipment_id!r}")
    healths = []
    for cid in frame["chamber_id"]:
        try:
            healths.append(chamber_health(deps, cid, hours))
        except ToolUnavailable:
            continue
    healths.sort(key=lambda h: -h.score)
    end = data_now(deps)
    return ChamberRanking(end - timedelta(hours=hours), end, tuple(healths[:top]))


@tool
def get_sensor_trend(deps: ToolDeps, chamber_id: str, sensor: str, hours: float = 72.0,
                     end: datetime | None = None) -> SensorTrend:
    """Run-by-run trend of one sensor on one chamber (mean in the main recipe step), with its baseline.

    Parameters:
        chamber_id: chamber id, e.g. ETCH-03/B
        sensor: sensor name, e.g. RF_REFL_W
        hours: how many hours before the window end to show
        end: window end (ISO date-time, UTC); default now
    """
    _, type_id = _chamber_info(deps, chamber_id)
    fr = _window_frames(deps, chamber_id, hours, end)
    base, recent, start, end = fr.base_raw, fr.recent_raw, fr.start, fr.end
    cols = [c for c in recent.columns if c.startswith(sensor + ".") and c.endswith(".mean")
            and recent[c].notna().all()]
    if not cols:
        raise ToolUnavailable(f"chamber {chamber_id} has no sensor {sensor!r}")
    col = max(cols, key=lambda c: abs(float(fr.recent_z[c].median())) if c in fr.recent_z else 0.0)
    runs = _store(deps).runs(chamber_id=chamber_id, start=start, end=end).set_index("run_id")
    pts = []
    for rid, v in recent[col].dropna().items():
        ts = pd.Timestamp(runs.loc[rid, "start"]).to_pydatetime() if rid in runs.index else end
        pts.append(TrendPoint(ts, round(float(v), 4)))
    days = np.array([(p.ts - pts[0].ts).total_seconds() / 86400 for p in pts]) if pts else np.array([])
    vals = np.array([p.value for p in pts])
    slope = float(np.polyfit(days, vals, 1)[0]) if len(pts) > 2 and np.ptp(days) > 0 else 0.0
    return SensorTrend(chamber_id=chamber_id, sensor=sensor, feature=col, unit=_units(deps, type_id).get(sensor, ""),
                       points=tuple(pts), baseline_mean=round(float(base[col].mean()), 4) if len(base) else float("nan"),
                       baseline_std=round(float(base[col].std()), 4) if len(base) > 1 else float("nan"),
                       recent_mean=round(float(vals.mean()), 4) if len(vals) else float("nan"),
                       slope_per_day=round(slope, 4))


@tool
def list_alarms(deps: ToolDeps, chamber_id: str | None = None, hours: float = 24.0,
                state: str | None = None) -> list[dict[str, Any]]:
    """Alarms raised in the last hours (newest first), optionally for one chamber or in one state.

    Parameters:
        chamber_id: chamber id, e.g. ETCH-03/B; omit for all chambers
        hours: how many hours back from now
        state: raised, acknowledged, shelved or cleared
    """
    end = data_now(deps)
    recs = _store(deps).alarm_records(chamber_id=chamber_id, state=state, start=end - timedelta(hours=hours), end=end)
    recs = sorted(recs, key=lambda a: a.ts, reverse=True)[:50]
    return [{"alarm_id": a.alarm_id, "chamber_id": a.chamber_id, "ts": a.ts, "source": a.source, "code": a.code,
             "severity": a.severity, "state": str(a.state), "score": a.score, "limit": a.limit,
             "top_sensors": [c.sensor for c in a.contributions[:3]]} for a in recs]


@tool
def explain_alarm(deps: ToolDeps, alarm_id: str) -> dict[str, Any]:
    """One alarm with its statistic, limit, model version and contributing sensors (deviation in units and sigmas).

    Parameters:
        alarm_id: the alarm's id
    """
    recs = [a for a in _store(deps).alarm_records() if a.alarm_id == alarm_id]
    if not recs:
        raise ToolUnavailable(f"no alarm {alarm_id!r}")
    a = recs[0]
    return {"alarm_id": a.alarm_id, "chamber_id": a.chamber_id, "ts": a.ts, "source": a.source, "code": a.code,
            "score": a.score, "limit": a.limit, "model_version": a.model_version, "message": a.message,
            "contributions": [c.model_dump() for c in a.contributions]}
