"""Window indicators (moving mean + moving spread) of raw readings: causal, clear errors, and on a real
SKAB slice (tests/fixtures/skab, see NOTE.md) they let MSPC see a valve fault the levels alone miss."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fabmind.models.anomaly import MSPC, window_indicators
from fabmind.models.anomaly.alarms import sensor_of
from fabmind.models.base import ModelError

FIX = Path(__file__).resolve().parents[1] / "fixtures"


def test_window_indicators_are_causal_and_named_per_sensor():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(50, 2)), columns=["P", "Q"])
    out = window_indicators(X, 5)
    assert list(out.columns) == ["P.mean", "P.std", "Q.mean", "Q.std"]
    assert out.iloc[:4].isna().all().all() and out.iloc[4:].notna().all().all()
    later = X.copy()
    later.iloc[30:] += 100.0  # the future must not change the past
    pd.testing.assert_frame_equal(out.iloc[:30], window_indicators(later, 5).iloc[:30])
    assert out["P.std"].iloc[10] == pytest.approx(X["P"].iloc[6:11].std(ddof=0))
    assert {sensor_of(c) for c in out.columns} == {"P", "Q"}
    assert window_indicators(X, 5, partial=True).notna().all().all()


@pytest.mark.parametrize("kwargs", [{"window": 0}, {"window": 3, "stats": ("median",)}, {"window": 3, "stats": ()}])
def test_window_indicators_bad_arguments_are_clear_errors(kwargs):
    with pytest.raises(ModelError, match="window_indicators"):
        window_indicators(pd.DataFrame({"P": [1.0, 2.0]}), **kwargs)


def _f1(pred: np.ndarray, truth: np.ndarray) -> float:
    tp = (pred & truth).sum()
    return 2 * tp / max(2 * tp + (pred & ~truth).sum() + (~pred & truth).sum(), 1)


def test_spread_indicators_catch_the_skab_valve1_0_fault_the_levels_miss():
    df = pd.read_csv(FIX / "skab" / "valve1_0.csv", sep=";", index_col="datetime", parse_dates=True)
    raw = df.drop(columns=["anomaly", "changepoint", "Temperature", "Thermocouple"])
    truth = df["anomaly"].to_numpy()[400:].astype(bool)
    X = window_indicators(raw, 10)
    levels = [c for c in X.columns if c.endswith(".mean")]

    def run(cols: list[str]) -> tuple[MSPC, np.ndarray]:
        model = MSPC(n_components=0.85, limits="cv", statistic="spe", cv_folds=5).fit(X.iloc[:400].dropna()[cols])
        return model, model.predict(X.iloc[400:][cols])

    _, by_levels = run(levels)
    model, both = run(list(X.columns))
    assert _f1(by_levels, truth) < 0.2  # the moving mean alone hardly sees it
    assert _f1(both, truth) > 0.55, _f1(both, truth)
    assert both[~truth].mean() < 0.25
    flagged = [e for e, a, t in zip(model.explain(X.iloc[400:]), both, truth) if a and t]
    top_flow = np.mean([sensor_of(e.top(1)[0].feature) == "Volume Flow RateRMS" for e in flagged])
    assert top_flow > 0.7, top_flow  # a closing inlet valve shows in the flow first
