"""A sensor prone to false alarms: verdicts name it, its alarms are labelled, retraining weights it down."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from _recal_fab import RECIPE

from fabmind.domain import Alarm, Contribution, Run
from fabmind.models.fdc import FdcConfig, model_name
from fabmind.models.learning import (NUISANCE_STRATEGIES, LearningConfig, NuisanceSensor, label_nuisance,
                                     labelled_sets, nuisance_sensors, retrain_from_verdicts)
from fabmind.models.registry import ModelRegistry
from fabmind.monitor.repository import Verdict, record_verdict
from fabmind.scale import InProcessExecutor
from fabmind.scale.jobs import score_fleet, train_fleet

T0 = datetime(2026, 1, 5, tzinfo=UTC)


def _alarm(i: int, hours: float, shares: dict[str, float], chamber: str = "C-01/A",
           recipe: str = "RX") -> tuple[Alarm, Run]:
    ts = T0 + timedelta(hours=hours)
    run = Run(run_id=f"R{i}", lot_id="L1", substrate_id=f"S{i}", step_id="S01", chamber_id=chamber,
              recipe_id=recipe, start=ts, end=ts + timedelta(minutes=5))
    contribs = tuple(Contribution(sensor=s, feature=f"{s}.main.mean", contribution=c, value=1, expected=0, deviation=1,
                                  deviation_sigma=4) for s, c in shares.items())
    return Alarm(alarm_id=f"A{i}", chamber_id=chamber, ts=ts, source=f"mspc.{recipe}", run_id=f"R{i}",
                 contributions=contribs), run


def _verdicts(**labels: str) -> pd.DataFrame:
    return pd.DataFrame({"alarm_id": list(labels), "verdict": list(labels.values()), "root_cause": ""})


def test_verdicts_name_the_sensor_prone_to_false_alarms():
    pairs = [_alarm(0, 0, {"P": 0.9}), _alarm(1, 30, {"P": 0.8}, recipe="RY"), _alarm(2, 60, {"P": 0.7}),
             _alarm(3, 90, {"RF": 0.7, "P": 0.2}),  # a true fault the gauge carries a fifth of
             _alarm(4, 120, {"T": 0.9}),  # one false alarm: not yet a pattern
             _alarm(5, 0, {"P": 0.9}, "C-02/A"), _alarm(6, 9, {"P": 0.9}, "C-02/A"),  # other chamber: P led
             _alarm(7, 20, {"P": 0.9}, "C-02/A"), _alarm(8, 40, {"P": 0.9}, "C-02/A")]  # ... as many true faults
    alarms = [a for a, _ in pairs]
    v = _verdicts(A0="false_alarm", A1="false_alarm", A2="false_alarm", A3="true_fault", A4="false_alarm",
                  A5="false_alarm", A6="false_alarm", A7="true_fault", A8="true_fault")
    found = nuisance_sensors(v, alarms)
    assert found == {"C-01/A": (NuisanceSensor("C-01/A", "P", 3, 1),)}
    assert not found["C-01/A"][0].droppable  # a confirmed fault needed it: down-weight, never drop
    assert nuisance_sensors(v, alarms, LearningConfig(nuisance_fault_share=0.3))["C-01/A"][0].droppable
    assert nuisance_sensors(v, alarms, LearningConfig(nuisance_min_verdicts=4)) == {}
    assert "C-02/A" in nuisance_sensors(v, alarms, LearningConfig(nuisance_max_fault_share=0.5))


def test_nuisance_labels_reach_every_recipe_but_not_a_confirmed_fault():
    pairs = [_alarm(0, 0, {"P": 0.9}), _alarm(1, 2, {"P": 0.9}),  # reviewed false alarms on RX
             _alarm(2, 40, {"RF": 0.8}), _alarm(3, 44, {"P": 0.9}),  # reviewed fault; P spikes 4 h later
             _alarm(4, 20, {"P": 0.9}, recipe="RY"), _alarm(5, 60, {"P": 0.9}, recipe="RY"),  # unreviewed, RY
             _alarm(6, 70, {"RF": 0.9}, recipe="RY")]  # unreviewed, led by another sensor
    for h in range(5, 40, 6):  # a flaky gauge strings its alarms into one long episode on RX ...
        pairs.append(_alarm(100 + h, h, {"P": 0.9}))
    alarms, runs = [a for a, _ in pairs], {r.run_id: r for _, r in pairs}
    v = _verdicts(A0="false_alarm", A1="false_alarm", A2="true_fault")
    sets = labelled_sets(v, alarms, runs)
    assert {"R123", "R135"} <= sets[("C-01/A", "RX")].true_fault_runs  # ... whose tail took the fault's label
    label_nuisance(sets, nuisance_sensors(v, alarms), alarms, runs)
    rx, ry = sets[("C-01/A", "RX")], sets[("C-01/A", "RY")]
    assert {"R4", "R5"} == ry.false_alarm_runs and {"R4", "R5", "R6"} <= ry.alarmed_runs
    assert ry.first_false_alarm == T0 + timedelta(hours=20)
    assert "R123" in rx.false_alarm_runs and "R123" not in rx.true_fault_runs  # 17 h from the fault
    assert "R135" in rx.true_fault_runs and "R3" in rx.true_fault_runs  # 5 h and 4 h: not waved through
    assert "R2" in rx.true_fault_runs and "R6" not in ry.false_alarm_runs


@pytest.fixture(scope="module")
def flaky_loop(flaky_store, small_fab, tmp_path_factory):
    """The product-default FDC of the flaky chamber, engineers' verdicts on its alarms, one retrain."""
    store, start, chamber, _ = flaky_store
    registry = ModelRegistry(tmp_path_factory.mktemp("flaky-reg"))
    url, train_end, now = store.url, start + timedelta(days=1.0), start + timedelta(days=2.5)
    ex, fdc = InProcessExecutor(), FdcConfig()
    train_fleet(ex, url, registry, start, train_end, chambers=[chamber], config=fdc)
    label = score_fleet(ex, url, registry, train_end, now, chambers=[chamber], save=True, config=fdc)
    for a in label.alarms[::2]:  # engineers review every other alarm, knowing the ground truth
        fault = bool(small_fab.run_faults.get(a.run_id))
        record_verdict(store.engine, Verdict(a.alarm_id, "eng", "true_fault" if fault else "false_alarm",
                                             "fault" if fault else "pressure gauge spikes"))
    before = {k: v.version for k, v in registry.active_versions().items()}
    report = retrain_from_verdicts(store, registry, now=now, config=LearningConfig(), fdc=fdc)
    return registry, report, before, label


def test_flaky_gauge_is_weighted_down_and_the_chamber_still_sees_a_leak(flaky_loop, flaky_store, small_fab):
    registry, report, before, label = flaky_loop
    store, start, chamber, sensor = flaky_store
    assert report.nuisance[chamber][0].sensor == sensor
    assert sum(a.contributions[0].sensor == sensor for a in label.alarms) > 0.5 * len(label.alarms)
    config = LearningConfig()
    promoted = [d for d in report.decisions if d.promoted and d.strategy in NUISANCE_STRATEGIES]
    assert {d.model for d in promoted} >= {model_name(RECIPE)}  # at least the chamber's main recipe
    for d in promoted:
        c = d.candidates[d.strategy]
        assert c.false_alarm_rate <= (1 - config.min_gain) * d.active.false_alarm_rate  # on the hold-out
        assert c.sensitivity >= config.min_sensitivity * c.active_sensitivity  # other sensors, same runs
        weights = registry.load(d.model, chamber).feature_weights or {}
        named = tuple(f"{n.sensor}." for n in report.nuisance[chamber])  # only sensors the verdicts named
        assert all(f.startswith(named) and w < 1 for f, w in weights.items())
        assert any(f.startswith(f"{sensor}.") for f in weights)
    # the leak that starts at day 2.58 moves the flaky gauge too: the retrained models still catch it
    ex, fdc = InProcessExecutor(), FdcConfig()
    after = score_fleet(ex, store.url, registry, start + timedelta(days=2.5), start + timedelta(days=4),
                        chambers=[chamber], config=fdc)
    leak = [r for r, f in small_fab.run_faults.items() if f and r in set(after.scored["run_id"])]
    alarmed = {a.run_id for a in after.alarms}
    assert len(leak) > 20 and np.mean([r in alarmed for r in leak]) > 0.8
    assert all(registry.active(m, s).version != v for (m, s), v in before.items()
               if any(d.promoted and (d.model, d.scope) == (m, s) for d in report.decisions))
