"""EnergyForecaster options of issue 4: ExtraTrees member (``extra_trees``) and ``fit(sample_weight=...)``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fabmind.models.base import ModelError
from fabmind.models.energy import EnergyForecaster


def _data(n: int = 500, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"lag1": rng.uniform(0, 50, n), "x": rng.normal(size=n), "gappy": rng.normal(size=n)})
    X.loc[rng.random(n) < 0.3, "gappy"] = np.nan  # the ExtraTrees members must take NaN inputs
    X.loc[0, "lag1"] = np.nan  # the first interval has no last value
    y = (X["lag1"].fillna(25.0) + 5 * X["x"] + rng.normal(0, 2, n)).clip(lower=0.0)
    return X, y


def _small(**kw) -> EnergyForecaster:
    return EnergyForecaster(n_estimators=40, change_estimators=40, seeds=1, **kw)


def test_extra_trees_member_blends_and_default_is_lightgbm_only():
    X, y = _data()
    plain = _small().fit(X[:400], y[:400])
    assert plain.trees_ == []
    blended = _small(extra_trees=0.3, extra_trees_estimators=20).fit(X[:400], y[:400])
    assert len(blended.trees_) == 2  # level + change
    p0, p1 = plain.predict(X[400:]), blended.predict(X[400:])
    assert np.all(np.isfinite(p1)) and np.all(p1 >= 0) and not np.allclose(p0, p1)
    # the blend is (1 - share) x LightGBM + share x ExtraTrees: share 1 is the trees alone
    trees = _small(extra_trees=1.0, extra_trees_estimators=20).fit(X[:400], y[:400]).predict(X[400:])
    np.testing.assert_allclose(p1, np.maximum(0.7 * p0 + 0.3 * trees, 0.0), rtol=1e-9, atol=1e-9)
    err = lambda p: np.sqrt(np.mean((p - y[400:].to_numpy()) ** 2))  # noqa: E731
    assert err(p1) < 0.5 * err(np.full(100, y[:400].mean()))
    ex = blended.explain(X[400:402])
    assert ex[0].output == pytest.approx(p1[0])


def test_sample_weight_zero_drops_rows_and_bad_weights_fail():
    X, y = _data()
    corrupt = y.copy()
    corrupt[:200] += 500.0  # a meter fault in the first 200 intervals
    w = np.r_[np.zeros(200), np.ones(300)]
    weighted = _small(extra_trees=0.3, extra_trees_estimators=10).fit(X, corrupt, sample_weight=w)
    clean = _small(extra_trees=0.3, extra_trees_estimators=10).fit(X[200:], y[200:], sample_weight=np.ones(300))
    np.testing.assert_allclose(weighted.predict(X[:50]), clean.predict(X[:50]), rtol=1e-6, atol=1e-6)
    assert weighted.predict(X[:50]).max() < 200  # the faulty intervals taught nothing
    with pytest.raises(ModelError, match="sample_weight"):
        _small().fit(X, y, sample_weight=-w)
    with pytest.raises(ModelError, match="sample_weight"):
        _small().fit(X, y, sample_weight=w[:10])
    with pytest.raises(ModelError, match="extra_trees"):
        _small(extra_trees=1.5).fit(X, y)


def test_scaled_member_sets_average_where_the_scale_is_valid():
    X, y = _data()
    rng = np.random.default_rng(1)
    pf = pd.Series(rng.uniform(0.6, 1.0, len(X)))
    pf[rng.random(len(X)) < 0.2] = np.nan  # no scale there: the plain set answers alone
    X = X.assign(pf=pf, lag1_s=X["lag1"] / pf.fillna(1.0))
    plain = _small().fit(X[:400], y[:400])
    both = _small(scaled={"pf": "lag1_s"}).fit(X[:400], y[:400])
    assert len(both.scaled_) == 1
    p0, p1 = plain.predict(X[400:]), both.predict(X[400:])
    assert np.all(np.isfinite(p1)) and np.all(p1 >= 0)
    gone = pf[400:].isna().to_numpy()
    assert gone.any() and (~gone).any()
    np.testing.assert_allclose(p1[gone], p0[gone], rtol=1e-9, atol=1e-9)
    assert not np.allclose(p1[~gone], p0[~gone])
    # the scaled set alone: its estimate of y / pf times pf, averaged half and half with the plain one
    _, lv, level, change, trees = both.scaled_[0]
    Xt = X[400:]
    part = np.maximum(both._estimate(Xt, level, change, trees, lv), 0.0) * pf[400:].to_numpy()
    np.testing.assert_allclose(p1[~gone], np.maximum(0.5 * (p0 + np.nan_to_num(part)), 0.0)[~gone], rtol=1e-9)
    err = lambda p: np.sqrt(np.mean((p - y[400:].to_numpy()) ** 2))  # noqa: E731
    assert err(p1) < 0.5 * err(np.full(100, y[:400].mean()))
    assert both.explain(X[400:402])[0].output == pytest.approx(p1[0])
    with pytest.raises(ModelError, match="scale column"):
        _small(scaled={"nope": None}).fit(X[:400], y[:400])
