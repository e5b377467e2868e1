"""Run-level models in the live monitor: FDC (MSPC on run indicators) and PdM failure risk.

The streaming charts (:mod:`fabmind.monitor.scoring`) watch every sample; the models the FDC and
PdM rooms train watch whole runs. When a chamber's run is complete (its last message says
``run_end``, or the chamber's next run starts) the monitor hands the run, assembled from the
stream as a :class:`~fabmind.domain.RunTrace`, to each scorer here, off the event loop:

* :class:`FdcRunScorer` — per-step indicators of the run (``fabmind.models.fdc.indicators``, with
  recipe setpoints and days since PM as the model was trained) -> the chamber's **active** model
  ``fdc-<recipe>`` from the registry -> a violation with the contributing sensors (source
  ``mspc.<recipe>``, code ``FDC-MSPC``) when the run is over the model's limit.
* :class:`PdmRiskScorer` — window features of the chamber's runs since its last maintenance with
  this run last (``fabmind.models.maintenance.pdm_frame``) -> the active failure-risk model
  (``pdm-risk``, per chamber or per equipment type) -> a violation (source ``pdm.risk``, code
  ``PDM-RISK``) when the probability of failure within the model's horizon reaches ``threshold``.

Each returns :class:`~fabmind.monitor.alarms.InControl` for a run scored inside the limits (that
clears the model's open alarm; the next violation raises a new one) and ``None`` when it has nothing to say (no active model, run unknown to the store, run
not seen whole) and counts why in :attr:`skipped`, so a silent scorer can be told from a quiet fab.
Models are reloaded when the registry activates another version.

    >>> from fabmind.monitor.runner import default_run_scorers   # what ``fabmind monitor`` wires in
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from fabmind.domain import Contribution, Run, RunTrace
from fabmind.monitor.alarms import InControl, Violation

log = logging.getLogger(__name__)


class _Models:
    """Active registry models by (name, scope), reloaded when the active version changes; the
    registry index is read at most every ``refresh_s``."""

    def __init__(self, registry: Any, refresh_s: float = 30.0):
        self.registry = registry
        self.refresh_s = refresh_s
        self._lock = threading.Lock()
        self._active: dict[tuple[str, str], tuple[float, Any]] = {}  # -> (checked at, ModelVersion | None)
        self._loaded: dict[str, Any] = {}  # version string -> model

    def active(self, name: str, scope: str) -> tuple[Any, Any] | None:
        """``(model, version)`` active for ``name`` at ``scope``, or None."""
        now = time.monotonic()
        with self._lock:
            hit = self._active.get((name, scope))
            if hit is None or now - hit[0] > self.refresh_s:
                hit = (now, self.registry.active(name, scope))
                self._active[(name, scope)] = hit
            mv = hit[1]
            if mv is None:
                return None
            model = self._loaded.get(mv.version)
            if model is None:
                model = self._loaded[mv.version] = self.registry.load(mv.name, mv.scope, mv.number)
            return model, mv


class _StoreFacts:
    """Slow-moving store facts the scorers need (recipes, PM dates, units), cached for ``ttl_s``."""

    def __init__(self, store: Any, ttl_s: float = 300.0):
        self.store = store
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, Any]] = {}

    def _get(self, key: str, load) -> Any:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
            if hit is None or now - hit[0] > self.ttl_s:
                hit = (now, load())
                self._cache[key] = hit
            return hit[1]

    def recipes(self) -> dict[str, Any]:
        return self._get("recipes", lambda: {r.recipe_id: r for r in self.store.recipes()})

    def pm_ends(self) -> dict[str, list[datetime]]:
        from fabmind.models.fdc import store_pm_ends

        return self._get("pm_ends", lambda: store_pm_ends(self.store))

    def units(self) -> dict[str, str]:
        def load() -> dict[str, str]:
            out: dict[str, str] = {}
            for t in {c.type_id for c in self.store.chambers()}:
                out.update({s.name: s.unit for s in self.store.sensors(t)})
            return out

        return self._get("units", load)

    def type_of(self, chamber_id: str) -> str | None:
        types = self._get("types", lambda: {c.chamber_id: c.type_id for c in self.store.chambers()})
        return types.get(chamber_id)


def find_run(store: Any, chamber_id: str, run_id: str, near: datetime) -> Run | None:
    """The store's record of a run (the MES side: recipe, setpoints, start/end), looked up near ``near``."""
    for r in store.run_records(chamber_id=chamber_id, start=near - timedelta(days=1), end=near + timedelta(days=1)):
        if r.run_id == run_id:
            return r
    return None


def covers_run(trace: RunTrace, run: Run) -> bool:
    """The stream delivered the run from its start (within two samples): a monitor started mid-run
    has only the tail, whose indicators would be wrong."""
    return (trace.start - run.start).total_seconds() <= 2 * trace.dt_s + 1e-6


class FdcRunScorer:
    """Scores a finished run with the chamber's active FDC model (``fdc-<recipe>``, scope = chamber)."""

    source_prefix = "mspc"

    def __init__(self, store: Any, registry: Any, config: Any = None, *, refresh_s: float = 30.0):
        from fabmind.models.fdc import FdcConfig

        self.store = store
        self.config = config or FdcConfig()
        self.models = _Models(registry, refresh_s)
        self.facts = _StoreFacts(store)
        self.skipped: Counter[str] = Counter()
        self.scored = 0

    def __call__(self, chamber_id: str, run_id: str, trace: RunTrace | None) -> Violation | InControl | None:
        from fabmind.models.anomaly import to_alarm
        from fabmind.models.fdc import indicators, model_name

        if trace is None:
            self.skipped["not_seen_whole"] += 1
            return None
        run = find_run(self.store, chamber_id, run_id, trace.start)
        if run is None:
            self.skipped["run_unknown"] += 1
            return None
        if not covers_run(trace, run):
            self.skipped["not_seen_whole"] += 1
            return None
        hit = self.models.active(model_name(run.recipe_id), chamber_id)
        if hit is None:
            self.skipped["no_active_model"] += 1
            return None
        model, mv = hit
        cfg = self.config
        uses_pm = "PM.age_days" in getattr(model, "feature_names_in_", ())
        pm_ends = self.facts.pm_ends().get(chamber_id) if uses_pm and cfg.pm_age else None
        X = indicators([run], {run_id: trace}, self.facts.recipes().get(run.recipe_id), cfg.stats, cfg.setpoints,
                       pm_ends=pm_ends)
        if X.empty:
            self.skipped["no_indicators"] += 1  # a step or sensor missing from the run
            return None
        if uses_pm and "PM.age_days" not in X.columns:
            X["PM.age_days"] = np.nan  # no PM known for the chamber: the model's own handling of gaps
        self.scored += 1
        source = f"{self.source_prefix}.{run.recipe_id}"
        dets = model.detect(X, top=None)
        if not dets:
            return InControl(chamber_id, run.end, source, "FDC-MSPC")
        alarm = to_alarm(dets[0], chamber_id, run.end, run_id=run_id, units=self.facts.units(), source=source,
                         top=cfg.top)
        return Violation(chamber_id, alarm.ts, alarm.source, alarm.code, alarm.score / max(alarm.limit, 1e-12),
                         1.0, run_id, model_version=alarm.model_version or mv.version, message=alarm.message,
                         contributions=alarm.contributions, severity=alarm.severity)


class PdmRiskScorer:
    """Failure risk of the chamber after a finished run, from the active failure-risk model.

    The model (a :class:`~fabmind.models.maintenance.FailureRiskModel` registered as ``name``,
    scope = chamber id or its equipment type) was trained on ``pdm_frame`` features of run
    indicators (``stats`` per sensor and step) with ``window``; the scorer computes the same
    features for the chamber's runs since its last work order, this run (as streamed) last.
    """

    source = "pdm.risk"
    code = "PDM-RISK"

    def __init__(self, store: Any, registry: Any, *, name: str = "pdm-risk", threshold: float = 0.5,
                 window: int = 20, stats: tuple[str, ...] = ("mean",), max_history: int = 2000,
                 refresh_s: float = 30.0):
        self.store = store
        self.name = name
        self.threshold = threshold
        self.window = window
        self.stats = stats
        self.max_history = max_history
        self.models = _Models(registry, refresh_s)
        self.facts = _StoreFacts(store)
        self.skipped: Counter[str] = Counter()
        self.last_risk: dict[str, float] = {}  # chamber -> latest probability (for dashboards / tests)

    def _model(self, chamber_id: str) -> tuple[Any, Any] | None:
        hit = self.models.active(self.name, chamber_id)
        if hit is None:
            type_id = self.facts.type_of(chamber_id)
            hit = self.models.active(self.name, type_id) if type_id else None
        return hit

    def features(self, chamber_id: str, run_id: str, trace: RunTrace) -> pd.DataFrame | None:
        """The one-row feature table of this run (None if the chamber has no usable history)."""
        from fabmind.models.pdm_store import pdm_features

        return pdm_features(self.store, chamber_id, run_id, trace, window=self.window, stats=self.stats,
                            max_history=self.max_history)

    def __call__(self, chamber_id: str, run_id: str, trace: RunTrace | None) -> Violation | InControl | None:
        if trace is None:
            self.skipped["not_seen_whole"] += 1
            return None
        hit = self._model(chamber_id)
        if hit is None:
            self.skipped["no_active_model"] += 1
            return None
        model, mv = hit
        X = self.features(chamber_id, run_id, trace)
        if X is None:
            self.skipped["no_features"] += 1
            return None
        X = X.reindex(columns=list(model.feature_names_in_))  # features the model does not know: NaN
        risk = float(model.score(X)[0])
        self.last_risk[chamber_id] = risk
        end = trace.start + timedelta(seconds=trace.dt_s * len(trace.values))
        if risk < self.threshold:
            return InControl(chamber_id, end, self.source, self.code)
        contribs = _risk_contributions(model, X)
        top = ", ".join(c.feature for c in contribs[:3])
        return Violation(chamber_id, end, self.source,
                         self.code, risk / self.threshold, 1.0, run_id, model_version=mv.version,
                         message=f"failure risk {risk:.0%} within the model's horizon (alarm at "
                                 f"{self.threshold:.0%}); drivers: {top}", contributions=contribs)


def _risk_contributions(model: Any, X: pd.DataFrame, top: int = 5) -> tuple[Contribution, ...]:
    from fabmind.models.anomaly.alarms import sensor_of

    try:
        expl = model.explain(X)[0]
    except Exception:  # an explanation is a convenience
        log.exception("explaining the PdM risk failed")
        return ()
    feats = list(expl.contributions)[:top]
    total = sum(abs(f.contribution) for f in feats) or 1.0
    out = []
    for f in feats:
        value, expected, sigma = (float(x) if np.isfinite(x) else 0.0 for x in (f.value, f.expected, f.deviation_sigma))
        out.append(Contribution(sensor=sensor_of(f.feature), feature=f.feature, contribution=abs(f.contribution) / total,
                                value=value, expected=expected, deviation=value - expected, deviation_sigma=sigma))
    return tuple(out)
