"""Predictive maintenance: remaining useful life (RUL) and failure risk within a horizon.

Both models work on *window features* of an asset's sensor history (an engine's cycles, a
chamber's runs since its last maintenance), built by :func:`window_features`: per sensor the
last value, short and long moving averages, spread, least-squares slope, exponentially weighted
means, the drift of the smoothed value from the asset's own early baseline, the age and, on request,
the mean/spread/slope over longer windows and over the whole history so far.
Everything is causal (row ``t`` uses rows ``<= t`` of its asset only), so training rows and live
scoring rows are computed the same way.

* :class:`RULModel` — LightGBM regression on window features against a piecewise-linear target
  (capped at ``cap`` cycles), averaged with a small MLP (``mlp_weight``; 0 switches it off) and, when the
  table carries the raw window (``window_features(..., raw=30)``) and torch is installed, a small CNN
  (``net_weight``; :mod:`fabmind.models.rul_nets`).
  On NASA C-MAPSS FD001 this is measured in ``bench/cmapss.py``.
* :class:`FailureRiskModel` — LightGBM classifier: probability that the asset fails within the
  horizon the labels were built for.

Explanations come from LightGBM's ``pred_contrib`` (SHAP values of the gradient-boosting member:
in cycles for RUL, in log-odds for risk).

Example::

    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> rows = []
    >>> for unit in range(12):
    ...     life = int(rng.integers(60, 120))
    ...     for c in range(life):
    ...         rows.append({"unit": unit, "cycle": c + 1, "temp": 500 + 20 * (c / life) ** 3 + rng.normal(0, .3)})
    >>> hist = pd.DataFrame(rows)
    >>> X = window_features(hist, unit="unit", order="cycle", sensors=["temp"], window=10)
    >>> y = rul_target(hist, unit="unit", order="cycle", cap=50)
    >>> m = RULModel(n_estimators=60, mlp_weight=0.0).fit(X, y)
    >>> bool(m.predict(X.iloc[[5]])[0] > m.predict(X.iloc[[-1]])[0])   # early in life > end of life
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from fabmind.models.base import Explanation, FeatureContribution, ModelError, SmallModel

# --------------------------------------------------------------------------- features


def _check_history(hist: pd.DataFrame, unit: str, order: str, sensors: Sequence[str]) -> None:
    missing = [c for c in (unit, order, *sensors) if c not in hist.columns]
    if missing:
        raise ModelError(f"window_features: history has no columns {missing}")
    if len(hist) == 0:
        raise ModelError("window_features: the sensor history is empty")
    bad = ~np.isfinite(hist[list(sensors)].to_numpy(dtype=float))
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise ModelError(
            f"window_features: sensor {sensors[c]!r} is NaN/inf in row {hist.index[r]!r} "
            "(fill gaps per asset first, e.g. forward-fill)"
        )


def window_features(
    hist: pd.DataFrame,
    *,
    unit: str,
    order: str,
    sensors: Sequence[str],
    window: int = 30,
    short: int = 10,
    alphas: Sequence[float] = (0.1, 0.3),
    baseline: int = 20,
    raw: int = 0,
    long: Sequence[int] = (),
    history: bool = False,
) -> pd.DataFrame:
    """One row per history row (same index), causal window features per sensor plus ``age``.

    ``unit`` is the asset column (engine, chamber or chamber+maintenance cycle), ``order`` the
    time/cycle column. Columns: ``<s>.last``, ``<s>.mean{window}``, ``<s>.mean{short}``,
    ``<s>.std{window}``, ``<s>.slope{window}`` (per row), ``<s>.ewm{alpha}``, ``<s>.drift``
    (slowest EWM minus the mean of the asset's first ``baseline`` rows), ``<s>.cummean``, ``age``.
    Each length ``L`` in ``long`` adds ``<s>.mean{L}``, ``<s>.std{L}``, ``<s>.slope{L}`` over the last ``L``
    rows, and ``history=True`` adds ``<s>.stdall`` and ``<s>.slopeall`` over the asset's whole history so far
    (its mean is ``cummean``): a slow degradation shows in a long trend well before it leaves a short window's
    noise (C-MAPSS FD001, engine-grouped CV: the LightGBM member alone 12.82 without, 11.17 with a 60-cycle
    window and the whole history; the benchmark's RULModel 11.42 -> 11.00; ``bench/cmapss.py``).
    With ``raw=w`` (>= 2) the raw window follows: ``<s>.raw0`` (this row) .. ``<s>.raw{w-1}`` (``w-1`` rows
    earlier; rows before the asset's first are its first row), the input of ``RULModel``'s CNN member
    (:mod:`fabmind.models.rul_nets`).
    """
    sensors = list(sensors)
    _check_history(hist, unit, order, sensors)
    if window < 2 or short < 1 or baseline < 1:
        raise ModelError(f"window_features: window={window}, short={short}, baseline={baseline} must be >= 2, 1, 1")
    if raw == 1 or raw < 0:
        raise ModelError(f"window_features: raw={raw} must be 0 (no raw window) or >= 2")
    long = [int(L) for L in long]
    if any(L < 2 for L in long) or len(set(long) | {window}) != len(long) + 1:
        raise ModelError(f"window_features: long={long} must be distinct lengths >= 2, other than window={window}")
    h = hist.sort_values([unit, order], kind="stable")
    x = h[sensors].astype(float)
    g = x.groupby(h[unit], sort=False)
    pos = h.groupby(unit, sort=False).cumcount().astype(float)
    feats: dict[str, pd.Series | pd.DataFrame] = {}

    def roll(frame: pd.DataFrame, w: int | None) -> pd.DataFrame:
        """Per-asset sums over the last ``w`` rows (``None``: the whole history so far)."""
        if w is None:
            return frame.groupby(h[unit], sort=False).cumsum()
        r = frame.groupby(h[unit], sort=False).rolling(w, min_periods=1).sum()
        return r.reset_index(level=0, drop=True).loc[frame.index]

    ones = pd.DataFrame({"one": np.ones(len(h))}, index=h.index)
    t = pd.DataFrame({"t": pos, "tt": pos * pos}, index=h.index)
    xx, xt = x * x, x.mul(pos, axis=0)

    def moments(w: int | None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """Mean, standard deviation and least-squares slope per row of each sensor over ``roll(., w)``."""
        n, sx, st = roll(ones, w)["one"], roll(x, w), roll(t, w)
        mean = sx.div(n, axis=0)
        var = (roll(xx, w).div(n, axis=0) - mean**2).clip(lower=0.0)
        denom = n * st["tt"] - st["t"] ** 2
        slope = (roll(xt, w).mul(n, axis=0) - sx.mul(st["t"], axis=0)).div(denom.where(denom > 1e-12), axis=0)
        return mean, np.sqrt(var), slope.fillna(0.0)

    mean_w, std_w, slope = moments(window)
    mean_s = roll(x, short).div(roll(ones, short)["one"], axis=0)
    ewms = {a: g.transform(lambda s, a=a: s.ewm(alpha=a).mean()) for a in alphas}
    early = x.mul((pos < baseline).astype(float), axis=0)
    base = early.groupby(h[unit], sort=False).cumsum().div(np.minimum(pos + 1, baseline), axis=0)
    cummean = g.cumsum().div(pos + 1, axis=0)
    slow = ewms[min(alphas)] if alphas else mean_w
    for s in sensors:
        feats[f"{s}.last"] = x[s]
        feats[f"{s}.mean{window}"] = mean_w[s]
        feats[f"{s}.mean{short}"] = mean_s[s]
        feats[f"{s}.std{window}"] = std_w[s]
        feats[f"{s}.slope{window}"] = slope[s]
        for a in alphas:
            feats[f"{s}.ewm{a:g}"] = ewms[a][s]
        feats[f"{s}.drift"] = slow[s] - base[s]
        feats[f"{s}.cummean"] = cummean[s]
    for L, (m, sd, sl) in [(L, moments(L)) for L in long] + ([("all", moments(None))] if history else []):
        for s in sensors:
            if L != "all":  # the whole history's mean is cummean
                feats[f"{s}.mean{L}"] = m[s]
            feats[f"{s}.std{L}"] = sd[s]
            feats[f"{s}.slope{L}"] = sl[s]
    feats["age"] = pos + 1
    if raw:
        first = g.transform("first")
        lagged = [g.shift(k).fillna(first) if k else x for k in range(raw)]
        for s in sensors:
            for k in range(raw):
                feats[f"{s}.raw{k}"] = lagged[k][s]
    out = pd.DataFrame(feats, index=h.index)
    return out.loc[hist.index]


def rul_target(hist: pd.DataFrame, *, unit: str, order: str, cap: float | None = None) -> pd.Series:
    """Cycles (rows) left until each unit's last row — for run-to-failure histories; ``cap`` clips."""
    pos = hist.groupby(unit)[order].rank(method="first")
    rul = hist.groupby(unit)[order].transform("size") - pos
    return rul.clip(upper=cap) if cap is not None else rul


# --------------------------------------------------------------------------- models


def _lgbm_contributions(
    booster: Any, X: pd.DataFrame, outputs: np.ndarray, center: pd.Series, spread: pd.Series, top: int
) -> list[Explanation]:
    contrib = booster.predict(X, pred_contrib=True)
    contrib = np.asarray(contrib)[:, : X.shape[1]]  # last column is the expected value
    out = []
    names = list(X.columns)
    vals = X.to_numpy(dtype=float)
    for i in range(len(X)):
        order = np.argsort(-np.abs(contrib[i]))[:top]
        items = []
        for j in order:
            sd = float(spread.iloc[j])
            dev = (vals[i, j] - float(center.iloc[j])) / sd if sd > 0 else float("nan")
            items.append(FeatureContribution(names[j], float(contrib[i, j]), float(vals[i, j]),
                                             float(center.iloc[j]), dev))
        out.append(Explanation(row=i, output=float(outputs[i]), contributions=tuple(items)))
    return out


HI_PREFIX = "health_index."


def _fit_health_index(X: pd.DataFrame, target: np.ndarray) -> tuple[list[str], list[str], np.ndarray, float]:
    """Linear health index: ridge regression of the capped RUL on the sensors' ``.last`` values.

    Returns (sensors, feature suffixes the index is carried to, weights in sensor units, intercept).
    Suffixes are those every sensor has except the spread (``std``), which is not linear in the data.
    """
    from sklearn.linear_model import Ridge

    sensors = [c[: -len(".last")] for c in X.columns if c.endswith(".last")]
    clash = [c for c in X.columns if str(c).startswith(HI_PREFIX)]
    if clash:
        raise ModelError(f"RULModel: input columns {clash[:3]} clash with the derived health-index features "
                         f"({HI_PREFIX}*); rename them or pass health_index=False")
    if len(sensors) < 2:
        return [], [], np.zeros(0), 0.0
    suffixes = [c[len(sensors[0]) + 1:] for c in X.columns if c.startswith(sensors[0] + ".")]
    suffixes = [f for f in suffixes if not f.startswith("std")
                and all(f"{s}.{f}" in X.columns for s in sensors)]
    last = X[[f"{s}.last" for s in sensors]].to_numpy(dtype=float)
    mu, sd = last.mean(axis=0), last.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    ridge = Ridge(alpha=1.0).fit((last - mu) / sd, target)
    w = ridge.coef_ / sd
    return sensors, suffixes, w, float(ridge.intercept_ - (mu * w).sum())


def _add_health_index(X: pd.DataFrame, sensors: list[str], suffixes: list[str], w: np.ndarray, b: float
                      ) -> pd.DataFrame:
    """``health_index.<suffix>`` = the health index carried through each linear window feature (mean, EWM,
    slope, drift, ...): the same weights applied to the sensors' features of that suffix."""
    if not sensors:
        return X
    cols = {}
    for f in suffixes:
        level = 0.0 if f.startswith("slope") or f == "drift" else b
        cols[f"{HI_PREFIX}{f}"] = X[[f"{s}.{f}" for s in sensors]].to_numpy(dtype=float) @ w + level
    return pd.concat([X, pd.DataFrame(cols, index=X.index)], axis=1)


class RULModel(SmallModel):
    """Remaining useful life (in the history's cycles/runs) from window features.

    ``score``/``predict`` return RUL (>= 0; the target is capped at ``cap``). ``explain`` returns
    the gradient-boosting member's SHAP contributions in cycles, largest first.

    With ``health_index`` (default) a linear health index is fitted on the sensors' ``<s>.last``
    columns (ridge on the capped target) and carried through the linear window features
    (``health_index.mean30``, ``health_index.ewm0.1``, ...) as extra inputs for both members: one
    denoised degradation signal instead of many noisy ones. Engine-grouped 5-fold CV on C-MAPSS
    FD001 training engines: RMSE 12.24 -> 12.04 (``bench/cmapss.py``).

    Optional CNN member: when the feature table carries the raw window (``window_features(..., raw=30)``
    adds ``<s>.raw0 .. <s>.raw29``), ``net_weight > 0`` and torch is importable, a small 1-D CNN
    (:class:`fabmind.models.rul_nets.WindowCNN`, settings ``net_params``) is trained on that window plus the
    other members' inputs, and the prediction becomes ``(1 - net_weight) * (GBM/MLP blend) + net_weight * CNN``.
    The raw columns are the CNN's input only (the GBM, MLPs and health index never see them); a table without
    them gives exactly the model without the member. ``net_exclude`` names feature suffixes (``"slopeall"``,
    ``"mean60"``, ...) whose columns, the health index's included, the CNN's static branch does not get: on
    C-MAPSS the long-window features help the GBM a lot but made the CNN worse (``bench/cmapss.py``).

    ``min_age`` (> 0) fits the gradient-boosting and MLP members and the health index only on rows whose
    ``age`` (history length, a column of :func:`window_features`) is at least ``min_age``, e.g. the window
    length so that every training window is complete, as it is for the assets scored; the CNN member still
    uses every row (it sees the padding of a short window explicitly). On C-MAPSS (``min_age=30``) this took
    the engine-grouped CV from 11.00 to 10.71 and the test RMSE from 11.10 to 10.88; the CNN trained on
    those rows only was worse.
    """

    family: ClassVar[str] = "maintenance"
    name: ClassVar[str] = "rul"
    min_samples: ClassVar[int] = 20

    def __init__(self, cap: float = 125.0, n_estimators: int = 600, learning_rate: float = 0.03,
                 num_leaves: int = 31, min_child_samples: int = 50, colsample_bytree: float = 0.5,
                 mlp_weight: float = 0.5, mlp_hidden: tuple[int, ...] = (128, 64), mlp_seeds: int = 2,
                 health_index: bool = True, random_state: int = 0, n_jobs: int = 1, top: int = 8,
                 net_weight: float = 0.3, net_params: dict[str, Any] | None = None,
                 net_exclude: Sequence[str] = (), min_age: int = 0):
        self.cap, self.n_estimators, self.learning_rate = cap, n_estimators, learning_rate
        self.num_leaves, self.min_child_samples, self.colsample_bytree = num_leaves, min_child_samples, colsample_bytree
        self.mlp_weight, self.mlp_hidden, self.mlp_seeds = mlp_weight, mlp_hidden, mlp_seeds
        self.health_index, self.random_state, self.n_jobs, self.top = health_index, random_state, n_jobs, top
        self.net_weight, self.net_params, self.net_exclude = net_weight, net_params, net_exclude
        self.min_age = min_age

    def _inputs(self, X: pd.DataFrame) -> pd.DataFrame:
        X = X.drop(columns=getattr(self, "raw_cols_", []))  # the raw window is the CNN's input only
        return _add_health_index(X, *self.hi_) if self.health_index else X

    def _net_static(self, inputs: pd.DataFrame) -> np.ndarray:
        """The CNN member's static inputs: the other members' inputs without the ``net_exclude`` columns."""
        cols = getattr(self, "net_static_", None)
        return (inputs if cols is None else inputs[cols]).to_numpy(dtype=np.float32)

    def _windows(self, X: pd.DataFrame) -> np.ndarray:
        from fabmind.models.rul_nets import window_array

        return window_array(X, self.net_sensors_, self.net_.w_)

    def _fit(self, X: pd.DataFrame, y: Any, **_: Any) -> None:
        import lightgbm as lgb

        if y is None:
            raise ModelError("RULModel.fit needs y: the remaining useful life of each row (see rul_target)")
        target = np.asarray(y, dtype=float)
        if target.shape != (len(X),) or not np.isfinite(target).all() or (target < 0).any():
            raise ModelError("RULModel.fit: y must be one finite, non-negative RUL per row")
        target = np.minimum(target, self.cap)
        from fabmind.models import rul_nets

        sensors, w = rul_nets.raw_columns(X.columns)
        # only a complete raw window (every sensor, lags 0..w-1) is taken out of the other members' inputs
        self.raw_cols_ = [f"{s}.raw{k}" for s in sensors for k in range(w)]
        self.net_, self.net_sensors_ = None, sensors
        raw_X = X
        plain = X.drop(columns=self.raw_cols_)
        keep = self._rows_from_min_age(plain)
        self.hi_ = _fit_health_index(plain[keep], target[keep]) if self.health_index else ([], [], np.zeros(0), 0.0)
        X = self._inputs(raw_X)
        unknown = [f for f in self.net_exclude if not any(str(c).endswith(f".{f}") for c in X.columns)]
        if unknown:
            raise ModelError(f"RULModel: net_exclude {unknown} match no feature column (suffixes such as 'slopeall', "
                             f"'mean60' of window_features' columns)")
        drop = tuple(f".{f}" for f in self.net_exclude)
        self.net_static_ = [c for c in X.columns if not str(c).endswith(drop)] if drop else list(X.columns)
        if self.net_weight > 0 and w and rul_nets.available():
            params = {"cap": self.cap, "random_state": self.random_state, "n_jobs": self.n_jobs,
                      **(self.net_params or {})}
            self.net_ = rul_nets.WindowCNN(**params)
            self.net_.fit(rul_nets.window_array(raw_X, sensors, w), target, self._net_static(X))
        X, target = X[keep], target[keep]  # the other members (and the explanation's reference) use these rows
        self.gbm_ = lgb.LGBMRegressor(
            n_estimators=self.n_estimators, learning_rate=self.learning_rate, num_leaves=self.num_leaves,
            min_child_samples=self.min_child_samples, subsample=0.8, subsample_freq=1,
            colsample_bytree=self.colsample_bytree, reg_lambda=1.0, random_state=self.random_state,
            n_jobs=self.n_jobs, verbose=-1,
        ).fit(X, target)
        self.center_, self.spread_ = X.median(), X.std(ddof=0)
        self.mlps_ = []
        if self.mlp_weight > 0:
            import warnings

            from sklearn.exceptions import ConvergenceWarning
            from sklearn.neural_network import MLPRegressor
            from sklearn.pipeline import make_pipeline
            from sklearn.preprocessing import StandardScaler
            from threadpoolctl import threadpool_limits

            for k in range(self.mlp_seeds):
                mlp = make_pipeline(StandardScaler(), MLPRegressor(
                    hidden_layer_sizes=tuple(self.mlp_hidden), alpha=1e-2, batch_size=min(256, len(X)), max_iter=40,
                    early_stopping=True, random_state=self.random_state + k))
                with warnings.catch_warnings(), threadpool_limits(self.n_jobs):
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    self.mlps_.append(mlp.fit(X.to_numpy(dtype=float), target))

    def _rows_from_min_age(self, X: pd.DataFrame) -> np.ndarray:
        """Rows the gradient-boosting/MLP members and the health index are fitted on (``age >= min_age``)."""
        if self.min_age <= 0:
            return np.ones(len(X), dtype=bool)
        if "age" not in X.columns:
            raise ModelError(f"RULModel: min_age={self.min_age} needs the 'age' column of window_features")
        keep = X["age"].to_numpy(dtype=float) >= self.min_age
        if keep.sum() < self.min_samples:
            raise ModelError(f"RULModel: only {int(keep.sum())} rows have age >= min_age={self.min_age}; "
                             f"need at least {self.min_samples}")
        return keep

    def _score(self, X: pd.DataFrame) -> np.ndarray:
        return self._score_inputs(self._inputs(X), X)

    def _score_inputs(self, X: pd.DataFrame, raw_X: pd.DataFrame | None = None) -> np.ndarray:
        pred = self.gbm_.predict(X)
        if self.mlps_:
            from threadpoolctl import threadpool_limits

            arr = X.to_numpy(dtype=float)
            with threadpool_limits(self.n_jobs):
                mlp = np.mean([m.predict(arr) for m in self.mlps_], axis=0)
            pred = (1 - self.mlp_weight) * pred + self.mlp_weight * mlp
        if getattr(self, "net_", None) is not None and raw_X is not None:
            net = self.net_.predict(self._windows(raw_X), self._net_static(X))
            pred = (1 - self.net_weight) * pred + self.net_weight * net
        return np.clip(pred, 0.0, self.cap)

    def predict(self, X: Any) -> np.ndarray:
        """Remaining useful life per row (same unit as the training target)."""
        return self.score(X)

    def explain(self, X: Any) -> list[Explanation]:
        raw_X = self._validate(X, fitting=False)
        df = self._inputs(raw_X)
        return _lgbm_contributions(self.gbm_.booster_, df, self._score_inputs(df, raw_X), self.center_,
                                   self.spread_, self.top)


class FailureRiskModel(SmallModel):
    """Probability that an asset fails within the horizon its labels were built for.

    ``score``/``predict_proba``-style output: one probability per row. NaN features are allowed
    (LightGBM routes missing values). ``explain`` gives SHAP contributions in log-odds.
    """

    family: ClassVar[str] = "maintenance"
    name: ClassVar[str] = "failure_risk"
    min_samples: ClassVar[int] = 20
    allow_nan: ClassVar[bool] = True

    def __init__(self, n_estimators: int = 300, learning_rate: float = 0.05, num_leaves: int = 15,
                 min_child_samples: int = 20, colsample_bytree: float = 0.7, random_state: int = 0,
                 n_jobs: int = 1, top: int = 8):
        self.n_estimators, self.learning_rate, self.num_leaves = n_estimators, learning_rate, num_leaves
        self.min_child_samples, self.colsample_bytree = min_child_samples, colsample_bytree
        self.random_state, self.n_jobs, self.top = random_state, n_jobs, top

    def _fit(self, X: pd.DataFrame, y: Any, **_: Any) -> None:
        import lightgbm as lgb

        if y is None:
            raise ModelError("FailureRiskModel.fit needs y: 1 if the asset failed within the horizon, else 0")
        labels = np.asarray(y).astype(int)
        if labels.shape != (len(X),) or not set(np.unique(labels)) <= {0, 1}:
            raise ModelError("FailureRiskModel.fit: y must be one 0/1 label per row")
        if len(np.unique(labels)) < 2:
            raise ModelError("FailureRiskModel.fit: labels hold one class only; need failures and non-failures")
        self.gbm_ = lgb.LGBMClassifier(
            n_estimators=self.n_estimators, learning_rate=self.learning_rate, num_leaves=self.num_leaves,
            min_child_samples=self.min_child_samples, subsample=0.8, subsample_freq=1,
            colsample_bytree=self.colsample_bytree, random_state=self.random_state, n_jobs=self.n_jobs, verbose=-1,
        ).fit(X, labels)
        self.center_, self.spread_ = X.median(), X.std(ddof=0)
        self.base_rate_ = float(labels.mean())

    def _score(self, X: pd.DataFrame) -> np.ndarray:
        return self.gbm_.predict_proba(X)[:, 1]

    def predict(self, X: Any, threshold: float = 0.5) -> np.ndarray:
        """1 where the failure probability reaches ``threshold``."""
        return (self.score(X) >= threshold).astype(int)

    def explain(self, X: Any) -> list[Explanation]:
        df = self._validate(X, fitting=False)
        return _lgbm_contributions(self.gbm_.booster_, df, self._score(df), self.center_, self.spread_, self.top)


# --------------------------------------------------------------------------- fab data


@dataclass
class PdMData:
    """Training table for a fab's chambers: one row per run.

    ``features``: window features of the run's FDC indicators within its maintenance cycle;
    ``info``: run_id, chamber_id, start, cycle (maintenance cycle id), ``hours_to_failure``
    (to the next CM work order of the chamber; NaN if none follows: censored),
    ``runs_to_failure`` and ``fails_within`` (failure within ``horizon_h``; 0 for censored rows
    whose observation covers the horizon, NaN when it does not).
    """

    features: pd.DataFrame
    info: pd.DataFrame
    horizon_h: float

    def labelled(self) -> tuple[pd.DataFrame, pd.Series]:
        """Rows with a known risk label: (features, fails_within)."""
        keep = self.info["fails_within"].notna().to_numpy()
        return self.features[keep], self.info["fails_within"][keep].astype(int)


def pdm_frame(runs: pd.DataFrame, indicators: pd.DataFrame, work_orders: pd.DataFrame, *,
              horizon_h: float = 24.0, window: int = 20, sensors: Sequence[str] | None = None,
              observed_until: pd.Timestamp | None = None) -> PdMData:
    """Join runs (run_id, chamber_id, start), their FDC ``indicators`` (indexed by run_id) and work
    orders (equipment_id, chamber_id, kind, opened) into a :class:`PdMData` table.

    Corrective (``cm``) work orders are the failures; every work order (PM or CM) starts a new
    maintenance cycle, so ``age`` counts runs since the last maintenance. Tool-level orders
    (chamber_id empty) apply to every chamber of the tool. Missing indicator values are
    forward-filled within a chamber, then filled with the column median.
    """
    need = {"run_id", "chamber_id", "start"}
    if not need <= set(runs.columns):
        raise ModelError(f"pdm_frame: runs need columns {sorted(need)}, got {sorted(runs.columns)}")
    if len(runs) == 0:
        raise ModelError("pdm_frame: no runs")
    cols = list(sensors) if sensors is not None else [c for c in indicators.columns
                                                      if pd.api.types.is_numeric_dtype(indicators[c])]
    missing = [c for c in cols if c not in indicators.columns]
    if missing:
        raise ModelError(f"pdm_frame: indicators have no columns {missing}")
    r = runs[["run_id", "chamber_id", "start"]].copy()
    r["start"] = pd.to_datetime(r["start"], utc=True)
    r = r[r["run_id"].isin(indicators.index)].sort_values(["chamber_id", "start", "run_id"]).reset_index(drop=True)
    if r.empty:
        raise ModelError("pdm_frame: none of the runs has FDC indicators")
    ind = indicators.loc[r["run_id"], cols].astype(float).reset_index(drop=True)
    ind = ind.groupby(r["chamber_id"]).ffill().fillna(ind.median()).fillna(0.0)
    wo = work_orders.copy()
    if len(wo):
        wo["opened"] = pd.to_datetime(wo["opened"], utc=True)
        wo["kind"] = wo["kind"].astype(str).str.lower()
    end = r["start"].max() if observed_until is None else pd.Timestamp(observed_until)
    end = end.tz_localize("UTC") if end.tzinfo is None else end
    info_parts = []
    for ch, sub in r.groupby("chamber_id", sort=False):
        tool = ch.split("/")[0]
        mine = wo[(wo["chamber_id"].fillna("").astype(str).isin([ch, ""]) & (wo["equipment_id"] == tool))] if len(wo) else wo
        t = sub["start"].to_numpy(dtype="datetime64[ns]")
        all_t = np.sort(mine["opened"].to_numpy(dtype="datetime64[ns]")) if len(mine) else np.array([], "datetime64[ns]")
        cm_t = np.sort(mine.loc[mine["kind"] == "cm", "opened"].to_numpy(dtype="datetime64[ns]")) if len(mine) \
            else np.array([], "datetime64[ns]")
        cycle = np.searchsorted(all_t, t, side="right")
        k = np.searchsorted(cm_t, t, side="left")
        has_next = k < len(cm_t)
        nxt = cm_t[np.minimum(k, len(cm_t) - 1)] if len(cm_t) else t
        hours = np.where(has_next, (nxt - t) / np.timedelta64(1, "h"), np.nan)
        runs_left = np.where(has_next, np.searchsorted(t, nxt, side="left") - np.arange(len(t)) - 1.0, np.nan)
        cover = (end.to_datetime64() - t) / np.timedelta64(1, "h") >= horizon_h
        fails = np.where(has_next, (hours <= horizon_h).astype(float), np.where(cover, 0.0, np.nan))
        info_parts.append(pd.DataFrame({
            "run_id": sub["run_id"].to_numpy(), "chamber_id": ch, "start": sub["start"].to_numpy(),
            "cycle": [f"{ch}#{c}" for c in cycle], "hours_to_failure": hours, "runs_to_failure": runs_left,
            "fails_within": fails}, index=sub.index))
    info = pd.concat(info_parts).loc[r.index]
    hist = pd.concat([info[["cycle"]], ind, pd.Series(np.arange(len(r)), index=r.index, name="_order")], axis=1)
    feats = window_features(hist, unit="cycle", order="_order", sensors=cols, window=window,
                            short=max(1, window // 3), baseline=max(1, window // 2))
    feats.index = pd.Index(r["run_id"].to_numpy(), name="run_id")
    info.index = feats.index
    return PdMData(features=feats, info=info.drop(columns=["run_id"]), horizon_h=horizon_h)


def pdm_frame_from_store(store: Any, *, horizon_h: float = 24.0, window: int = 20,
                         chamber_ids: Sequence[str] | None = None, stats: Sequence[str] = ("mean",)) -> PdMData:
    """:func:`pdm_frame` on a :class:`fabmind.store.Store`: runs, their traces' FDC indicators
    (``stats`` per sensor and step) and the work orders."""
    from fabmind.models.features import fdc_indicators

    runs = store.runs()
    if chamber_ids is not None:
        runs = runs[runs["chamber_id"].isin(list(chamber_ids))]
    if runs.empty:
        raise ModelError("pdm_frame_from_store: the store has no runs for these chambers")
    parts = []
    for ch, sub in runs.groupby("chamber_id"):
        traces = list(store.traces(sub["run_id"].tolist()).values())
        if traces:
            parts.append(fdc_indicators(traces, stats=stats))
    if not parts:
        raise ModelError("pdm_frame_from_store: no run traces stored; PdM needs sensor histories")
    indicators = pd.concat(parts)
    numeric = [c for c in indicators.columns if indicators[c].notna().mean() >= 0.5]
    return pdm_frame(runs, indicators[numeric], store.work_orders(), horizon_h=horizon_h, window=window,
                     observed_until=pd.to_datetime(runs["end"], utc=True).max() if "end" in runs else None)
