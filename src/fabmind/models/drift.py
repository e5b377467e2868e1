"""Drift of the FDC models: their inputs (PSI + KS per feature against the training window) and
their performance (alarm precision from engineers' verdicts). Drift above a threshold suggests retraining.

Input drift asks "do this model's indicators still look like what it was trained on?"; a sensor
recalibration, a new gas bottle or a changed recipe shows here before it shows as false alarms.
A feature drifts when **both** its population stability index (PSI, reference-quantile bins) is
over ``psi_threshold`` **and** a two-sample Kolmogorov-Smirnov test rejects at ``ks_alpha``
Bonferroni-corrected over the model's features: PSI says the shift matters, KS says it is not
the noise of a small window (PSI alone has a bias of about ``(bins-1)·(1/n_ref + 1/n_cur)``).

Example::

    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> ref = pd.DataFrame({"RF.main.mean": rng.normal(size=200), "P.main.mean": rng.normal(size=200)})
    >>> cur = pd.DataFrame({"RF.main.mean": rng.normal(size=40) + 2.0, "P.main.mean": rng.normal(size=40)})
    >>> d = input_drift(ref, cur)
    >>> d.drifted, d.sensors
    (True, ('RF',))
    >>> input_drift(ref, ref.iloc[:40]).drifted
    False
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from fabmind.domain import utc
from fabmind.models.anomaly.alarms import sensor_of
from fabmind.models.base import ModelError


@dataclass(frozen=True)
class DriftConfig:
    psi_threshold: float = 0.25  # the usual "significant shift" level of the PSI
    ks_alpha: float = 0.01  # family-wise over a model's features (Bonferroni)
    bins: int = 5  # reference-quantile bins: few, because windows are tens of runs
    window: timedelta = timedelta(days=1)  # the "current" window: drift is flagged within it
    min_runs: int = 20  # fewer current runs: no verdict on input drift
    min_verdicts: int = 5  # fewer verdicts: no verdict on alarm precision
    precision_threshold: float = 0.5  # below: most alarms are false -> retrain
    skip_prefixes: tuple[str, ...] = ("SP.", "PM.")  # recipe setpoints and PM age move by design


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    psi: float
    ks: float
    p_value: float
    shift_sigma: float  # (current median - reference median) / reference robust spread
    drifted: bool


@dataclass(frozen=True)
class InputDrift:
    """Input drift of one model (chamber x recipe) between a reference and a current window."""

    n_reference: int
    n_current: int
    features: tuple[FeatureDrift, ...]  # sorted by PSI, largest first
    drifted: bool
    model: str = ""
    scope: str = ""
    reference: tuple[str, str] = ("", "")
    current: tuple[str, str] = ("", "")
    note: str = ""

    @property
    def max_psi(self) -> float:
        return max((f.psi for f in self.features), default=0.0)

    @property
    def sensors(self) -> tuple[str, ...]:
        """Sensors with at least one drifted feature, strongest first."""
        return tuple(dict.fromkeys(sensor_of(f.feature) for f in self.features if f.drifted))


@dataclass(frozen=True)
class PerformanceDrift:
    """Alarm precision of one model from verdicts: true faults / (true faults + false alarms)."""

    model: str
    scope: str
    n_verdicts: int
    true_faults: int
    false_alarms: int
    precision: float  # nan with no verdicts
    drifted: bool


@dataclass(frozen=True)
class RetrainSuggestion:
    model: str
    scope: str
    reason: str


@dataclass
class DriftReport:
    inputs: list[InputDrift] = field(default_factory=list)
    performance: list[PerformanceDrift] = field(default_factory=list)

    @property
    def suggestions(self) -> list[RetrainSuggestion]:
        out: dict[tuple[str, str], list[str]] = {}
        for d in self.inputs:
            if d.drifted:
                out.setdefault((d.model, d.scope), []).append(
                    f"input drift on {', '.join(d.sensors[:3])} (max PSI {d.max_psi:.2f})")
        for p in self.performance:
            if p.drifted:
                out.setdefault((p.model, p.scope), []).append(
                    f"alarm precision {p.precision:.0%} over {p.n_verdicts} verdicts")
        return [RetrainSuggestion(m, s, "; ".join(r)) for (m, s), r in sorted(out.items())]


# ---------------------------------------------------------------------- statistics


def psi(reference: np.ndarray, current: np.ndarray, bins: int = 5, eps: float = 1e-4) -> float:
    """Population stability index of ``current`` against ``reference`` on reference-quantile bins."""
    reference = np.asarray(reference, dtype=float)
    current = np.asarray(current, dtype=float)
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1]))
    r = np.bincount(np.searchsorted(edges, reference, side="right"), minlength=len(edges) + 1) / len(reference)
    c = np.bincount(np.searchsorted(edges, current, side="right"), minlength=len(edges) + 1) / len(current)
    r, c = np.maximum(r, eps), np.maximum(c, eps)
    return float(np.sum((c - r) * np.log(c / r)))


def input_drift(reference: pd.DataFrame, current: pd.DataFrame, config: DriftConfig = DriftConfig(),
                **labels: Any) -> InputDrift:
    """Drift of every shared (non-setpoint) feature of ``current`` against ``reference``."""
    cols = [c for c in reference.columns if c in current.columns and not str(c).startswith(config.skip_prefixes)]
    if not cols:
        raise ModelError("input_drift: the reference and current tables share no features")
    if len(current) < config.min_runs or len(reference) < config.min_runs:
        return InputDrift(len(reference), len(current), (), False,
                          note=f"too few runs (reference {len(reference)}, current {len(current)}; "
                               f"need {config.min_runs})", **labels)
    alpha = config.ks_alpha / len(cols)
    out = []
    for c in cols:
        ref, cur = reference[c].to_numpy(dtype=float), current[c].to_numpy(dtype=float)
        ref, cur = ref[np.isfinite(ref)], cur[np.isfinite(cur)]
        if len(ref) < 2 or len(cur) < 2:
            continue
        p = psi(ref, cur, config.bins)
        ks = stats.ks_2samp(ref, cur)
        med = np.median(ref)
        spread = 1.4826 * np.median(np.abs(ref - med)) or ref.std() or 1.0
        out.append(FeatureDrift(str(c), p, float(ks.statistic), float(ks.pvalue),
                                float((np.median(cur) - med) / spread),
                                bool(p > config.psi_threshold and ks.pvalue < alpha)))
    out.sort(key=lambda f: -f.psi)
    return InputDrift(len(reference), len(current), tuple(out), any(f.drifted for f in out), **labels)


def performance_drift(verdicts: pd.DataFrame, config: DriftConfig = DriftConfig(),
                      since: datetime | None = None) -> list[PerformanceDrift]:
    """Alarm precision per model (``source`` ``mspc.<recipe>`` -> ``fdc-<recipe>``) and chamber."""
    if verdicts.empty:
        return []
    v = verdicts[verdicts["verdict"].isin(["true_fault", "false_alarm"])]
    if since is not None:
        v = v[pd.to_datetime(v["alarm_ts"], utc=True) >= pd.Timestamp(utc(since))]
    out = []
    for (source, chamber), g in v.groupby(["source", "chamber_id"], sort=True):
        tf = int((g["verdict"] == "true_fault").sum())
        fa = int((g["verdict"] == "false_alarm").sum())
        n = tf + fa
        prec = tf / n if n else float("nan")
        out.append(PerformanceDrift(_model_of(str(source)), str(chamber), n, tf, fa, prec,
                                    bool(n >= config.min_verdicts and prec < config.precision_threshold)))
    return out


def _model_of(source: str) -> str:
    return "fdc-" + source.split(".", 1)[1] if source.startswith("mspc.") else source


# ---------------------------------------------------------------------- on a store


def model_indicators(store: Any, chamber_id: str, recipe_id: str, start: datetime | None, end: datetime | None,
                     features: Sequence[str] | None = None, config: Any = None) -> pd.DataFrame:
    """The FDC indicator table of one chamber x recipe in a window (the model's own features)."""
    from fabmind.models.fdc import FdcConfig, indicators

    config = config or FdcConfig()
    runs = [r for r in store.run_records(chamber_id=chamber_id, start=start, end=end) if r.recipe_id == recipe_id]
    if not runs:
        return pd.DataFrame(columns=list(features or []))
    recipe = next((r for r in store.recipes() if r.recipe_id == recipe_id), None)
    X = indicators(runs, store.traces([r.run_id for r in runs]), recipe, config.stats, config.setpoints)
    return X if features is None else X[[c for c in features if c in X.columns]]


def store_drift(store: Any, registry: Any, reference: tuple[datetime, datetime], now: datetime,
                config: DriftConfig = DriftConfig(), chambers: Sequence[str] | None = None,
                engine: Any = None) -> DriftReport:
    """Input drift of every active FDC model (current window ``[now - config.window, now)`` against
    ``reference``) and alarm precision from the verdicts of the same window."""
    now = utc(now)
    start = now - config.window
    report = DriftReport()
    for (name, scope), mv in sorted(registry.active_versions().items()):
        if not name.startswith("fdc-") or (chambers is not None and scope not in chambers):
            continue
        recipe = name[len("fdc-"):]
        model = registry.load(name, scope)
        feats = list(model.feature_names_in_)
        ref = model_indicators(store, scope, recipe, reference[0], reference[1], feats)
        cur = model_indicators(store, scope, recipe, start, now, feats)
        if ref.empty or cur.empty:
            continue
        d = input_drift(ref, cur, config, model=name, scope=scope)
        report.inputs.append(replace(d, reference=(utc(reference[0]).isoformat(), utc(reference[1]).isoformat()),
                                     current=(start.isoformat(), now.isoformat())))
    if engine is not None:
        from fabmind.monitor.repository import verdicts

        report.performance = [p for p in performance_drift(verdicts(engine), config, since=start)
                              if chambers is None or p.scope in chambers]
    return report


# ---------------------------------------------------------------------- what-if: a recalibrated sensor


def recalibrated(traces: Sequence[Any], chamber_id: str, sensor: str, start: datetime, offset: float,
                 noise: float = 0.0, seed: int = 0) -> list[Any]:
    """Traces as a sensor recalibration would leave them: from ``start`` on, ``sensor`` of
    ``chamber_id`` reads ``offset`` higher (plus white noise of std ``noise``); the process is unchanged.

    Used by the drift tests and ``bench/feedback.py`` to make a sensor prone to false alarms.
    """
    rng = np.random.default_rng(seed)
    start = utc(start)
    out = []
    for tr in traces:
        if tr.chamber_id == chamber_id and utc(tr.start) >= start and sensor in tr.sensors:
            values = np.array(tr.values, dtype=np.float32, copy=True)
            j = tr.sensors.index(sensor)
            values[:, j] += np.float32(offset)
            if noise:
                values[:, j] += rng.normal(0.0, noise, len(values)).astype(np.float32)
            tr = tr.model_copy(update={"values": values})
        out.append(tr)
    return out


def flaky(traces: Sequence[Any], chamber_id: str, sensor: str, start: datetime, rate: float, amplitude: float,
          burst: tuple[float, float] = (0.05, 0.3), seed: int = 0) -> list[Any]:
    """Traces as an intermittently failing sensor would leave them (a loose connector, a worn cable, gauge
    electronics picking up RF): from ``start`` on, a share ``rate`` of the runs of ``chamber_id`` carry one
    burst on ``sensor``: over a random stretch of ``burst`` (shares of the run's samples) it reads off by
    ``amplitude`` x a heavy-tailed factor (|Student t, 3 dof|, random sign), plus jitter of a tenth of that.
    The process is unchanged: every alarm such a burst raises is false, and the sensor's run-level
    indicators get heavier tails than its training window had.

    Used by ``bench/feedback.py`` and the learning tests to make a sensor prone to false alarms.
    """
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"flaky: rate must be in [0, 1], got {rate}")
    lo, hi = burst
    if not 0.0 < lo <= hi <= 1.0:
        raise ValueError(f"flaky: burst must be shares 0 < low <= high <= 1, got {burst}")
    rng = np.random.default_rng(seed)
    start = utc(start)
    out = []
    for tr in traces:
        if tr.chamber_id == chamber_id and utc(tr.start) >= start and sensor in tr.sensors and rng.random() < rate:
            values = np.array(tr.values, dtype=np.float32, copy=True)
            n = len(values)
            length = max(1, round(rng.uniform(lo, hi) * n))
            first = int(rng.integers(0, n - length + 1))
            size = amplitude * abs(float(rng.standard_t(3))) * rng.choice((-1.0, 1.0))
            j = tr.sensors.index(sensor)
            floor = 0.0 if float(values[:, j].min()) >= 0.0 else -np.inf  # a gauge reading >= 0 stays >= 0
            values[first:first + length, j] = np.maximum(values[first:first + length, j] + np.float32(size) * (
                1.0 + 0.1 * rng.standard_normal(length)).astype(np.float32), floor)
            tr = tr.model_copy(update={"values": values})
        out.append(tr)
    return out
