"""MSPC on slices of real public data (tests/fixtures, see their NOTE.md): real properties, not smoke."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fabmind.models.anomaly import MSPC

FIX = Path(__file__).resolve().parents[1] / "fixtures"


def _f1(pred: np.ndarray, truth: np.ndarray) -> float:
    tp = (pred & truth).sum()
    return 2 * tp / (2 * tp + (pred & ~truth).sum() + (~pred & truth).sum())


@pytest.mark.parametrize("name", ["valve1_0.csv", "valve1_1.csv"])
def test_t2_q_on_skab_valve1_beats_null_and_random_detectors(name):
    from sklearn.metrics import roc_auc_score

    df = pd.read_csv(FIX / "skab" / name, sep=";", index_col="datetime", parse_dates=True)
    X = df.drop(columns=["anomaly", "changepoint"])
    truth = df["anomaly"].to_numpy()[400:].astype(bool)
    model = MSPC(n_components=0.85).fit(X.iloc[:400])  # SKAB protocol: first 400 rows train
    f1 = _f1(model.predict(X.iloc[400:]), truth)
    assert f1 > 0.6, f1  # the null detector (never alarms) scores F1 = 0
    assert roc_auc_score(truth, model.score(X.iloc[400:])) > 0.6  # a random score gives 0.5


@pytest.fixture(scope="module")
def tep():
    d00 = pd.read_csv(FIX / "tep" / "d00.csv.gz")
    return d00, {k: pd.read_csv(FIX / "tep" / f"d{k:02d}_te_rows1-400.csv.gz") for k in (4, 6)}


def test_tep_fault4_detected_and_localised_to_reactor_cooling(tep):
    d00, te = tep
    model = MSPC(n_components=9).fit(d00)
    alarm = model.predict(te[4])
    assert alarm[:160].mean() < 0.1  # before the fault: near the 1-2 % design rate
    assert alarm[170:].mean() > 0.9  # reactor cooling water inlet temperature step
    flagged = np.flatnonzero(alarm[170:]) + 170
    expl = model._explain_rows(model._validate(te[4], fitting=False), flagged, model.score(te[4]))
    hit = np.mean([any(c.feature in ("XMV10", "XMEAS9", "XMEAS21") for c in e.top(3)) for e in expl])
    assert hit > 0.9, hit


def test_tep_fault6_dynamic_smoothed_spe_detects_with_few_false_alarms(tep):
    d00, te = tep
    model = MSPC(n_components=0.9, lags=2, smooth=40, limits="cv", confidence=0.99, statistic="spe", cv_folds=20).fit(d00)
    alarm = model.predict(te[6])
    assert alarm[:160].mean() <= 0.02 and alarm[200:].mean() > 0.95
