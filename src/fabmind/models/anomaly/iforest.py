"""Isolation forest detector (scikit-learn) with a control limit from the training scores.

An isolation forest has no exact per-feature attribution; :meth:`explain` reports each
feature's standardised deviation from the training mean, shares proportional to z².

Example::

    >>> import numpy as np
    >>> from fabmind.models.anomaly import IForestDetector
    >>> rng = np.random.default_rng(0)
    >>> d = IForestDetector(random_state=0).fit(rng.normal(size=(400, 3)))
    >>> bool(d.predict(np.array([[6.0, -6.0, 6.0]]))[0])
    True
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd

from fabmind.models.anomaly.base import AnomalyDetector, explanations_from_shares, robust_spread
from fabmind.models.base import Explanation, ModelError


class IForestDetector(AnomalyDetector):
    """Isolation forest: score = ``-score_samples`` (higher = more isolated); limit = training quantile."""

    name: ClassVar[str] = "iforest"
    min_samples: ClassVar[int] = 10

    def __init__(self, n_estimators: int = 200, max_samples: int | str = "auto", confidence: float = 0.99,
                 random_state: int | None = 0):
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.confidence = confidence
        self.random_state = random_state

    def _fit(self, X: pd.DataFrame, y: Any, **fit_params: Any) -> None:
        from sklearn.ensemble import IsolationForest

        if not 0.5 < self.confidence < 1:
            raise ModelError(f"IForestDetector: confidence must be in (0.5, 1), got {self.confidence}")
        values = X.to_numpy(dtype=float)
        self.mean_ = values.mean(axis=0)
        self.spread_ = robust_spread(values.std(axis=0, ddof=1), self.mean_)
        self.forest_ = IsolationForest(
            n_estimators=self.n_estimators, max_samples=self.max_samples, random_state=self.random_state
        ).fit(values)
        train = -self.forest_.score_samples(values)
        self.threshold_ = float(np.quantile(train, self.confidence))

    def _score(self, X: pd.DataFrame) -> np.ndarray:
        return -self.forest_.score_samples(X.to_numpy(dtype=float))

    def _explain_rows(self, df: pd.DataFrame, rows: np.ndarray, scores: np.ndarray) -> list[Explanation]:
        values = df.to_numpy(dtype=float)[rows]
        z2 = ((values - self.mean_) / self.spread_) ** 2
        total = z2.sum(axis=1, keepdims=True)
        shares = np.divide(z2, total, out=np.zeros_like(z2), where=total > 0)
        return explanations_from_shares(shares, values, self.mean_, self.spread_,
                                        list(self.feature_names_in_), rows, scores)
