"""MSPC maths: limits hold their confidence on normal data, contributions localise, streaming = batch."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fabmind.models.anomaly import MSPC
from fabmind.models.base import ModelError


def _plant(seed: int, n: int, p: int = 8) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    mix = np.random.default_rng(99).normal(size=(3, p))
    return pd.DataFrame(rng.normal(size=(n, 3)) @ mix + 0.3 * rng.normal(size=(n, p)),
                        columns=[f"S{i}" for i in range(p)])


@pytest.mark.parametrize("limits", ["theoretical", "empirical", "cv"])
def test_false_alarm_rate_matches_confidence_on_fresh_normal_data(limits):
    model = MSPC(n_components=3, confidence=0.99, limits=limits).fit(_plant(0, 2000))
    far = model.predict(_plant(1, 20000)).mean()
    # either statistic may alarm: expect about 2 x 1 %, certainly not 5 %
    assert 0.003 < far < 0.04, far


def test_t2_and_spe_limits_are_separate_and_positive():
    model = MSPC(n_components=3).fit(_plant(0, 500))
    st = model.statistics(_plant(1, 50))
    assert st.t2_limit > 0 and st.spe_limit > 0
    np.testing.assert_allclose(st.score, model.score(_plant(1, 50)))


@pytest.mark.parametrize("statistic", ["spe", "t2", "combined"])
def test_contributions_point_at_the_faulty_sensor(statistic):
    model = MSPC(n_components=3, statistic=statistic).fit(_plant(0, 1000))
    bad = _plant(2, 50)
    # T² sees only the part of a sensor fault that lies in the model plane: give it a bigger one
    bad["S4"] += 15 * bad["S4"].std() if statistic == "t2" else 3.0
    expl = model.explain(bad)
    flagged = [e for e, a in zip(expl, model.predict(bad)) if a]
    assert len(flagged) >= 40
    top1 = np.mean([e.top(1)[0].feature == "S4" for e in flagged])
    # T² contributions smear over correlated sensors (Alcala & Qin 2009): a looser floor for T²
    assert top1 >= (0.8 if statistic == "t2" else 0.95), top1
    c = flagged[0].top(1)[0]
    assert c.deviation_sigma == pytest.approx((c.value - c.expected) / model.spread_[4])


def test_contribution_frame_sums_and_shape():
    model = MSPC(n_components=3).fit(_plant(0, 500))
    rbc = model.contributions(_plant(1, 20), statistic="spe")
    assert rbc.shape == (20, 8) and (rbc.to_numpy() >= 0).all()


@pytest.mark.parametrize("lags,smooth", [(0, 1), (2, 1), (0, 5), (3, 4)])
def test_streaming_twin_equals_batch(lags, smooth):
    model = MSPC(n_components=0.9, lags=lags, smooth=smooth, limits="empirical").fit(_plant(0, 400))
    X = _plant(3, 60)
    stream = model.stream()
    np.testing.assert_allclose([stream.update(x) for x in X.to_numpy()], model.score(X), rtol=1e-9)


def test_dynamic_pca_is_causal():
    model = MSPC(n_components=0.9, lags=2, smooth=3, limits="empirical").fit(_plant(0, 400))
    X = _plant(4, 50)
    later = X.copy()
    later.iloc[30:] += 10.0  # changing the future must not change the past
    np.testing.assert_allclose(model.score(X)[:30], model.score(later)[:30])


def test_constant_sensor_is_left_out_and_listed():
    X = _plant(0, 300).assign(SETPOINT=5.0)
    model = MSPC(n_components=3).fit(X)
    assert model.constant_features_ == ["SETPOINT"]
    ev = _plant(1, 10).assign(SETPOINT=5.0)
    assert np.isfinite(model.score(ev)).all()
    expl = model.explain(ev)[0]
    assert {c.feature for c in expl.contributions} >= {"SETPOINT"}


def test_all_constant_or_single_sensor_is_refused():
    with pytest.raises(ModelError, match="non-constant"):
        MSPC().fit(pd.DataFrame({"A": np.ones(50), "B": np.full(50, 2.0), "C": np.random.default_rng(0).normal(size=50)}))


def test_bad_hyper_parameters_are_named():
    with pytest.raises(ModelError, match="confidence"):
        MSPC(confidence=1.5).fit(_plant(0, 100))
    with pytest.raises(ModelError, match="limits"):
        MSPC(limits="magic").fit(_plant(0, 100))
    with pytest.raises(ModelError, match="too few"):
        MSPC(lags=200).fit(_plant(0, 100))


def test_variance_share_picks_components():
    assert MSPC(n_components=0.5).fit(_plant(0, 300)).n_components_ <= MSPC(n_components=0.99).fit(
        _plant(0, 300)).n_components_


def test_detect_carries_limit_and_version(tmp_path):
    model = MSPC(n_components=3).fit(_plant(0, 500))
    model.save(tmp_path / "m.pkl")
    bad = _plant(1, 5)
    bad["S0"] += 20
    det = model.detect(bad)
    assert len(det) == 5
    assert det[0].limit == 1.0 and det[0].score > 1.0 and det[0].model_version == model.metadata.version
    assert det[0].contributions[0].feature == "S0"


def test_smoothed_spe_is_explained_by_the_oscillating_sensor():
    """A sensor that oscillates around its normal mean moves the window's mean squared residual, not
    its mean reading: the contributions of a smoothed statistic must still name it."""
    model = MSPC(n_components=3, smooth=20, limits="cv", statistic="spe").fit(_plant(0, 1000))
    bad = _plant(2, 200)
    bad["S6"] += 4.0 * np.where(np.arange(200) % 2 == 0, 1.0, -1.0)  # zero-mean oscillation
    flagged = [e for e, a in zip(model.explain(bad), model.predict(bad)) if a]
    assert len(flagged) > 150
    assert np.mean([e.top(1)[0].feature == "S6" for e in flagged]) > 0.95


def test_cv_folds_below_two_is_a_clear_error():
    with pytest.raises(ModelError, match="cv_folds"):
        MSPC(limits="cv", cv_folds=1).fit(_plant(0, 100))


def test_cv_limit_of_smoothed_spe_holds_its_confidence_on_fresh_data():
    model = MSPC(n_components=3, smooth=10, limits="cv", confidence=0.99, statistic="spe").fit(_plant(0, 2000))
    far = model.predict(_plant(1, 20000)).mean()
    assert 0.002 < far < 0.04, far


def test_cv_limits_keep_the_full_models_components_with_many_features_and_few_rows():
    """Out-of-fold refits keep k: re-choosing it per fold (few rows, many features) put the T² limit below
    the model's own in-sample median, so it alarmed on its whole training set."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(31, 8)) @ rng.normal(size=(8, 106)) + 0.3 * rng.normal(size=(31, 106))
    m = MSPC(n_components=0.9, limits="cv").fit(X)
    t2 = m.statistics(X).t2
    assert m.t2_limit_ > np.median(t2)
    assert (t2 > m.t2_limit_).mean() < 0.1
