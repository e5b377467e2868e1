"""Quality: defect classification on a real Steel Plates slice, pass/fail yield model, virtual metrology, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fabmind.models.base import FeatureSchemaError, ModelError, SmallModel
from fabmind.models.quality import DefectClassifier, VirtualMetrologyModel, YieldPassFailModel

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "steel_plates"


@pytest.fixture(scope="module")
def plates() -> tuple[pd.DataFrame, np.ndarray]:
    df = pd.read_csv(FIX / "faults_40pct_stratified.csv.gz")
    return df.drop(columns=["fault"]), df["fault"].to_numpy()


@pytest.fixture(scope="module")
def fitted(plates):
    X, y = plates
    rng = np.random.default_rng(0)
    test = np.zeros(len(y), dtype=bool)
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        test[rng.choice(idx, max(2, len(idx) // 4), replace=False)] = True
    model = DefectClassifier(n_estimators=200, learning_rate=0.05, num_leaves=7, min_child_samples=5,
                             colsample_bytree=0.7).fit(X[~test], y[~test])
    return model, X[test], y[test], X[~test], y[~test]


def test_defect_classifier_beats_baselines_on_steel_plates(fitted):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model, Xte, yte, Xtr, ytr = fitted
    acc = (model.predict(Xte) == yte).mean()
    majority = (yte == pd.Series(ytr).mode()[0]).mean()
    lin = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(Xtr, ytr)
    lin_acc = (lin.predict(Xte) == yte).mean()
    assert acc > majority + 0.3, (acc, majority)
    assert acc > lin_acc + 0.01, (acc, lin_acc)
    assert acc > 0.68


def test_probabilities_are_calibrated_and_explained(fitted):
    model, Xte, yte, _, _ = fitted
    p = model.predict_proba(Xte)
    assert p.shape == (len(Xte), len(model.classes_)) and np.allclose(p.sum(axis=1), 1.0)
    # temperature scaling keeps the ranking: same labels as the raw LightGBM
    assert (model.classes_[p.argmax(1)] == model.gbm_.predict(Xte)).mean() > 0.97
    # confident predictions are right more often than unsure ones
    conf, ok = p.max(axis=1), model.classes_[p.argmax(1)] == yte
    assert ok[conf >= np.median(conf)].mean() > ok[conf < np.median(conf)].mean()
    ex = model.explain(Xte.iloc[:3])
    assert len(ex) == 3 and all(0 < e.output <= 1 for e in ex)
    assert all(c.feature in Xte.columns for c in ex[0].contributions)
    assert abs(ex[0].contributions[0].contribution) >= abs(ex[0].contributions[-1].contribution)


def test_defect_classifier_save_load_and_schema(fitted, tmp_path):
    model, Xte, _, _, _ = fitted
    back = SmallModel.load(model.save(tmp_path / "defects.pkl"))
    assert np.allclose(back.predict_proba(Xte), model.predict_proba(Xte))
    with pytest.raises(FeatureSchemaError, match="Pixels_Areas"):
        model.predict(Xte.drop(columns=["Pixels_Areas"]))
    with pytest.raises(FeatureSchemaError, match="unexpected"):
        model.predict(Xte.assign(extra=1.0))


def test_defect_classifier_bad_input(plates):
    X, y = plates
    with pytest.raises(ModelError, match="one class"):
        DefectClassifier().fit(X.iloc[:30], np.array(["a"] * 30))
    with pytest.raises(ModelError, match="missing labels"):
        DefectClassifier().fit(X.iloc[:30], np.array(["a", None] * 15, dtype=object))
    with pytest.raises(ModelError, match="calibration"):
        DefectClassifier(calibration="platt").fit(X.iloc[::10], y[::10])


def _wafers(n: int = 600, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 40)), columns=[f"S{i}.main.mean" for i in range(40)])
    X["CONST"] = 1.0
    X["MOSTLY_NAN"] = np.where(rng.random(n) < 0.9, np.nan, 1.0)
    X.loc[rng.random(n) < 0.05, "S3.main.mean"] = np.nan  # unrecorded sensors
    logit = -3.0 + 1.8 * X["S1.main.mean"] - 1.2 * X["S2.main.mean"].fillna(0)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y


def test_yield_pass_fail_finds_the_driving_sensors():
    from sklearn.metrics import roc_auc_score

    X, y = _wafers()
    model = YieldPassFailModel(n_estimators=200, max_features=10).fit(X.iloc[:400], y[:400])
    assert {"CONST", "MOSTLY_NAN"} <= set(model.dropped_)
    assert {"S1.main.mean", "S2.main.mean"} <= set(model.used_)
    auc = roc_auc_score(y[400:], model.score(X.iloc[400:]))
    assert auc > 0.8, auc
    worst = int(np.argmax(model.score(X.iloc[400:])))
    top = model.explain(X.iloc[400 + worst: 401 + worst])[0].top(2)
    assert {c.feature for c in top} & {"S1.main.mean", "S2.main.mean"}


def test_yield_bad_input_and_virtual_metrology():
    X, y = _wafers(200)
    with pytest.raises(ModelError, match="0/1"):
        YieldPassFailModel().fit(X, y * 2 + 1)
    with pytest.raises(ModelError, match="fails"):
        YieldPassFailModel().fit(X, np.zeros(len(X)))
    with pytest.raises(ModelError, match="constant or mostly missing"):
        YieldPassFailModel().fit(X[["CONST", "MOSTLY_NAN"]], y)
    thickness = 100 + 5 * X["S5.main.mean"] + np.random.default_rng(1).normal(0, 0.5, len(X))
    vm = VirtualMetrologyModel(n_estimators=200).fit(X.iloc[:150], thickness[:150])
    err = np.sqrt(np.mean((vm.predict(X.iloc[150:]) - thickness[150:]) ** 2))
    assert err < 0.5 * thickness.std()
    with pytest.raises(ModelError, match="finite"):
        VirtualMetrologyModel().fit(X, np.full(len(X), np.nan))


def test_context_encoding_is_cross_fitted_and_helps():
    from fabmind.models.quality_context import ContextEncoder

    rng = np.random.default_rng(3)
    n = 900
    coil = rng.integers(0, 30, n)
    coil_kind = rng.integers(0, 3, 30)  # each coil mostly repeats one defect kind
    kind = np.where(rng.random(n) < 0.7, coil_kind[coil], rng.integers(0, 3, n))
    X = pd.DataFrame({"coil": coil, "size": rng.normal(size=n) + 0.6 * kind, "lum": rng.normal(size=n)})
    y = np.array(["bump", "scratch", "stain"])[kind]
    tr, te = slice(0, 600), slice(600, None)
    plain = DefectClassifier(n_estimators=100, num_leaves=7, calibration="none").fit(X[["size", "lum"]][tr], y[tr])
    ctx = DefectClassifier(n_estimators=100, num_leaves=7, context=[("coil",)]).fit(X[tr], y[tr])
    acc_plain = (plain.predict(X[["size", "lum"]][te]) == y[te]).mean()
    acc_ctx = (ctx.predict(X[te]) == y[te]).mean()
    assert acc_ctx > acc_plain + 0.1, (acc_ctx, acc_plain)
    assert any(c.feature.startswith("ctx(coil)=") for c in ctx.explain(X[te].iloc[:5])[0].contributions)
    # a context unique to each row carries no label of its own row into training (cross-fitting)
    enc = ContextEncoder([("row",)], 3, alpha=5.0)
    out = enc.fit_transform(pd.DataFrame({"row": np.arange(60)}), kind[:60])
    assert np.allclose(out.iloc[:, :3].to_numpy(), enc.prior_) and (out.iloc[:, 3] == 0).all()


def test_context_bad_input_and_round_trip(tmp_path):
    rng = np.random.default_rng(4)
    X = pd.DataFrame({"coil": rng.integers(0, 5, 120), "size": rng.normal(size=120)})
    y = np.where(X["size"] > 0, "a", "b")
    with pytest.raises(ModelError, match=r"context columns \['grade'\]"):
        DefectClassifier(n_estimators=20, context=[("coil", "grade")]).fit(X, y)
    with pytest.raises(ModelError, match="alpha"):
        DefectClassifier(n_estimators=20, context=[("coil",)], context_alpha=0).fit(X, y)
    m = DefectClassifier(n_estimators=20, context=[("coil",)]).fit(X, y)
    unseen = X.assign(coil=99)  # a coil never seen in training: prior frequencies, still a prediction
    assert m.predict_proba(unseen).shape == (120, 2)
    back = SmallModel.load(m.save(tmp_path / "ctx.pkl"))
    assert np.allclose(back.predict_proba(X), m.predict_proba(X))


def test_yield_recency_weights_and_stumps():
    """``sample_weight`` lets recent wafers dominate after a drift: the relation flips half-way."""
    from sklearn.metrics import roc_auc_score

    X, y = _wafers(800)
    y = y.copy()
    y[:400] = (X["S5.main.mean"].iloc[:400] > 1.2).astype(int)  # old regime: another sensor drove fails
    age = np.arange(600)[::-1]
    stumps = dict(n_estimators=200, num_leaves=2, reg_lambda=10.0, max_features=None)
    plain = YieldPassFailModel(**stumps).fit(X.iloc[:600], y[:600])
    recent = YieldPassFailModel(**stumps).fit(X.iloc[:600], y[:600], sample_weight=0.5 ** (age / 50))
    assert recent.get_params()["reg_lambda"] == 10.0
    auc_plain = roc_auc_score(y[600:], plain.score(X.iloc[600:]))
    auc_recent = roc_auc_score(y[600:], recent.score(X.iloc[600:]))
    assert auc_recent > auc_plain, (auc_recent, auc_plain)
    with pytest.raises(ModelError, match="sample_weight"):
        YieldPassFailModel().fit(X, y, sample_weight=-np.ones(len(X)))
