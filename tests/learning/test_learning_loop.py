"""The learning loop: verdicts -> labelled sets -> candidates -> promote only if better -> rollback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from _recal_fab import CHAMBER, RECIPE

from fabmind.domain import Alarm, Contribution, Run
from fabmind.models.fdc import FdcConfig, model_name
from fabmind.models.learning import LearningConfig, labelled_sets, retrain_from_verdicts
from fabmind.models.registry import ModelRegistry
from fabmind.monitor.repository import Verdict, record_verdict
from fabmind.scale import InProcessExecutor
from fabmind.scale.jobs import score_fleet, train_fleet

T0 = datetime(2026, 1, 5, tzinfo=UTC)


def _alarm(i: int, hours: float, lead: str) -> tuple[Alarm, Run]:
    ts = T0 + timedelta(hours=hours)
    run = Run(run_id=f"R{i}", lot_id="L1", substrate_id=f"S{i}", step_id="S01", chamber_id="C-01/A",
              recipe_id="RX", start=ts, end=ts + timedelta(minutes=5))
    c = Contribution(sensor=lead, feature=f"{lead}.main.mean", contribution=0.8, value=1, expected=0, deviation=1,
                     deviation_sigma=4)
    return Alarm(alarm_id=f"A{i}", chamber_id="C-01/A", ts=ts, source="mspc.RX", run_id=f"R{i}",
                 contributions=(c,)), run


def test_labels_propagate_within_an_episode_but_never_over_a_fault_sensor():
    pairs = [_alarm(i, h, lead) for i, (h, lead) in enumerate(
        [(0, "P"), (1, "P"), (2, "P"), (3, "RF"),  # episode 1: one verdict (false alarm on A0)
         (40, "P"), (41, "RF"),  # episode 2, nobody reviewed it
         (80, "RF")])]  # reviewed: true fault led by RF
    alarms, runs = [a for a, _ in pairs], {r.run_id: r for _, r in pairs}
    v = pd.DataFrame({"alarm_id": ["A0", "A6"], "verdict": ["false_alarm", "true_fault"],
                      "root_cause": ["gauge recalibrated", "RF match"]})
    ls = labelled_sets(v, alarms, runs)[("C-01/A", "RX")]
    assert ls.reviewed == 2 and ls.reviewed_false_alarms == 1
    assert ls.false_alarm_runs == {"R0", "R1", "R2", "R4"}  # same episode, or same leading sensor
    assert ls.true_fault_runs == {"R6", "R3", "R5"}  # RF led a confirmed fault: never waved through
    assert ls.root_causes == {"gauge recalibrated": 1, "RF match": 1}
    assert labelled_sets(v, alarms, runs, propagate=False)[("C-01/A", "RX")].false_alarm_runs == {"R0"}


def test_recenter_moves_the_zero_point_of_a_recalibrated_sensor_only():
    from fabmind.models.anomaly import MSPC
    from fabmind.models.learning import LabelledSet, _ModelData, _recentered, sensitivity

    rng = np.random.default_rng(3)
    cols = ["P.dep.mean", "P.stab.mean", "RF.dep.mean", "T.dep.mean"]
    X = pd.DataFrame(rng.normal(size=(120, 4)), columns=cols, index=[f"R{i}" for i in range(120)])
    X["P.stab.mean"] += X["P.dep.mean"]
    X.iloc[60:, :2] += 6.0  # the pressure gauge reads 6 sigma higher from run 60 on
    active = MSPC(n_components=2, confidence=0.99).fit(X.iloc[:60])
    runs = [Run(run_id=f"R{i}", lot_id="L", substrate_id=f"S{i}", step_id="S01", chamber_id="C-01/A", recipe_id="RX",
                start=T0 + timedelta(hours=i), end=T0 + timedelta(hours=i, minutes=5)) for i in range(120)]
    ls = LabelledSet("C-01/A", "RX", false_alarm_runs={f"R{i}" for i in range(60, 100)},
                     alarmed_runs={f"R{i}" for i in range(60, 120)})
    model = _recentered(active, X, ls, runs[100].start, _ModelData(runs, X), LearningConfig())
    later = X.iloc[100:]
    assert (active.score(later) >= 1).mean() == 1.0
    assert (model.score(later) >= 1).mean() < 0.1  # the offset is the new normal
    np.testing.assert_allclose(model.mean_[2:], active.mean_[2:])  # RF and T untouched
    spread = pd.Series(active.spread_, index=cols)
    assert sensitivity(model, later, spread) >= 0.9 * sensitivity(active, X.iloc[:60], spread)


@pytest.fixture(scope="module")
def looped(recal_store, small_fab, tmp_path_factory):
    """Models trained before the recalibration, alarms scored after it, engineers' verdicts, one retrain."""
    store, start, _ = recal_store
    registry = ModelRegistry(tmp_path_factory.mktemp("learn-reg"))
    url, train_end, now = store.url, start + timedelta(days=1.5), start + timedelta(days=3.5)
    ex, fdc = InProcessExecutor(), FdcConfig(adjust=False)
    train_fleet(ex, url, registry, start, train_end, chambers=[CHAMBER], config=fdc)
    label = score_fleet(ex, url, registry, train_end, now, chambers=[CHAMBER], save=True, config=fdc)
    faults = small_fab.run_faults
    for a in label.alarms[::3]:  # engineers review every third alarm, knowing the ground truth
        verdict = "true_fault" if faults.get(a.run_id) else "false_alarm"
        record_verdict(store.engine, Verdict(a.alarm_id, "eng", verdict, "gauge recalibrated"
                                             if verdict == "false_alarm" else "fault"))
    before = {k: v.version for k, v in registry.active_versions().items()}
    report = retrain_from_verdicts(store, registry, now=now, config=LearningConfig(), fdc=fdc)
    return registry, report, before


def test_every_model_with_false_alarms_gets_a_judged_candidate(looped):
    registry, report, before = looped
    config = LearningConfig()
    assert {(d.model, d.scope) for d in report.decisions} == {(model_name(r), CHAMBER) for r in
                                                                ("CVD-SIN-GI", "CVD-SIN-PAS", "CVD-SIO-ILD")}
    ls = report.labelled[(CHAMBER, RECIPE)]
    assert ls.reviewed_false_alarms >= 3 and ls.root_causes.get("gauge recalibrated")
    for d in report.decisions:
        versions = {v.version for v in registry.versions(d.model, d.scope)}
        assert d.active_version == before[(d.model, d.scope)] and d.active_version in versions
        active_now = registry.active(d.model, d.scope).version
        if d.strategy is not None:
            assert d.candidate_version in versions  # kept either way
        if d.promoted:
            c = d.candidates[d.strategy]
            assert active_now == d.candidate_version
            assert c.false_alarm_rate <= (1 - config.min_gain) * d.active.false_alarm_rate
            # paired with the active model on the same runs; no reference only when the active model is quiet
            # neither on a hold-out run nor on a run it was trained on
            assert not np.isfinite(c.active_sensitivity) or c.sensitivity >= config.min_sensitivity * c.active_sensitivity
        else:
            assert active_now == d.active_version  # not better: the active model stays
        for name, c in d.candidates.items():  # a candidate that went blind is never the one promoted
            if c.sensitivity < config.min_sensitivity * c.active_sensitivity:
                assert not (d.promoted and d.strategy == name)


def test_rollback_restores_the_previous_model_and_both_are_kept(looped):
    registry, report, _ = looped
    d = next(d for d in report.decisions if d.candidate_version)
    if not d.promoted:
        registry.activate(d.model, d.scope, d.candidate_version)
    assert registry.rollback(d.model, d.scope).version == d.active_version
    assert {d.active_version, d.candidate_version} <= {v.version for v in registry.versions(d.model, d.scope)}


def test_no_verdicts_no_retraining(demo_store, tmp_path):
    report = retrain_from_verdicts(demo_store, ModelRegistry(tmp_path))
    assert report.decisions == [] and report.verdicts == 0
