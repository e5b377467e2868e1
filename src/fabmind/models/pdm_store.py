"""Predictive maintenance on a store: train one failure-risk model per equipment type and register it
as ``pdm-risk``; compute a chamber's current risk the same way the live monitor does.

Labels come from the store itself: corrective (``cm``) work orders are the failures, every work order
starts a new maintenance cycle (:func:`fabmind.models.maintenance.pdm_frame`). The model's held-out
quality is measured on the last ``holdout`` share of the labelled runs in time (never seen in that fit)
and kept in the registered version's metrics; the registered model is then refit on all labelled runs.

Example::

    >>> versions = train_store_pdm(store, registry)                      # doctest: +SKIP
    >>> chamber_risk(store, registry, "CVD-02/A").risk                    # doctest: +SKIP
    0.07
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd

from fabmind.models.base import FeatureContribution, ModelError

PDM_NAME = "pdm-risk"


@dataclass(frozen=True)
class PdmTraining:
    """What training one equipment type produced (``version`` None when it could not be trained)."""

    type_id: str
    version: Any
    n_train: int
    failures: int  # distinct failure cycles (CM work orders) seen in the labelled runs
    holdout_auc: float | None  # ROC-AUC on the time-ordered holdout (None: holdout lacks one class)
    reason: str = ""  # why no model was trained


def _holdout_auc(X: pd.DataFrame, y: pd.Series, starts: pd.Series, share: float, **params: Any) -> float | None:
    from sklearn.metrics import roc_auc_score

    from fabmind.models.maintenance import FailureRiskModel

    order = np.argsort(starts.to_numpy())
    cut = int(len(order) * (1.0 - share))
    tr, te = order[:cut], order[cut:]
    if len(set(y.iloc[tr])) < 2 or len(set(y.iloc[te])) < 2:
        return None
    model = FailureRiskModel(**params).fit(X.iloc[tr], y.iloc[tr])
    return float(roc_auc_score(y.iloc[te], model.score(X.iloc[te])))


def train_store_pdm(store: Any, registry: Any, *, horizon_h: float = 24.0, window: int = 20, holdout: float = 0.25,
                    types: Sequence[str] | None = None, progress: Callable[[str], None] | None = None,
                    **params: Any) -> list[PdmTraining]:
    """Train and register (active) one ``pdm-risk`` model per equipment type with failures in the store."""
    from fabmind.models.maintenance import FailureRiskModel, pdm_frame_from_store

    chambers = store.chambers()
    by_type: dict[str, list[str]] = {}
    for c in chambers:
        by_type.setdefault(c.type_id, []).append(c.chamber_id)
    out = []
    for type_id in sorted(types if types is not None else by_type):
        if type_id not in by_type:
            raise ModelError(f"train_store_pdm: the store has no chambers of equipment type {type_id!r}")
        if progress:
            progress(f"PdM {type_id}")
        try:
            data = pdm_frame_from_store(store, horizon_h=horizon_h, window=window, chamber_ids=by_type[type_id])
        except ModelError as exc:
            out.append(PdmTraining(type_id, None, 0, 0, None, str(exc)))
            continue
        X, y = data.labelled()
        info = data.info.loc[X.index]
        failures = int(info.loc[y.to_numpy() == 1, "cycle"].nunique())
        if failures == 0 or len(X) < FailureRiskModel.min_samples:
            out.append(PdmTraining(type_id, None, len(X), failures, None,
                                   f"{failures} failures (CM work orders) in {len(X)} labelled runs: nothing to learn"))
            continue
        auc = _holdout_auc(X, y, pd.to_datetime(info["start"], utc=True), holdout, **params)
        model = FailureRiskModel(**params).fit(X, y)
        meta = model.metadata_
        meta.scope = type_id
        meta.train_start, meta.train_end = str(info["start"].min()), str(info["start"].max())
        meta.params.update(horizon_h=horizon_h, window=window, stats=["mean"])
        meta.metrics.update(failures=float(failures), positive_rate=float(y.mean()))
        if auc is not None:
            meta.metrics["holdout_auc"] = auc
        version = registry.register(model, name=PDM_NAME, scope=type_id)
        out.append(PdmTraining(type_id, version, len(X), failures, auc))
    return out


def pdm_features(store: Any, chamber_id: str, run_id: str, trace: Any, *, window: int = 20,
                 stats: Sequence[str] = ("mean",), horizon_h: float = 24.0, max_history: int = 2000
                 ) -> pd.DataFrame | None:
    """The one-row feature table of ``run_id`` (its ``trace`` may not be stored yet): window features of
    the chamber's runs since its last work order, this run last, exactly as the model was trained."""
    from fabmind.models.features import fdc_indicators
    from fabmind.models.maintenance import pdm_frame

    wo = store.work_orders(chamber_id=chamber_id)
    since = None
    if len(wo):
        opened = pd.to_datetime(wo["opened"], utc=True)
        before = opened[opened <= pd.Timestamp(trace.start)]
        since = before.max().to_pydatetime() if len(before) else None
    runs = store.runs(chamber_id=chamber_id, start=since, end=trace.start + timedelta(seconds=1))
    runs = runs[runs["run_id"] != run_id].tail(max_history - 1)
    live = pd.DataFrame({"run_id": [run_id], "chamber_id": [chamber_id], "start": [trace.start]})
    runs = pd.concat([runs[["run_id", "chamber_id", "start"]], live], ignore_index=True)
    traces = list(store.traces(runs["run_id"].iloc[:-1].tolist()).values()) + [trace]
    ind = fdc_indicators(traces, stats=stats)
    ind = ind.loc[:, ind.notna().mean() >= 0.5]
    data = pdm_frame(runs, ind, wo, horizon_h=horizon_h, window=window, observed_until=trace.start)
    return data.features.loc[[run_id]] if run_id in data.features.index else None


@dataclass(frozen=True)
class ChamberRisk:
    chamber_id: str
    run_id: str
    risk: float  # probability of a failure within the model's horizon
    horizon_h: float
    model_version: str
    drivers: list[FeatureContribution]


def chamber_risk(store: Any, registry: Any, chamber_id: str) -> ChamberRisk | None:
    """The chamber's failure risk after its latest stored run (None: no active model or no runs)."""
    type_id = next((c.type_id for c in store.chambers() if c.chamber_id == chamber_id), None)
    if type_id is None:
        raise ModelError(f"chamber_risk: unknown chamber {chamber_id!r}")
    mv = registry.resolve(PDM_NAME, chamber_id, type_id)
    if mv is None:
        return None
    runs = store.run_records(chamber_id=chamber_id)
    if not runs:
        return None
    last = runs[-1]
    trace = store.traces([last.run_id]).get(last.run_id)
    if trace is None:
        return None
    model = registry.load(mv.name, mv.scope)
    window = int(model.metadata_.params.get("window", 20))
    horizon = float(model.metadata_.params.get("horizon_h", 24.0))
    X = pdm_features(store, chamber_id, last.run_id, trace, window=window, horizon_h=horizon)
    if X is None:
        return None
    X = X.reindex(columns=list(model.feature_names_in_))
    risk = float(model.score(X)[0])
    drivers = list(model.explain(X)[0].contributions)
    return ChamberRisk(chamber_id, last.run_id, risk, horizon, mv.version, drivers)
