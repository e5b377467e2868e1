"""Run-level FDC indicators from sensor traces: per recipe step, per sensor, mean / std / slope.

One row per run (indexed by ``run_id``), columns ``"<SENSOR>.<step>.<stat>"``. This is the
table the run-level FDC models (:class:`~fabmind.models.anomaly.MSPC` ...) are trained on.

Example::

    >>> import numpy as np
    >>> from datetime import datetime
    >>> from fabmind.domain import RunTrace
    >>> from fabmind.models.features import fdc_indicators
    >>> v = np.array([[1, 10], [2, 10], [3, 10], [5, 20]], dtype=np.float32)
    >>> tr = RunTrace(run_id="R1", chamber_id="ETCH-01/A", start=datetime(2026, 1, 1), dt_s=1.0,
    ...               sensors=("RF", "P"), values=v, step_index=np.array([0, 0, 0, 1], dtype=np.uint8))
    >>> fdc_indicators([tr], step_names=("stab", "main")).loc["R1", ["RF.stab.mean", "RF.stab.slope", "P.main.mean"]].tolist()
    [2.0, 1.0, 20.0]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from fabmind.domain import RunTrace
from fabmind.models.base import ModelError

STATS = ("mean", "std", "slope")


def step_stats(trace: RunTrace, stats: Sequence[str] = STATS) -> tuple[np.ndarray, np.ndarray]:
    """``(steps, table)``: the step indices present and a [n_steps, n_sensors, n_stats] array.

    std is the population std within the step (0 for a one-sample step); slope is the least-squares
    slope against time in seconds (sensor unit per second; 0 for a one-sample step).
    """
    unknown = [s for s in stats if s not in STATS]
    if unknown:
        raise ModelError(f"fdc_indicators: unknown statistics {unknown}; choose from {list(STATS)}")
    v = np.asarray(trace.values, dtype=float)
    idx = np.asarray(trace.step_index, dtype=np.int64)
    steps, inv = np.unique(idx, return_inverse=True)
    onehot = np.zeros((len(steps), len(v)))
    onehot[inv, np.arange(len(v))] = 1.0
    n = onehot.sum(axis=1)[:, None]
    t = np.arange(len(v), dtype=float) * trace.dt_s
    s_v = onehot @ v
    mean = s_v / n
    out = []
    for stat in stats:
        if stat == "mean":
            out.append(mean)
        elif stat == "std":
            var = onehot @ (v * v) / n - mean**2
            out.append(np.sqrt(np.maximum(var, 0.0)))
        else:
            t_mean = (onehot @ t)[:, None] / n
            s_tt = (onehot @ (t * t))[:, None] - n * t_mean**2
            s_tv = onehot @ (v * t[:, None]) - n * t_mean * mean
            out.append(np.divide(s_tv, s_tt, out=np.zeros_like(s_tv), where=s_tt > 1e-12))
    return steps, np.stack(out, axis=-1)


def fdc_indicators(
    traces: Sequence[RunTrace],
    step_names: Sequence[str] | Mapping[str, Sequence[str]] | None = None,
    stats: Sequence[str] = STATS,
) -> pd.DataFrame:
    """Indicators of many runs: one row per ``run_id``, columns ``"<SENSOR>.<step>.<stat>"``.

    ``step_names`` names the recipe steps (index -> name), either once for all runs or per run id;
    without names steps are called ``step0``, ``step1`` ... Runs missing a step or a sensor get
    NaN in those columns (models then refuse or impute, as their family documents).
    """
    if not traces:
        raise ModelError("fdc_indicators: no traces given")
    rows: list[dict[str, float]] = []
    index: list[str] = []
    columns: dict[str, None] = {}
    for tr in traces:
        names = step_names.get(tr.run_id) if isinstance(step_names, Mapping) else step_names
        steps, table = step_stats(tr, stats)
        labels = [names[s] if names is not None and s < len(names) else f"step{s}" for s in steps]
        cols = [f"{sensor}.{label}.{stat}" for label in labels for sensor in tr.sensors for stat in stats]
        row = dict(zip(cols, table.reshape(-1).tolist()))
        for c in cols:
            columns.setdefault(c, None)
        rows.append(row)
        index.append(tr.run_id)
    frame = pd.DataFrame.from_records(rows, index=pd.Index(index, name="run_id"), columns=list(columns))
    return frame


def causal_smooth(X: pd.DataFrame, window: int) -> pd.DataFrame:
    """Moving average of each column over the last ``window`` rows (no look-ahead; rows in time order)."""
    if window <= 1:
        return X
    return X.rolling(window, min_periods=1).mean()
