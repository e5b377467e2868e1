"""Causal window indicators of raw streaming readings: per-sensor moving mean and moving spread.

A fault on a pump rig or a chamber often shows first in how much a reading *moves* (cavitation,
imbalance, a sticking valve) rather than in its level; a monitor fed only the (smoothed) level misses
it and one fed single raw readings drowns it in noise. :func:`window_indicators` turns readings
``[time, sensor]`` into ``<sensor>.mean`` and ``<sensor>.std`` over the last ``window`` rows, the
streaming counterpart of the run-level FDC indicators (``<SENSOR>.<step>.<stat>``), so contributions
still map to sensors (:func:`fabmind.models.anomaly.alarms.sensor_of`).

Causal: a row only sees itself and the ``window - 1`` rows before it. The first ``window - 1`` rows
have no full window: they are NaN (drop them before fitting; a monitor fed them would raise), unless
``partial=True`` computes them on the rows there are. Rows must be in time order.

Example::

    >>> import numpy as np, pandas as pd
    >>> from fabmind.models.anomaly.windows import window_indicators
    >>> X = pd.DataFrame({"P": [1.0, 3.0, 5.0, 7.0]})
    >>> window_indicators(X, 2).round(2).to_dict("list")
    {'P.mean': [nan, 2.0, 4.0, 6.0], 'P.std': [nan, 1.0, 1.0, 1.0]}
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from fabmind.models.base import ModelError

WINDOW_STATS = ("mean", "std")


def window_indicators(X: pd.DataFrame, window: int, stats: Sequence[str] = WINDOW_STATS,
                      partial: bool = False) -> pd.DataFrame:
    """Moving ``mean`` and/or ``std`` (population) of every column over the last ``window`` rows."""
    if int(window) < 1:
        raise ModelError(f"window_indicators: window must be >= 1 row, got {window}")
    unknown = [s for s in stats if s not in WINDOW_STATS]
    if unknown or not stats:
        raise ModelError(f"window_indicators: stats must be a non-empty subset of {WINDOW_STATS}, got {list(stats)}")
    roll = X.rolling(int(window), min_periods=1 if partial else int(window))
    parts = {"mean": lambda: roll.mean(), "std": lambda: roll.std(ddof=0)}
    frames = [parts[s]().add_suffix(f".{s}") for s in stats]
    out = pd.concat(frames, axis=1)
    order = [f"{c}.{s}" for c in X.columns for s in stats]
    return out[order]
