"""Combining detectors: each one's score is normalised by its own limit, then combined.

Rules: ``'any'`` (max of normalised scores: alarm when any detector alarms), ``'mean'``
(average normalised score), ``'vote'`` (alarm when at least ``min_votes`` detectors alarm;
the score is then the ``min_votes``-th largest normalised score).
The explanation comes from the detector with the largest normalised score on that row.

Example::

    >>> import numpy as np
    >>> from fabmind.models.anomaly import AnomalyEnsemble, MSPC, EWMAMonitor
    >>> rng = np.random.default_rng(2)
    >>> ens = AnomalyEnsemble([("mspc", MSPC(n_components=2)), ("ewma", EWMAMonitor())]).fit(rng.normal(size=(300, 3)))
    >>> bool(ens.predict(np.array([[0.0, 0.0, 9.0]]))[0])
    True
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd

from fabmind.models.anomaly.base import AnomalyDetector
from fabmind.models.base import Explanation, ModelError


class AnomalyEnsemble(AnomalyDetector):
    """Several detectors fitted on the same features, their normalised scores combined by ``rule``."""

    name: ClassVar[str] = "ensemble"
    min_samples: ClassVar[int] = 10

    def __init__(self, detectors: list[tuple[str, AnomalyDetector]], rule: str = "any", min_votes: int = 2):
        self.detectors = detectors
        self.rule = rule
        self.min_votes = min_votes

    def _fit(self, X: pd.DataFrame, y: Any, **fit_params: Any) -> None:
        from sklearn.base import clone

        if self.rule not in ("any", "mean", "vote"):
            raise ModelError(f"AnomalyEnsemble: rule must be 'any', 'mean' or 'vote', got {self.rule!r}")
        if not self.detectors:
            raise ModelError("AnomalyEnsemble: needs at least one detector")
        self.fitted_ = [(name, clone(d).fit(X)) for name, d in self.detectors]
        self.threshold_ = 1.0

    def _normalised(self, X: pd.DataFrame) -> np.ndarray:
        return np.column_stack([d._score(X) / d.threshold_ for _, d in self.fitted_])

    def _score(self, X: pd.DataFrame) -> np.ndarray:
        s = self._normalised(X)
        if self.rule == "any":
            return s.max(axis=1)
        if self.rule == "mean":
            return s.mean(axis=1)
        k = min(self.min_votes, s.shape[1])
        return np.sort(s, axis=1)[:, -k]

    def detector_scores(self, X: Any) -> pd.DataFrame:
        """Each detector's normalised score (1.0 = its control limit)."""
        df = self._validate(X, fitting=False)
        return pd.DataFrame(self._normalised(df), index=df.index, columns=[n for n, _ in self.fitted_])

    def _explain_rows(self, df: pd.DataFrame, rows: np.ndarray, scores: np.ndarray) -> list[Explanation]:
        s = self._normalised(df)
        lead = s[rows].argmax(axis=1)
        by_row: dict[int, Explanation] = {}
        for j in np.unique(lead):
            det = self.fitted_[j][1]
            mine = rows[lead == j]
            for e in det._explain_rows(df, mine, det._score(df)):
                by_row[e.row] = Explanation(row=e.row, output=float(scores[e.row]), contributions=e.contributions)
        return [by_row[int(r)] for r in rows]
