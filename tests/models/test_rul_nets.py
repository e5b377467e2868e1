"""RULModel's optional CNN member (fabmind.models.rul_nets) on the real C-MAPSS FD001 slice (engines 1-30)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fabmind.models.base import ModelError, SmallModel
from fabmind.models.maintenance import RULModel, rul_target, window_features
from fabmind.models.rul_nets import raw_columns, window_array

pytest.importorskip("torch")

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "cmapss"
SENSORS = [f"s{i}" for i in (2, 3, 4, 7, 8, 9, 11, 12, 13, 14, 15, 17, 20, 21)]
NET = {"seeds": 1, "epochs": 6, "channels": 8, "hidden": 16}


@pytest.fixture(scope="module")
def engines() -> pd.DataFrame:
    return pd.read_csv(FIX / "train_FD001_units1-30.csv.gz")


@pytest.fixture(scope="module")
def split(engines):
    train, held = engines[engines.unit <= 22], engines[engines.unit > 22]
    rng = np.random.default_rng(3)
    parts, truth = [], []
    for _, g in held.groupby("unit"):
        for cut in rng.integers(40, len(g) - 5, size=4):  # 4 cuts per held-out engine, as the test set cuts
            parts.append(g.iloc[:cut].assign(unit=f"{g.unit.iloc[0]}@{cut}"))
            truth.append(len(g) - cut)
    test = pd.concat(parts, ignore_index=True)
    Xtr = window_features(train, unit="unit", order="cycle", sensors=SENSORS, raw=30)
    ytr = rul_target(train, unit="unit", order="cycle", cap=125)
    Xte = window_features(test, unit="unit", order="cycle", sensors=SENSORS, raw=30)
    return Xtr, ytr, Xte.loc[test.groupby("unit", sort=False).tail(1).index], np.array(truth, float)


def test_raw_window_columns_are_the_causal_lagged_sensors(engines):
    one = engines[engines.unit == 2]
    X = window_features(one, unit="unit", order="cycle", sensors=["s2", "s7"], window=10, raw=5)
    assert raw_columns(X.columns) == (["s2", "s7"], 5)
    arr = window_array(X, ["s2", "s7"], 5)  # (rows, sensors, 5), oldest first
    s7 = one["s7"].to_numpy()
    np.testing.assert_allclose(arr[50, 1], s7[46:51])
    np.testing.assert_allclose(arr[2, 1], [s7[0], s7[0], s7[0], s7[1], s7[2]])  # padded with the first cycle
    # causal: cutting the history does not change the rows that remain; default tables have no raw columns
    cut = window_features(one.iloc[:40], unit="unit", order="cycle", sensors=["s2", "s7"], window=10, raw=5)
    pd.testing.assert_frame_equal(cut, X.iloc[:40])
    assert not [c for c in window_features(one, unit="unit", order="cycle", sensors=["s2"]).columns if ".raw" in c]
    with pytest.raises(ModelError):
        window_features(one, unit="unit", order="cycle", sensors=["s2"], raw=1)


def test_cnn_member_learns_rul_on_held_out_engines_and_is_deterministic(split, tmp_path):
    from sklearn.linear_model import Ridge

    Xtr, ytr, Xte, truth = split
    model = RULModel(n_estimators=150, mlp_weight=0.0, net_weight=0.5, net_params=NET).fit(Xtr, ytr)
    assert model.net_ is not None and "s2.raw0" not in model.gbm_.feature_name_
    net_alone = model.net_.predict(model._windows(Xte), model._inputs(Xte).to_numpy(dtype=np.float32))
    gbm_alone = np.clip(model.gbm_.predict(model._inputs(Xte)), 0, 125)
    pred = model.predict(Xte)
    np.testing.assert_allclose(pred, np.clip(0.5 * gbm_alone + 0.5 * net_alone, 0, 125), atol=1e-4)
    # the net alone carries real signal: far better than a ridge on the last cycle's raw sensors
    last = [f"{s}.raw0" for s in SENSORS]
    ridge = Ridge().fit(Xtr[last], ytr)
    base = np.sqrt(np.mean((np.clip(ridge.predict(Xte[last]), 0, None) - truth) ** 2))
    net_rmse = np.sqrt(np.mean((net_alone - truth) ** 2))
    assert net_rmse < 0.85 * base, (net_rmse, base)
    # same seed, same predictions; a save/load round trip keeps them
    again = RULModel(n_estimators=150, mlp_weight=0.0, net_weight=0.5, net_params=NET).fit(Xtr, ytr)
    np.testing.assert_allclose(again.predict(Xte), pred, atol=1e-5)
    back = SmallModel.load(model.save(tmp_path / "rul.pkl"))
    np.testing.assert_allclose(back.predict(Xte), pred, atol=1e-6)
    assert len(back.explain(Xte.iloc[:2])[0].contributions) > 0


def test_without_raw_columns_the_model_is_unchanged(split):
    Xtr, ytr, Xte, _ = split
    keep = [c for c in Xtr.columns if ".raw" not in c]
    plain = RULModel(n_estimators=100, mlp_weight=0.0, net_weight=0.0).fit(Xtr[keep], ytr)
    default = RULModel(n_estimators=100, mlp_weight=0.0).fit(Xtr[keep], ytr)
    assert default.net_ is None
    np.testing.assert_array_equal(default.predict(Xte[keep]), plain.predict(Xte[keep]))
    # with the raw window but net_weight=0 the GBM sees exactly the same inputs as without it
    off = RULModel(n_estimators=100, mlp_weight=0.0, net_weight=0.0).fit(Xtr, ytr)
    assert off.net_ is None
    np.testing.assert_array_equal(off.predict(Xte), plain.predict(Xte[keep]))


def test_seed_ensemble_learns_and_round_trips(split, tmp_path):
    Xtr, ytr, Xte, truth = split
    params = {**NET, "seeds": 2, "epochs": 4}
    model = RULModel(n_estimators=100, mlp_weight=0.0, net_weight=0.5, net_params=params).fit(Xtr, ytr)
    assert len(model.net_.states_) == 2
    assert any(k.startswith("conv.0.") for k in model.net_.states_[0])
    inputs = model._inputs(Xte).to_numpy(dtype=np.float32)
    net_alone = model.net_.predict(model._windows(Xte), inputs)
    # far better than predicting the mean of the (capped) training target everywhere
    flat = np.sqrt(np.mean((np.minimum(ytr, 125).mean() - truth) ** 2))
    assert np.sqrt(np.mean((net_alone - truth) ** 2)) < 0.85 * flat
    back = SmallModel.load(model.save(tmp_path / "rul_ensemble.pkl"))
    np.testing.assert_allclose(back.predict(Xte), model.predict(Xte), atol=1e-6)


def test_net_exclude_keeps_long_features_from_the_cnn_static_branch(engines, tmp_path):
    train = engines[engines.unit <= 12]
    X = window_features(train, unit="unit", order="cycle", sensors=SENSORS[:4], raw=10, long=(60,), history=True)
    y = rul_target(train, unit="unit", order="cycle")
    excl = ("mean60", "std60", "slope60", "stdall", "slopeall")
    params = {**NET, "epochs": 2}
    model = RULModel(n_estimators=30, mlp_weight=0.0, net_weight=0.5, net_params=params, net_exclude=excl).fit(X, y)
    inputs = model._inputs(X)
    kept = [c for c in inputs.columns if not c.endswith(tuple("." + e for e in excl))]
    assert "health_index.slopeall" in inputs and "health_index.slopeall" not in model.net_static_
    assert model.net_static_ == kept and model.net_.n_static_ == len(kept) < inputs.shape[1]
    assert "s2.slopeall" in model.gbm_.feature_name_  # the GBM still gets them
    pred = model.predict(X.iloc[-20:])
    net_alone = model.net_.predict(model._windows(X.iloc[-20:]), inputs.iloc[-20:][kept].to_numpy(np.float32))
    gbm_alone = model.gbm_.predict(inputs.iloc[-20:])
    np.testing.assert_allclose(pred, np.clip(0.5 * gbm_alone + 0.5 * net_alone, 0, 125), atol=1e-4)
    back = SmallModel.load(model.save(tmp_path / "rul_excl.pkl"))
    np.testing.assert_allclose(back.predict(X.iloc[-20:]), pred, atol=1e-6)
    with pytest.raises(ModelError, match=r"net_exclude \['slope999'\] match no feature column"):
        RULModel(n_estimators=5, mlp_weight=0.0, net_weight=0.5, net_params=params, net_exclude=("slope999",)).fit(X, y)
