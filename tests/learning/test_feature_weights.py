"""``feature_weights`` of the MSPC models: how the learning loop turns down a sensor prone to false alarms."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from fabmind.models.anomaly import MSPC
from fabmind.models.anomaly.adjusted import AdjustedMSPC
from fabmind.models.base import ModelError, SmallModel

COLS = ["P.dep.mean", "P.stab.mean", "RF.dep.mean", "T.dep.mean", "F.dep.mean"]


def _data(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, len(COLS))), columns=COLS)
    X["P.stab.mean"] += 0.5 * X["P.dep.mean"]
    return X


def _spiky(X: pd.DataFrame, size: float = 12.0) -> pd.DataFrame:
    out = X.copy()
    out["P.dep.mean"] += size  # the gauge reads off in the main step
    return out


@pytest.mark.parametrize("make", [lambda w: MSPC(n_components=2, confidence=0.99, feature_weights=w),
                                  lambda w: AdjustedMSPC(n_components=2, confidence=0.99, feature_weights=w)])
def test_a_weighted_down_sensor_stops_alarming_while_the_others_still_do(make):
    X, new = _data(), _data(100, seed=1)
    plain, weighted = make(None).fit(X), make({"P.dep.mean": 0.05, "P.stab.mean": 0.05}).fit(X)
    assert plain.predict(_spiky(new)).mean() > 0.9  # 12 sigma on the gauge: every run alarms
    assert weighted.predict(_spiky(new)).mean() < 0.1  # read as 20x noisier: 0.6 sigma
    assert weighted.predict(new).mean() < 0.05
    step = new.assign(**{"RF.dep.mean": new["RF.dep.mean"] + 6.0})
    assert weighted.predict(step).mean() > 0.9 and plain.predict(step).mean() > 0.9
    # a weight is a hyper-parameter: clone / repr / save keep it, and the deviation is still reported
    # in the sensor's own training sigmas (12, not 0.6)
    assert clone(weighted).get_params()["feature_weights"] == {"P.dep.mean": 0.05, "P.stab.mean": 0.05}
    top = weighted.explain(_spiky(new.iloc[:1]))[0]
    p = next(c for c in top.contributions if c.feature == "P.dep.mean")
    own = (new["P.dep.mean"].iloc[0] + 12.0 - X["P.dep.mean"].mean()) / X["P.dep.mean"].std()
    assert p.deviation_sigma == pytest.approx(own, rel=1e-6)


def test_weight_zero_leaves_the_sensor_out_and_bad_weights_are_named(tmp_path):
    X = _data()
    m = MSPC(n_components=2, confidence=0.99, feature_weights={"P.dep.mean": 0.0}).fit(X)
    assert m.dropped_features_ == ["P.dep.mean"]
    assert m.predict(_spiky(X, 1e3)).mean() == m.predict(X).mean()  # any reading of it: no effect at all
    stream = m.stream()
    scores = [stream.update(x) for x in _spiky(X, 50.0).to_numpy()]
    np.testing.assert_allclose(scores, m.score(_spiky(X, 50.0)), rtol=1e-9)
    back = SmallModel.load(m.save(tmp_path / "m.pkl"))
    np.testing.assert_allclose(back.score(X), m.score(X))
    with pytest.raises(ModelError, match="does not monitor.*'X.main.mean'"):
        MSPC(feature_weights={"X.main.mean": 0.5}).fit(X)
    with pytest.raises(ModelError, match=r"feature_weights\['RF.dep.mean'\].*-1"):
        MSPC(feature_weights={"RF.dep.mean": -1}).fit(X)
    with pytest.raises(ModelError, match="AdjustedMSPC.*does not monitor.*SP.power"):  # a setpoint: context
        AdjustedMSPC(feature_weights={"SP.power": 0.5}).fit(X.assign(**{"SP.power": np.arange(len(X))}))
