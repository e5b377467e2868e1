"""Predictive maintenance: RUL on a real C-MAPSS slice, failure risk, PdM table from work orders, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fabmind.models.base import FeatureSchemaError, ModelError, SmallModel
from fabmind.models.maintenance import (
    FailureRiskModel,
    RULModel,
    pdm_frame,
    rul_target,
    window_features,
)

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "cmapss"
SENSORS = [f"s{i}" for i in (2, 3, 4, 7, 8, 9, 11, 12, 13, 14, 15, 17, 20, 21)]


@pytest.fixture(scope="module")
def engines() -> pd.DataFrame:
    return pd.read_csv(FIX / "train_FD001_units1-30.csv.gz")


def _truncate(df: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Cut each held-out engine at a random cycle (as the test set does); true RUL = cycles left."""
    rng = np.random.default_rng(seed)
    parts, truth = [], []
    for _, g in df.groupby("unit"):
        cut = int(rng.integers(40, len(g) - 5))
        parts.append(g.iloc[:cut])
        truth.append(len(g) - cut)
    return pd.concat(parts), np.array(truth, dtype=float)


def test_rul_beats_last_cycle_baselines_on_cmapss_slice(engines):
    from sklearn.linear_model import Ridge

    train, held = engines[engines.unit <= 22], engines[engines.unit > 22]
    test, truth = _truncate(held, seed=1)
    X = window_features(train, unit="unit", order="cycle", sensors=SENSORS)
    y = rul_target(train, unit="unit", order="cycle", cap=125)
    model = RULModel(n_estimators=200, mlp_weight=0.0).fit(X, y)
    last = test.groupby("unit").tail(1).index
    pred = model.predict(window_features(test, unit="unit", order="cycle", sensors=SENSORS).loc[last])
    rmse = np.sqrt(np.mean((pred - truth) ** 2))
    ridge = Ridge().fit(train[SENSORS], y)
    base = np.sqrt(np.mean((np.clip(ridge.predict(test.loc[last, SENSORS]), 0, None) - truth) ** 2))
    assert rmse < 0.8 * base, (rmse, base)
    assert rmse < 30


def test_window_features_are_causal(engines):
    one = engines[engines.unit == 1]
    full = window_features(one, unit="unit", order="cycle", sensors=["s2", "s7"], window=10)
    cut = window_features(one.iloc[:50], unit="unit", order="cycle", sensors=["s2", "s7"], window=10)
    pd.testing.assert_frame_equal(full.iloc[:50], cut)
    # slope over a linear ramp is exact
    ramp = pd.DataFrame({"u": 0, "c": range(30), "x": np.arange(30) * 2.0})
    f = window_features(ramp, unit="u", order="c", sensors=["x"], window=10)
    assert np.allclose(f["x.slope10"].iloc[1:], 2.0)


def test_long_window_and_whole_history_features(engines):
    one = engines[engines.unit == 3]
    kw = dict(unit="unit", order="cycle", sensors=["s2", "s7"], window=10, long=(40,), history=True)
    full = window_features(one, **kw)
    s7 = one["s7"].to_numpy()
    # the long window: plain statistics of the last 40 cycles (fewer at the start of the history)
    assert np.isclose(full["s7.mean40"].iloc[99], s7[60:100].mean())
    assert np.isclose(full["s7.std40"].iloc[99], s7[60:100].std())
    assert np.isclose(full["s7.slope40"].iloc[99], np.polyfit(np.arange(40), s7[60:100], 1)[0])
    assert np.isclose(full["s7.mean40"].iloc[4], s7[:5].mean())
    # the whole history so far: its least-squares slope and spread (its mean is cummean, not repeated)
    assert np.isclose(full["s7.slopeall"].iloc[149], np.polyfit(np.arange(150), s7[:150], 1)[0])
    assert np.isclose(full["s7.stdall"].iloc[149], s7[:150].std())
    assert "s7.meanall" not in full and full["s7.slopeall"].iloc[0] == 0.0
    # causal, and the default table is unchanged by the new options
    pd.testing.assert_frame_equal(window_features(one.iloc[:70], **kw), full.iloc[:70])
    plain = window_features(one, unit="unit", order="cycle", sensors=["s2", "s7"], window=10)
    pd.testing.assert_frame_equal(full[plain.columns], plain)
    for bad in ((10,), (1,), (40, 40)):
        with pytest.raises(ModelError, match="long="):
            window_features(one, unit="unit", order="cycle", sensors=["s2"], window=10, long=bad)


def test_rul_min_age_fits_the_gbm_on_complete_windows_only(engines):
    sub = engines[engines.unit <= 10]
    X = window_features(sub, unit="unit", order="cycle", sensors=SENSORS[:5])
    y = rul_target(sub, unit="unit", order="cycle")
    old = (X["age"] >= 30).to_numpy()
    model = RULModel(n_estimators=40, mlp_weight=0.0, min_age=30).fit(X, y)
    same = RULModel(n_estimators=40, mlp_weight=0.0).fit(X[old], y[old])
    np.testing.assert_array_equal(model.predict(X.iloc[-50:]), same.predict(X.iloc[-50:]))
    assert not np.array_equal(model.predict(X.iloc[-50:]),
                              RULModel(n_estimators=40, mlp_weight=0.0).fit(X, y).predict(X.iloc[-50:]))
    with pytest.raises(ModelError, match="min_age=30 needs the 'age' column"):
        RULModel(n_estimators=5, mlp_weight=0.0, min_age=30).fit(X.drop(columns="age"), y)
    with pytest.raises(ModelError, match=r"only 0 rows have age >= min_age=1000"):
        RULModel(n_estimators=5, mlp_weight=0.0, min_age=1000).fit(X, y)


def test_rul_explain_save_load(engines, tmp_path):
    sub = engines[engines.unit <= 8]
    X = window_features(sub, unit="unit", order="cycle", sensors=SENSORS[:5])
    y = rul_target(sub, unit="unit", order="cycle", cap=125)
    m = RULModel(n_estimators=50, mlp_weight=0.5, mlp_seeds=1).fit(X, y)
    ex = m.explain(X.iloc[[0, -1]])
    assert len(ex) == 2 and ex[1].output < ex[0].output
    # an input feature or the derived health index carried through one of them (health_index.<suffix>)
    top = ex[0].top(1)[0].feature
    assert top in X.columns or (top.startswith("health_index.") and f"s2.{top.split('.', 1)[1]}" in X.columns)
    # contributions + expected value reproduce the gradient-boosting output
    inputs = m._inputs(X.iloc[[0]])
    contrib = m.gbm_.booster_.predict(inputs, pred_contrib=True)[0]
    assert np.isclose(contrib.sum(), m.gbm_.predict(inputs)[0])
    path = m.save(tmp_path / "rul.pkl")
    back = SmallModel.load(path)
    assert np.allclose(back.predict(X.iloc[:5]), m.predict(X.iloc[:5]))
    assert back.metadata.family == "maintenance" and back.metadata.version


def test_rul_health_index_is_linear_in_the_sensor_features(engines):
    sub = engines[engines.unit <= 6]
    X = window_features(sub, unit="unit", order="cycle", sensors=SENSORS[:4])
    y = rul_target(sub, unit="unit", order="cycle", cap=125)
    m = RULModel(n_estimators=30, mlp_weight=0.0).fit(X, y)
    sensors, suffixes, w, b = m.hi_
    assert sensors == SENSORS[:4] and "std30" not in suffixes and {"last", "mean30", "slope30"} <= set(suffixes)
    hi = m._inputs(X)
    # the index tracks the (capped) RUL target it was fitted on
    assert np.corrcoef(hi["health_index.ewm0.1"], y)[0, 1] > 0.5
    # carried through the linear features: mean30 of the index == index weights applied to the sensors' mean30
    assert np.allclose(hi["health_index.mean30"], X[[f"{s}.mean30" for s in sensors]].to_numpy() @ w + b)
    off = RULModel(n_estimators=30, mlp_weight=0.0, health_index=False).fit(X, y)
    assert not any(c.startswith("health_index") for c in off.gbm_.booster_.feature_name())
    with pytest.raises(ModelError, match="clash"):
        RULModel(n_estimators=5, mlp_weight=0.0).fit(X.assign(**{"health_index.last": 1.0}), y)


def test_rul_bad_input(engines):
    sub = engines[engines.unit <= 3]
    X = window_features(sub, unit="unit", order="cycle", sensors=["s2"])
    with pytest.raises(ModelError, match="needs y"):
        RULModel().fit(X)
    with pytest.raises(ModelError, match="non-negative"):
        RULModel().fit(X, -np.ones(len(X)))
    with pytest.raises(ModelError, match="at least"):
        RULModel().fit(X.iloc[:5], np.ones(5))
    m = RULModel(n_estimators=10, mlp_weight=0).fit(X, rul_target(sub, unit="unit", order="cycle"))
    with pytest.raises(FeatureSchemaError, match="missing features"):
        m.predict(X.drop(columns=["age"]))
    bad = sub.copy()
    bad.loc[bad.index[3], "s2"] = np.nan
    with pytest.raises(ModelError, match="NaN"):
        window_features(bad, unit="unit", order="cycle", sensors=["s2"])
    with pytest.raises(ModelError, match="no columns"):
        window_features(sub, unit="unit", order="cycle", sensors=["nope"])


def _fab_history(seed: int = 0):
    """Two chambers; a pump current that ramps up before each corrective work order."""
    rng = np.random.default_rng(seed)
    runs, ind, wos = [], {}, []
    t0 = pd.Timestamp("2026-01-01", tz="UTC")
    for ch in ("ETCH-01/A", "ETCH-01/B"):
        t, k = t0, 0
        for cycle in range(6):
            life = int(rng.integers(80, 140))
            for i in range(life):
                rid = f"{ch[-1]}-{k}"
                runs.append({"run_id": rid, "chamber_id": ch, "start": t})
                wear = max(0.0, (i - life + 40) / 40)
                ind[rid] = {"PUMP_CURRENT_A.main.mean": 10 + 3 * wear ** 2 + rng.normal(0, 0.2),
                            "RF_FWD_W.main.mean": 500 + rng.normal(0, 2)}
                t += pd.Timedelta(minutes=20)
                k += 1
            wos.append({"work_order_id": f"WO-{ch[-1]}{cycle}", "equipment_id": "ETCH-01", "chamber_id": ch,
                        "kind": "cm", "opened": t})
            t += pd.Timedelta(hours=4)
    wos.append({"work_order_id": "WO-PM", "equipment_id": "ETCH-01", "chamber_id": None, "kind": "pm",
                "opened": t0 + pd.Timedelta(hours=10)})
    return pd.DataFrame(runs), pd.DataFrame.from_dict(ind, orient="index"), pd.DataFrame(wos)


def test_pdm_frame_labels_and_risk_model():
    runs, ind, wos = _fab_history()
    data = pdm_frame(runs, ind, wos, horizon_h=8.0, window=10)
    info = data.info
    assert len(data.features) == len(runs)
    # the run just before a CM order fails within the horizon; hours_to_failure is positive and short
    first_cm = wos[wos.kind == "cm"].iloc[0]
    before = info[(info.chamber_id == first_cm.chamber_id) & (info.start < first_cm.opened)]
    assert before.fails_within.iloc[-1] == 1 and 0 < before.hours_to_failure.iloc[-1] <= 0.5
    assert before.runs_to_failure.iloc[-1] == 0
    # the tool-level PM order starts a new maintenance cycle on both chambers
    assert info.groupby("chamber_id").cycle.nunique().min() >= 7
    X, y = data.labelled()
    cut = int(len(X) * 0.6)
    order = np.argsort(info.loc[X.index, "start"].to_numpy())
    tr, te = order[:cut], order[cut:]
    risk = FailureRiskModel(n_estimators=100).fit(X.iloc[tr], y.iloc[tr])
    from sklearn.metrics import roc_auc_score

    auc = roc_auc_score(y.iloc[te], risk.score(X.iloc[te]))
    assert auc > 0.9, auc
    top = risk.explain(X.iloc[te][y.iloc[te].to_numpy() == 1].iloc[:3])
    assert all(e.top(1)[0].feature.startswith("PUMP_CURRENT_A") or e.top(1)[0].feature == "age" for e in top)


def test_pdm_bad_input():
    runs, ind, wos = _fab_history()
    with pytest.raises(ModelError, match="runs need columns"):
        pdm_frame(runs.drop(columns=["start"]), ind, wos)
    with pytest.raises(ModelError, match="none of the runs"):
        pdm_frame(runs.assign(run_id="x" + runs.run_id), ind, wos)
    with pytest.raises(ModelError, match="one class"):
        FailureRiskModel().fit(pd.DataFrame({"a": np.arange(30.0)}), np.zeros(30))
    # no work orders at all: every label is censored/0, nothing crashes
    data = pdm_frame(runs, ind, wos.iloc[:0], horizon_h=8.0)
    assert data.info.hours_to_failure.isna().all()


def test_pdm_from_simulated_store(demo_store):
    from fabmind.models.maintenance import pdm_frame_from_store

    data = pdm_frame_from_store(demo_store, horizon_h=24.0, chamber_ids=["ETCH-01/A"])
    assert len(data.features) > 50
    assert set(data.info.chamber_id) == {"ETCH-01/A"}
    assert np.isfinite(data.features.to_numpy()).all()
