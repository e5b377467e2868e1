"""Online detector for one sensor stream (no training phase): rolling z-score plus range breakout.

For a value ``x_t`` it uses only earlier values: ``z = |x_t - mean| / std`` over the last ``window``
values, plus ``breakout_weight`` x how far ``x_t`` leaves the [min, max] range seen so far (relative
to that range). The score ``z / (z + 3)`` lies in [0, 1). A score is reported only when it is a new
high over the last ``suppress`` records (an ongoing excursion alarms once), and is 0 during the
first ``probation`` records. ``score_series`` is the vectorised form; ``update`` its per-record twin.

Example::

    >>> import numpy as np
    >>> from fabmind.models.anomaly.univariate import RangeZDetector
    >>> x = np.r_[np.sin(np.arange(300) / 5.0), 6.0, np.sin(np.arange(50) / 5.0)]
    >>> s = RangeZDetector(probation=50).score_series(x)
    >>> int(np.argmax(s)), bool(s.max() > 0.9)
    (300, True)
"""

from __future__ import annotations

from collections import deque

import numpy as np
import pandas as pd


class RangeZDetector:
    def __init__(self, window: int = 400, min_history: int = 20, breakout_weight: float = 3000.0,
                 suppress: int = 100, probation: int = 0):
        self.window = window
        self.min_history = min_history
        self.breakout_weight = breakout_weight
        self.suppress = suppress
        self.probation = probation
        self.reset()

    def reset(self) -> None:
        self._hist: deque[float] = deque(maxlen=self.window)
        self._raw: deque[float] = deque(maxlen=max(self.suppress, 1))
        self._n = 0
        self._hi = -np.inf
        self._lo = np.inf

    def _raw_score(self, z: float, brk: float) -> float:
        z = min(z + self.breakout_weight * brk, 1e6)
        return z / (z + 3.0)

    def update(self, x: float) -> float:
        """Score the next value of the stream (uses only the values seen before it)."""
        z = brk = 0.0
        if len(self._hist) >= self.min_history:
            h = np.fromiter(self._hist, float)
            m, sd = h.mean(), h.std(ddof=1)
            z = abs(x - m) / (sd + 1e-9 * (1 + abs(m)))
        if self._n >= self.min_history:
            brk = max(x - self._hi, self._lo - x, 0.0) / (self._hi - self._lo + 1e-9)
        raw = self._raw_score(z, brk) if self._n >= self.probation else 0.0
        prev = max(self._raw) if self._raw else 0.0
        out = raw if (self.suppress <= 0 or raw > prev) else 0.0
        self._raw.append(raw)
        self._hist.append(x)
        self._hi, self._lo = max(self._hi, x), min(self._lo, x)
        self._n += 1
        return out

    def score_series(self, values: np.ndarray) -> np.ndarray:
        """Vectorised scores of a whole stream; equal to calling :meth:`update` on each value in order."""
        s = pd.Series(np.asarray(values, dtype=float))
        z = rolling_z(s, self.window, self.min_history)
        brk = breakout(s, s.expanding(self.min_history).max().shift(1), s.expanding(self.min_history).min().shift(1))
        zz = np.minimum(z + self.breakout_weight * brk, 1e6)
        raw = zz / (zz + 3.0)
        raw[: self.probation] = 0.0
        return new_highs(raw, self.suppress)


# ---- vectorised pieces shared by the streaming detectors (each value scored on the values before it)
def rolling_z(s: pd.Series, window: int, min_history: int) -> np.ndarray:
    """|x - mean| / std of the previous ``window`` values (0 until ``min_history`` of them)."""
    m = s.rolling(window, min_periods=min_history).mean().shift(1)
    sd = s.rolling(window, min_periods=min_history).std().shift(1)
    return ((s - m).abs() / (sd + 1e-9 * (1 + m.abs()))).fillna(0.0).to_numpy()


def breakout(s: pd.Series, hi: pd.Series, lo: pd.Series) -> np.ndarray:
    """How far each value leaves the range ``[lo, hi]`` seen before it, in units of that range (0 inside)."""
    return (np.maximum(s - hi, lo - s) / (hi - lo + 1e-9)).clip(lower=0).fillna(0.0).to_numpy()


def new_highs(raw: np.ndarray, suppress: int) -> np.ndarray:
    """Keep a score only where it beats every score of the previous ``suppress`` records (0 elsewhere)."""
    if suppress <= 0:
        return raw
    prev = pd.Series(raw).rolling(suppress, min_periods=1).max().shift(1).fillna(0.0).to_numpy()
    return np.where(raw > prev, raw, 0.0)
