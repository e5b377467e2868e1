"""Run-level FDC for a whole fab: one MSPC per (chamber, recipe) on per-step trace indicators.

The pieces are plain functions over domain records so the benchmark (simulator in memory), the
CLI and the demo (a :class:`~fabmind.store.Store`) share them:

* :func:`train_fdc` fits one model per (chamber, recipe) on runs before ``train_end``: by default an
  :class:`~fabmind.models.anomaly.adjusted.AdjustedMSPC`, which regresses every indicator on the run's
  recipe setpoints and the chamber's days since PM (the response learned once per recipe across its
  chambers) and monitors the residuals, so designed-experiment lots and the drift between PMs are
  expected while faults are not (30-day demo fab: false alarms 21 % -> 1.4 % of runs, bench/fdc_sim.py);
* :func:`score_fdc` scores later runs and returns :class:`~fabmind.domain.Alarm` records;
* :func:`compare_with_faults` measures alarms against injected faults (detection, delay,
  false alarms, whether the top sensor is one the fault moves);
* :func:`train_store_fdc` / :func:`score_store_fdc` / :func:`fdc_demo` do the same on a store,
  saving the models in a :class:`~fabmind.models.registry.ModelRegistry`
  (model name ``fdc-<recipe>``, scope = chamber id).
"""

from __future__ import annotations

import hashlib

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from fabmind.domain import Alarm, InjectedFault, Recipe, Run, RunTrace, utc
from fabmind.models.anomaly import MSPC, to_alarm
from fabmind.models.anomaly.adjusted import AdjustedMSPC, fit_response
from fabmind.models.base import ModelError
from fabmind.models.features import fdc_indicators

Progress = Callable[[str], None]


@dataclass(frozen=True)
class FdcConfig:
    train_days: float = 5.0  # training window from the first run (when no train_end is given)
    stats: tuple[str, ...] = ("mean",)  # per-step means: measured best on bench/fdc_sim.py (std adds false alarms)
    n_components: float = 0.9
    confidence: float = 0.999
    limits: str = "cv"
    min_train_runs: int = 15  # per chamber x recipe (pooled response: 15 suffice; 30 left 10 % of runs unmonitored)
    top: int = 3
    setpoints: bool = True  # add the run's recipe setpoints as context columns ("SP.<parameter>")
    pm_age: bool = True  # add days since the chamber's last PM ("PM.age_days") when PM dates are given
    adjust: bool = True  # monitor indicators after regressing them on the context (AdjustedMSPC)
    pool_response: bool = True  # learn the setpoint response once per recipe, across its chambers
    response_degree: int = 1  # 2 adds squares and products: measured worse (extrapolates wildly on DOE lots)
    adjusted_components: float | str = "auto"  # PCA components of the residual monitor (see AdjustedMSPC)
    # the pooled response is fitted on at most this many chambers per recipe (a fixed, id-hashed sample):
    # a recipe's physics needs a few dozen chambers, and the cap keeps fleet training linear in chambers
    response_pool_max: int = 40

    def model(self) -> MSPC | AdjustedMSPC:
        if self.adjust:
            return AdjustedMSPC(n_components=self.adjusted_components, confidence=self.confidence, limits=self.limits)
        return MSPC(n_components=self.n_components, confidence=self.confidence, limits=self.limits)


def model_name(recipe_id: str) -> str:
    return f"fdc-{recipe_id}"


def _groups(runs: Iterable[Run]) -> dict[tuple[str, str], list[Run]]:
    out: dict[tuple[str, str], list[Run]] = defaultdict(list)
    for r in runs:
        out[(r.chamber_id, r.recipe_id)].append(r)
    return {k: sorted(v, key=lambda r: r.start) for k, v in sorted(out.items())}


def pm_age_days(runs: Sequence[Run], pm_ends: Sequence[datetime], default_interval_days: float = 7.0) -> np.ndarray:
    """Days since the last PM that ended before each run.

    Before the first known PM the previous one is assumed one typical PM interval earlier (median gap
    of the known PMs; ``default_interval_days`` with a single known PM). An error in that guess only
    shifts the ages of the runs before the first known PM by a constant.
    """
    ends = np.array(sorted(utc(t).timestamp() for t in pm_ends))
    t = np.array([utc(r.start).timestamp() for r in runs])
    if len(ends) == 0:
        return np.full(len(t), np.nan)
    gap = float(np.median(np.diff(ends))) if len(ends) >= 2 else default_interval_days * 86400.0
    ends = np.concatenate([[ends[0] - gap], ends])
    k = np.searchsorted(ends, t, side="right") - 1
    return np.where(k >= 0, (t - ends[np.maximum(k, 0)]) / 86400.0, np.nan)


def indicators(runs: Sequence[Run], traces: Mapping[str, RunTrace], recipe: Recipe | None,
               stats: Sequence[str], setpoints: bool = False,
               pm_ends: Sequence[datetime] | None = None) -> pd.DataFrame:
    """Indicator table of runs that have a trace, in run order; rows with missing steps dropped.

    With ``setpoints`` the run's recipe setpoints are added as ``SP.<parameter>`` columns, so the
    model learns how sensors follow deliberate recipe changes (DOE lots, tuning) instead of
    alarming on them.
    """
    have = [r for r in runs if r.run_id in traces]
    if not have:
        return pd.DataFrame()
    frame = fdc_indicators([traces[r.run_id] for r in have], step_names=recipe.steps if recipe else None, stats=stats)
    if setpoints and recipe is not None and recipe.parameters:
        names = [p.name for p in recipe.parameters]
        sp = pd.DataFrame([[r.setpoints.get(n, np.nan) for n in names] for r in have],
                          index=frame.index, columns=[f"SP.{n}" for n in names])
        frame = pd.concat([frame, sp], axis=1)
    if pm_ends is not None:
        # sensors drift between PMs: knowing the chamber's age lets the model expect the drift
        frame["PM.age_days"] = pm_age_days(have, pm_ends)
    return frame.dropna(axis=0, how="any")


def _pm(pm_ends: Mapping[str, Sequence[datetime]] | None, chamber: str, config: FdcConfig):
    if not config.pm_age or pm_ends is None:
        return None
    return pm_ends.get(chamber) or None


def pm_ends_from(work_orders: Iterable[Any]) -> dict[str, list[datetime]]:
    """Chamber id -> end times of its PM work orders (``kind == 'pm'``)."""
    out: dict[str, list[datetime]] = defaultdict(list)
    for w in work_orders:
        if str(w.kind) in ("pm", "WorkOrderKind.PM") and w.chamber_id and w.closed:
            out[w.chamber_id].append(w.closed)
    return dict(out)


def train_fdc(runs: Iterable[Run], traces: Mapping[str, RunTrace], recipes: Mapping[str, Recipe],
              train_end: datetime | None = None, config: FdcConfig = FdcConfig(),
              progress: Progress | None = None, pm_ends: Mapping[str, Sequence[datetime]] | None = None
              ) -> dict[tuple[str, str], MSPC]:
    """One fitted MSPC per (chamber, recipe) with at least ``min_train_runs`` runs before ``train_end``.

    ``pm_ends``: chamber id -> end times of its preventive maintenance (used when ``config.pm_age``).
    """
    runs = list(runs)
    if not runs:
        raise ModelError("train_fdc: no runs given")
    if train_end is None:
        train_end = min(r.start for r in runs) + timedelta(days=config.train_days)
    train_end = utc(train_end)
    tables: dict[tuple[str, str], pd.DataFrame] = {}
    first: dict[tuple[str, str], datetime] = {}
    for (chamber, recipe_id), group in _groups(runs).items():
        if progress:
            progress(f"{chamber} {recipe_id}")
        train = [r for r in group if utc(r.start) < train_end]
        X = indicators(train, traces, recipes.get(recipe_id), config.stats, config.setpoints,
                       _pm(pm_ends, chamber, config))
        if len(X) >= config.min_train_runs:
            tables[(chamber, recipe_id)] = X
            first[(chamber, recipe_id)] = utc(min(r.start for r in train))
    responses = (_pooled_responses(tables, config.response_degree, config.response_pool_max)
                 if config.adjust and config.pool_response else {})
    models = {}
    for (chamber, recipe_id), X in tables.items():
        model = config.model()
        if isinstance(model, AdjustedMSPC) and (chamber, recipe_id) in responses:
            model.fit(X, response=responses[(chamber, recipe_id)])
        else:
            model.fit(X)
        model.metadata_.scope = chamber
        # the training window, so the learning loop can refit a model on the runs it was trained on
        model.metadata_.train_start = first[(chamber, recipe_id)].isoformat()
        model.metadata_.train_end = train_end.isoformat()
        models[(chamber, recipe_id)] = model
    return models


def pool_order(chamber_id: str) -> str:
    """The order in which chambers enter a recipe's pooled response (stable, spread over tools)."""
    return hashlib.sha1(chamber_id.encode()).hexdigest()


def _pooled_responses(tables: Mapping[tuple[str, str], pd.DataFrame], degree: int = 1,
                      max_chambers: int | None = None) -> dict[tuple[str, str], Any]:
    """One setpoint response per recipe, learned on the training runs of the chambers running it (the
    first ``max_chambers`` of them in :func:`pool_order`), used by all of them.

    The physics of a recipe (how pressure follows its setpoint, RF power its ...) is the chamber
    type's, not the chamber's: pooled, the designed-experiment lots of all chambers teach every
    chamber's model (a chamber alone rarely sees one in its training window). Each chamber keeps
    its own intercept (chamber matching) and its own residual covariance.
    """
    by_recipe: dict[tuple[str, tuple[str, ...]], list[tuple[str, pd.DataFrame]]] = defaultdict(list)
    for (chamber, recipe_id), X in tables.items():  # same recipe, same columns (PM ages known or not)
        by_recipe[(recipe_id, tuple(X.columns))].append((chamber, X))
    out = {}
    for (recipe_id, _), same in by_recipe.items():
        fit_on = sorted(same, key=lambda cx: pool_order(cx[0]))[:max_chambers]
        pooled = pd.concat([X for _, X in fit_on])
        groups = np.concatenate([[c] * len(X) for c, X in fit_on])
        tools = [str(c).split("/", 1)[0] for c in groups]  # chamber "CVD-01/A" -> tool "CVD-01"
        response = fit_response(pooled, groups, degree=degree, cv_groups=tools)
        out.update({(c, recipe_id): response for c, _ in same})
    return out


def score_fdc(models: Mapping[tuple[str, str], MSPC], runs: Iterable[Run], traces: Mapping[str, RunTrace],
              recipes: Mapping[str, Recipe], units: Mapping[str, str] | None = None, start: datetime | None = None,
              config: FdcConfig = FdcConfig(), progress: Progress | None = None,
              pm_ends: Mapping[str, Sequence[datetime]] | None = None) -> tuple[list[Alarm], pd.DataFrame]:
    """Alarms for runs from ``start`` on, and a table of every scored run (run_id, chamber_id, start, score)."""
    alarms: list[Alarm] = []
    scored = []
    start = utc(start) if start is not None else None
    for key, group in _groups(runs).items():
        model = models.get(key)
        if model is None:
            continue
        if progress:
            progress(f"{key[0]} {key[1]}")
        group = [r for r in group if start is None or utc(r.start) >= start]
        if ("PM.age_days" in model.feature_names_in_ and not _pm(pm_ends, key[0], config)
                and not isinstance(model, AdjustedMSPC)):
            raise ModelError(f"{model_name(key[1])}@{key[0]} was trained with PM ages; pass pm_ends to score")
        X = indicators(group, traces, recipes.get(key[1]), config.stats, config.setpoints,
                       _pm(pm_ends, key[0], config) if "PM.age_days" in model.feature_names_in_ else None)
        if X.empty:
            continue
        by_id = {r.run_id: r for r in group}
        scores = model.score(X)
        scored.append(pd.DataFrame({"run_id": X.index, "chamber_id": key[0], "recipe_id": key[1],
                                    "start": [by_id[i].start for i in X.index], "score": scores}))
        for det in model.detect(X, top=None):
            run = by_id[det.index]
            alarms.append(to_alarm(det, run.chamber_id, run.end, run_id=run.run_id, units=units,
                                   source=f"mspc.{key[1]}", top=config.top))
    table = pd.concat(scored, ignore_index=True) if scored else pd.DataFrame(
        columns=["run_id", "chamber_id", "recipe_id", "start", "score"])
    return alarms, table


@dataclass(frozen=True)
class FaultOutcome:
    fault_id: str
    fault_type: str
    chamber_id: str
    start: datetime
    detected: bool
    delay_runs: int | None  # runs of the chamber from the fault start to the first alarm
    first_alarm_run: str | None
    top_sensor: str | None  # the sensor leading the fault's first alarms (majority over the first 5)
    fault_sensors: tuple[str, ...]
    top1_hit: bool


@dataclass
class FdcReport:
    """Alarms found against injected faults: the numbers ``bench/fdc_sim.py`` and the demo report."""

    alarms: list[Alarm]
    outcomes: list[FaultOutcome]
    detection_rate: float
    false_alarm_rate: float
    median_delay_runs: float
    top1_sensor_hit: float
    n_scored_runs: int
    n_false_alarms: int
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {"detection_rate": self.detection_rate, "false_alarm_rate": self.false_alarm_rate,
                "median_delay_runs": self.median_delay_runs, "top1_sensor_hit": self.top1_sensor_hit,
                "faults": len(self.outcomes), "alarms": len(self.alarms), "scored_runs": self.n_scored_runs,
                "false_alarms": self.n_false_alarms}


def compare_with_faults(alarms: Sequence[Alarm], scored: pd.DataFrame, faults: Sequence[InjectedFault],
                        fault_sensors: Mapping[str, Iterable[str]], after_end_grace: timedelta = timedelta(hours=2)
                        ) -> FdcReport:
    """Detection rate over faults, false-alarm rate over runs outside faults, delay, top-1 sensor hit."""
    by_run = {a.run_id: a for a in alarms}
    scored = scored.sort_values("start")
    starts = pd.to_datetime(scored["start"], utc=True)
    in_fault = np.zeros(len(scored), dtype=bool)
    outcomes = []
    for f in faults:
        end = utc(f.end) + after_end_grace if f.end else pd.Timestamp.max.tz_localize("UTC")
        mask = (scored["chamber_id"].to_numpy() == f.chamber_id) & (starts >= utc(f.start)).to_numpy() & (
            starts <= end).to_numpy()
        in_fault |= mask
        runs = scored.loc[mask, "run_id"].tolist()
        hits = [i for i, r in enumerate(runs) if r in by_run]
        sensors = tuple(fault_sensors.get(f.fault_type, ()))
        top = None
        if hits:
            votes: dict[str, int] = defaultdict(int)
            for i in hits[:5]:
                contribs = by_run[runs[i]].contributions
                if contribs:
                    votes[contribs[0].sensor] += 1
            top = max(votes, key=votes.get) if votes else None
        outcomes.append(FaultOutcome(f.fault_id, f.fault_type, f.chamber_id, f.start, bool(hits),
                                     hits[0] if hits else None, runs[hits[0]] if hits else None, top, sensors,
                                     top in sensors if top else False))
    outside = scored.loc[~in_fault, "run_id"]
    n_false = int(outside.isin(by_run.keys()).sum())
    detected = [o for o in outcomes if o.detected]
    return FdcReport(
        alarms=list(alarms), outcomes=outcomes,
        detection_rate=len(detected) / len(outcomes) if outcomes else float("nan"),
        false_alarm_rate=n_false / len(outside) if len(outside) else float("nan"),
        median_delay_runs=float(np.median([o.delay_runs for o in detected])) if detected else float("nan"),
        top1_sensor_hit=float(np.mean([o.top1_hit for o in detected])) if detected else float("nan"),
        n_scored_runs=len(scored), n_false_alarms=n_false,
    )


# ---------------------------------------------------------------------------- on a store


def store_pm_ends(store: Any, chamber_id: str | None = None) -> dict[str, list[datetime]]:
    """Chamber id -> end times of its PM work orders in the store (of one chamber with ``chamber_id``)."""
    frame = store.work_orders(kind="pm", chamber_id=chamber_id)
    out: dict[str, list[datetime]] = defaultdict(list)
    for row in frame.itertuples():
        if isinstance(row.chamber_id, str) and row.chamber_id and pd.notna(row.closed):
            out[row.chamber_id].append(pd.Timestamp(row.closed).to_pydatetime())
    return dict(out)


def _store_inputs(store: Any, start: datetime | None, end: datetime | None):
    runs = store.run_records(start=start, end=end)
    recipes = {r.recipe_id: r for r in store.recipes()}
    units = {}
    for t in {c.type_id for c in store.chambers()}:
        units.update({s.name: s.unit for s in store.sensors(t)})
    return runs, recipes, units


def _traces_by_chamber(store: Any, runs: Sequence[Run]) -> dict[str, RunTrace]:
    return store.traces([r.run_id for r in runs])


def train_store_fdc(store: Any, registry: Any, train_start: datetime | None = None, train_end: datetime | None = None,
                    config: FdcConfig = FdcConfig(), progress: Progress | None = None) -> list[Any]:
    """Train FDC models on the store's runs in [train_start, train_end) and register them (active)."""
    runs, recipes, _ = _store_inputs(store, train_start, train_end)
    if not runs:
        raise ModelError("the store has no runs in the training window")
    if train_end is None:
        train_end = min(r.start for r in runs) + timedelta(days=config.train_days)
        runs = [r for r in runs if utc(r.start) < utc(train_end)]
    traces = _traces_by_chamber(store, runs)
    models = train_fdc(runs, traces, recipes, train_end, config, progress, store_pm_ends(store))
    return [registry.register(m, name=model_name(recipe), scope=chamber)
            for (chamber, recipe), m in models.items()]


def load_store_models(store: Any, registry: Any) -> dict[tuple[str, str], MSPC]:
    models = {}
    for chamber in store.chambers():
        for recipe in store.recipes(chamber.type_id):
            mv = registry.active(model_name(recipe.recipe_id), chamber.chamber_id)
            if mv is not None:
                models[(chamber.chamber_id, recipe.recipe_id)] = registry.load(mv.name, mv.scope)
    return models


def score_store_fdc(store: Any, registry: Any, start: datetime | None = None, end: datetime | None = None,
                    config: FdcConfig = FdcConfig(), progress: Progress | None = None
                    ) -> tuple[list[Alarm], pd.DataFrame]:
    """Score the store's runs in a window with the registry's active FDC models."""
    models = load_store_models(store, registry)
    if not models:
        raise ModelError("no active FDC models in the registry; run `fabmind train` first")
    runs, recipes, units = _store_inputs(store, start, end)
    return score_fdc(models, runs, _traces_by_chamber(store, runs), recipes, units, start, config, progress,
                     store_pm_ends(store))


def fdc_demo(store: Any, registry: Any, config: FdcConfig = FdcConfig(), progress: Progress | None = None) -> FdcReport:
    """Train on the first ``config.train_days`` of the store, score the rest, compare with its injected faults."""
    from fabmind.sim.faults import FAULT_LIBRARY

    runs, recipes, units = _store_inputs(store, None, None)
    if not runs:
        raise ModelError("the store has no runs")
    train_end = min(r.start for r in runs) + timedelta(days=config.train_days)
    traces = _traces_by_chamber(store, runs)
    pm_ends = store_pm_ends(store)
    models = train_fdc([r for r in runs if utc(r.start) < utc(train_end)], traces, recipes, train_end, config, progress,
                       pm_ends)
    for (chamber, recipe), m in models.items():
        registry.register(m, name=model_name(recipe), scope=chamber)
    alarms, scored = score_fdc(models, runs, traces, recipes, units, train_end, config, progress, pm_ends)
    frame = store.injected_faults()
    faults = [InjectedFault(**{k: (None if pd.isna(v) else v) for k, v in row.items() if k in InjectedFault.model_fields})
              for row in frame.to_dict("records")]
    faults = [f for f in faults if f.fault_type in FAULT_LIBRARY and utc(f.start) >= utc(train_end)]
    return compare_with_faults(alarms, scored, faults, {k: ft.sensors for k, ft in FAULT_LIBRARY.items()})
