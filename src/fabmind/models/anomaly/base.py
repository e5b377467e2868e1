"""Base of the anomaly family: *high score = abnormal*, ``score >= threshold_`` is an alarm.

Subclasses write ``_fit`` (which sets ``threshold_``, the control limit learned from the
training data) and ``_score``; this base derives ``predict`` and ``detect`` (PyOD style) and
turns an :class:`~fabmind.models.base.Explanation` into typed :class:`Detection` records
that map one-to-one onto :class:`fabmind.domain.Alarm`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from fabmind.models.base import Explanation, FeatureContribution, SmallModel


@dataclass(frozen=True)
class Detection:
    """One alarming row: the statistic, its control limit and the sensors that drove it."""

    row: int  # position in the scored batch
    index: Any  # the batch's index label at that row (run id, timestamp ...)
    statistic: str  # e.g. 'mspc', 'mspc.t2', 'iforest', 'ewma'
    score: float
    limit: float
    contributions: tuple[FeatureContribution, ...]
    model_version: str = ""

    @property
    def severity_ratio(self) -> float:
        return self.score / self.limit if self.limit > 0 else float("inf")


class AnomalyDetector(SmallModel):
    """An anomaly detector: ``score`` is high for abnormal rows, ``threshold_`` is its control limit."""

    family: ClassVar[str] = "anomaly"

    def predict(self, X: Any) -> np.ndarray:
        """``True`` where the row's score reaches the control limit."""
        return self.score(X) >= self.threshold_

    def normalized_score(self, X: Any) -> np.ndarray:
        """Score divided by the control limit (1.0 = on the limit); comparable across detectors."""
        return self.score(X) / self.threshold_

    def detect(self, X: Any, top: int | None = 3) -> list[Detection]:
        """Score a batch and return one :class:`Detection` per alarming row, with its ``top``
        contributing features (all of them when ``top`` is None)."""
        df = self._validate(X, fitting=False)
        scores = self._score(df)
        rows = np.flatnonzero(scores >= self.threshold_)
        if len(rows) == 0:
            return []
        version = self.metadata_.version if hasattr(self, "metadata_") else ""
        expl = self._explain_rows(df, rows, scores)
        return [
            Detection(
                row=int(r),
                index=df.index[r],
                statistic=self.name,
                score=float(scores[r]),
                limit=float(self.threshold_),
                contributions=e.contributions if top is None else e.contributions[:top],
                model_version=version,
            )
            for r, e in zip(rows, expl)
        ]

    def explain(self, X: Any) -> list[Explanation]:
        """Per row: the inputs sorted by their share of the score, with deviation from normal."""
        df = self._validate(X, fitting=False)
        scores = self._score(df)
        return self._explain_rows(df, np.arange(len(df)), scores)

    def _explain_rows(self, df: pd.DataFrame, rows: np.ndarray, scores: np.ndarray) -> list[Explanation]:
        raise NotImplementedError(f"{type(self).__name__} does not explain its outputs")


def explanations_from_shares(
    shares: np.ndarray,
    values: np.ndarray,
    expected: np.ndarray,
    spread: np.ndarray,
    features: list[str],
    rows: np.ndarray,
    outputs: np.ndarray,
) -> list[Explanation]:
    """Build sorted :class:`Explanation` records from a [len(rows), n_features] share matrix."""
    sigma = (values - expected) / spread
    order = np.argsort(-shares, axis=1, kind="stable")
    out = []
    for i, r in enumerate(rows):
        contribs = tuple(
            FeatureContribution(
                feature=features[j],
                contribution=float(shares[i, j]),
                value=float(values[i, j]),
                expected=float(expected[j]),
                deviation_sigma=float(sigma[i, j]),
            )
            for j in order[i]
        )
        out.append(Explanation(row=int(r), output=float(outputs[r]), contributions=contribs))
    return out


def robust_spread(std: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Training spread with a floor, so a sensor that was constant in training does not divide by 0.

    The floor (1e-6 x max(1, |mean|)) makes any later change of a constant sensor a very large
    deviation -- which is what a process engineer wants to see for a sensor that never moves.
    """
    floor = 1e-6 * np.maximum(1.0, np.abs(mean))
    return np.maximum(std, floor)
