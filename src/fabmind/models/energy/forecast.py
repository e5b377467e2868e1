"""Short-term (next-interval) energy forecasting and nowcasting of one meter.

* :func:`history_features` — what a meter's own past says about its next interval: lags, rolling
  statistics, exponentially weighted means, how long it has been running / idle, energy so far today
  and yesterday's total. Every value uses readings up to the previous interval only.
* :class:`EnergyForecaster` — kWh of the next (or current, from other channels) interval. An average
  of LightGBM models of two kinds, each with ``seeds`` seeds: *level* models predict the kWh, *change*
  models predict the change from the last interval (``last_value`` feature) and add it back — the
  first are good at levels, the second at following steps, and their average beats either.
  ``exact``: a feature that, where present, equals the target by identity (e.g. the kWh recomputed
  from a reactive-energy / power-factor pair, :func:`~fabmind.models.energy.electrical.power_triangle_kwh`);
  where it is finite it replaces the model's estimate. ``extra_trees``: share of an ExtraTrees pair
  (level + change, same inputs) blended into the estimate -- a differently biased learner whose errors
  partly cancel the boosted ones (0 = LightGBM only, the default). ``fit(X, y, sample_weight=w)``
  weights the training intervals of every member (e.g. recent months more). ``scaled``: other
  parametrisations of the same target, ``{scale column: last-value column in those units}``: for each,
  a full member set (same kinds and seeds) models ``y / X[scale]`` and its estimate times ``X[scale]``
  is averaged, with equal weights, with the plain one wherever the scale is finite and > 0 -- e.g. the
  apparent energy S = kWh / PF (scale: the power factor as a fraction), which moves more smoothly
  across load steps than the kWh, or the reactive energy Q = kWh / cot(phi).

Example::

    >>> import numpy as np, pandas as pd
    >>> ts = pd.date_range("2026-01-01", periods=4 * 24 * 21, freq="15min")
    >>> rng = np.random.default_rng(0)
    >>> busy = ((ts.hour >= 6) & (ts.hour < 22)).astype(float)
    >>> kwh = pd.Series(5 + 10 * busy + rng.normal(0, 0.5, len(ts)), index=ts)
    >>> X = history_features(kwh, lags=(1, 2, 96), windows=(4,)).assign(hour=ts.hour)
    >>> train = ts < "2026-01-15"
    >>> model = EnergyForecaster(n_estimators=100, seeds=1).fit(X[train], kwh[train])
    >>> err = np.sqrt(np.mean((model.predict(X[~train]) - kwh[~train]) ** 2))
    >>> bool(err < 1.0)
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from fabmind.models.base import Explanation, FeatureContribution, ModelError, SmallModel

LAGS = (1, 2, 3, 4, 5, 6, 8, 12, 16, 24, 95, 96, 97, 192, 672)
WINDOWS = (4, 8, 16, 96)


def history_features(kwh: pd.Series, *, lags: Sequence[int] = LAGS, windows: Sequence[int] = WINDOWS,
                     halflives: Sequence[float] = (2, 8, 32), running_kwh: float | None = None) -> pd.DataFrame:
    """Inputs from a meter's past for each interval of a regular series ``kwh`` (index: timestamps,
    as from :func:`~fabmind.models.energy.data.regularize`); NaN where the past is not long enough
    or fell in a gap. ``running_kwh``: the level above which the meter counts as running; gives
    ``run_len`` (intervals in the current running / idle spell, signed: + running, − idle)."""
    if not isinstance(kwh.index, pd.DatetimeIndex):
        raise ModelError("history_features: kwh must be indexed by timestamp (use regularize)")
    if len(kwh) > 1 and kwh.index.to_series().diff().iloc[1:].nunique() != 1:
        raise ModelError("history_features: kwh must be on a regular grid (use regularize; gaps stay NaN)")
    bad = [k for k in (*lags, *windows) if k < 1]
    if bad:
        raise ModelError(f"history_features: lags and windows must be >= 1 interval, got {bad}")
    y = kwh.astype(float)
    past = y.shift(1)
    f = pd.DataFrame(index=kwh.index)
    for k in lags:
        f[f"lag{k}"] = y.shift(k)
    for w in windows:
        f[f"mean{w}"] = past.rolling(w).mean()
        f[f"std{w}"] = past.rolling(w).std()
        f[f"max{w}"] = past.rolling(w).max()
        f[f"min{w}"] = past.rolling(w).min()
    f["diff1"] = past - y.shift(2)
    for h in halflives:
        f[f"ewm{h:g}"] = past.ewm(halflife=h, ignore_na=True).mean()
    step = kwh.index[1] - kwh.index[0] if len(kwh) > 1 else pd.Timedelta("15min")
    per_day = max(int(pd.Timedelta("1D") / step), 1)
    f["same_time_week_mean"] = sum(y.shift(per_day * d) for d in range(1, 8)) / 7.0
    f[f"mean{7 * per_day}"] = past.rolling(7 * per_day, min_periods=per_day).mean()
    day = kwh.index.floor("D")
    f["kwh_today"] = past.groupby(day).cumsum()
    f["kwh_yesterday"] = y.groupby(day).transform("sum").shift(per_day)
    if running_kwh is not None:
        running = (past > running_kwh).astype(int)
        spell = (running != running.shift(1)).cumsum()
        length = running.groupby(spell).cumcount() + 1
        f["run_len"] = np.where(running == 1, length, -length).astype(float)
        f.loc[past.isna(), "run_len"] = np.nan
    return f


class EnergyForecaster(SmallModel):
    """kWh of one meter's next (or current) interval; ``score``/``predict`` return it (>= 0).

    NaN inputs are allowed; rows with a NaN/negative target are not used to fit. Change models need
    the ``last_value`` column (None: level models only); where it is NaN the level models answer alone.
    """

    family: ClassVar[str] = "energy"
    name: ClassVar[str] = "forecaster"
    min_samples: ClassVar[int] = 24
    allow_nan: ClassVar[bool] = True

    def __init__(self, n_estimators: int = 600, change_estimators: int = 1000, learning_rate: float = 0.02,
                 num_leaves: int = 63, min_child_samples: int = 20, colsample_bytree: float = 0.5, seeds: int = 3,
                 last_value: str | None = "lag1", exact: str | None = None, random_state: int = 0,
                 n_jobs: int = 1, top: int = 5, extra_trees: float = 0.0, extra_trees_estimators: int = 100,
                 scaled: dict[str, str | None] | None = None):
        self.n_estimators, self.change_estimators, self.learning_rate = n_estimators, change_estimators, learning_rate
        self.num_leaves, self.min_child_samples, self.colsample_bytree = num_leaves, min_child_samples, colsample_bytree
        self.seeds, self.last_value, self.exact = seeds, last_value, exact
        self.random_state, self.n_jobs, self.top = random_state, n_jobs, top
        self.extra_trees, self.extra_trees_estimators = extra_trees, extra_trees_estimators
        self.scaled = scaled

    extra_trees: float = 0.0  # for models saved before the parameter existed
    extra_trees_estimators: int = 100
    scaled: dict[str, str | None] | None = None

    def _gbm(self, n: int, seed: int) -> Any:
        import lightgbm as lgb

        return lgb.LGBMRegressor(
            n_estimators=n, learning_rate=self.learning_rate, num_leaves=self.num_leaves,
            min_child_samples=self.min_child_samples, subsample=0.8, subsample_freq=1,
            colsample_bytree=self.colsample_bytree, random_state=seed, n_jobs=self.n_jobs, verbose=-1)

    def _trees(self) -> Any:
        from sklearn.ensemble import ExtraTreesRegressor

        return ExtraTreesRegressor(n_estimators=self.extra_trees_estimators, min_samples_leaf=3, max_features=0.5,
                                   n_jobs=self.n_jobs, random_state=self.random_state)

    def _filled(self, X: pd.DataFrame) -> np.ndarray:
        """Inputs of the ExtraTrees members: NaN -> 1 below the column's training minimum (a value of
        its own, next to the real ones, so the random split points stay in the data's range)."""
        return np.where(np.isnan(v := X.to_numpy(dtype=float)), self.fill_, v)

    def _fit(self, X: pd.DataFrame, y: Any, sample_weight: Any = None, **_: Any) -> None:
        if y is None:
            raise ModelError("EnergyForecaster.fit needs y: the kWh of each interval")
        target = np.asarray(y, dtype=float)
        if target.shape != (len(X),):
            raise ModelError(f"EnergyForecaster.fit: y has shape {target.shape}, expected ({len(X)},)")
        if self.seeds < 1:
            raise ModelError(f"EnergyForecaster: seeds must be >= 1, got {self.seeds}")
        if not 0.0 <= self.extra_trees <= 1.0:
            raise ModelError(f"EnergyForecaster: extra_trees must be in [0, 1], got {self.extra_trees}")
        w = np.ones(len(X)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
        if w.shape != (len(X),) or not np.all(np.isfinite(w) & (w >= 0)):
            raise ModelError(f"EnergyForecaster.fit: sample_weight must be {len(X)} finite weights >= 0")
        scaled = dict(self.scaled or {})
        roles = [("last_value", self.last_value), ("exact", self.exact)]
        roles += [r for col, lv in scaled.items() for r in (("scale", col), ("scaled last_value", lv))]
        for role, col in roles:
            if col is not None and col not in X.columns:
                raise ModelError(f"EnergyForecaster: {role} column {col!r} is not among the features")
        ok = np.isfinite(target) & (target >= 0) & (w > 0)
        sw = None if sample_weight is None else w
        if ok.sum() < self.min_samples:
            raise ModelError(f"EnergyForecaster.fit: only {int(ok.sum())} intervals with a reading; "
                             f"needs {self.min_samples}")
        if self.extra_trees > 0:
            lo = X[ok].min().to_numpy(dtype=float)
            self.fill_ = np.where(np.isfinite(lo), lo - 1.0, -1.0)
        self.level_, self.change_, self.trees_ = self._members(X, target, ok, self.last_value, sw)
        self.scaled_ = []
        for col, lv in scaled.items():
            scale, answers = _scale(X, col)
            good = ok & answers
            t = np.where(good, target / scale, np.nan)
            if good.sum() < self.min_samples:
                raise ModelError(f"EnergyForecaster.fit: only {int(good.sum())} intervals with a reading and "
                                 f"a scale {col!r} > 0; needs {self.min_samples}")
            self.scaled_.append((col, lv, *self._members(X, t, good, lv, sw)))
        self.center_, self.spread_ = X[ok].median(), X[ok].std(ddof=0)

    def _members(self, X: pd.DataFrame, target: np.ndarray, ok: np.ndarray, last_value: str | None,
                 sw: np.ndarray | None) -> tuple[list, list, list]:
        """Level and change LightGBMs (one per seed) and the ExtraTrees pair for one target on rows ``ok``."""
        seeds = [self.random_state + s for s in range(self.seeds)]
        pick = (lambda m: None) if sw is None else (lambda m: sw[m])
        level = [self._gbm(self.n_estimators, s).fit(X[ok], target[ok], sample_weight=pick(ok)) for s in seeds]
        change: list = []
        ch = np.zeros(len(X), dtype=bool)
        if last_value is not None:
            last = X[last_value].to_numpy(dtype=float)
            ch = ok & np.isfinite(last)
            if ch.sum() >= self.min_samples:
                change = [self._gbm(self.change_estimators, s).fit(X[ch], (target - last)[ch], sample_weight=pick(ch))
                          for s in seeds]
        trees: list = []
        if self.extra_trees > 0:
            F = self._filled(X)
            trees = [self._trees().fit(F[ok], target[ok], sample_weight=pick(ok))]
            if change:
                trees.append(self._trees().fit(F[ch], (target - last)[ch], sample_weight=pick(ch)))
        return level, change, trees

    def _parts(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(model estimate, exact value or NaN, final output)."""
        est = self._estimate(X, self.level_, self.change_, getattr(self, "trees_", []), self.last_value)
        sets = getattr(self, "scaled_", [])
        if sets:
            total, count = est.copy(), np.ones(len(X))
            for col, lv, level, change, trees in sets:
                scale, good = _scale(X, col)
                total += np.where(good, np.maximum(self._estimate(X, level, change, trees, lv), 0.0) * scale, 0.0)
                count += good
            est = total / count
        est = np.maximum(est, 0.0)
        exact = X[self.exact].to_numpy(dtype=float) if self.exact is not None else np.full(len(X), np.nan)
        return est, exact, np.where(np.isfinite(exact) & (exact >= 0), exact, est)

    def _estimate(self, X: pd.DataFrame, level: list, change: list, trees: list, last_value: str | None) -> np.ndarray:
        """One member set's estimate: the LightGBM blend, mixed with the ExtraTrees pair's at ``extra_trees``."""
        est = self._blend(X, [m.predict(X) for m in level], [m.predict(X) for m in change], last_value)
        if trees:
            F = self._filled(X)
            other = self._blend(X, [trees[0].predict(F)], [t.predict(F) for t in trees[1:]], last_value)
            est = (1.0 - self.extra_trees) * est + self.extra_trees * other
        return est

    def _blend(self, X: pd.DataFrame, level: list[np.ndarray], change: list[np.ndarray],
               last_value: str | None = None) -> np.ndarray:
        """Mean of the level members, averaged half and half with last value + mean change where known."""
        est = np.mean(level, axis=0)
        if change:
            last = X[last_value or self.last_value].to_numpy(dtype=float)
            est = np.where(np.isfinite(last), 0.5 * (est + (last + np.mean(change, axis=0))), est)
        return est

    def _score(self, X: pd.DataFrame) -> np.ndarray:
        return self._parts(X)[2]

    def predict(self, X: Any) -> np.ndarray:
        return self.score(X)

    def explain(self, X: Any) -> list[Explanation]:
        """Contributions (kWh) of each input, averaged over the members (SHAP); for change models
        the last value's own kWh counts towards ``last_value``; where ``exact`` replaced the model,
        the difference counts towards ``exact``. The ExtraTrees member (``extra_trees`` > 0) is not
        decomposed: the LightGBM contributions are scaled by its complement and its own share of the
        output counts towards no input; nor are the ``scaled`` member sets: the plain set's contributions
        are scaled by its share of the row's average and theirs counts towards no input."""
        df = self._validate(X, fitting=False)
        k = df.shape[1]
        level = np.mean([np.asarray(m.booster_.predict(df, pred_contrib=True))[:, :k] for m in self.level_], axis=0)
        contrib = level
        if self.change_:
            j = list(df.columns).index(self.last_value)
            last = df[self.last_value].to_numpy(dtype=float)
            change = np.mean([np.asarray(m.booster_.predict(df, pred_contrib=True))[:, :k] for m in self.change_], axis=0)
            change[:, j] += np.nan_to_num(last - float(self.center_.iloc[j]))
            contrib = np.where(np.isfinite(last)[:, None], 0.5 * (level + change), level)
        if getattr(self, "trees_", None):
            contrib = (1.0 - self.extra_trees) * contrib
        count = np.ones(len(df))
        for col, *_ in getattr(self, "scaled_", []):
            count += _scale(df, col)[1]
        contrib = contrib / count[:, None]
        est, exact, out = self._parts(df)
        if self.exact is not None:
            j = list(df.columns).index(self.exact)
            contrib[:, j] += out - est
        vals = df.to_numpy(dtype=float)
        result = []
        for i in range(len(df)):
            items = []
            for j in np.argsort(-np.abs(contrib[i]))[: self.top]:
                sd, mid = float(self.spread_.iloc[j]), float(self.center_.iloc[j])
                dev = (vals[i, j] - mid) / sd if sd > 0 and np.isfinite(vals[i, j]) else float("nan")
                items.append(FeatureContribution(str(df.columns[j]), float(contrib[i, j]), float(vals[i, j]), mid, dev))
            result.append(Explanation(row=i, output=float(out[i]), contributions=tuple(items)))
        return result


def _scale(X: pd.DataFrame, col: str) -> tuple[np.ndarray, np.ndarray]:
    """A ``scaled`` member set's scale column (1 where unusable) and where the set answers: finite and > 0."""
    v = X[col].to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        good = np.isfinite(v) & (v > 0)
    return np.where(good, v, 1.0), good
