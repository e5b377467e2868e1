"""The one contract every small model follows (scikit-learn conventions, river-style checks).

* the constructor takes only hyper-parameters (so ``sklearn.base.clone`` and ``repr`` work);
* ``fit(X, y=None)`` validates once, calls the family's ``_fit`` and returns ``self``;
  learned state ends with ``_``;
* ``score(X)`` / ``predict(X)`` are vectorised over a batch (rows = runs/samples);
* ``explain(X)`` returns typed :class:`Explanation` records (which inputs drove the output,
  how far from normal);
* ``save(path)`` / ``load(path)`` round-trip the fitted model with its :class:`ModelMetadata`;
* scoring data with a different feature schema fails with :class:`FeatureSchemaError`
  naming the missing and extra features.

``X`` is a ``pandas.DataFrame`` whose columns are the feature names (sensor or
indicator names) or a 2-D numpy array (then the names are ``x0..xn``).
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

FORMAT_VERSION = 1


class ModelError(ValueError):
    """A model cannot be fitted or used with the given data; the message says why."""


class NotFittedError(ModelError):
    pass


class FeatureSchemaError(ModelError):
    def __init__(self, model: str, missing: list[str], extra: list[str]):
        self.missing, self.extra = missing, extra
        parts = []
        if missing:
            parts.append(f"missing features {missing}")
        if extra:
            parts.append(f"unexpected features {extra}")
        super().__init__(f"{model}: data does not match the training feature schema: " + "; ".join(parts))


@dataclass
class ModelMetadata:
    family: str  # anomaly, maintenance, quality, commonality, process, energy
    name: str  # e.g. 'mspc', 'iforest', 'rul'
    version: str = ""  # set by the registry (or content hash when saved directly)
    features: list[str] = field(default_factory=list)
    trained_at: str = ""
    train_start: str = ""  # training data window (ISO timestamps), when known
    train_end: str = ""
    n_train: int = 0
    scope: str = ""  # chamber id or equipment type the model is for
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), default=str, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "ModelMetadata":
        return cls(**json.loads(text))


@dataclass(frozen=True)
class FeatureContribution:
    """One input's share of a model output for one sample."""

    feature: str
    contribution: float  # signed or share, as the family documents
    value: float
    expected: float  # the model's idea of normal for this input
    deviation_sigma: float  # (value - expected) / normal spread; nan when not meaningful


@dataclass(frozen=True)
class Explanation:
    """Why a model gave this output for one sample: contributions sorted by |contribution|."""

    row: int
    output: float
    contributions: tuple[FeatureContribution, ...]

    def top(self, k: int = 3) -> tuple[FeatureContribution, ...]:
        return self.contributions[:k]


def as_frame(X: Any) -> pd.DataFrame:
    if isinstance(X, pd.DataFrame):
        return X
    arr = np.asarray(X)
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    if arr.ndim != 2:
        raise ModelError(f"expected a 2-D table of samples x features, got shape {arr.shape}")
    return pd.DataFrame(arr, columns=[f"x{i}" for i in range(arr.shape[1])])


class SmallModel(BaseEstimator):
    """Base of every fabmind small model. Subclasses write ``_fit`` and ``_score`` (and may
    override ``predict``/``explain``); the public methods validate once here."""

    family: ClassVar[str] = ""
    name: ClassVar[str] = ""
    min_samples: ClassVar[int] = 2
    allow_nan: ClassVar[bool] = False  # families that handle missing values themselves set True

    # ---- validation -------------------------------------------------------------------
    def _validate(self, X: Any, *, fitting: bool) -> pd.DataFrame:
        df = as_frame(X)
        if fitting:
            if len(df) < self.min_samples:
                raise ModelError(
                    f"{type(self).__name__}: needs at least {self.min_samples} training samples, got {len(df)}"
                )
        else:
            self._check_fitted()
            expected = list(self.feature_names_in_)
            got = [str(c) for c in df.columns]
            if got != expected:
                missing = [c for c in expected if c not in got]
                extra = [c for c in got if c not in expected]
                if missing or extra:
                    raise FeatureSchemaError(type(self).__name__, missing, extra)
                df = df[expected]  # same set, other order: reorder
        num = df.apply(pd.to_numeric, errors="coerce") if any(df.dtypes == object) else df
        values = num.to_numpy(dtype=float)
        if not self.allow_nan:
            bad = ~np.isfinite(values)
            if bad.any():
                r, c = np.argwhere(bad)[0]
                raise ModelError(
                    f"{type(self).__name__}: feature {df.columns[c]!r} of row {df.index[r]!r} is "
                    f"{values[r, c]!r}; NaN/inf are not accepted (impute or drop the row first)"
                )
        return num

    def _check_fitted(self) -> None:
        try:
            check_is_fitted(self, "feature_names_in_")
        except Exception:
            raise NotFittedError(f"{type(self).__name__} is not fitted yet; call fit() first") from None

    # ---- public contract ----------------------------------------------------------------
    def fit(self, X: Any, y: Any = None, **fit_params: Any) -> "SmallModel":
        df = self._validate(X, fitting=True)
        self.feature_names_in_ = np.array([str(c) for c in df.columns], dtype=object)
        self.n_features_in_ = df.shape[1]
        self._fit(df, y, **fit_params)
        self.metadata_ = ModelMetadata(
            family=self.family,
            name=self.name,
            features=list(self.feature_names_in_),
            trained_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            n_train=len(df),
            params=self.get_params(deep=False),
        )
        if isinstance(df.index, pd.DatetimeIndex) and len(df):
            self.metadata_.train_start = str(df.index.min())
            self.metadata_.train_end = str(df.index.max())
        return self

    def score(self, X: Any) -> np.ndarray:  # type: ignore[override]
        """Vectorised output per row; the family documents its meaning (anomaly: high = abnormal)."""
        return self._score(self._validate(X, fitting=False))

    def explain(self, X: Any) -> list[Explanation]:
        raise NotImplementedError(f"{type(self).__name__} does not explain its outputs")

    def _fit(self, X: pd.DataFrame, y: Any, **fit_params: Any) -> None:
        raise NotImplementedError

    def _score(self, X: pd.DataFrame) -> np.ndarray:
        raise NotImplementedError

    # ---- persistence -------------------------------------------------------------------
    @property
    def metadata(self) -> ModelMetadata:
        self._check_fitted()
        return self.metadata_

    def save(self, path: str | Path) -> Path:
        """Write the fitted model (pickle) and a readable ``.json`` sidecar with its metadata."""
        self._check_fitted()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        blob = pickle.dumps({"format": FORMAT_VERSION, "model": self}, protocol=pickle.HIGHEST_PROTOCOL)
        if not self.metadata_.version:
            self.metadata_.version = hashlib.sha256(blob).hexdigest()[:12]
            blob = pickle.dumps({"format": FORMAT_VERSION, "model": self}, protocol=pickle.HIGHEST_PROTOCOL)
        _atomic_write(path, blob)  # a worker killed mid-write never leaves half a model behind
        _atomic_write(path.with_suffix(".json"), self.metadata_.to_json().encode())
        return path

    @staticmethod
    def load(path: str | Path) -> "SmallModel":
        path = Path(path)
        if not path.exists():
            raise ModelError(f"no model file at {path}")
        payload = pickle.loads(path.read_bytes())
        if not isinstance(payload, dict) or payload.get("format") != FORMAT_VERSION:
            raise ModelError(f"{path} is not a fabmind model file of format {FORMAT_VERSION}")
        return payload["model"]


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
