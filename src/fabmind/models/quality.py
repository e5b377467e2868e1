"""Quality: defect classification and virtual metrology / yield prediction before inspection.

* :class:`DefectClassifier` — multi-class LightGBM (optionally averaged with extra-trees) whose
  probabilities are calibrated by temperature scaling on out-of-fold predictions (scikit-learn's
  ``CalibratedClassifierCV(method="temperature")``: it rescales confidence without changing the
  ranking of classes). ``explain`` gives each feature's SHAP contribution (log-odds) to the
  predicted class. Optional ``context``: columns that identify where a defect was found (product,
  coil / plate, layer, tool); the model adds each context's class frequencies learned from the
  training labels (cross-fitted, see :mod:`fabmind.models.quality_context`) — defects of one
  context tend to repeat.
* :class:`YieldPassFailModel` — probability that a run / glass / wafer fails inspection, from its
  FDC indicators and process parameters (NaN allowed: sensors that were not recorded). Features
  that are constant or mostly missing in training are dropped; an optional univariate screen keeps
  the ``max_features`` most class-separating indicators (rank-based, robust to outliers).
* :class:`VirtualMetrologyModel` — regression of a measured quantity (thickness, CD, yield %) from
  the same inputs.

Example::

    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"area": rng.normal(size=300), "lum": rng.normal(size=300)})
    >>> y = np.where(X.area > 0.5, "scratch", np.where(X.lum > 0, "stain", "bump"))
    >>> clf = DefectClassifier(n_estimators=50, extra_trees=0).fit(X, y)
    >>> clf.predict(X.iloc[:3]).tolist() == y[:3].tolist()
    True
    >>> clf.explain(X.iloc[:1])[0].top(1)[0].feature in ("area", "lum")
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from fabmind.models.base import Explanation, FeatureContribution, ModelError, SmallModel
from fabmind.models.quality_context import ContextEncoder


def _contrib_explanations(contrib: np.ndarray, X: pd.DataFrame, outputs: np.ndarray,
                          center: pd.Series, spread: pd.Series, top: int) -> list[Explanation]:
    vals = X.to_numpy(dtype=float)
    names = list(X.columns)
    out = []
    for i in range(len(X)):
        order = np.argsort(-np.abs(np.nan_to_num(contrib[i])))[:top]
        items = []
        for j in order:
            sd = float(spread.iloc[j])
            v = float(vals[i, j])
            dev = (v - float(center.iloc[j])) / sd if sd > 0 and np.isfinite(v) else float("nan")
            items.append(FeatureContribution(names[j], float(contrib[i, j]), v, float(center.iloc[j]), dev))
        out.append(Explanation(row=i, output=float(outputs[i]), contributions=tuple(items)))
    return out


class DefectClassifier(SmallModel):
    """Defect / inspection class with calibrated probabilities.

    ``score`` returns the calibrated probability of the predicted class; :meth:`predict_proba`
    gives all classes (columns in ``classes_`` order) and :meth:`predict` the labels.
    ``calibration``: ``"temperature"`` (default), ``"sigmoid"``, ``"isotonic"`` or ``"none"``.
    ``context``: tuples of column names, each identifying a group (e.g. ``[("product", "layer")]``);
    the classifier also sees each group's smoothed class frequencies (``context_alpha``: prior
    weight, in rows) from the training labels, cross-fitted over ``context_folds`` folds. Context
    columns stay ordinary features too. Explanations name them ``ctx(<columns>)=<class>``.
    """

    family: ClassVar[str] = "quality"
    name: ClassVar[str] = "defect_classifier"
    min_samples: ClassVar[int] = 10
    allow_nan: ClassVar[bool] = True

    def __init__(self, n_estimators: int = 500, learning_rate: float = 0.03, num_leaves: int = 15,
                 min_child_samples: int = 10, colsample_bytree: float = 0.5, extra_trees: int = 0,
                 calibration: str = "temperature", calibration_folds: int = 3,
                 context: Sequence[Sequence[str]] | None = None, context_alpha: float = 5.0,
                 context_folds: int = 5, random_state: int = 0, n_jobs: int = 1, top: int = 8):
        self.n_estimators, self.learning_rate, self.num_leaves = n_estimators, learning_rate, num_leaves
        self.min_child_samples, self.colsample_bytree, self.extra_trees = min_child_samples, colsample_bytree, extra_trees
        self.calibration, self.calibration_folds = calibration, calibration_folds
        self.context, self.context_alpha, self.context_folds = context, context_alpha, context_folds
        self.random_state, self.n_jobs, self.top = random_state, n_jobs, top

    def _gbm(self) -> Any:
        import lightgbm as lgb

        return lgb.LGBMClassifier(
            n_estimators=self.n_estimators, learning_rate=self.learning_rate, num_leaves=self.num_leaves,
            min_child_samples=self.min_child_samples, subsample=0.8, subsample_freq=1,
            colsample_bytree=self.colsample_bytree, random_state=self.random_state, n_jobs=self.n_jobs, verbose=-1)

    def _fit(self, X: pd.DataFrame, y: Any, **_: Any) -> None:
        from sklearn.calibration import CalibratedClassifierCV

        if self.calibration not in ("temperature", "sigmoid", "isotonic", "none"):
            raise ModelError(f"DefectClassifier: unknown calibration {self.calibration!r}; "
                             "use 'temperature', 'sigmoid', 'isotonic' or 'none'")
        if y is None:
            raise ModelError("DefectClassifier.fit needs y: one class label per row")
        labels = np.asarray(y)
        if labels.shape != (len(X),):
            raise ModelError(f"DefectClassifier.fit: y has shape {labels.shape}, expected ({len(X)},)")
        if pd.isna(labels).any():
            raise ModelError("DefectClassifier.fit: y has missing labels")
        classes, counts = np.unique(labels, return_counts=True)
        if len(classes) < 2:
            raise ModelError(f"DefectClassifier.fit: only one class {classes.tolist()} in y")
        folds = min(self.calibration_folds, int(counts.min()))
        self.classes_ = classes
        self.context_ = None
        if self.context:
            self.context_ = ContextEncoder(self.context, len(classes), alpha=self.context_alpha,
                                           folds=self.context_folds, random_state=self.random_state,
                                           labels=[str(c) for c in classes])
            enc = self.context_.fit_transform(X, np.searchsorted(classes, labels))
            X = pd.concat([X, enc], axis=1)
        self.gbm_ = self._gbm().fit(X, labels)
        self.calibrated_ = None
        if self.calibration != "none" and folds >= 2:
            self.calibrated_ = CalibratedClassifierCV(self._gbm(), method=self.calibration, cv=folds,
                                                      ensemble=False).fit(X, labels)
        self.trees_ = None
        if self.extra_trees > 0:
            from sklearn.ensemble import ExtraTreesClassifier

            self.trees_ = ExtraTreesClassifier(self.extra_trees, n_jobs=self.n_jobs, random_state=self.random_state)
            self.trees_.fit(X.fillna(X.median()).fillna(0.0), labels)
        self.center_, self.spread_ = X.median(), X.std(ddof=0)

    def _inputs(self, X: pd.DataFrame) -> pd.DataFrame:
        return X if self.context_ is None else pd.concat([X, self.context_.transform(X)], axis=1)

    def _proba(self, X: pd.DataFrame) -> np.ndarray:
        X = self._inputs(X)
        p = (self.calibrated_ if self.calibrated_ is not None else self.gbm_).predict_proba(X)
        if self.trees_ is not None:
            p = 0.5 * p + 0.5 * self.trees_.predict_proba(X.fillna(self.center_).fillna(0.0))
        return p

    def _score(self, X: pd.DataFrame) -> np.ndarray:
        return self._proba(X).max(axis=1)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Calibrated class probabilities, columns in ``classes_`` order."""
        return self._proba(self._validate(X, fitting=False))

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def explain(self, X: Any) -> list[Explanation]:
        """SHAP contributions (log-odds of the LightGBM member) to each row's predicted class;
        ``output`` is that class's calibrated probability."""
        df = self._validate(X, fitting=False)
        p = self._proba(df)
        df = self._inputs(df)
        k = p.argmax(axis=1)
        n_feat = df.shape[1]
        raw = np.asarray(self.gbm_.booster_.predict(df, pred_contrib=True)).reshape(len(df), len(self.classes_), n_feat + 1)
        contrib = raw[np.arange(len(df)), k, :n_feat]
        return _contrib_explanations(contrib, df, p.max(axis=1), self.center_, self.spread_, self.top)


def _usable_columns(X: pd.DataFrame, max_missing: float) -> list[str]:
    miss = X.isna().mean()
    nunique = X.nunique(dropna=True)
    return [c for c in X.columns if miss[c] <= max_missing and nunique[c] > 1]


def _screen(X: pd.DataFrame, y: np.ndarray, k: int) -> list[str]:
    """The ``k`` features whose ranks separate the classes most (|AUC - 0.5|), NaN-tolerant."""
    scores = {}
    for c in X.columns:
        v = X[c].to_numpy(dtype=float)
        ok = np.isfinite(v)
        yy = y[ok]
        n1 = int(yy.sum())
        n0 = len(yy) - n1
        if n1 == 0 or n0 == 0:
            continue
        r = pd.Series(v[ok]).rank().to_numpy()
        auc = (r[yy == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0)
        scores[c] = abs(auc - 0.5)
    return [c for c, _ in sorted(scores.items(), key=lambda kv: -kv[1])[:k]]


class YieldPassFailModel(SmallModel):
    """Probability that a unit fails inspection (virtual metrology of pass/fail, before inspection).

    ``y``: 1 = fail, 0 = pass (or booleans). ``score`` returns the fail probability. Features
    missing in more than ``max_missing`` of training rows or constant are not used (listed in
    ``dropped_``); NaN in scoring data is allowed. ``reg_lambda``: L2 penalty on leaf values
    (``num_leaves=2`` with a larger penalty gives heavily regularised boosted stumps).
    ``fit(X, y, sample_weight=w)`` weights training rows, e.g. ``0.5 ** (age / half_life)`` to favour
    recent wafers when the process drifts (multiplied with the class weights).
    """

    family: ClassVar[str] = "quality"
    name: ClassVar[str] = "yield_pass_fail"
    min_samples: ClassVar[int] = 20
    allow_nan: ClassVar[bool] = True

    def __init__(self, n_estimators: int = 400, learning_rate: float = 0.02, num_leaves: int = 7,
                 min_child_samples: int = 20, colsample_bytree: float = 0.3, max_features: int | None = 60,
                 max_missing: float = 0.5, class_weight: str | None = "balanced", random_state: int = 0,
                 n_jobs: int = 1, top: int = 8, reg_lambda: float = 1.0):
        self.n_estimators, self.learning_rate, self.num_leaves = n_estimators, learning_rate, num_leaves
        self.min_child_samples, self.colsample_bytree = min_child_samples, colsample_bytree
        self.max_features, self.max_missing, self.class_weight = max_features, max_missing, class_weight
        self.random_state, self.n_jobs, self.top = random_state, n_jobs, top
        self.reg_lambda = reg_lambda

    def _fit(self, X: pd.DataFrame, y: Any, sample_weight: Any = None, **_: Any) -> None:
        import lightgbm as lgb

        if y is None:
            raise ModelError("YieldPassFailModel.fit needs y: 1 = fail, 0 = pass")
        labels = np.asarray(y).astype(int)
        if labels.shape != (len(X),) or not set(np.unique(labels)) <= {0, 1}:
            raise ModelError("YieldPassFailModel.fit: y must be one 0/1 (pass/fail) label per row")
        if labels.sum() < 2 or (1 - labels).sum() < 2:
            raise ModelError(f"YieldPassFailModel.fit: need >= 2 fails and passes, got {labels.sum()} fails")
        weights = None
        if sample_weight is not None:
            weights = np.asarray(sample_weight, dtype=float)
            if weights.shape != (len(X),) or not np.isfinite(weights).all() or (weights < 0).any() or weights.sum() <= 0:
                raise ModelError("YieldPassFailModel.fit: sample_weight must be one finite weight >= 0 per row")
        X = X.replace([np.inf, -np.inf], np.nan)
        cols = _usable_columns(X, self.max_missing)
        if not cols:
            raise ModelError("YieldPassFailModel.fit: every feature is constant or mostly missing")
        if self.max_features is not None and len(cols) > self.max_features:
            cols = _screen(X[cols], labels, self.max_features)
        self.used_ = cols
        self.dropped_ = [c for c in X.columns if c not in cols]
        self.gbm_ = lgb.LGBMClassifier(
            n_estimators=self.n_estimators, learning_rate=self.learning_rate, num_leaves=self.num_leaves,
            min_child_samples=self.min_child_samples, subsample=0.8, subsample_freq=1,
            colsample_bytree=self.colsample_bytree, class_weight=self.class_weight, reg_lambda=self.reg_lambda,
            random_state=self.random_state, n_jobs=self.n_jobs, verbose=-1,
        ).fit(X[cols], labels, sample_weight=weights)
        self.center_, self.spread_ = X[cols].median(), X[cols].std(ddof=0)
        self.fail_rate_ = float(labels.mean())

    def _score(self, X: pd.DataFrame) -> np.ndarray:
        return self.gbm_.predict_proba(X[self.used_].replace([np.inf, -np.inf], np.nan))[:, 1]

    def predict(self, X: Any, threshold: float = 0.5) -> np.ndarray:
        """1 (fail) where the fail probability reaches ``threshold``."""
        return (self.score(X) >= threshold).astype(int)

    def explain(self, X: Any) -> list[Explanation]:
        """SHAP contributions (log-odds of failing) of the used features, largest first."""
        df = self._validate(X, fitting=False)[self.used_]
        contrib = np.asarray(self.gbm_.booster_.predict(df, pred_contrib=True))[:, : len(self.used_)]
        return _contrib_explanations(contrib, df, self._score(df), self.center_, self.spread_, self.top)


class VirtualMetrologyModel(SmallModel):
    """Regression of a measured quantity (thickness, CD, yield %) from FDC indicators and setpoints."""

    family: ClassVar[str] = "quality"
    name: ClassVar[str] = "virtual_metrology"
    min_samples: ClassVar[int] = 20
    allow_nan: ClassVar[bool] = True

    def __init__(self, n_estimators: int = 400, learning_rate: float = 0.03, num_leaves: int = 15,
                 min_child_samples: int = 10, colsample_bytree: float = 0.5, random_state: int = 0,
                 n_jobs: int = 1, top: int = 8):
        self.n_estimators, self.learning_rate, self.num_leaves = n_estimators, learning_rate, num_leaves
        self.min_child_samples, self.colsample_bytree = min_child_samples, colsample_bytree
        self.random_state, self.n_jobs, self.top = random_state, n_jobs, top

    def _fit(self, X: pd.DataFrame, y: Any, **_: Any) -> None:
        import lightgbm as lgb

        target = np.asarray(y, dtype=float) if y is not None else None
        if target is None or target.shape != (len(X),) or not np.isfinite(target).all():
            raise ModelError("VirtualMetrologyModel.fit needs y: one finite measured value per row")
        self.gbm_ = lgb.LGBMRegressor(
            n_estimators=self.n_estimators, learning_rate=self.learning_rate, num_leaves=self.num_leaves,
            min_child_samples=self.min_child_samples, subsample=0.8, subsample_freq=1,
            colsample_bytree=self.colsample_bytree, random_state=self.random_state, n_jobs=self.n_jobs, verbose=-1,
        ).fit(X, target)
        self.center_, self.spread_ = X.median(), X.std(ddof=0)

    def _score(self, X: pd.DataFrame) -> np.ndarray:
        return self.gbm_.predict(X)

    def predict(self, X: Any) -> np.ndarray:
        return self.score(X)

    def explain(self, X: Any) -> list[Explanation]:
        df = self._validate(X, fitting=False)
        contrib = np.asarray(self.gbm_.booster_.predict(df, pred_contrib=True))[:, : df.shape[1]]
        return _contrib_explanations(contrib, df, self._score(df), self.center_, self.spread_, self.top)
