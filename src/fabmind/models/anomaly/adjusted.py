"""MSPC on context-adjusted indicators: deliberate recipe changes explain sensor moves, faults do not.

A run-level FDC table mixes two kinds of columns:

* **indicators** (``"<SENSOR>.<step>.<stat>"``): what the chamber did;
* **context** (``"SP.<parameter>"`` recipe setpoints, ``"PM.age_days"`` days since the last PM):
  what the run was *asked* to do and how old the chamber's parts are.

A designed-experiment lot runs setpoints far from the recipe default: its pressure reads 15 % higher
because the recipe asked for 15 % more, not because the chamber is sick. :class:`AdjustedMSPC`
regresses every indicator on the context (ridge, penalty chosen per indicator by generalised
cross-validation) and monitors the **residuals** with PCA T²/SPE (:class:`MSPC`). So

* a setpoint is never an alarm by itself (context columns are inputs of the expectation only);
* contributions name real sensors, with value, *setpoint-adjusted* expectation and deviation in the
  sensor's unit and in residual sigmas;
* the slow drift of sensors between PMs (chamber coating, wear) is expected when ``PM.age_days`` is
  given, and the PM reset is no surprise.

The response (coefficients) can be learned once for all chambers running the same recipe
(:func:`fit_response`, with a per-chamber intercept: chamber matching) and passed to
``fit(X, response=...)``; without it the model learns it from its own training rows.

Example::

    >>> import numpy as np, pandas as pd
    >>> from fabmind.models.anomaly.adjusted import AdjustedMSPC
    >>> rng = np.random.default_rng(0)
    >>> sp = rng.normal(100, 1, 400); sp[::10] += rng.normal(0, 15, 40)  # some DOE runs
    >>> X = pd.DataFrame({"P.main.mean": sp + rng.normal(0, 0.2, 400),
    ...                   "T.main.mean": 0.5 * sp + rng.normal(0, 0.2, 400), "SP.P": sp})
    >>> m = AdjustedMSPC(confidence=0.99).fit(X)
    >>> doe = pd.DataFrame({"P.main.mean": [130.1], "T.main.mean": [65.0], "SP.P": [130.0]})
    >>> bool(m.predict(doe)[0])  # the recipe asked for it: no alarm
    False
    >>> bad = pd.DataFrame({"P.main.mean": [102.0], "T.main.mean": [50.0], "SP.P": [100.0]})
    >>> e = m.explain(bad)[0].contributions[0]
    >>> (e.feature, round(e.expected, 1))
    ('P.main.mean', 100.0)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from fabmind.models.anomaly.base import AnomalyDetector, robust_spread
from fabmind.models.anomaly.mspc import MSPC, MSPCStatistics, feature_weight_array
from fabmind.models.base import Explanation, FeatureContribution, ModelError

CONTEXT_PREFIXES = ("SP.", "PM.")
_ALPHAS = np.logspace(-3, 4, 15)


def is_context(feature: str, prefixes: Sequence[str] = CONTEXT_PREFIXES) -> bool:
    return any(feature.startswith(p) for p in prefixes)


@dataclass(frozen=True)
class Response:
    """Linear response of indicators to context: ``indicator ≈ intercept + (context - c_mean) / c_scale @ coef``."""

    context: tuple[str, ...]  # context columns used (non-constant in training)
    indicators: tuple[str, ...]
    c_mean: np.ndarray  # [q]
    c_scale: np.ndarray  # [q]
    coef: np.ndarray  # [terms, p]
    degree: int = 1  # 2: squares and pairwise products of the standardised context too
    t_mean: np.ndarray | None = None  # centre of the terms in the training data
    misfit: np.ndarray | None = None  # [p] residual sd per unit of setpoint distance**2 (model error)

    def distance2(self, C: pd.DataFrame) -> np.ndarray:
        """Squared distance of each run's setpoints from the training centre (in training sds)."""
        sp = [i for i, c in enumerate(self.context) if c.startswith("SP.")]
        if not sp:
            return np.zeros(len(C))
        Z = (C[[self.context[i] for i in sp]].to_numpy(dtype=float) - self.c_mean[sp]) / self.c_scale[sp]
        return (Z**2).sum(axis=1)

    def terms(self, C: pd.DataFrame) -> np.ndarray:
        Z = (C[list(self.context)].to_numpy(dtype=float) - self.c_mean) / self.c_scale
        return _terms(Z, self.degree)

    def predict(self, C: pd.DataFrame) -> np.ndarray:
        """Context part of the expectation ``[n, p]`` (without intercept)."""
        if not self.context:
            return np.zeros((len(C), len(self.indicators)))
        T = self.terms(C)
        if self.t_mean is not None:
            T = T - self.t_mean
        return T @ self.coef


def _terms(Z: np.ndarray, degree: int) -> np.ndarray:
    if degree <= 1:
        return Z
    q = Z.shape[1]
    i, j = np.triu_indices(q)
    return np.hstack([Z, Z[:, i] * Z[:, j]])


def fit_response(X: pd.DataFrame, groups: Sequence[Any] | None = None,
                 prefixes: Sequence[str] = CONTEXT_PREFIXES, degree: int = 1,
                 cv_groups: Sequence[Any] | None = None) -> Response:
    """Ridge regression of every indicator on the context columns of ``X``.

    ``groups`` (e.g. the chamber of each row) gives every group its own intercept: the rows are
    centred per group before the fit, so chamber-to-chamber offsets do not bend the slopes. The ridge
    penalty is chosen per indicator by efficient leave-one-out (``RidgeCV(alpha_per_target=True)``).
    ``degree=2`` adds squares and pairwise products of the (standardised) context: sensor physics is
    rarely linear over a designed experiment's range (a throttle valve opens as flow / pressure).

    The response's model error (``misfit``) is measured on residuals out of ``cv_groups`` folds
    (e.g. one tool's chambers held out: a designed-experiment lot runs on one tool), so it reflects
    setpoint levels the fit has not seen.
    """
    from sklearn.linear_model import RidgeCV

    ctx = [c for c in X.columns if is_context(str(c), prefixes)]
    ind = [c for c in X.columns if not is_context(str(c), prefixes)]
    C = X[ctx].to_numpy(dtype=float)
    Y = X[ind].to_numpy(dtype=float)
    c_mean, scale = C.mean(axis=0), C.std(axis=0)
    keep = scale > 1e-9
    ctx_kept = [c for c, k in zip(ctx, keep) if k]
    if not ctx_kept or len(X) < 5:
        return Response((), tuple(ind), np.zeros(0), np.zeros(0), np.zeros((0, len(ind))))
    T = _terms((C[:, keep] - c_mean[keep]) / scale[keep], degree)
    if groups is not None:
        g = np.asarray(groups)
        T = T - pd.DataFrame(T).groupby(g).transform("mean").to_numpy()
        Y = Y - pd.DataFrame(Y).groupby(g).transform("mean").to_numpy()
    else:
        T, Y = T - T.mean(axis=0), Y - Y.mean(axis=0)
    t_scale = np.maximum(T.std(axis=0), 1e-9)
    y_scale = np.maximum(Y.std(axis=0), 1e-12)
    model = RidgeCV(alphas=_ALPHAS, fit_intercept=False, alpha_per_target=True).fit(T / t_scale, Y / y_scale)
    coef = (np.atleast_2d(model.coef_) * y_scale[:, None]).T / t_scale[:, None]  # [terms, p]
    t_mean = _terms(np.zeros((1, len(ctx_kept))), degree)[0]  # terms are centred on the training mean
    if degree > 1:
        t_mean = _terms((C[:, keep] - c_mean[keep]) / scale[keep], degree).mean(axis=0)
    response = Response(tuple(ctx_kept), tuple(ind), c_mean[keep], scale[keep], coef, degree, t_mean)
    # model error: a linear response misses curvature, which grows with the square of the setpoint
    # change; fit residual variance = noise + (misfit * distance**2)**2 on the training runs
    E = Y - T @ coef
    if cv_groups is None or len(set(cv_groups)) < 3:  # too few folds: hold out one group at a time
        cv_groups = groups
    if cv_groups is not None and len(set(cv_groups)) >= 3:
        cg = np.asarray(cv_groups)
        for fold in np.unique(cg):
            out = cg == fold
            m = RidgeCV(alphas=_ALPHAS, fit_intercept=False, alpha_per_target=True).fit(
                T[~out] / t_scale, Y[~out] / y_scale)
            E[out] = Y[out] - (T[out] / t_scale) @ (np.atleast_2d(m.coef_) * y_scale[:, None]).T
    E2 = E**2
    d4 = response.distance2(X[list(ctx_kept)]) ** 2
    near = d4 <= np.quantile(d4, 0.5)
    noise = E2[near].mean(axis=0)
    denom = float((d4**2).sum())
    gamma2 = np.maximum(((E2 - noise) * d4[:, None]).sum(axis=0) / denom, 0.0) if denom > 0 else np.zeros(len(ind))
    return Response(tuple(ctx_kept), tuple(ind), c_mean[keep], scale[keep], coef, degree, t_mean, np.sqrt(gamma2))


class AdjustedMSPC(AnomalyDetector):
    """PCA T²/SPE monitor of indicators after removing what the context (setpoints, PM age) explains.

    Parameters are those of :class:`MSPC` (applied to the residuals; ``feature_weights`` names
    indicators) plus ``context_prefixes``: the column-name prefixes of context columns (never alarmed
    on, never named as contributors).
    ``fit(X, response=...)`` takes a :class:`Response` learned elsewhere (e.g. across all chambers
    running the recipe); without it the response is fitted on ``X``.
    """

    name: ClassVar[str] = "mspc_adjusted"
    min_samples: ClassVar[int] = 10

    def __init__(self, n_components: float | str = "auto", confidence: float = 0.99, limits: str = "cv",
                 t2_confidence: float | None = None, context_prefixes: tuple[str, ...] = CONTEXT_PREFIXES,
                 feature_weights: Mapping[str, float] | None = None):
        self.n_components = n_components
        self.confidence = confidence
        self.limits = limits
        self.t2_confidence = t2_confidence
        self.context_prefixes = context_prefixes
        self.feature_weights = feature_weights

    feature_weights: Mapping[str, float] | None = None  # for models saved before the parameter existed

    # ---- fitting ---------------------------------------------------------------------------
    def _fit(self, X: pd.DataFrame, y: Any, response: Response | None = None, **_: Any) -> None:
        cols = [str(c) for c in X.columns]
        self.context_features_ = [c for c in cols if is_context(c, self.context_prefixes)]
        self.indicator_features_ = [c for c in cols if not is_context(c, self.context_prefixes)]
        if len(self.indicator_features_) < 2:
            raise ModelError(f"AdjustedMSPC: needs at least 2 indicator columns besides the context, "
                             f"got {self.indicator_features_}")
        if response is None:
            response = fit_response(X, prefixes=self.context_prefixes)
        missing = [c for c in (*response.context, *response.indicators) if c not in cols]
        if missing or list(response.indicators) != self.indicator_features_:
            raise ModelError(f"AdjustedMSPC: the response does not match the data (missing {missing[:5]})")
        self.response_ = response
        self.pm_age_mean_ = float(X["PM.age_days"].mean()) if "PM.age_days" in X.columns else float("nan")
        part = response.predict(X)
        Y = X[self.indicator_features_].to_numpy(dtype=float)
        self.intercept_ = (Y - part).mean(axis=0)
        R = Y - part - self.intercept_
        self.residual_spread_ = robust_spread(R.std(axis=0, ddof=1), np.abs(self.intercept_))
        # a sensor that is off in a step reads its clipped floor (0.0 in most runs): a quantised,
        # non-Gaussian column whose tiny spread turns any rounding into "20 sigma"; left out
        self.ignored_ = np.array([_top_value_share(Y[:, j]) > 0.2 for j in range(Y.shape[1])])
        weights = feature_weight_array(self.feature_weights, self.indicator_features_, "AdjustedMSPC")
        shrink = self._shrink(X)
        R = R * shrink
        k = self._components(R * np.where(weights > 0, weights, 0.0))
        frame = pd.DataFrame(R, columns=self.indicator_features_)
        if self.limits == "cv":
            self.mspc_ = MSPC(n_components=k, confidence=self.confidence, limits="empirical",
                              feature_weights=self.feature_weights).fit(frame)
            self.mspc_.t2_limit_, self.mspc_.spe_limit_ = self._cv_limits(Y - part, self.mspc_.n_components_, shrink)
        else:
            self.mspc_ = MSPC(n_components=k, confidence=self.confidence, limits=self.limits,
                              t2_confidence=self.t2_confidence, feature_weights=self.feature_weights).fit(frame)
        self.threshold_ = 1.0

    def _cv_limits(self, A: np.ndarray, k: int, shrink: np.ndarray, folds: int = 5) -> tuple[float, float]:
        """Control limits from out-of-fold statistics of contiguous folds, where every fold's monitor
        (intercept, residual spread, PCA) is fitted without it; the tail at ``confidence`` comes from
        Box's scaled chi-square with the out-of-fold mean and variance (a quantile of a few hundred
        runs cannot reach 99.9 %). A monitor whose spreads were estimated in-sample is too tight on
        new runs: 100 indicators each 10 % over their estimated variance add 20 % to SPE."""
        from scipy import stats

        edges = np.linspace(0, len(A), folds + 1).astype(int)
        t2s, spes = [], []
        for lo, hi in zip(edges[:-1], edges[1:]):
            train = np.concatenate([A[:lo], A[hi:]])
            if len(train) < self.min_samples or hi <= lo:
                continue
            icpt = train.mean(axis=0)
            fit_rows = (train - icpt) * np.concatenate([shrink[:lo], shrink[hi:]])
            m = MSPC(n_components=k, confidence=self.confidence, limits="empirical",
                     feature_weights=self.feature_weights).fit(pd.DataFrame(fit_rows, columns=self.indicator_features_))
            st = m._statistics((A[lo:hi] - icpt) * shrink[lo:hi])
            t2s.append(st[0])
            spes.append(st[1])
        t2_conf = self.confidence if self.t2_confidence is None else self.t2_confidence

        def box(x: np.ndarray, conf: float) -> float:
            mean, var = float(np.mean(x)), float(np.var(x))
            if mean <= 0 or var <= 0:
                return float(np.max(x)) if len(x) else 1e-12
            g, h = var / (2 * mean), 2 * mean**2 / var
            return float(g * stats.chi2.ppf(conf, h))

        if not t2s:
            return self.mspc_.t2_limit_, self.mspc_.spe_limit_
        return box(np.concatenate(t2s), t2_conf), max(box(np.concatenate(spes), self.confidence), 1e-12)

    def _components(self, R: np.ndarray) -> float:
        """``n_components='auto'``: the principal components of the standardised residuals whose
        eigenvalue is above the Marchenko–Pastur edge ``(1 + sqrt(p/n))**2`` of pure noise. After the
        context is regressed out residuals are mostly independent noise; PCA on few runs (n ≈ p) would
        otherwise take noise directions as structure and make T² unstable."""
        if self.n_components != "auto":
            return self.n_components
        Z = (R - R.mean(axis=0)) / self.residual_spread_
        n, p = Z.shape
        eig = np.linalg.eigvalsh(Z.T @ Z / max(n - 1, 1))
        edge = (1 + np.sqrt(p / n)) ** 2
        return int(max(1, (eig > edge).sum()))

    def _validate(self, X: Any, *, fitting: bool) -> pd.DataFrame:
        """As every model, except that a missing ``PM.age_days`` column (a caller without PM dates)
        is filled with the training mean age: the PM drift is then not expected, nothing crashes."""
        if not fitting and isinstance(X, pd.DataFrame) and hasattr(self, "response_"):
            names = list(self.feature_names_in_)
            if "PM.age_days" in names and "PM.age_days" not in X.columns:
                X = X.assign(**{"PM.age_days": self.pm_age_mean_})[names]
        return super()._validate(X, fitting=fitting)

    # ---- scoring ---------------------------------------------------------------------------
    def expected(self, X: Any) -> pd.DataFrame:
        """The context-adjusted expectation of every indicator (sensor units)."""
        df = self._validate(X, fitting=False)
        return pd.DataFrame(self._expected(df), index=df.index, columns=self.indicator_features_)

    def _expected(self, df: pd.DataFrame) -> np.ndarray:
        return self.intercept_ + self.response_.predict(df)

    def residuals(self, X: Any) -> pd.DataFrame:
        df = self._validate(X, fitting=False)
        return self._residuals(df)

    def _residuals(self, df: pd.DataFrame) -> pd.DataFrame:
        """Residuals, shrunk where the run's setpoints are far enough for the response's model error
        to matter: ``r * noise / sqrt(noise**2 + (misfit * distance**2)**2)`` (unchanged near the centre)."""
        R = df[self.indicator_features_].to_numpy(dtype=float) - self._expected(df)
        return pd.DataFrame(R * self._shrink(df), index=df.index, columns=self.indicator_features_)

    def _shrink(self, df: pd.DataFrame) -> np.ndarray:
        misfit = getattr(self.response_, "misfit", None)
        keep = ~getattr(self, "ignored_", np.zeros(len(self.indicator_features_), dtype=bool))
        if misfit is None or not self.response_.context:
            return np.ones((len(df), len(self.indicator_features_))) * keep
        extra = misfit[None, :] * self.response_.distance2(df)[:, None]
        noise = self.residual_spread_[None, :]
        return noise / np.sqrt(noise**2 + extra**2) * keep

    def _score(self, X: pd.DataFrame) -> np.ndarray:
        return self.mspc_._score(self._residuals(X))

    def statistics(self, X: Any) -> MSPCStatistics:
        """T² and SPE of the residuals of every row, with the control limits."""
        return self.mspc_.statistics(self.residuals(X))

    def contributions(self, X: Any, statistic: str = "combined") -> pd.DataFrame:
        """Reconstruction-based contributions of the indicators (context columns get none)."""
        return self.mspc_.contributions(self.residuals(X), statistic)

    @property
    def t2_limit_(self) -> float:
        return self.mspc_.t2_limit_

    @property
    def spe_limit_(self) -> float:
        return self.mspc_.spe_limit_

    # ---- explanation -----------------------------------------------------------------------
    def _explain_rows(self, df: pd.DataFrame, rows: np.ndarray, scores: np.ndarray) -> list[Explanation]:
        R = self._residuals(df)
        rbc = self.mspc_._rbc(R.to_numpy(), rows, "combined")
        total = rbc.sum(axis=1, keepdims=True)
        shares = np.divide(rbc, total, out=np.zeros_like(rbc), where=total > 0)
        values = df[self.indicator_features_].to_numpy(dtype=float)[rows]
        expected = self._expected(df.iloc[rows])
        sigma = (values - expected) * self._shrink(df.iloc[rows]) / self.residual_spread_
        order = np.argsort(-shares, axis=1, kind="stable")
        names = self.indicator_features_
        return [
            Explanation(row=int(r), output=float(scores[r]), contributions=tuple(
                FeatureContribution(feature=names[j], contribution=float(shares[i, j]), value=float(values[i, j]),
                                    expected=float(expected[i, j]), deviation_sigma=float(sigma[i, j]))
                for j in order[i]))
            for i, r in enumerate(rows)
        ]


def _top_value_share(column: np.ndarray) -> float:
    """Share of the most frequent value among the non-missing values of a column (1.0 when none is)."""
    values = column[~np.isnan(column)]
    if not len(values):
        return 1.0
    return float(np.unique(values, return_counts=True)[1].max() / len(values))
