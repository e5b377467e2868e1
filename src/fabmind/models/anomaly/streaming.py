"""Streaming per-sensor control charts for early warning: EWMA and tabular CUSUM.

Both learn each sensor's normal mean and spread in ``fit``; ``score`` runs the chart over a
time-ordered batch (vectorised over sensors, and over time for EWMA) starting from a fresh
state, and returns the worst sensor's statistic divided by its limit (alarm at >= 1).
``stream()`` returns the per-reading twin that carries the state between calls.

Example::

    >>> import numpy as np
    >>> from fabmind.models.anomaly import EWMAMonitor
    >>> rng = np.random.default_rng(1)
    >>> m = EWMAMonitor(lam=0.2).fit(rng.normal(size=(500, 2)))
    >>> drift = rng.normal(size=(60, 2)); drift[20:, 1] += 1.5
    >>> int(np.argmax(m.predict(drift))) >= 20, m.explain(drift)[-1].top(1)[0].feature
    (True, 'x1')
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd

from fabmind.models.anomaly.base import AnomalyDetector, explanations_from_shares, robust_spread
from fabmind.models.base import Explanation, ModelError


class _ChartBase(AnomalyDetector):
    min_samples: ClassVar[int] = 10

    def _fit(self, X: pd.DataFrame, y: Any, **fit_params: Any) -> None:
        self._check_params()
        values = X.to_numpy(dtype=float)
        self.mean_ = values.mean(axis=0)
        self.spread_ = robust_spread(values.std(axis=0, ddof=1), self.mean_)
        self.threshold_ = 1.0

    def _check_params(self) -> None:
        pass

    def chart(self, X: Any) -> pd.DataFrame:
        """Per-sensor chart statistic divided by its limit (|value| >= 1 is out of control)."""
        df = self._validate(X, fitting=False)
        return pd.DataFrame(self._chart(df.to_numpy(dtype=float)), index=df.index,
                            columns=list(self.feature_names_in_))

    def _chart(self, values: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _score(self, X: pd.DataFrame) -> np.ndarray:
        return np.abs(self._chart(X.to_numpy(dtype=float))).max(axis=1)

    def _explain_rows(self, df: pd.DataFrame, rows: np.ndarray, scores: np.ndarray) -> list[Explanation]:
        values = df.to_numpy(dtype=float)
        c = np.abs(self._chart(values))[rows]
        total = c.sum(axis=1, keepdims=True)
        shares = np.divide(c, total, out=np.zeros_like(c), where=total > 0)
        return explanations_from_shares(shares, values[rows], self.mean_, self.spread_,
                                        list(self.feature_names_in_), rows, scores)


class EWMAMonitor(_ChartBase):
    """EWMA chart per sensor: ``e_t = lam*z_t + (1-lam)*e_{t-1}``, limit ``L*sqrt(lam/(2-lam))``."""

    name: ClassVar[str] = "ewma"

    def __init__(self, lam: float = 0.2, L: float = 3.0):
        self.lam = lam
        self.L = L

    def _check_params(self) -> None:
        if not 0 < self.lam <= 1:
            raise ModelError(f"EWMAMonitor: lam must be in (0, 1], got {self.lam}")

    @property
    def _limit(self) -> float:
        return self.L * np.sqrt(self.lam / (2 - self.lam))

    def _chart(self, values: np.ndarray) -> np.ndarray:
        from scipy.signal import lfilter

        z = (values - self.mean_) / self.spread_
        e = lfilter([self.lam], [1.0, -(1 - self.lam)], z, axis=0)
        return e / self._limit

    def stream(self) -> EWMAStream:
        self._check_fitted()
        return EWMAStream(self)


class CUSUMMonitor(_ChartBase):
    """Two-sided tabular CUSUM per sensor with reference ``k`` and decision interval ``h`` (sigmas).

    The chart value is ``max(C+, C-) / h`` signed by the side that is larger.
    """

    name: ClassVar[str] = "cusum"

    def __init__(self, k: float = 0.5, h: float = 5.0):
        self.k = k
        self.h = h

    def _check_params(self) -> None:
        if self.h <= 0 or self.k < 0:
            raise ModelError(f"CUSUMMonitor: need h > 0 and k >= 0, got h={self.h}, k={self.k}")

    def _chart(self, values: np.ndarray) -> np.ndarray:
        z = (values - self.mean_) / self.spread_
        out = np.empty_like(z)
        hi = np.zeros(z.shape[1])
        lo = np.zeros(z.shape[1])
        for t in range(len(z)):  # the max(0, .) recursion is not linear: loop over time only
            hi = np.maximum(0.0, hi + z[t] - self.k)
            lo = np.maximum(0.0, lo - z[t] - self.k)
            out[t] = np.where(hi >= lo, hi, -lo)
        return out / self.h

    def stream(self) -> CUSUMStream:
        self._check_fitted()
        return CUSUMStream(self)


class EWMAStream:
    """Per-reading EWMA: ``update(x)`` returns the worst sensor's |EWMA|/limit."""

    def __init__(self, model: EWMAMonitor):
        self._mean, self._inv = model.mean_, 1.0 / model.spread_
        self._lam, self._lim = model.lam, model._limit
        self.state = np.zeros(len(model.mean_))

    def update(self, x: np.ndarray) -> float:
        z = (np.asarray(x, dtype=float) - self._mean) * self._inv
        self.state = self._lam * z + (1 - self._lam) * self.state
        return float(np.abs(self.state).max() / self._lim)


class CUSUMStream:
    """Per-reading CUSUM: ``update(x)`` returns the worst sensor's max(C+, C-)/h."""

    def __init__(self, model: CUSUMMonitor):
        self._mean, self._inv = model.mean_, 1.0 / model.spread_
        self._k, self._h = model.k, model.h
        self.hi = np.zeros(len(model.mean_))
        self.lo = np.zeros(len(model.mean_))

    def update(self, x: np.ndarray) -> float:
        z = (np.asarray(x, dtype=float) - self._mean) * self._inv
        self.hi = np.maximum(0.0, self.hi + z - self._k)
        self.lo = np.maximum(0.0, self.lo - z - self._k)
        return float(max(self.hi.max(), self.lo.max()) / self._h)
