"""Input drift (PSI + KS per FDC feature) and performance drift (alarm precision from verdicts)."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from _recal_fab import CHAMBER, RECIPE, SENSOR

from fabmind.models.drift import DriftConfig, input_drift, model_indicators, performance_drift, psi


def test_psi_is_zero_for_same_distribution_and_grows_with_shift():
    rng = np.random.default_rng(1)
    ref = rng.normal(size=5000)
    assert psi(ref, rng.normal(size=5000)) < 0.01
    assert psi(ref, rng.normal(size=5000) + 0.5) < psi(ref, rng.normal(size=5000) + 1.5)
    assert psi(ref, rng.normal(size=5000) + 1.5) > 1.0


def test_recalibration_flagged_within_window_and_stable_data_not(recal_store, demo_store):
    store, start, recal_at = recal_store
    config = DriftConfig(window=timedelta(days=1), min_runs=15)
    reference = model_indicators(store, CHAMBER, RECIPE, start, start + timedelta(days=1.5))

    def drift_until(end, source=store):
        cur = model_indicators(source, CHAMBER, RECIPE, end - config.window, end, list(reference.columns))
        return input_drift(reference, cur, config)

    stable = drift_until(recal_at)  # the day before the recalibration
    assert stable.n_current >= config.min_runs and not stable.drifted, stable.features[:3]
    flagged = drift_until(recal_at + config.window)  # the day after: inside the configured window
    assert flagged.drifted and flagged.sensors[0] == SENSOR
    assert flagged.features[0].shift_sigma > 2
    # the same chamber and window without the recalibration (the simulator's streams are identical):
    # the gauge is not flagged; the simulator's slow aging of the RF match is, rightly, still drift
    untouched = drift_until(recal_at + config.window, source=demo_store)
    assert untouched.n_current == flagged.n_current and SENSOR not in untouched.sensors


def test_performance_drift_from_verdicts():
    v = pd.DataFrame({
        "verdict": ["false_alarm"] * 6 + ["true_fault"] + ["true_fault"] * 5,
        "source": ["mspc.R1"] * 7 + ["mspc.R2"] * 5,
        "chamber_id": ["C/A"] * 7 + ["C/B"] * 5,
        "alarm_ts": pd.Timestamp("2026-01-07", tz="UTC"),
    })
    perf = {p.scope: p for p in performance_drift(v, DriftConfig(min_verdicts=5))}
    assert perf["C/A"].model == "fdc-R1" and perf["C/A"].precision == pytest.approx(1 / 7) and perf["C/A"].drifted
    assert perf["C/B"].precision == 1.0 and not perf["C/B"].drifted


def test_store_drift_suggests_retraining_the_recalibrated_model_only_after_the_recalibration(recal_store, tmp_path):
    """The product path (``fabmind drift``): every active model's input drift against its training window."""
    from fabmind.models.drift import store_drift
    from fabmind.models.fdc import FdcConfig, model_name
    from fabmind.models.registry import ModelRegistry
    from fabmind.scale import InProcessExecutor
    from fabmind.scale.jobs import train_fleet

    store, start, recal_at = recal_store
    registry = ModelRegistry(tmp_path)
    reference = (start, start + timedelta(days=1.5))
    train_fleet(InProcessExecutor(), store.url, registry, *reference, chambers=[CHAMBER], config=FdcConfig())
    config = DriftConfig(window=timedelta(days=1), min_runs=15)

    def gauge_flagged(now):
        report = store_drift(store, registry, reference, now, config, chambers=[CHAMBER])
        assert any(d.model == model_name(RECIPE) and d.n_current >= config.min_runs for d in report.inputs)
        return [s for s in report.suggestions if SENSOR in s.reason]

    assert gauge_flagged(recal_at) == []  # the day before: stable
    flagged = gauge_flagged(recal_at + config.window)  # the day after, within the configured window
    assert model_name(RECIPE) in {s.model for s in flagged} and {s.scope for s in flagged} == {CHAMBER}
