"""Checks every small model must pass (clone, save/load, reproducibility, schema, bad input).

Add a model to ``tests/models/_contract_cases.py`` to run it through all of these.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _contract_cases import ANOMALY_IDS, CASES
from sklearn.base import clone

from fabmind.models.base import Explanation, FeatureSchemaError, ModelError, NotFittedError, SmallModel

pytestmark = pytest.mark.timeout(60)


def _output(model, X):
    return model.predict(X) if not hasattr(model, "score") else model.score(X)


@pytest.fixture(params=CASES, ids=[c.id for c in CASES])
def case(request):
    return request.param


@pytest.fixture
def fitted(case):
    X, y, ev = case.data(0)
    return case.make().fit(X, y), X, y, ev


def test_is_a_small_model_with_family_and_name(case):
    model = case.make()
    assert isinstance(model, SmallModel)
    assert model.family and model.name


def test_clone_gives_unfitted_twin_with_same_params(fitted):
    model, X, y, ev = fitted
    twin = clone(model)
    assert twin.get_params(deep=False).keys() == model.get_params(deep=False).keys()
    assert repr(twin) == repr(model)
    with pytest.raises(NotFittedError):
        twin.score(ev)
    np.testing.assert_allclose(twin.fit(X, y).score(ev), model.score(ev))


def test_save_load_round_trip(fitted, tmp_path):
    model, X, y, ev = fitted
    path = model.save(tmp_path / "m.pkl")
    loaded = SmallModel.load(path)
    np.testing.assert_allclose(loaded.score(ev), model.score(ev))
    assert loaded.metadata.version == model.metadata.version != ""
    assert loaded.metadata.features == list(X.columns)
    assert (tmp_path / "m.json").exists()


def test_seeded_fit_is_reproducible(case):
    X, y, ev = case.data(0)
    a = case.make().fit(X, y).score(ev)
    b = case.make().fit(X, y).score(ev)
    np.testing.assert_array_equal(a, b)


def test_missing_and_extra_features_are_named(fitted):
    model, X, y, ev = fitted
    with pytest.raises(FeatureSchemaError) as err:
        model.score(ev.drop(columns=[ev.columns[0]]).assign(NEW_SENSOR=1.0))
    assert err.value.missing == [ev.columns[0]] and err.value.extra == ["NEW_SENSOR"]
    assert ev.columns[0] in str(err.value) and "NEW_SENSOR" in str(err.value)


def test_reordered_columns_are_accepted(fitted):
    model, X, y, ev = fitted
    np.testing.assert_allclose(model.score(ev[ev.columns[::-1]]), model.score(ev))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_and_inf_are_refused_or_handled(fitted, bad):
    model, X, y, ev = fitted
    ev = ev.copy()
    ev.iloc[3, 1] = bad
    if model.allow_nan:
        assert np.isfinite(model.score(ev)).all()
    else:
        with pytest.raises(ModelError, match=str(ev.columns[1])):
            model.score(ev)
        with pytest.raises(ModelError):
            case_x = X.copy()
            case_x.iloc[0, 0] = bad
            clone(model).fit(case_x, y)


def test_too_few_samples_is_a_clear_error(case):
    X, y, _ = case.data(0)
    n = max(case.make().min_samples - 1, 1)
    with pytest.raises(ModelError, match="samples"):
        case.make().fit(X.iloc[:n], None if y is None else y[:n])


def test_explain_returns_typed_contributions(fitted):
    model, X, y, ev = fitted
    expl = model.explain(ev.iloc[:5])
    assert len(expl) == 5 and all(isinstance(e, Explanation) for e in expl)
    feats = {c.feature for c in expl[0].contributions}
    assert feats <= set(X.columns) and feats


def test_anomaly_metric_floor(case):
    if case.id not in ANOMALY_IDS:
        pytest.skip("not an anomaly detector")
    X, _, ev = case.data(0)
    model = case.make().fit(X)
    alarm = model.predict(ev)
    assert alarm[20:].mean() >= 0.8, "misses a 4-sigma-of-noise shift"
    assert alarm[:10].mean() <= 0.2
    top = model.explain(ev.iloc[30:31])[0].top(1)[0]
    assert top.feature == "S5"  # the shifted sensor leads the explanation


def test_numpy_input_gets_positional_names(case):
    X, y, ev = case.data(0)
    model = case.make().fit(X.to_numpy(), y)
    assert list(model.feature_names_in_) == [f"x{i}" for i in range(X.shape[1])]
    assert len(model.score(ev.to_numpy())) == len(ev)
    with pytest.raises(FeatureSchemaError):
        model.score(pd.DataFrame(ev.to_numpy(), columns=ev.columns))
