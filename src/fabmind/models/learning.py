"""The learning loop: engineers' verdicts on FDC alarms retrain the models they are about.

1. **Labelled sets** (:func:`labelled_sets`): the verdicts (``false_alarm`` / ``true_fault`` + root
   cause) per model (chamber x recipe). A verdict also labels the *unreviewed* alarms of the same
   model whose leading sensor is the same (engineers review a sample, not every repeat): the
   labelled runs and these "same signature" runs form the set.
2. **Candidates** (:func:`retrain_from_verdicts`), each the same FDC model refitted on other data:

   * ``augment`` -- the original training window plus the runs judged false alarms (they are normal);
   * ``recent`` -- the runs of the ``lookback`` before the hold-out that are normal by label
     (false alarms in, true faults and unreviewed alarms out);
   * ``since_change`` -- only the normal runs since the first false alarm (a recalibrated or
     replaced sensor: the new normal), when there are ``min_train_runs`` of them;
   * ``recenter`` -- the active model with the expected value of the features that moved by more than
     ``recenter_sigmas`` since the first false alarm shifted to where they now are (a recalibrated
     gauge: new zero point, same covariance, so the model stays as sensitive as it was);
   * ``relimit`` -- the active model with a recalibrated control limit: just above the scores of the
     false alarms before the hold-out, never above a confirmed fault's score nor ``max_relimit``;
   * ``desensitize`` -- for a chamber whose verdicts name a **sensor prone to false alarms**
     (:func:`nuisance_sensors`: it led ``nuisance_min_verdicts`` alarms judged false on that chamber
     and few judged true faults), the model refitted on its own training runs with that sensor's
     features weighted down (``feature_weights`` of the MSPC): the weight is 1 / the sensor's spread
     on the runs since the nuisance began that engineers' verdicts leave normal, in the active model's
     sigmas -- the verdict runs are normal data, so the sensor's normal spread widens to cover them.
     Every model of the chamber (every recipe) gets this candidate, reviewed or not: the gauge is the
     chamber's, and its unreviewed alarms led by that sensor are labelled false alarms (outside the
     episodes of confirmed faults);
   * ``drop`` -- the same with the sensor left out of T² and SPE, offered only when no true-fault
     verdict on the chamber depends on it (it carries at least ``nuisance_fault_share`` of none of
     their scores).

3. **Evaluation** on data none of them trained on: false-alarm rate on the hold-out (the latest
   ``holdout_fraction`` of the model's runs since its first alarm, time-ordered: labelled false alarms,
   their propagated repeats and runs the active model passed), detection on every run judged a true
   fault (never used for training), and :func:`sensitivity` to synthetic one-sensor steps, each
   candidate paired with the active model on the same hold-out runs (those both are quiet on). A
   ``desensitize`` / ``drop`` candidate is judged on the *other* sensors: steps and confirmed faults
   with the nuisance sensor reading as expected, for it and the active model alike. The best candidate
   is **promoted only if** it cuts the hold-out false alarms by ``min_gain``, detects every confirmed
   fault run the active model detects and keeps ``min_sensitivity`` of its synthetic detections; it is
   registered either way (inactive when not promoted), so the registry keeps both and
   ``ModelRegistry.rollback`` (``fabmind models rollback``) undoes a promotion in one command.

Which candidate wins is measured per model, not assumed: an offset after a recalibration is
usually fixed by ``since_change`` or ``recenter``, an intermittently spiking sensor by ``desensitize``
or ``drop``. Among the candidates within ``prefer_within`` of the lowest hold-out false-alarm rate,
the one keeping the largest share of the active model's synthetic detections is taken.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from fabmind.domain import Run, utc
from fabmind.models.fdc import FdcConfig, indicators, model_name

STRATEGIES = ("augment", "recent", "since_change", "recenter", "relimit", "desensitize", "drop")
NUISANCE_STRATEGIES = ("desensitize", "drop")  # offered only on chambers with a sensor prone to false alarms


@dataclass(frozen=True)
class LearningConfig:
    holdout_fraction: float = 0.3  # the latest share of a model's runs since its first alarm, kept for evaluation
    holdout_min: int = 8  # ... but at least this many runs
    lookback: timedelta = timedelta(days=4)  # how far back ``recent`` trains from the hold-out start
    min_false_alarms: int = 1  # verdicts of false alarm a model needs before it is retrained
    min_gain: float = 0.2  # the candidate must cut the hold-out false-alarm rate by at least this share
    min_sensitivity: float = 0.9  # ... and catch at least this share of the synthetic faults the active one catches
    strategies: tuple[str, ...] = STRATEGIES
    min_train_runs: int = 20  # a candidate needs this many normal runs (it reuses the recipe's pooled response)
    recenter_sigmas: float = 3.0  # ``recenter`` moves only features whose median moved further (normal spreads)
    max_relimit: float = 3.0  # ``relimit`` never raises the limit beyond this multiple of the trained one
    propagate: bool = True  # label unreviewed alarms of the same episode / leading sensor
    episode_gap: timedelta = timedelta(hours=12)
    nuisance_min_verdicts: int = 2  # false-alarm verdicts a sensor must lead on a chamber to be judged a nuisance
    nuisance_max_fault_share: float = 1 / 3  # ... and at most this share of the verdicts it led are true faults
    nuisance_fault_share: float = 0.1  # a true fault "depends on" a sensor with this share of its alarm's score
    prefer_within: float = 0.02  # candidates this close to the lowest hold-out false-alarm rate: most sensitive wins


@dataclass
class LabelledSet:
    """The labels of one model (chamber x recipe): run ids judged normal or faulty."""

    chamber_id: str
    recipe_id: str
    false_alarm_runs: set[str] = field(default_factory=set)  # reviewed + same-signature repeats
    true_fault_runs: set[str] = field(default_factory=set)
    reviewed: int = 0
    reviewed_false_alarms: int = 0
    first_false_alarm: datetime | None = None
    root_causes: dict[str, int] = field(default_factory=dict)  # root cause text -> verdicts
    alarmed_runs: set[str] = field(default_factory=set)  # every run the active model alarmed on
    reviewed_runs: dict[str, str] = field(default_factory=dict)  # run id -> verdict, for the reviewed alarms

    @property
    def model(self) -> str:
        return model_name(self.recipe_id)


@dataclass(frozen=True)
class Evaluation:
    false_alarm_rate: float  # on hold-out normal runs
    detection_rate: float  # on runs judged true faults (nan when there are none)
    n_normal: int
    n_fault: int
    sensitivity: float = float("nan")  # share of synthetic one-sensor steps detected (see ``sensitivity``)
    active_sensitivity: float = float("nan")  # the active model's, on the same runs and sensors
    active_detection_rate: float = float("nan")  # the active model's, on the same fault runs


@dataclass(frozen=True)
class RetrainDecision:
    """What the loop did for one model: the evaluations, the chosen candidate, whether it was promoted."""

    model: str
    scope: str
    active_version: str
    active: Evaluation
    candidates: dict[str, Evaluation]
    strategy: str | None  # the best candidate (None: no candidate could be trained)
    candidate_version: str | None  # registered version of the best candidate
    promoted: bool
    reason: str


@dataclass(frozen=True)
class NuisanceSensor:
    """A sensor of one chamber that engineers' verdicts show to be prone to false alarms."""

    chamber_id: str
    sensor: str
    false_alarms: int  # false-alarm verdicts it led on this chamber
    fault_dependence: int  # true-fault verdicts on this chamber it carries >= nuisance_fault_share of

    @property
    def droppable(self) -> bool:
        """No confirmed fault on the chamber needed this sensor: it may leave T² and SPE."""
        return self.fault_dependence == 0


def _leading_sensor(alarm: Any) -> str:
    return alarm.contributions[0].sensor if alarm.contributions else ""


def _sensor_shares(alarm: Any) -> dict[str, float]:
    out: dict[str, float] = {}
    for c in alarm.contributions or ():
        out[c.sensor] = out.get(c.sensor, 0.0) + float(c.contribution)
    return out


def nuisance_sensors(verdicts: pd.DataFrame, alarms: Sequence[Any],
                     config: LearningConfig = LearningConfig()) -> dict[str, tuple[NuisanceSensor, ...]]:
    """Chamber id -> the sensors its verdicts show to be prone to false alarms.

    A sensor is one when it led at least ``nuisance_min_verdicts`` alarms of the chamber (any recipe)
    judged false alarms and at most ``nuisance_max_fault_share`` of the verdicts it led were true faults
    (a flaky gauge also spikes while a real fault is on: that alarm is rightly a true fault). It is
    *droppable* when, besides, it carries less than ``nuisance_fault_share`` of every true-fault
    alarm's score on the chamber.
    """
    by_id = {a.alarm_id: a for a in alarms}
    leads: dict[tuple[str, str], int] = {}
    fault_leads: dict[tuple[str, str], int] = {}
    depends: dict[tuple[str, str], int] = {}
    for row in verdicts.itertuples(index=False):
        alarm = by_id.get(row.alarm_id)
        if alarm is None or row.verdict not in ("false_alarm", "true_fault"):
            continue
        lead = _leading_sensor(alarm)
        if not lead:
            continue
        if row.verdict == "false_alarm":
            leads[(alarm.chamber_id, lead)] = leads.get((alarm.chamber_id, lead), 0) + 1
            continue
        fault_leads[(alarm.chamber_id, lead)] = fault_leads.get((alarm.chamber_id, lead), 0) + 1
        for sensor, share in _sensor_shares(alarm).items():
            if share >= config.nuisance_fault_share:
                depends[(alarm.chamber_id, sensor)] = depends.get((alarm.chamber_id, sensor), 0) + 1
    out: dict[str, list[NuisanceSensor]] = {}
    for (chamber, sensor), n in sorted(leads.items(), key=lambda kv: (kv[0][0], -kv[1], kv[0][1])):
        faults = fault_leads.get((chamber, sensor), 0)
        if n >= config.nuisance_min_verdicts and faults <= config.nuisance_max_fault_share * (n + faults):
            out.setdefault(chamber, []).append(NuisanceSensor(chamber, sensor, n, depends.get((chamber, sensor), 0)))
    return {c: tuple(v) for c, v in out.items()}


def label_nuisance(sets: dict[tuple[str, str], LabelledSet], nuisance: dict[str, tuple[NuisanceSensor, ...]],
                   alarms: Sequence[Any], runs: dict[str, Run], gap: timedelta = timedelta(hours=12)) -> None:
    """Label the unreviewed alarms led by a nuisance sensor of their chamber as false alarms, on every
    model (recipe) of the chamber -- except within ``gap`` of a run engineers judged a true fault on the
    chamber. This overrides the episode propagation of :func:`labelled_sets`: a flaky sensor strings its
    alarms into one long episode, where the verdict nearest in time says nothing about this alarm."""
    faults: dict[str, list[datetime]] = {}
    for ls in sets.values():
        faults.setdefault(ls.chamber_id, []).extend(
            utc(runs[r].start) for r, v in ls.reviewed_runs.items() if v == "true_fault" and r in runs)
    for a in alarms:
        run = runs.get(a.run_id or "")
        names = {n.sensor for n in nuisance.get(a.chamber_id, ())}
        if run is None or _leading_sensor(a) not in names:
            continue
        key = (run.chamber_id, run.recipe_id)
        ls = sets.setdefault(key, LabelledSet(run.chamber_id, run.recipe_id))
        ls.alarmed_runs.add(a.run_id)
        if a.run_id in ls.reviewed_runs:
            continue
        t = utc(run.start)
        if any(abs((t - f).total_seconds()) <= gap.total_seconds() for f in faults.get(run.chamber_id, ())):
            continue
        ls.true_fault_runs.discard(a.run_id)
        ls.false_alarm_runs.add(a.run_id)
        ls.first_false_alarm = t if ls.first_false_alarm is None else min(ls.first_false_alarm, t)
    for a in alarms:  # every alarm of a model the loop now looks at counts as alarmed
        run = runs.get(a.run_id or "")
        ls = sets.get((run.chamber_id, run.recipe_id)) if run is not None and run.chamber_id in nuisance else None
        if ls is not None:
            ls.alarmed_runs.add(a.run_id)


def labelled_sets(verdicts: pd.DataFrame, alarms: Sequence[Any], runs: dict[str, Run], propagate: bool = True,
                  episode_gap: timedelta = timedelta(hours=12)) -> dict[tuple[str, str], LabelledSet]:
    """Labels per (chamber, recipe) from verdicts (``monitor.repository.verdicts``) and the stored alarms.

    With ``propagate``, an unreviewed alarm takes the label of the nearest reviewed alarm of the same
    *episode* (the model's alarms with no gap over ``episode_gap``: what the monitor deduplicates into
    one alarm, so one verdict covers it), or outside episodes the label of a reviewed alarm led by the
    same sensor; an alarm led by a sensor that led a true fault is never labelled a false alarm.
    """
    by_id = {a.alarm_id: a for a in alarms}
    sets: dict[tuple[str, str], LabelledSet] = {}

    def get(run_id: str) -> LabelledSet | None:
        run = runs.get(run_id)
        if run is None:
            return None
        return sets.setdefault((run.chamber_id, run.recipe_id), LabelledSet(run.chamber_id, run.recipe_id))

    signatures: dict[tuple[str, str], dict[str, str]] = {}
    for row in verdicts.itertuples(index=False):
        alarm = by_id.get(row.alarm_id)
        if alarm is None or not alarm.run_id or row.verdict not in ("false_alarm", "true_fault"):
            continue
        ls = get(alarm.run_id)
        if ls is None:
            continue
        ls.reviewed += 1
        ls.reviewed_runs[alarm.run_id] = row.verdict
        sig = signatures.setdefault((ls.chamber_id, ls.recipe_id), {})
        lead = _leading_sensor(alarm)
        if row.verdict == "false_alarm":
            ls.reviewed_false_alarms += 1
            ls.false_alarm_runs.add(alarm.run_id)
            t = utc(runs[alarm.run_id].start)
            ls.first_false_alarm = t if ls.first_false_alarm is None else min(ls.first_false_alarm, t)
            sig.setdefault(lead, "false_alarm")
        else:
            ls.true_fault_runs.add(alarm.run_id)
            sig[lead] = "true_fault"  # a sensor that ever led a real fault is not waved through
        cause = (row.root_cause or "").strip()
        if cause:
            ls.root_causes[cause] = ls.root_causes.get(cause, 0) + 1
    for a in alarms:
        run = runs.get(a.run_id or "")
        if run is not None and (run.chamber_id, run.recipe_id) in sets:
            sets[(run.chamber_id, run.recipe_id)].alarmed_runs.add(a.run_id)
    if propagate:
        _propagate(sets, signatures, alarms, runs, episode_gap)
    return sets


def _propagate(sets: dict[tuple[str, str], LabelledSet], signatures: dict[tuple[str, str], dict[str, str]],
               alarms: Sequence[Any], runs: dict[str, Run], gap: timedelta) -> None:
    per_model: dict[tuple[str, str], list[Any]] = {}
    for a in alarms:
        run = runs.get(a.run_id or "")
        if run is not None and (run.chamber_id, run.recipe_id) in sets:
            per_model.setdefault((run.chamber_id, run.recipe_id), []).append(a)
    for key, items in per_model.items():
        ls, sig = sets[key], signatures.get(key, {})
        fault_leads = {s for s, label in sig.items() if label == "true_fault"}
        items.sort(key=lambda a: utc(a.ts))
        episodes, current = [], [items[0]]
        for prev, a in itertools.pairwise(items):
            if utc(a.ts) - utc(prev.ts) > gap:
                episodes.append(current)
                current = []
            current.append(a)
        episodes.append(current)
        for ep in episodes:
            reviewed = [(utc(a.ts), "true_fault" if a.run_id in ls.true_fault_runs else "false_alarm")
                        for a in ep if a.run_id in ls.true_fault_runs or a.run_id in ls.false_alarm_runs]
            for a in ep:
                if a.run_id in ls.true_fault_runs or a.run_id in ls.false_alarm_runs:
                    continue
                lead = _leading_sensor(a)
                if reviewed:
                    label = min(reviewed, key=lambda r: abs((r[0] - utc(a.ts)).total_seconds()))[1]
                else:
                    label = sig.get(lead)
                if label == "false_alarm" and lead in fault_leads:
                    label = "true_fault"
                if label == "false_alarm":
                    ls.false_alarm_runs.add(a.run_id)
                elif label == "true_fault":
                    ls.true_fault_runs.add(a.run_id)


def _alarm_rate(model: Any, X: pd.DataFrame) -> float:
    if X.empty:
        return float("nan")
    return float(np.mean(model.score(X[list(model.feature_names_in_)]) >= model.threshold_))


def sensitivity(model: Any, normal: pd.DataFrame, spread: pd.Series, sigmas: float = 4.0,
                exclude: Sequence[str] = (), paired: Any = None) -> float:
    """Share of synthetic faults detected: every sensor in turn stepped by ``sigmas`` x ``spread`` (the
    active model's normal spread, one yardstick for all candidates) on every normal hold-out run the
    model is quiet on (a run it alarms on anyway says nothing about the step: counting it would credit
    a model for its false alarms). With ``paired`` (another model), only the runs both are quiet on:
    two models compared on the same runs.

    Guards detection where engineers have not yet confirmed a fault on this model: a candidate that
    merely widened its limits until the false alarms went away loses here. ``exclude``: sensors left
    out of the test (the nuisance sensors a ``desensitize`` / ``drop`` candidate trades on purpose).
    """
    from fabmind.models.anomaly.alarms import sensor_of

    for m in (model, paired):
        if m is not None and not normal.empty:
            normal = normal[m.score(normal[list(m.feature_names_in_)]) < m.threshold_]
    if normal.empty:
        return float("nan")
    groups: dict[str, list[str]] = {}
    for c in normal.columns:
        if not str(c).startswith(("SP.", "PM.")) and sensor_of(str(c)) not in exclude:
            groups.setdefault(sensor_of(str(c)), []).append(str(c))
    hits = []
    for cols in groups.values():
        for sign in (1.0, -1.0):
            shifted = normal.copy()
            shifted[cols] = shifted[cols] + sign * sigmas * spread[cols].to_numpy()
            hits.append(_alarm_rate(model, shifted))
    return float(np.mean(hits))


def evaluate(model: Any, normal: pd.DataFrame, faulty: pd.DataFrame, spread: pd.Series | None = None,
             exclude: Sequence[str] = (), active: Any = None, synthetic_on: pd.DataFrame | None = None,
             fallback: pd.DataFrame | None = None) -> Evaluation:
    """False-alarm rate on ``normal`` runs, detection rate on ``faulty`` runs (indicator tables), and
    the synthetic-fault ``sensitivity`` (on the sensors not in ``exclude``, stepping the runs of
    ``synthetic_on``, default ``normal``) when ``spread`` is given; with ``active``, the active model's
    detection and sensitivity on the same runs (paired). When the active model is quiet on none of
    them (it alarms on every hold-out run), it is measured on ``fallback`` (its training runs) and the
    model on the runs it is quiet on: as sensitive on the new normal as the active one was on the old."""
    active = model if active is None else active
    base_runs = normal if synthetic_on is None else synthetic_on
    sens = act = float("nan")
    if spread is not None:
        sens = sensitivity(model, base_runs, spread, exclude=exclude, paired=active if active is not model else None)
        act = sens if active is model else sensitivity(active, base_runs, spread, exclude=exclude, paired=model)
        if not np.isfinite(act) and fallback is not None and not fallback.empty:
            act = sensitivity(active, fallback, spread, exclude=exclude)
            sens = act if active is model else sensitivity(model, base_runs, spread, exclude=exclude)
    detection = _alarm_rate(model, faulty)
    return Evaluation(_alarm_rate(model, normal), detection, len(normal), len(faulty), sens, act,
                      detection if active is model else _alarm_rate(active, faulty))


@dataclass
class _ModelData:
    runs: list[Run]  # this chamber x recipe, in time order
    X: pd.DataFrame  # indicators, indexed by run id


def _candidate_runs(strategy: str, d: _ModelData, ls: LabelledSet, holdout_start: datetime,
                    config: LearningConfig, fdc: FdcConfig | None, original: Sequence[str] = ()) -> list[str]:
    before = [r for r in d.runs if utc(r.start) < holdout_start and r.run_id in d.X.index]
    normal = [r for r in before if r.run_id not in ls.true_fault_runs
              and (r.run_id not in ls.alarmed_runs or r.run_id in ls.false_alarm_runs)]
    if strategy == "augment":  # the active model's training runs (see _training_ids) + the false alarms
        if not original:
            first = utc(d.runs[0].start)
            original = [r.run_id for r in before if utc(r.start) < first + timedelta(days=fdc.train_days)
                        and r.run_id not in ls.true_fault_runs]
        keep = set(original)
        return [r.run_id for r in before if r.run_id in keep or r.run_id in ls.false_alarm_runs]
    if strategy == "recent":
        return [r.run_id for r in normal if utc(r.start) >= holdout_start - config.lookback]
    if strategy == "since_change":
        starts = [utc(r.start) for r in before if r.run_id in ls.false_alarm_runs]
        if not starts:
            return []
        return [r.run_id for r in normal if utc(r.start) >= min(starts)]
    raise ValueError(f"unknown learning strategy {strategy!r}; use one of {STRATEGIES}")


def _recentered(active: Any, X: pd.DataFrame, ls: LabelledSet, holdout_start: datetime, d: _ModelData,
                config: LearningConfig) -> Any | None:
    import copy

    ids = _candidate_runs("since_change", d, ls, holdout_start, config, None)
    if len(ids) < config.holdout_min:
        return None
    rows = X.loc[ids]
    if hasattr(active, "intercept_") and hasattr(active, "expected"):  # context-adjusted MSPC
        shift = np.median(rows[active.indicator_features_].to_numpy() - active.expected(rows).to_numpy(), axis=0)
        spread, attr = np.asarray(active.residual_spread_), "intercept_"
    elif hasattr(active, "mean_") and hasattr(active, "spread_"):  # plain MSPC
        shift = np.median(rows.to_numpy(dtype=float) - active.mean_, axis=0)
        spread, attr = np.asarray(active.spread_), "mean_"
    else:
        return None
    moved = np.abs(shift) > config.recenter_sigmas * spread
    if not moved.any():
        return None
    model = copy.deepcopy(active)
    setattr(model, attr, getattr(model, attr) + np.where(moved, shift, 0.0))
    return model


def _relimited(active: Any, X: pd.DataFrame, ls: LabelledSet, holdout_start: datetime, d: _ModelData,
               config: LearningConfig) -> Any | None:
    import copy

    before = [r.run_id for r in d.runs if utc(r.start) < holdout_start and r.run_id in X.index]
    fa = [r for r in before if r in ls.false_alarm_runs]
    if not fa:
        return None
    scores = active.score(X.loc[fa])
    limit = float(np.quantile(scores, 0.9)) * 1.05  # robust to one odd verdict
    tf = [r for r in X.index if r in ls.true_fault_runs]
    if tf:
        limit = min(limit, 0.95 * float(np.min(active.score(X.loc[tf]))))
    limit = min(limit, config.max_relimit * active.threshold_)
    if limit <= active.threshold_:
        return None
    model = copy.deepcopy(active)
    model.threshold_ = limit
    return model


def deviations(model: Any, X: pd.DataFrame) -> pd.DataFrame:
    """Each indicator's deviation from the model's expectation in the sensor's own training sigmas
    (plain MSPC: from its training mean; context-adjusted: the residual after the setpoints and PM age).
    Feature weights do not enter: a down-weighted sensor still reports its true deviation."""
    if hasattr(model, "residual_spread_") and hasattr(model, "residuals"):
        R = model.residuals(X[list(model.feature_names_in_)])
        return R / np.asarray(model.residual_spread_)
    weights = np.asarray(getattr(model, "weights_", np.ones(len(model.spread_))))
    spread = np.asarray(model.spread_) * np.where(weights > 0, weights, 1.0)
    cols = list(model.feature_names_in_)
    return (X[cols] - np.asarray(model.mean_)) / spread


def _training_ids(active: Any, d: _ModelData, ls: LabelledSet, fdc: FdcConfig) -> list[str]:
    """The runs the active model was trained on: its metadata window; else (a model trained without
    one) the ``n_train`` runs before its first alarm -- runs it was trained on or passed."""
    meta = getattr(active, "metadata_", None)
    runs = [r for r in d.runs if r.run_id in d.X.index and r.run_id not in ls.true_fault_runs]
    if meta is not None and meta.train_start and meta.train_end:
        lo, hi = utc(pd.Timestamp(meta.train_start).to_pydatetime()), utc(pd.Timestamp(meta.train_end).to_pydatetime())
        return [r.run_id for r in runs if lo <= utc(r.start) < hi]
    flagged = [utc(r.start) for r in d.runs if r.run_id in ls.alarmed_runs or r.run_id in ls.false_alarm_runs]
    first = min(flagged) if flagged else utc(d.runs[-1].start) + timedelta(seconds=1)
    before = [r.run_id for r in runs if utc(r.start) < first]
    n = meta.n_train if meta is not None and meta.n_train else fdc.min_train_runs
    return before[-n:]


def nuisance_weights(active: Any, X: pd.DataFrame, ls: LabelledSet, holdout_start: datetime, d: _ModelData,
                     sensors: Sequence[str]) -> dict[str, float]:
    """Feature -> weight for the features of ``sensors``: 1 / their RMS deviation (active model's sigmas)
    over the runs before the hold-out since the model's first false alarm that verdicts leave normal
    (not alarmed, or judged / labelled false alarms). 1 where the sensor is no noisier than in training."""
    from fabmind.models.anomaly.alarms import sensor_of

    if ls.first_false_alarm is None:
        return {}
    feats = [f for f in d.X.columns if sensor_of(str(f)) in set(sensors)]
    normal = [r.run_id for r in d.runs if ls.first_false_alarm <= utc(r.start) < holdout_start and r.run_id in X.index
              and r.run_id not in ls.true_fault_runs
              and (r.run_id not in ls.alarmed_runs or r.run_id in ls.false_alarm_runs)]
    if not feats or not normal:
        return {}
    z = deviations(active, X.loc[normal])
    rms = np.sqrt((z[feats] ** 2).mean(axis=0))
    return {str(f): float(min(1.0, 1.0 / v)) for f, v in rms.items() if np.isfinite(v) and v > 0}


def _refit(active: Any, fdc: FdcConfig, X: pd.DataFrame, weights: dict[str, float] | None = None) -> Any:
    """A model like the active one (its type and settings, the recipe's pooled response) fitted on ``X``."""
    from sklearn.base import clone

    model = clone(active)
    if weights is not None:
        model.set_params(feature_weights=weights)
    response = getattr(active, "response_", None)  # the recipe's physics is unchanged: keep its pooled response
    if response is not None:
        model.fit(X, response=response)
    else:
        model.fit(X)
    return model


def _desensitized(active: Any, X: pd.DataFrame, ls: LabelledSet, holdout_start: datetime, d: _ModelData,
                  config: LearningConfig, fdc: FdcConfig, nuisance: Sequence[NuisanceSensor],
                  drop: bool) -> tuple[Any, list[str]] | None:
    from fabmind.models.anomaly.alarms import sensor_of

    if not nuisance:
        return None
    weights = nuisance_weights(active, X, ls, holdout_start, d, [n.sensor for n in nuisance])
    if drop:
        droppable = {n.sensor for n in nuisance if n.droppable}
        if not droppable:
            return None
        weights.update({str(f): 0.0 for f in X.columns if sensor_of(str(f)) in droppable})
    if not weights or all(w >= 1.0 for w in weights.values()):
        return None
    ids = _training_ids(active, d, ls, fdc)
    if len(ids) < min(config.min_train_runs, fdc.min_train_runs):  # the runs the active model was trained on
        return None
    return _refit(active, fdc, X.loc[ids], weights), ids


def _quieted(active: Any, X: pd.DataFrame, sensors: Sequence[str]) -> pd.DataFrame:
    """``X`` with the features of ``sensors`` set to the active model's expectation: runs on which a
    flaky sensor read normal, to step the *other* sensors of (each model then alarms only on the step)."""
    from fabmind.models.anomaly.alarms import sensor_of

    cols = [c for c in X.columns if sensor_of(str(c)) in set(sensors)]
    if not cols or X.empty:
        return X
    out = X.copy()
    if hasattr(active, "expected") and hasattr(active, "indicator_features_"):
        out[cols] = active.expected(X[list(active.feature_names_in_)])[cols].to_numpy()
    elif hasattr(active, "mean_"):
        mean = pd.Series(np.asarray(active.mean_), index=list(active.feature_names_in_))
        out[cols] = np.broadcast_to(mean[cols].to_numpy(), (len(X), len(cols)))
    return out


def _yardstick(active: Any, X: pd.DataFrame) -> pd.Series:
    """The active model's normal spread of every feature, the one step size for all candidates'
    synthetic faults: the residual spread of a context-adjusted model, the (unweighted) training
    spread of a plain one; the data's spread for what the model does not describe (context)."""
    out = X.std().astype(float)
    if hasattr(active, "residual_spread_"):
        out[list(active.indicator_features_)] = np.asarray(active.residual_spread_, dtype=float)
    elif hasattr(active, "spread_"):
        weights = np.asarray(getattr(active, "weights_", np.ones(len(active.spread_))))
        out[list(active.feature_names_in_)] = np.asarray(active.spread_) * np.where(weights > 0, weights, 1.0)
    return out


def retrain_model(store: Any, registry: Any, ls: LabelledSet, now: datetime,
                  config: LearningConfig = LearningConfig(), fdc: FdcConfig = FdcConfig(),
                  nuisance: Sequence[NuisanceSensor] = ()) -> RetrainDecision | None:
    """Train the candidates for one model, evaluate them against the active one, promote the best if better."""
    name, scope = ls.model, ls.chamber_id
    mv = registry.active(name, scope)
    if mv is None:
        return None
    active = registry.load(name, scope)
    runs = [r for r in store.run_records(chamber_id=scope, end=now) if r.recipe_id == ls.recipe_id]
    recipe = next((r for r in store.recipes() if r.recipe_id == ls.recipe_id), None)
    from fabmind.models.fdc import store_pm_ends

    pm = store_pm_ends(store).get(scope) if "PM.age_days" in active.feature_names_in_ else None
    X = indicators(runs, store.traces([r.run_id for r in runs]), recipe, fdc.stats, fdc.setpoints, pm)
    feats = list(active.feature_names_in_)
    if X.empty or any(f not in X.columns for f in feats):
        return None
    X = X[feats]
    d = _ModelData(runs, X)
    scored = [r for r in runs if r.run_id in X.index]
    labelled = [r for r in scored if r.run_id in ls.alarmed_runs or r.run_id in ls.false_alarm_runs
                or r.run_id in ls.true_fault_runs]
    since = [r for r in scored if labelled and utc(r.start) >= utc(labelled[0].start)]
    n_hold = max(config.holdout_min, round(config.holdout_fraction * len(since)))
    hold = scored[-n_hold:]  # time-ordered split: candidates never see the hold-out
    if not hold or len(hold) == len(scored):
        return None
    holdout_start = utc(hold[0].start)
    hold_ids = [r.run_id for r in hold]
    normal_ids = [r for r in hold_ids if r not in ls.true_fault_runs
                  and (r not in ls.alarmed_runs or r in ls.false_alarm_runs)]
    fault_ids = [r for r in X.index if r in ls.true_fault_runs]
    normal, faulty = X.loc[normal_ids], X.loc[fault_ids]
    spread = _yardstick(active, X)
    trained = X.loc[_training_ids(active, d, ls, fdc)]  # where the active model is surely quiet: the fallback
    base = evaluate(active, normal, faulty, spread, fallback=trained)
    # nuisance candidates are judged on the other sensors: synthetic steps and confirmed faults with the
    # nuisance sensors reading as expected, for them and the active model alike (a fault the active model
    # caught only through a spike of the flaky sensor is no evidence either way)
    noisy = tuple(n.sensor for n in nuisance)
    quieted, faulty_quieted = _quieted(active, normal, noisy), _quieted(active, faulty, noisy)
    fitted, evals, trained_on = {}, {}, {}
    for strategy in config.strategies:
        if strategy in ("desensitize", "drop"):
            made = _desensitized(active, X, ls, holdout_start, d, config, fdc, nuisance, strategy == "drop")
            if made is not None:
                fitted[strategy], trained_on[strategy] = made
                evals[strategy] = evaluate(made[0], normal, faulty_quieted, spread, exclude=noisy, active=active,
                                           synthetic_on=quieted, fallback=trained)
            continue
        if strategy in ("relimit", "recenter"):
            make = _relimited if strategy == "relimit" else _recentered
            model = make(active, X, ls, holdout_start, d, config)
            if model is not None:
                fitted[strategy] = model
                evals[strategy] = evaluate(model, normal, faulty, spread, active=active, fallback=trained)
            continue
        ids = _candidate_runs(strategy, d, ls, holdout_start, config, fdc, list(trained.index))
        if len(ids) < config.min_train_runs:
            continue
        model = fdc.model()
        response = getattr(active, "response_", None)  # the recipe's physics is unchanged: keep its pooled response
        if response is not None and type(model) is type(active):
            model.fit(X.loc[ids], response=response)
        else:
            model.fit(X.loc[ids])
        fitted[strategy], trained_on[strategy] = model, ids
        evals[strategy] = evaluate(model, normal, faulty, spread, active=active, fallback=trained)
    if not fitted:
        return RetrainDecision(name, scope, mv.version, base, {}, None, None, False,
                               "no candidate had enough normal runs to train on")

    def far(s: str) -> float:
        v = evals[s].false_alarm_rate
        return v if np.isfinite(v) else np.inf

    def keeps_detection(s: str) -> bool:
        e = evals[s]
        confirmed = e.n_fault == 0 or e.detection_rate >= e.active_detection_rate
        synthetic = not np.isfinite(e.active_sensitivity) or e.sensitivity >= config.min_sensitivity * e.active_sensitivity
        return bool(confirmed and synthetic)

    def kept_sensitivity(s: str) -> float:
        e = evals[s]
        return float(e.sensitivity / e.active_sensitivity) if e.active_sensitivity > 0 else -1.0

    eligible = [s for s in evals if keeps_detection(s)] or list(evals)
    lowest = min(far(s) for s in eligible)
    near = [s for s in eligible if far(s) <= lowest + config.prefer_within]  # as good: the most sensitive
    best = max(near, key=lambda s: (kept_sensitivity(s), -far(s)))
    e = evals[best]
    detects = keeps_detection(best)
    other = " on the other sensors" if best in NUISANCE_STRATEGIES else ""
    gains = e.false_alarm_rate <= base.false_alarm_rate * (1 - config.min_gain) and base.false_alarm_rate > 0
    promote = bool(detects and gains and base.n_normal > 0)
    if promote:
        reason = (f"{best}: hold-out false alarms {base.false_alarm_rate:.1%} -> {e.false_alarm_rate:.1%}, "
                  f"synthetic faults caught{other} {e.active_sensitivity:.0%} -> {e.sensitivity:.0%}")
        reason += (f", confirmed faults {e.active_detection_rate:.0%} -> {e.detection_rate:.0%} of {e.n_fault} runs"
                   if e.n_fault else " (no confirmed faults on this model yet)")
    elif not detects:
        reason = (f"{best} would miss faults: confirmed {e.active_detection_rate:.0%} -> {e.detection_rate:.0%}, "
                  f"synthetic{other} {e.active_sensitivity:.0%} -> {e.sensitivity:.0%}")
    else:
        reason = f"{best} is not better enough: false alarms {base.false_alarm_rate:.1%} -> {e.false_alarm_rate:.1%}"
    model = fitted[best]
    model.metadata_.scope = scope
    if best in trained_on:  # its training window, so a later retrain of this version knows it
        starts = sorted(utc(r.start) for r in runs if r.run_id in set(trained_on[best]))
        model.metadata_.train_start = starts[0].isoformat()
        model.metadata_.train_end = (starts[-1] + timedelta(seconds=1)).isoformat()
    new = registry.register(model, name=name, scope=scope, activate=promote,
                            metrics={"holdout_false_alarm_rate": e.false_alarm_rate,
                                     "synthetic_fault_sensitivity": np.nan_to_num(e.sensitivity, nan=-1.0),
                                     "verdict_detection_rate": np.nan_to_num(e.detection_rate, nan=-1.0),
                                     "active_holdout_false_alarm_rate": base.false_alarm_rate},
                            note=f"learning:{best}: {reason}")
    return RetrainDecision(name, scope, mv.version, base, evals, best, new.version, promote, reason)


@dataclass
class RetrainReport:
    decisions: list[RetrainDecision]
    labelled: dict[tuple[str, str], LabelledSet]
    verdicts: int
    nuisance: dict[str, tuple[NuisanceSensor, ...]] = field(default_factory=dict)  # chamber -> sensors

    @property
    def promoted(self) -> list[RetrainDecision]:
        return [d for d in self.decisions if d.promoted]


def retrain_from_verdicts(store: Any, registry: Any, now: datetime | None = None,
                          config: LearningConfig = LearningConfig(), fdc: FdcConfig = FdcConfig(),
                          progress: Callable[[str], None] | None = None) -> RetrainReport:
    """``fabmind retrain``: retrain every model with enough false-alarm verdicts; promote only if better."""
    from fabmind.monitor.repository import verdicts as read_verdicts

    v = read_verdicts(store.engine)
    if now is None:
        now = max(pd.to_datetime(store.runs()["start"], utc=True)).to_pydatetime() if not v.empty else None
    if v.empty or now is None:
        return RetrainReport([], {}, 0)
    alarms = [a for a in store.alarm_records(end=now) if a.source.startswith("mspc.")]
    chambers = sorted(set(v["chamber_id"]))
    runs = {r.run_id: r for c in chambers for r in store.run_records(chamber_id=c, end=now)}
    mine = [a for a in alarms if a.chamber_id in chambers]
    sets = labelled_sets(v, mine, runs, config.propagate, config.episode_gap)
    nuisance = nuisance_sensors(v, mine, config) if {"desensitize", "drop"} & set(config.strategies) else {}
    if nuisance:
        label_nuisance(sets, nuisance, mine, runs, config.episode_gap)
    decisions = []
    for key, ls in sorted(sets.items()):
        if ls.reviewed_false_alarms < config.min_false_alarms and ls.chamber_id not in nuisance:
            continue
        if progress:
            progress(f"{ls.model} @ {ls.chamber_id}")
        d = retrain_model(store, registry, ls, now, config, fdc, nuisance.get(ls.chamber_id, ()))
        if d is not None:
            decisions.append(d)
    return RetrainReport(decisions, sets, len(v), nuisance)
