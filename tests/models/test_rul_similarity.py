"""SimilarityRUL (fabmind.models.rul_similarity): trajectory-similarity RUL on a synthetic degradation set."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fabmind.models.base import ModelError
from fabmind.models.rul_similarity import SimilarityRUL, histories


def _engine(rng: np.random.Generator, life: int) -> np.ndarray:
    """Three sensors that drift exponentially towards failure (engine-specific rate), one pure-noise sensor."""
    t = np.arange(life) / life
    wear = np.exp(rng.uniform(3.0, 5.0) * (t - 1.0))
    noise = rng.normal(0.0, 0.05, size=(life, 4))
    return np.c_[wear, -0.5 * wear, 2.0 * wear, np.zeros(life)] + noise


@pytest.fixture(scope="module")
def fleet():
    rng = np.random.default_rng(0)
    lib = [_engine(rng, int(n)) for n in rng.integers(120, 240, 40)]
    tests = [_engine(rng, int(n)) for n in rng.integers(120, 240, 25)]
    return lib, tests, rng


def test_beats_predicting_the_mean(fleet):
    lib, tests, _ = fleet
    rng = np.random.default_rng(1)
    cuts = [int(rng.integers(40, len(e) - 5)) for e in tests]
    truth = np.array([len(e) - c for e, c in zip(tests, cuts)], dtype=float)
    for kw in ({}, {"smooth": "quad"}, {"smooth": "ewm", "hi_target": "capped"}, {"rul_cap": 100.0}):
        m = SimilarityRUL(window=40, k=5, **kw).fit(lib)
        pred = m.predict([e[:c] for e, c in zip(tests, cuts)])
        target = np.minimum(truth, kw.get("rul_cap", np.inf))
        rmse = np.sqrt(np.mean((pred - target) ** 2))
        # the best constant the library offers: its mean remaining life over the same kind of cut
        const = np.mean([np.minimum(np.arange(len(e) - 40, 4, -1), kw.get("rul_cap", np.inf)).mean() for e in lib])
        baseline = np.sqrt(np.mean((const - target) ** 2))
        assert rmse < 0.6 * baseline, (kw, rmse, baseline)


def test_rul_falls_along_a_life_and_health_index_orders_healthy_above_failed(fleet):
    lib, tests, _ = fleet
    m = SimilarityRUL(window=40, k=5).fit(lib)
    e = tests[0]
    pred = m.predict([e[:c] for c in range(40, len(e) + 1, 10)])
    assert pred[0] > pred[-1] + 30
    assert np.corrcoef(np.arange(len(pred)), pred)[0, 1] < -0.8
    hi = m.health_index(e)
    assert hi[:20].mean() > hi[-10:].mean() + 0.5


@pytest.mark.parametrize("smooth", ["exp", "ewm"])
def test_causal_future_cycles_do_not_change_a_past_prediction(fleet, smooth):
    lib, tests, _ = fleet
    m = SimilarityRUL(window=30, k=5, smooth=smooth).fit(lib)
    e = tests[1]
    t = len(e) - 40
    before = m.predict([e[:t]])[0]
    changed = e.copy()
    changed[t:] += 5.0  # a wildly different future
    assert m.predict([changed[:t]])[0] == before
    # the prediction at t is the same whether made alone or in a batch with the full history
    both = m.predict([e[:t], e])
    assert both[0] == before and both[1] != before


def test_clear_errors(fleet):
    lib, tests, _ = fleet
    with pytest.raises(ModelError, match="fit"):
        SimilarityRUL().predict([tests[0]])
    m = SimilarityRUL(window=30, k=5, min_history=10).fit(lib)
    with pytest.raises(ModelError, match="at least 10"):
        m.predict([tests[0][:5]])
    bad = tests[0][:50].copy()
    bad[7, 2] = np.nan
    with pytest.raises(ModelError, match="NaN"):
        m.predict([bad])
    with pytest.raises(ModelError, match="sensors"):
        m.predict([tests[0][:50, :3]])
    with pytest.raises(ModelError, match="fewer than k"):
        SimilarityRUL(k=50).fit(lib)
    with pytest.raises(ModelError, match="weight"):
        SimilarityRUL(weight="gauss")
    with pytest.raises(ModelError, match="NaN"):
        SimilarityRUL(k=2).fit([lib[0], lib[1], np.full((30, 4), np.nan)])


def test_histories_from_a_long_frame(fleet):
    lib, _, _ = fleet
    rows = [pd.DataFrame({"unit": u, "cycle": np.arange(len(e)) + 1, **{f"s{j}": e[:, j] for j in range(4)}})
            for u, e in enumerate(lib[:3])]
    frame = pd.concat(rows).sample(frac=1.0, random_state=0)  # shuffled rows: sorted back by cycle
    h = histories(frame, unit="unit", order="cycle", sensors=[f"s{j}" for j in range(4)])
    got = sorted(h, key=len)
    want = sorted(lib[:3], key=len)
    assert all(np.allclose(a, b) for a, b in zip(got, want))
    with pytest.raises(ModelError, match="not in the frame"):
        histories(frame, unit="unit", order="cycle", sensors=["s9"])
