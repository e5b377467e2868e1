"""FDC indicators from traces: exact per-step statistics, names, missing steps."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from fabmind.domain import RunTrace
from fabmind.models.base import ModelError
from fabmind.models.features import causal_smooth, fdc_indicators


def _trace(run_id: str, values, steps, sensors=("RF", "P"), dt=2.0) -> RunTrace:
    return RunTrace(run_id=run_id, chamber_id="ETCH-01/A", start=datetime(2026, 1, 1), dt_s=dt, sensors=sensors,
                    values=np.asarray(values, dtype=np.float32), step_index=np.asarray(steps, dtype=np.uint8))


def test_per_step_mean_std_slope_match_numpy():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(30, 2))
    steps = np.repeat([0, 1, 2], 10)
    tr = _trace("R1", v, steps)
    ind = fdc_indicators([tr], step_names=("stab", "main", "oe"))
    v32 = v.astype(np.float32).astype(float)
    seg = v32[10:20, 0]
    t = np.arange(10, 20) * 2.0
    assert ind.loc["R1", "RF.main.mean"] == pytest.approx(seg.mean())
    assert ind.loc["R1", "RF.main.std"] == pytest.approx(seg.std())
    assert ind.loc["R1", "RF.main.slope"] == pytest.approx(np.polyfit(t, seg, 1)[0])
    assert ind.shape == (1, 2 * 3 * 3)


def test_columns_name_sensor_step_stat_and_missing_steps_are_nan():
    a = _trace("A", np.ones((4, 2)), [0, 0, 1, 1])
    b = _trace("B", np.ones((2, 2)), [0, 0])
    ind = fdc_indicators([a, b])
    assert "RF.step1.mean" in ind.columns and np.isnan(ind.loc["B", "RF.step1.mean"])
    assert ind.loc["A", "P.step0.std"] == 0.0 and ind.index.name == "run_id"


def test_single_sample_step_has_zero_std_and_slope():
    ind = fdc_indicators([_trace("A", [[1, 2], [3, 4]], [0, 1])], stats=("std", "slope"))
    assert (ind.to_numpy() == 0).all()


def test_errors_name_the_problem():
    with pytest.raises(ModelError, match="no traces"):
        fdc_indicators([])
    with pytest.raises(ModelError, match="kurtosis"):
        fdc_indicators([_trace("A", [[1, 2]], [0])], stats=("kurtosis",))


def test_causal_smooth_has_no_look_ahead():
    import pandas as pd

    X = pd.DataFrame({"a": [0.0, 0, 0, 9]})
    assert causal_smooth(X, 2)["a"].tolist() == [0, 0, 0, 4.5]
