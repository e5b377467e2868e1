"""EWMA / CUSUM charts: in-control rate, early warning on a small drift, streaming twin = batch."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fabmind.models.anomaly import MSPC, AnomalyEnsemble, CUSUMMonitor, EWMAMonitor
from fabmind.models.base import ModelError


def _normal(seed: int, n: int, p: int = 5) -> pd.DataFrame:
    return pd.DataFrame(np.random.default_rng(seed).normal(10.0, 2.0, size=(n, p)), columns=[f"S{i}" for i in range(p)])


@pytest.mark.parametrize("make", [lambda: EWMAMonitor(lam=0.1, L=3.0), lambda: CUSUMMonitor(k=0.5, h=5.0)])
def test_small_drift_found_early_and_by_the_right_sensor(make):
    model = make().fit(_normal(0, 2000))
    X = _normal(1, 200)
    X.iloc[100:, 2] += 1.0 * 2.0  # a 1-sigma shift from row 100: invisible to a 3-sigma Shewhart chart
    alarm = model.predict(X)
    first = int(np.argmax(alarm[100:])) if alarm[100:].any() else None
    assert first is not None and first < 40, first
    assert alarm[:100].mean() < 0.05
    assert model.explain(X.iloc[: 100 + first + 1])[-1].top(1)[0].feature == "S2"


@pytest.mark.parametrize("make", [lambda: EWMAMonitor(lam=0.3), lambda: CUSUMMonitor()])
def test_stream_twin_equals_batch(make):
    model = make().fit(_normal(0, 500))
    X = _normal(2, 80)
    s = model.stream()
    np.testing.assert_allclose([s.update(x) for x in X.to_numpy()], model.score(X))


def test_chart_frame_is_signed_per_sensor():
    model = EWMAMonitor().fit(_normal(0, 500))
    X = _normal(3, 50)
    X["S1"] -= 10
    chart = model.chart(X)
    assert chart.shape == (50, 5) and (chart["S1"].iloc[-10:] < -1).all()


def test_bad_chart_parameters_are_named():
    with pytest.raises(ModelError, match="lam"):
        EWMAMonitor(lam=0).fit(_normal(0, 50))
    with pytest.raises(ModelError, match="h > 0"):
        CUSUMMonitor(h=0).fit(_normal(0, 50))


def test_ensemble_rules():
    X = _normal(0, 500)
    ev = _normal(4, 30)
    ev.iloc[10:, 0] += 30
    any_ = AnomalyEnsemble([("m", MSPC(n_components=2)), ("e", EWMAMonitor())], rule="any").fit(X)
    vote = AnomalyEnsemble([("m", MSPC(n_components=2)), ("e", EWMAMonitor())], rule="vote", min_votes=2).fit(X)
    assert (any_.score(ev) >= vote.score(ev)).all()
    scores = any_.detector_scores(ev)
    assert list(scores.columns) == ["m", "e"]
    np.testing.assert_allclose(any_.score(ev), scores.max(axis=1))
    with pytest.raises(ModelError, match="rule"):
        AnomalyEnsemble([("m", MSPC())], rule="median").fit(X)
