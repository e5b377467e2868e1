"""Context encoding for defect classification: how often each class occurred in the same context.

Defects are not independent of where they were found: the same product / coil / plate (identified by
e.g. conveyor length + thickness + steel grade), the same layer, tool or lot tends to repeat the same
defect kinds. :class:`ContextEncoder` turns each *context* (a tuple of columns whose joint value
identifies a group) into the group's smoothed class frequencies plus the group's size, learned from
the training labels only:

* training rows get **cross-fitted** frequencies (from the other folds of the training data), so the
  classifier never sees a row's own label through its context;
* new rows get the frequencies of all training rows of their group; unseen groups get the training
  class prior (and size 0).

Smoothing: ``(count_c + alpha * prior_c) / (n + alpha)``.

    >>> import numpy as np, pandas as pd
    >>> X = pd.DataFrame({"coil": ["a"] * 6 + ["b"] * 6})
    >>> y = np.array([0] * 6 + [1] * 6)
    >>> enc = ContextEncoder([("coil",)], n_classes=2, alpha=1.0, folds=3)
    >>> enc.fit_transform(X, y).shape
    (12, 3)
    >>> enc.transform(pd.DataFrame({"coil": ["a", "z"]})).round(3).to_numpy().tolist()
    [[0.929, 0.071, 6.0], [0.5, 0.5, 0.0]]
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from fabmind.models.base import ModelError


def _keys(X: pd.DataFrame, group: tuple[str, ...]) -> pd.Series:
    return X[list(group)].astype(str).agg("\x1f".join, axis=1)


class ContextEncoder:
    """Smoothed per-group class frequencies (cross-fitted on training rows); see the module doc."""

    def __init__(self, groups: Sequence[Sequence[str]], n_classes: int, *, alpha: float = 5.0, folds: int = 5,
                 random_state: int = 0, labels: Sequence[str] | None = None):
        if alpha <= 0:
            raise ModelError(f"ContextEncoder: alpha must be > 0, got {alpha}")
        if folds < 2:
            raise ModelError(f"ContextEncoder: folds must be >= 2, got {folds}")
        self.groups = [tuple(str(c) for c in g) for g in groups]
        if not self.groups or any(not g for g in self.groups):
            raise ModelError("ContextEncoder: give at least one context, each a non-empty tuple of columns")
        self.n_classes, self.alpha, self.folds, self.random_state = n_classes, alpha, folds, random_state
        self.labels = [str(c) for c in (labels if labels is not None else range(n_classes))]

    @property
    def columns(self) -> list[str]:
        out = []
        for g in self.groups:
            name = "+".join(g)
            out += [f"ctx({name})={c}" for c in self.labels] + [f"ctx({name})#n"]
        return [re.sub(r'[",:\[\]{}]', "_", c) for c in out]  # LightGBM rejects JSON characters in names

    def _check(self, X: pd.DataFrame) -> None:
        missing = sorted({c for g in self.groups for c in g} - set(map(str, X.columns)))
        if missing:
            raise ModelError(f"ContextEncoder: context columns {missing} are not in the data")

    def _counts(self, keys: pd.Series, y: np.ndarray) -> pd.DataFrame:
        onehot = np.zeros((len(y), self.n_classes))
        onehot[np.arange(len(y)), y] = 1.0
        return pd.DataFrame(onehot, index=keys.to_numpy()).groupby(level=0).sum()

    def _encode(self, counts: pd.DataFrame, keys: pd.Series, prior: np.ndarray) -> np.ndarray:
        c = counts.reindex(keys.to_numpy()).fillna(0.0).to_numpy()
        n = c.sum(axis=1, keepdims=True)
        return np.hstack([(c + self.alpha * prior) / (n + self.alpha), n])

    def fit_transform(self, X: pd.DataFrame, y: np.ndarray) -> pd.DataFrame:
        """Learn the group counts from ``y`` (class indices 0..n_classes-1); cross-fitted encoding of ``X``."""
        from sklearn.model_selection import KFold

        self._check(X)
        y = np.asarray(y, dtype=int)
        self.prior_ = np.bincount(y, minlength=self.n_classes) / len(y)
        self.counts_ = []
        blocks = []
        folds = list(KFold(min(self.folds, len(y)), shuffle=True, random_state=self.random_state).split(X))
        for g in self.groups:
            keys = _keys(X, g)
            self.counts_.append(self._counts(keys, y))
            enc = np.zeros((len(y), self.n_classes + 1))
            for a, b in folds:
                enc[b] = self._encode(self._counts(keys.iloc[a], y[a]), keys.iloc[b], self.prior_)
            blocks.append(enc)
        return pd.DataFrame(np.hstack(blocks), index=X.index, columns=self.columns)

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """Encoding of new rows from all training rows of their group."""
        self._check(X)
        blocks = [self._encode(c, _keys(X, g), self.prior_) for g, c in zip(self.groups, self.counts_, strict=True)]
        return pd.DataFrame(np.hstack(blocks), index=X.index, columns=self.columns)
