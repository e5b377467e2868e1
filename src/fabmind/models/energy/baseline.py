"""Per-meter baseline (expected kWh per interval) and anomalies against it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from fabmind.models.base import Explanation, FeatureContribution, ModelError, SmallModel


@dataclass(frozen=True)
class EnergyAnomaly:
    """An episode where a meter departed from its baseline."""

    start: datetime
    end: datetime
    n_intervals: int
    direction: str  # "high" (more than expected) or "low"
    excess_kwh: float  # measured - baseline, summed over the episode
    peak_sigma: float  # largest |residual| in robust sigmas


class EnergyBaseline(SmallModel):
    """Expected kWh per interval of one meter. ``score``/``predict`` return the baseline kWh.

    NaN inputs are allowed (lags across gaps); rows with NaN/negative targets are not used to fit.
    """

    family: ClassVar[str] = "energy"
    name: ClassVar[str] = "baseline"
    min_samples: ClassVar[int] = 24
    allow_nan: ClassVar[bool] = True

    def __init__(self, n_estimators: int = 400, learning_rate: float = 0.05, num_leaves: int = 31,
                 min_child_samples: int = 20, objective: str = "huber", k_sigma: float = 4.0,
                 min_intervals: int = 2, random_state: int = 0, n_jobs: int = 1, top: int = 5):
        self.n_estimators, self.learning_rate, self.num_leaves = n_estimators, learning_rate, num_leaves
        self.min_child_samples, self.objective, self.k_sigma = min_child_samples, objective, k_sigma
        self.min_intervals, self.random_state, self.n_jobs, self.top = min_intervals, random_state, n_jobs, top

    def _fit(self, X: pd.DataFrame, y: Any, **_: Any) -> None:
        import lightgbm as lgb

        if y is None:
            raise ModelError("EnergyBaseline.fit needs y: the kWh of each interval")
        target = np.asarray(y, dtype=float)
        if target.shape != (len(X),):
            raise ModelError(f"EnergyBaseline.fit: y has shape {target.shape}, expected ({len(X)},)")
        ok = np.isfinite(target) & (target >= 0)
        if ok.sum() < self.min_samples:
            raise ModelError(f"EnergyBaseline.fit: only {int(ok.sum())} intervals with a reading; "
                             f"needs {self.min_samples}")
        params: dict[str, Any] = {}
        if self.objective == "huber":
            mad = np.median(np.abs(target[ok] - np.median(target[ok])))
            params["alpha"] = float(max(1.4826 * mad, 1e-6))
        self.gbm_ = lgb.LGBMRegressor(
            objective=self.objective, n_estimators=self.n_estimators, learning_rate=self.learning_rate,
            num_leaves=self.num_leaves, min_child_samples=self.min_child_samples, subsample=0.8, subsample_freq=1,
            colsample_bytree=0.9, random_state=self.random_state, n_jobs=self.n_jobs, verbose=-1, **params,
        ).fit(X[ok], target[ok])
        # robust sigma of *out-of-sample* residuals (time-blocked folds): in-sample residuals of a
        # boosted model are too small and would flag ordinary variation as anomalies
        Xo, yo = X[ok], target[ok]
        resid = np.empty(len(yo))
        blocks = np.array_split(np.arange(len(yo)), 3) if len(yo) >= 3 * self.min_samples else [np.arange(len(yo))]
        for b in blocks:
            train = np.setdiff1d(np.arange(len(yo)), b) if len(blocks) > 1 else b
            m = lgb.LGBMRegressor(**{**self.gbm_.get_params(), "n_estimators": max(self.n_estimators // 2, 10)})
            resid[b] = yo[b] - m.fit(Xo.iloc[train], yo[train]).predict(Xo.iloc[b])
        self.sigma_ = float(max(1.4826 * np.median(np.abs(resid - np.median(resid))), 1e-9))
        self.center_, self.spread_ = X[ok].median(), X[ok].std(ddof=0)

    def _score(self, X: pd.DataFrame) -> np.ndarray:
        return np.maximum(self.gbm_.predict(X), 0.0)

    def predict(self, X: Any) -> np.ndarray:
        return self.score(X)

    def residual_sigma(self, X: Any, y: Any) -> np.ndarray:
        """(measured - baseline) / robust sigma per interval; NaN where nothing was measured."""
        return (np.asarray(y, dtype=float) - self.score(X)) / self.sigma_

    def anomalies(self, X: Any, y: Any) -> list[EnergyAnomaly]:
        """Episodes of >= ``min_intervals`` consecutive intervals beyond ``k_sigma`` (gaps end an episode)."""
        df = self._validate(X, fitting=False)
        meas = np.asarray(y, dtype=float)
        base = self._score(df)
        z = (meas - base) / self.sigma_
        flag = np.where(np.isfinite(z), np.sign(z) * (np.abs(z) > self.k_sigma), 0)
        out = []
        i = 0
        while i < len(flag):
            if flag[i] == 0:
                i += 1
                continue
            j = i
            while j + 1 < len(flag) and flag[j + 1] == flag[i]:
                j += 1
            if j - i + 1 >= self.min_intervals:
                seg = slice(i, j + 1)
                ts = df.index
                out.append(EnergyAnomaly(
                    start=ts[i].to_pydatetime() if isinstance(ts, pd.DatetimeIndex) else ts[i],
                    end=ts[j].to_pydatetime() if isinstance(ts, pd.DatetimeIndex) else ts[j],
                    n_intervals=j - i + 1, direction="high" if flag[i] > 0 else "low",
                    excess_kwh=float(np.nansum(meas[seg] - base[seg])), peak_sigma=float(np.nanmax(np.abs(z[seg])))))
            i = j + 1
        return out

    def explain(self, X: Any) -> list[Explanation]:
        """SHAP contributions (kWh) of each input to the baseline of each interval."""
        df = self._validate(X, fitting=False)
        contrib = np.asarray(self.gbm_.booster_.predict(df, pred_contrib=True))[:, : df.shape[1]]
        vals = df.to_numpy(dtype=float)
        out = []
        for i in range(len(df)):
            order = np.argsort(-np.abs(contrib[i]))[: self.top]
            items = []
            for j in order:
                sd = float(self.spread_.iloc[j])
                dev = (vals[i, j] - float(self.center_.iloc[j])) / sd if sd > 0 and np.isfinite(vals[i, j]) else float("nan")
                items.append(FeatureContribution(df.columns[j], float(contrib[i, j]), float(vals[i, j]),
                                                 float(self.center_.iloc[j]), dev))
            out.append(Explanation(row=i, output=float(self._score(df.iloc[[i]])[0]), contributions=tuple(items)))
        return out
