"""Multivariate statistical process control: PCA with Hotelling T² and SPE/Q.

Control limits come from the training data at a chosen confidence; each statistic is
explained by *reconstruction-based contributions* (RBC, Alcala & Qin 2009), which point at
the faulty sensor more reliably than the classic partial decomposition. Options for
time-ordered data (all causal: a row only sees itself and earlier rows):

* ``lags``: dynamic PCA (Ku et al. 1995) -- each row is augmented with the ``lags`` previous rows;
* ``smooth``: the statistics are averaged over the last ``smooth`` rows before the limit test.

Example::

    >>> import numpy as np
    >>> from fabmind.models.anomaly import MSPC
    >>> rng = np.random.default_rng(0)
    >>> normal = rng.normal(size=(300, 4)); normal[:, 1] += normal[:, 0]
    >>> m = MSPC(n_components=2, confidence=0.99).fit(normal)
    >>> bad = normal[:3].copy(); bad[:, 3] += 8.0
    >>> m.predict(bad).tolist()
    [True, True, True]
    >>> m.explain(bad)[0].top(1)[0].feature
    'x3'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import stats

from fabmind.models.anomaly.base import AnomalyDetector, explanations_from_shares, robust_spread
from fabmind.models.base import Explanation, ModelError

_LIMITS = ("theoretical", "empirical", "cv")


@dataclass(frozen=True)
class MSPCStatistics:
    """T² and SPE per row with their control limits; ``score = max(t2/t2_limit, spe/spe_limit)``."""

    t2: np.ndarray
    spe: np.ndarray
    t2_limit: float
    spe_limit: float

    @property
    def score(self) -> np.ndarray:
        return np.maximum(self.t2 / self.t2_limit, self.spe / self.spe_limit)


class MSPC(AnomalyDetector):
    """PCA monitor: Hotelling T² (inside the model plane) and SPE/Q (distance to it).

    Parameters
    ----------
    n_components: number of principal components (int) or share of variance to keep (0..1).
    confidence: confidence of the control limits (0.99 = 1 % false alarms on normal data).
    limits: ``'theoretical'`` (F distribution for T², Jackson–Mudholkar for Q), ``'empirical'``
        (quantiles of the training statistics) or ``'cv'`` (quantiles of out-of-fold statistics
        from ``cv_folds`` contiguous blocks: honest when ``lags``/``smooth`` make in-sample limits
        too tight). The raw out-of-fold statistics are put back in time order and smoothed as a
        whole, as the monitor smooths new data.
    cv_folds: number of contiguous blocks left out in turn for ``limits='cv'``. Every out-of-fold
        statistic comes from a model fitted on ``(cv_folds - 1) / cv_folds`` of the rows, which
        overstates the spread of the final model fitted on all of them (most for many lagged
        features and few rows: on Tennessee Eastman, 156 lagged features and 500 rows, 5 blocks
        put the 99 % SPE limit 12 % above 20 blocks). More blocks remove that bias, but when the
        input columns are themselves moving-window values (e.g. :func:`window_indicators`) each
        block must stay several windows long, else held-out rows share readings with fitted
        neighbours and the limit is too tight (``lags`` and ``smooth`` are handled: lag history
        comes from before the block, smoothing runs on the out-of-fold statistics). Default 5
        (conservative).
    lags: dynamic PCA lags (0 = static PCA). Rows must be in time order.
    smooth: causal moving-average window (rows) of T² and SPE. 1 = none.
    statistic: ``'combined'`` (alarm when either T² or SPE is over its limit), ``'t2'`` or ``'spe'``.
    t2_confidence: confidence of the T² limit when it should differ from ``confidence`` (T² is the
        statistic most hurt by slow drifts of the normal operating point). ``None`` = ``confidence``.
    feature_weights: feature name -> weight of its standardised deviation (default 1 for every
        feature): 0.2 makes the model read that feature as five times noisier than its training spread
        (a sensor engineers judged prone to false alarms, :mod:`fabmind.models.learning`); 0 leaves it
        out of T² and SPE (listed in ``dropped_features_``). Applied before the PCA, so the model
        structure and the control limits are learned on the weighted data.

    Sensors constant in the training data carry no information about normal variation: they are
    left out of the model and listed in ``constant_features_`` (documented handling).
    """

    name: ClassVar[str] = "mspc"
    min_samples: ClassVar[int] = 10

    def __init__(
        self,
        n_components: float = 0.9,
        confidence: float = 0.99,
        limits: str = "theoretical",
        lags: int = 0,
        smooth: int = 1,
        statistic: str = "combined",
        t2_confidence: float | None = None,
        cv_folds: int = 20,
        feature_weights: Mapping[str, float] | None = None,
    ):
        self.n_components = n_components
        self.confidence = confidence
        self.limits = limits
        self.lags = lags
        self.smooth = smooth
        self.statistic = statistic
        self.t2_confidence = t2_confidence
        self.cv_folds = cv_folds
        self.feature_weights = feature_weights

    feature_weights: Mapping[str, float] | None = None  # for models saved before the parameter existed

    # ---- fitting ---------------------------------------------------------------------------
    def _fit(self, X: pd.DataFrame, y: Any, **fit_params: Any) -> None:
        for conf in (self.confidence, self.t2_confidence):
            if conf is not None and not 0.5 < conf < 1:
                raise ModelError(f"MSPC: confidence must be in (0.5, 1), got {conf}")
        if int(self.cv_folds) < 2:
            raise ModelError(f"MSPC: cv_folds must be >= 2, got {self.cv_folds}")
        if self.limits not in _LIMITS:
            raise ModelError(f"MSPC: limits must be one of {_LIMITS}, got {self.limits!r}")
        if self.statistic not in ("combined", "t2", "spe"):
            raise ModelError(f"MSPC: statistic must be 'combined', 't2' or 'spe', got {self.statistic!r}")
        values = X.to_numpy(dtype=float)
        std = values.std(axis=0, ddof=1)
        mean = values.mean(axis=0)
        keep = np.nan_to_num(std) > 1e-12 * np.maximum(1.0, np.abs(mean))
        self.constant_features_ = [str(c) for c, k in zip(X.columns, keep) if not k]
        self.weights_ = feature_weight_array(self.feature_weights, [str(c) for c in X.columns], "MSPC")
        self.dropped_features_ = [str(c) for c, w in zip(X.columns, self.weights_) if w == 0]
        keep = keep & (self.weights_ > 0)
        if keep.sum() < 2:
            raise ModelError(
                f"MSPC: needs at least 2 non-constant, non-dropped features, got {int(keep.sum())} "
                f"(constant: {self.constant_features_}, dropped: {self.dropped_features_})"
            )
        self.keep_ = keep
        self.mean_ = mean
        self.spread_ = robust_spread(np.nan_to_num(std), mean) / np.where(self.weights_ > 0, self.weights_, 1.0)
        if len(X) - self.lags < self.min_samples:
            raise ModelError(f"MSPC: {len(X)} samples are too few for lags={self.lags}")
        with _blas_threads(values.size * (self.lags + 1)):
            self._fit_core(values)
            if self.limits == "cv":
                t2, spe = self._cv_statistics(values)
            else:
                t2, spe = self._statistics(values)
                t2, spe = t2[self.lags:], spe[self.lags:]
        t2_conf = self.confidence if self.t2_confidence is None else self.t2_confidence
        if self.limits == "theoretical" and self.smooth <= 1:
            self.t2_limit_, _ = self._theoretical_limits(len(values) - self.lags, t2_conf)
            _, self.spe_limit_ = self._theoretical_limits(len(values) - self.lags, self.confidence)
        else:
            self.t2_limit_ = float(np.quantile(t2, t2_conf))
            self.spe_limit_ = float(np.quantile(spe, self.confidence))
        self.spe_limit_ = max(self.spe_limit_, 1e-12)
        self.threshold_ = 1.0

    def _fit_core(self, values: np.ndarray, k: int | None = None) -> None:
        """PCA of the standardised (lagged) rows; ``k`` fixes the number of components (out-of-fold
        refits keep the full model's ``k``: re-choosing it per fold on few rows and many features
        would measure the spread of a different model)."""
        from sklearn.decomposition import PCA

        Z = self._lagged(self._standardize(values))[self.lags:]
        n, p = Z.shape
        pca = PCA(svd_solver="full").fit(Z)
        eig = np.maximum(pca.explained_variance_, 0.0)
        max_k = max(1, min(p - 1, n - 2))
        if k is None and isinstance(self.n_components, float) and 0 < self.n_components < 1:
            k = int(np.searchsorted(np.cumsum(eig) / eig.sum(), self.n_components) + 1)
        elif k is None:
            k = int(self.n_components)
        k = max(1, min(k, max_k))
        self.n_components_ = k
        self.components_ = pca.components_[:k].T.copy()  # [p, k]
        self.eigenvalues_ = np.maximum(eig[:k], 1e-12)
        self.residual_eigenvalues_ = eig[k:]

    def _theoretical_limits(self, n: int, confidence: float) -> tuple[float, float]:
        a, alpha = self.n_components_, 1 - confidence
        t2 = a * (n - 1) * (n + 1) / (n * (n - a)) * stats.f.ppf(1 - alpha, a, n - a) if n > a else np.inf
        lam = self.residual_eigenvalues_
        th1, th2, th3 = lam.sum(), (lam**2).sum(), (lam**3).sum()
        if th1 <= 1e-12 or th2 <= 1e-24:
            return float(t2), 1e-12
        h0 = 1 - 2 * th1 * th3 / (3 * th2**2)
        ca = stats.norm.ppf(1 - alpha)
        if h0 <= 1e-6:  # degenerate spectrum: Box's chi-square approximation
            g, h = th2 / th1, th1**2 / th2
            return float(t2), float(g * stats.chi2.ppf(1 - alpha, h))
        q = th1 * (ca * np.sqrt(2 * th2 * h0**2) / th1 + 1 + th2 * h0 * (h0 - 1) / th1**2) ** (1 / h0)
        return float(t2), float(q)

    def _cv_statistics(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Out-of-fold T² and SPE of every training row (after the first ``lags``), smoothed in time order.

        Each block is scored by a model fitted on the other rows; the rows just before a block are
        its lag history (they are in that model's training set, as the past is for a new reading)."""
        folds = max(2, min(int(self.cv_folds), (len(values) - self.lags) // max(self.lags + 1, 2)))
        edges = np.linspace(0, len(values), folds + 1).astype(int)
        t2s, spes = [], []
        full = (self.components_, self.eigenvalues_, self.residual_eigenvalues_, self.n_components_)
        for lo, hi in pairwise(edges):
            train = np.concatenate([values[:lo], values[hi:]])
            if len(train) - self.lags < self.min_samples or hi <= lo:
                continue
            self._fit_core(train, k=full[3])
            start = max(0, lo - self.lags)
            t2, spe = self._raw_statistics(self._lagged(self._standardize(values[start:hi])))
            t2s.append(t2[lo - start:])
            spes.append(spe[lo - start:])
        self.components_, self.eigenvalues_, self.residual_eigenvalues_, self.n_components_ = full
        if not t2s:
            raise ModelError("MSPC: too few samples for cross-validated limits; use limits='empirical'")
        t2, spe = np.concatenate(t2s)[self.lags:], np.concatenate(spes)[self.lags:]
        if self.smooth > 1:
            t2, spe = _causal_mean(t2, self.smooth), _causal_mean(spe, self.smooth)
        return t2, spe

    # ---- scoring ---------------------------------------------------------------------------
    def _standardize(self, values: np.ndarray) -> np.ndarray:
        return ((values - self.mean_) / self.spread_)[:, self.keep_]

    def _lagged(self, Z: np.ndarray) -> np.ndarray:
        if self.lags <= 0:
            return Z
        # row t sees rows t, t-1, ..., t-lags; rows before the first are edge-padded (causal)
        padded = np.concatenate([np.repeat(Z[:1], self.lags, axis=0), Z])
        n = len(Z)
        return np.hstack([padded[self.lags - k: self.lags - k + n] for k in range(self.lags + 1)])

    def _raw_statistics(self, Zl: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        T = Zl @ self.components_
        t2 = np.einsum("ij,ij->i", T * (1.0 / self.eigenvalues_), T)
        E = Zl - T @ self.components_.T
        spe = np.einsum("ij,ij->i", E, E)
        return t2, spe

    def _statistics(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        t2, spe = self._raw_statistics(self._lagged(self._standardize(values)))
        if self.smooth > 1:
            t2, spe = _causal_mean(t2, self.smooth), _causal_mean(spe, self.smooth)
        return t2, spe

    def statistics(self, X: Any) -> MSPCStatistics:
        """T² and SPE of every row with the two control limits."""
        df = self._validate(X, fitting=False)
        t2, spe = self._statistics(df.to_numpy(dtype=float))
        return MSPCStatistics(t2=t2, spe=spe, t2_limit=self.t2_limit_, spe_limit=self.spe_limit_)

    def _score(self, X: pd.DataFrame) -> np.ndarray:
        t2, spe = self._statistics(X.to_numpy(dtype=float))
        if self.statistic == "t2":
            return t2 / self.t2_limit_
        if self.statistic == "spe":
            return spe / self.spe_limit_
        return np.maximum(t2 / self.t2_limit_, spe / self.spe_limit_)

    # ---- explanation -----------------------------------------------------------------------
    def contributions(self, X: Any, statistic: str = "combined") -> pd.DataFrame:
        """Reconstruction-based contribution of every feature to ``statistic`` (t2, spe, combined)."""
        df = self._validate(X, fitting=False)
        rbc = self._rbc(df.to_numpy(dtype=float), np.arange(len(df)), statistic)
        return pd.DataFrame(rbc, index=df.index, columns=list(self.feature_names_in_))

    def _rbc(self, values: np.ndarray, rows: np.ndarray, statistic: str) -> np.ndarray:
        P, inv_lam = self.components_, 1.0 / self.eigenvalues_
        p = P.shape[0]
        m_t2 = (P * inv_lam) @ P.T
        m_spe = np.eye(p) - P @ P.T
        if statistic == "t2":
            M = m_t2
        elif statistic == "spe":
            M = m_spe
        else:
            M = m_t2 / self.t2_limit_ + m_spe / self.spe_limit_
        Zl = self._lagged(self._standardize(values))
        diag = np.maximum(np.diag(M), 1e-12)
        n_kept = int(self.keep_.sum())
        if self.smooth > 1:
            # the smoothed statistic is the mean of the per-row statistics over the window: explain it
            # by the mean of the per-row contributions (an oscillating sensor averages out of the
            # window's mean reading, not out of its mean squared deviation)
            lo = int(max(0, rows.min() - self.smooth + 1)) if len(rows) else 0
            hi = int(rows.max()) + 1 if len(rows) else 0
            per_row = ((Zl[lo:hi] @ M) ** 2 / diag).reshape(hi - lo, self.lags + 1, n_kept).sum(axis=1)
            c = np.cumsum(np.vstack([np.zeros((1, n_kept)), per_row]), axis=0)
            start = np.maximum(0, rows - self.smooth + 1) - lo
            per_sensor = (c[rows - lo + 1] - c[start]) / (rows - lo + 1 - start)[:, None]
        else:
            rbc = (Zl[rows] @ M) ** 2 / diag
            per_sensor = rbc.reshape(len(rows), self.lags + 1, n_kept).sum(axis=1)
        full = np.zeros((len(rows), len(self.keep_)))
        full[:, self.keep_] = per_sensor
        return full

    def _explain_rows(self, df: pd.DataFrame, rows: np.ndarray, scores: np.ndarray) -> list[Explanation]:
        values = df.to_numpy(dtype=float)
        stat = {"t2": "t2", "spe": "spe"}.get(self.statistic, "combined")
        rbc = self._rbc(values, rows, stat)
        total = rbc.sum(axis=1, keepdims=True)
        shares = np.divide(rbc, total, out=np.zeros_like(rbc), where=total > 0)
        weights = getattr(self, "weights_", np.ones(len(self.spread_)))
        spread = self.spread_ * np.where(weights > 0, weights, 1.0)  # deviations in the sensor's own sigmas
        return explanations_from_shares(
            shares, values[rows], self.mean_, spread, list(self.feature_names_in_), rows, scores
        )

    # ---- streaming twin --------------------------------------------------------------------
    def stream(self) -> MSPCStream:
        """A per-reading scorer with the same maths (keeps the lag/smoothing history)."""
        self._check_fitted()
        return MSPCStream(self)


def feature_weight_array(weights: Mapping[str, float] | None, features: Sequence[str], model: str) -> np.ndarray:
    """``feature_weights`` as an array over ``features`` (1 where not given); unknown names or negative
    or non-finite weights are an error naming them."""
    out = np.ones(len(features))
    if not weights:
        return out
    index = {f: i for i, f in enumerate(features)}
    unknown = [f for f in weights if f not in index]
    if unknown:
        raise ModelError(f"{model}: feature_weights name features it does not monitor: {unknown[:5]}")
    for f, w in weights.items():
        if not np.isfinite(w) or w < 0:
            raise ModelError(f"{model}: feature_weights[{f!r}] must be a finite number >= 0, got {w!r}")
        out[index[f]] = float(w)
    return out


def _blas_threads(size: int):
    """One BLAS thread for small decompositions: on a busy machine a multi-threaded SVD of a
    60 x 100 matrix takes 100 ms instead of 1.5 ms (thread start-up and oversubscription)."""
    from fabmind.models.threads import blas_threads_for

    return blas_threads_for(size)


def _causal_mean(x: np.ndarray, window: int) -> np.ndarray:
    c = np.cumsum(np.concatenate([[0.0], x]))
    idx = np.arange(1, len(x) + 1)
    lo = np.maximum(0, idx - window)
    return (c[idx] - c[lo]) / (idx - lo)


class MSPCStream:
    """Streaming twin of :class:`MSPC`: ``update(x)`` scores one reading vector in microseconds.

    The first reading fills the lag history (edge padding, as the batch scorer does), so
    ``[s.update(x) for x in X]`` equals ``model.score(X)``.
    """

    def __init__(self, model: MSPC):
        m = model
        self._mean = m.mean_[m.keep_]
        self._inv = 1.0 / m.spread_[m.keep_]
        self._keep = m.keep_
        self._P = np.ascontiguousarray(m.components_)
        self._inv_lam = 1.0 / m.eigenvalues_
        self._lags, self._smooth = m.lags, max(1, m.smooth)
        self._t2_lim, self._spe_lim, self._statistic = m.t2_limit_, m.spe_limit_, m.statistic
        self._hist: np.ndarray | None = None
        self._t2_buf = np.zeros(self._smooth)
        self._spe_buf = np.zeros(self._smooth)
        self._n = 0
        self.t2 = self.spe = 0.0

    def update(self, x: np.ndarray) -> float:
        """Score one reading (all model features, training order); returns the normalised score."""
        z = (np.asarray(x, dtype=float)[self._keep] - self._mean) * self._inv
        if self._lags:
            if self._hist is None:
                self._hist = np.tile(z, self._lags + 1)
            else:
                k = len(z)
                self._hist[k:] = self._hist[:-k].copy()
                self._hist[:k] = z
            z = self._hist
        t = z @ self._P
        t2 = float((t * t) @ self._inv_lam)
        e = z - self._P @ t
        spe = float(e @ e)
        if self._smooth > 1:
            i = self._n % self._smooth
            self._t2_buf[i], self._spe_buf[i] = t2, spe
            n = min(self._n + 1, self._smooth)
            t2, spe = self._t2_buf.sum() / n, self._spe_buf.sum() / n
        self._n += 1
        self.t2, self.spe = t2, spe
        if self._statistic == "t2":
            return t2 / self._t2_lim
        if self._statistic == "spe":
            return spe / self._spe_lim
        return max(t2 / self._t2_lim, spe / self._spe_lim)
