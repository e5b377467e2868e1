"""The pattern classifier on a small simulated set: accuracy, probabilities, novelty, the model contract."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fabmind.models.base import FeatureSchemaError, ModelError, SmallModel
from fabmind.models.defect_map_features import FEATURE_NAMES, binned_features, map_features
from fabmind.models.defect_maps import UNKNOWN, DefectPatternClassifier
from fabmind.sim.defect_maps import NOVEL_PATTERNS, PATTERNS, WAFER_300, generate_map, simulate_maps


@pytest.fixture(scope="module")
def held_out(pattern_maps):
    _, test = pattern_maps
    return test, map_features(test)


def test_classifies_held_out_maps(pattern_classifier, held_out):
    maps, X = held_out
    preds = pattern_classifier.classify(X, [m.substrate_id for m in maps])
    truth = np.array([m.pattern for m in maps])
    got = np.array([p.pattern for p in preds])
    assert np.mean(got == truth) > 0.88
    for pattern in PATTERNS:  # every class is learnt, not only the easy ones
        assert np.mean(got[truth == pattern] == pattern) > 0.6, pattern
    proba = pattern_classifier.predict_proba(X)
    assert proba.shape == (len(maps), len(PATTERNS)) and np.allclose(proba.sum(axis=1), 1)
    assert np.allclose(pattern_classifier.score(X), proba.max(axis=1))
    assert all(p.probability == pytest.approx(max(p.probabilities.values())) for p in preds)


def test_mixed_maps_name_their_components(pattern_classifier, held_out):
    maps, X = held_out
    preds = pattern_classifier.classify(X)
    overlap = [len(set(p.components) & set(m.components)) / 2 for p, m in zip(preds, maps)
               if m.pattern == "mixed" and p.pattern == "mixed"]
    assert len(overlap) > 20 and np.mean(overlap) > 0.6
    singles = [p for p, m in zip(preds, maps) if p.pattern not in ("mixed", "none")]
    assert all(p.components == (p.pattern,) for p in singles)


def test_novel_patterns_are_flagged_not_forced(pattern_classifier, held_out):
    _, X = held_out
    novel = simulate_maps(120, seed=23, patterns=NOVEL_PATTERNS)
    known_scores = pattern_classifier.novelty_score(X)
    novel_scores = pattern_classifier.novelty_score(map_features(novel))
    from sklearn.metrics import roc_auc_score

    auc = roc_auc_score(np.r_[np.zeros(len(known_scores)), np.ones(len(novel_scores))], np.r_[known_scores, novel_scores])
    assert auc > 0.85
    labels = pattern_classifier.predict(map_features(novel))
    assert np.mean(labels == UNKNOWN) > 0.3
    assert np.mean(pattern_classifier.predict(X) == UNKNOWN) < 0.08  # few known maps flagged
    sparse = generate_map("none", np.random.default_rng(0), WAFER_300, background=1.0)
    assert not pattern_classifier.classify_maps([sparse])[0].is_novel  # a handful of defects is no pattern


def test_contract_save_load_schema_and_explain(pattern_classifier, held_out, tmp_path):
    _, X = held_out
    path = pattern_classifier.save(tmp_path / "pattern.pkl")
    again = SmallModel.load(path)
    assert np.array_equal(again.predict_proba(X.iloc[:20]), pattern_classifier.predict_proba(X.iloc[:20]))
    assert (tmp_path / "pattern.json").exists() and again.metadata.name == "defect_pattern"
    with pytest.raises(FeatureSchemaError, match="log_n"):
        pattern_classifier.predict_proba(X.drop(columns=["log_n"]))
    ex = pattern_classifier.explain(X.iloc[:3])
    assert len(ex) == 3 and all(len(e.contributions) == pattern_classifier.top for e in ex)
    assert all(c.feature in FEATURE_NAMES for e in ex for c in e.contributions)
    assert abs(ex[0].contributions[0].contribution) >= abs(ex[0].contributions[-1].contribution)


def test_fitting_is_seeded_and_validates_labels(pattern_maps):
    train, _ = pattern_maps
    small = train[:360]
    X = map_features(small)
    y = [m.pattern for m in small]
    a = DefectPatternClassifier(n_estimators=20, random_state=3).fit(X, y)
    b = DefectPatternClassifier(n_estimators=20, random_state=3).fit(X, y)
    assert np.array_equal(a.predict_proba(X), b.predict_proba(X))
    with pytest.raises(ModelError, match="labels"):
        DefectPatternClassifier().fit(X)
    with pytest.raises(ModelError, match="2 patterns"):
        DefectPatternClassifier().fit(X, ["none"] * len(X))


def test_features_do_not_change_when_the_wafer_turns():
    rng = np.random.default_rng(8)
    for pattern in ("edge_loc", "scratch", "cluster", "mixed"):
        counts = generate_map(pattern, rng, WAFER_300).binned()
        f = binned_features(np.stack([counts, np.rot90(counts), np.rot90(counts, 2)]), ["wafer"] * 3)
        assert np.allclose(f[0], f[1], atol=1e-3) and np.allclose(f[0], f[2], atol=1e-3), pattern
    empty = binned_features(np.zeros((1, 64, 64)), ["glass"])
    assert np.isfinite(empty).all()
    assert list(map_features([]).columns) == list(FEATURE_NAMES)
    assert isinstance(map_features(simulate_maps(3)), pd.DataFrame)
