"""Energy: per-meter baseline, anomalies against it, and attribution of consumption and waste.

* :func:`regularize` puts a meter's readings on a regular grid (default 15 min). **Gaps** (missing
  intervals) stay missing: no kWh is invented. Duplicated timestamps keep the last reading.
  Gap rows carry ``gap=True``; they are skipped when fitting, never flagged as anomalies and
  not counted in totals (reports give each meter's ``coverage``).
* :func:`energy_features` builds the baseline's inputs: calendar (hour, weekday, weekend, shift),
  tool state shares (producing / idle / standby / down) or any production-load columns (runs per
  interval, recipe mix) and, for forecasting, lagged consumption (``lags``; NaN across gaps).
* :class:`EnergyBaseline` — LightGBM regression (robust Huber loss by default, so short waste
  episodes in the training window pull the baseline little); ``anomalies`` returns episodes where
  consumption departs from the baseline by more than ``k_sigma`` robust sigmas.
* :func:`analyze_energy` runs the whole chain on a store-style frame (meter_id, equipment_id, ts,
  kwh, state) and returns an :class:`EnergyReport`: consumption per equipment and shift, and
  :class:`EnergyWaste` items classed as ``idle`` (excess only while not producing: standby not
  entered), ``drift`` (excess that keeps growing: a degrading component such as a dry pump) or
  ``constant`` (a step in base load: damper stuck open, chiller over-cooling), each with its kWh
  and the saving if fixed.

Example::

    >>> import numpy as np, pandas as pd
    >>> ts = pd.date_range("2026-01-01", periods=4 * 24 * 14, freq="15min", tz="UTC")
    >>> busy = ((ts.hour >= 6) & (ts.hour < 22)).astype(float)
    >>> kwh = 5 + 10 * busy + np.random.default_rng(0).normal(0, 0.2, len(ts))
    >>> kwh[-200:] += 2.0                                   # a damper sticks open
    >>> frame = pd.DataFrame({"meter_id": "EM-ETCH-01", "equipment_id": "ETCH-01", "ts": ts, "kwh": kwh,
    ...                       "state": np.where(busy > 0, "producing", "idle")})
    >>> report = analyze_energy(frame, reference_days=7)
    >>> [(w.equipment_id, w.kind, round(w.kwh, -1)) for w in report.waste]
    [('ETCH-01', 'constant', 400.0)]
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from fabmind.models.base import Explanation, FeatureContribution, ModelError, SmallModel

STATES = ("producing", "idle", "standby", "down")
SHIFTS = (("A", 6), ("B", 14), ("C", 22))  # shift name, start hour (C runs over midnight)


def shift_of(hours: np.ndarray | pd.Index) -> np.ndarray:
    h = np.asarray(hours)
    return np.where((h >= 6) & (h < 14), "A", np.where((h >= 14) & (h < 22), "B", "C"))


# --------------------------------------------------------------------------- data preparation


def regularize(readings: pd.DataFrame, freq: str = "15min", *, ts: str = "ts", value: str = "kwh") -> pd.DataFrame:
    """One row per interval from first to last reading: ``kwh`` (NaN in gaps), ``state``, ``gap``.

    Readings off the grid are floored onto it and summed per interval (kWh is additive)."""
    missing = [c for c in (ts, value) if c not in readings.columns]
    if missing:
        raise ModelError(f"regularize: readings have no columns {missing}")
    if readings.empty:
        raise ModelError("regularize: no readings")
    r = readings.copy()
    r[ts] = pd.to_datetime(r[ts], utc=True)
    v = pd.to_numeric(r[value], errors="coerce")
    bad = ~np.isfinite(v.to_numpy(dtype=float)) | (v.to_numpy(dtype=float) < 0)
    if bad.any():
        i = int(np.argmax(bad))
        raise ModelError(f"regularize: reading at {r[ts].iloc[i]} has kWh {r[value].iloc[i]!r}; "
                         "kWh must be a finite number >= 0 (quarantine it at ingest)")
    r = r.drop_duplicates(subset=[ts], keep="last")
    r["_bin"] = r[ts].dt.floor(freq)
    agg = {value: "sum"}
    if "state" in r.columns:
        agg["state"] = "last"
    per_bin = r.groupby("_bin").agg(agg)
    grid = pd.date_range(per_bin.index.min(), per_bin.index.max(), freq=freq, name="ts")
    out = per_bin.reindex(grid)
    out = out.rename(columns={value: "kwh"})
    out["gap"] = out["kwh"].isna()
    if "state" not in out.columns:
        out["state"] = ""
    out["state"] = out["state"].fillna("")
    return out


def energy_features(grid: pd.DataFrame, load: pd.DataFrame | None = None, *, lags: Sequence[int] = (),
                    states: Sequence[str] = STATES) -> pd.DataFrame:
    """Baseline inputs per interval of a regular ``grid`` (from :func:`regularize`).

    ``load``: optional production columns indexed like ``grid`` (runs, busy chambers, recipe mix);
    intervals missing in ``load`` count as 0. ``lags``: lagged kWh in intervals (NaN across gaps).
    """
    if not isinstance(grid.index, pd.DatetimeIndex):
        raise ModelError("energy_features: grid must be indexed by timestamp (use regularize)")
    idx = grid.index
    f = pd.DataFrame(index=idx)
    f["hour"] = idx.hour + idx.minute / 60.0
    f["weekday"] = idx.day_of_week
    f["weekend"] = (idx.day_of_week >= 5).astype(int)
    f["shift"] = pd.Series(shift_of(idx.hour), index=idx).map({"A": 0, "B": 1, "C": 2}).astype(int)
    if "state" in grid.columns and (grid["state"] != "").any():
        for s in states:
            f[f"state_{s}"] = (grid["state"] == s).astype(float)
    if load is not None:
        f = f.join(load.reindex(idx).fillna(0.0).add_prefix("load_"))
    for lag in lags:
        if lag < 1:
            raise ModelError(f"energy_features: lag {lag} must be >= 1 interval")
        f[f"lag{lag}"] = grid["kwh"].shift(lag)
    return f


def production_load(runs: pd.DataFrame, freq: str = "15min", *, by: str = "equipment_id",
                    mix: str | None = "recipe_id") -> dict[str, pd.DataFrame]:
    """Production load per ``by`` (tool) and interval from runs (start, end, chamber_id or ``by``):
    ``busy`` = chamber-intervals busy (0.5 = one chamber half the interval) and, with ``mix``,
    the busy share per recipe (``busy_<recipe>``) — the recipe mix."""
    need = {"start", "end"} | ({by} if by != "equipment_id" else set())
    if not need <= set(runs.columns):
        raise ModelError(f"production_load: runs need columns {sorted(need)}")
    r = runs.copy()
    if by not in r.columns:
        if "chamber_id" not in r.columns:
            raise ModelError("production_load: runs need equipment_id or chamber_id")
        r[by] = r["chamber_id"].astype(str).str.split("/").str[0]
    r["start"], r["end"] = pd.to_datetime(r["start"], utc=True), pd.to_datetime(r["end"], utc=True)
    step = pd.Timedelta(freq)
    out: dict[str, pd.DataFrame] = {}
    for key, sub in r.groupby(by):
        lo, hi = sub["start"].min().floor(freq), sub["end"].max().floor(freq)
        bins = pd.date_range(lo, hi, freq=freq)
        s_ = ((sub["start"] - bins[0]) / step).to_numpy(dtype=float)
        e_ = ((sub["end"] - bins[0]) / step).to_numpy(dtype=float)
        cols = {"busy": np.ones(len(sub))}
        if mix and mix in sub.columns:
            for rec in sorted(sub[mix].astype(str).unique()):
                cols["busy_" + re.sub(r"[^A-Za-z0-9_.-]", "_", rec)] = (sub[mix].astype(str) == rec).to_numpy(dtype=float)
        n = len(bins)
        b_ = np.maximum(e_, s_)
        k0 = np.clip(np.floor(s_).astype(int), 0, n - 1)
        k1 = np.clip(np.floor(b_).astype(int), 0, n - 1)
        first = np.where(k1 > k0, k0 + 1 - s_, b_ - s_)
        last = np.where(k1 > k0, b_ - k1, 0.0)
        arr = np.zeros((n, len(cols)))
        for j, w in enumerate(cols.values()):
            np.add.at(arr[:, j], k0, first * w)
            np.add.at(arr[:, j], k1, last * w)
        for i in np.flatnonzero(k1 - k0 > 1):  # runs longer than two intervals (rare): full middle bins
            arr[k0[i] + 1 : k1[i], :] += np.array([w[i] for w in cols.values()])
        frame = pd.DataFrame(arr, index=bins, columns=list(cols))
        out[str(key)] = frame
    return out


# --------------------------------------------------------------------------- model


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


# --------------------------------------------------------------------------- attribution


@dataclass(frozen=True)
class EnergyWaste:
    """Energy used beyond the baseline, with its likely kind and the saving if fixed."""

    meter_id: str
    equipment_id: str
    kind: str  # idle | drift | constant
    start: datetime
    end: datetime
    kwh: float  # excess kWh over the episode = estimated saving over the analysed window
    kwh_per_day: float  # excess rate at the end of the episode (saving per day if it continues)
    by_shift: dict[str, float] = field(default_factory=dict)
    idle_share: float = 0.0  # share of the excess that fell in non-producing intervals
    evidence: str = ""


@dataclass
class EnergyReport:
    """Consumption per equipment x shift (and state), waste items and meter coverage."""

    consumption: pd.DataFrame  # equipment_id, meter_id, shift, state, kwh, intervals
    waste: list[EnergyWaste]
    coverage: dict[str, float]  # meter_id -> share of intervals with a reading
    baselines: dict[str, EnergyBaseline]

    @property
    def total_kwh(self) -> float:
        return float(self.consumption["kwh"].sum())

    @property
    def savings_kwh(self) -> float:
        return float(sum(w.kwh for w in self.waste))


def _episodes(flag: np.ndarray, merge: int) -> list[tuple[int, int]]:
    idx = np.flatnonzero(flag)
    if idx.size == 0:
        return []
    eps, a, b = [], idx[0], idx[0]
    for i in idx[1:]:
        if i - b <= merge + 1:
            b = i
        else:
            eps.append((a, b))
            a = b = i
    eps.append((a, b))
    return eps


def _classify(resid: np.ndarray, producing: np.ndarray, interval_h: float) -> tuple[str, float, float, str]:
    pos = np.clip(np.nan_to_num(resid), 0, None)
    total = pos.sum()
    idle_share = float(pos[~producing].sum() / total) if total > 0 else 0.0
    prod_excess = float(np.nanmean(resid[producing])) if producing.any() else 0.0
    idle_excess = float(np.nanmean(resid[~producing])) if (~producing).any() else 0.0
    n = len(resid)
    q = max(n // 4, 1)
    first, last = float(np.nanmean(resid[:q])), float(np.nanmean(resid[-q:]))
    per_day = max(last, 0.0) * 24.0 / interval_h
    if idle_share > 0.8 and prod_excess < 0.25 * max(idle_excess, 1e-9):
        return "idle", idle_share, per_day, (f"excess only while not producing ({idle_share:.0%} of it); "
                                             "the tool does not enter standby")
    if n >= 8 and last > 1.5 * max(first, 0.0) + 1e-9 and last > 0:
        return "drift", idle_share, per_day, (f"excess grows from {first:.2f} to {last:.2f} kWh per interval: "
                                              "a degrading component (e.g. dry pump)")
    return "constant", idle_share, per_day, f"step of {np.nanmean(resid):.2f} kWh per interval in every state"


def analyze_energy(frame: pd.DataFrame, *, freq: str = "15min", reference_days: float | None = None,
                   k_sigma: float = 4.0, min_hours: float = 4.0, min_excess: float = 0.05,
                   load: dict[str, pd.DataFrame] | None = None) -> EnergyReport:
    """Baseline per meter fitted on the first ``reference_days`` (default: first third, >= 1 day)
    (give ``load`` from :func:`production_load`, keyed by equipment id, for a tighter baseline),
    then waste = sustained positive departures (rolling ``min_hours`` mean above ``k_sigma`` robust
    sigmas and above ``min_excess`` of the baseline), attributed to equipment and shifts.

    ``frame``: meter_id, ts, kwh, optional equipment_id and state (as ``Store.energy()`` returns).
    """
    need = {"meter_id", "ts", "kwh"}
    if not need <= set(frame.columns):
        raise ModelError(f"analyze_energy: frame needs columns {sorted(need)}, got {sorted(frame.columns)}")
    if frame.empty:
        raise ModelError("analyze_energy: no energy readings")
    rows, waste, coverage, models = [], [], {}, {}
    step_h = pd.Timedelta(freq).total_seconds() / 3600.0
    win = max(round(min_hours / step_h), 1)
    for meter, sub in frame.groupby("meter_id", sort=True):
        eq = str(sub["equipment_id"].iloc[0]) if "equipment_id" in sub else str(meter)
        grid = regularize(sub, freq)
        coverage[str(meter)] = float(1.0 - grid["gap"].mean())
        hours = grid.index.hour
        measured = ~grid["gap"]
        part = pd.DataFrame({"shift": shift_of(hours), "state": grid["state"].replace("", "unknown"),
                             "kwh": grid["kwh"]})[measured.to_numpy()]
        agg = part.groupby(["shift", "state"], as_index=False).agg(kwh=("kwh", "sum"), intervals=("kwh", "size"))
        agg.insert(0, "meter_id", str(meter))
        agg.insert(0, "equipment_id", eq)
        rows.append(agg)
        X = energy_features(grid, None if load is None else load.get(eq))
        span_days = (grid.index[-1] - grid.index[0]).total_seconds() / 86400.0
        ref_days = reference_days if reference_days is not None else max(span_days / 3.0, 1.0)
        ref = grid.index < grid.index[0] + pd.Timedelta(days=ref_days)
        if (ref & measured.to_numpy()).sum() < EnergyBaseline.min_samples:
            continue  # too little reference data for this meter: consumption only, no waste claims
        model = EnergyBaseline(k_sigma=k_sigma).fit(X[ref], grid["kwh"][ref])
        models[str(meter)] = model
        base = model.score(X)
        resid = grid["kwh"].to_numpy() - base
        smooth = pd.Series(resid).rolling(win, min_periods=max(win // 2, 1)).mean().to_numpy()
        thresh = np.maximum(k_sigma * model.sigma_ / np.sqrt(win), min_excess * np.maximum(base, 1e-9))
        flag = np.nan_to_num(smooth) > thresh
        producing = (grid["state"] == "producing").to_numpy()
        for a, b in _episodes(flag, merge=win):
            a = max(a - win + 1, 0)  # the rolling mean lags the onset by up to one window
            seg = slice(a, b + 1)
            r = resid[seg]
            if np.nansum(r) <= 0 or (b - a + 1) < win:
                continue
            kind, idle_share, per_day, why = _classify(r, producing[seg], step_h)
            shifts = pd.Series(np.clip(np.nan_to_num(r), 0, None)).groupby(shift_of(hours[seg])).sum()
            waste.append(EnergyWaste(
                meter_id=str(meter), equipment_id=eq, kind=kind, start=grid.index[a].to_pydatetime(),
                end=grid.index[b].to_pydatetime(), kwh=float(np.nansum(r)), kwh_per_day=per_day,
                by_shift={k: float(v) for k, v in shifts.items()}, idle_share=idle_share, evidence=why))
    consumption = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        columns=["equipment_id", "meter_id", "shift", "state", "kwh", "intervals"])
    waste.sort(key=lambda w: -w.kwh)
    return EnergyReport(consumption=consumption, waste=waste, coverage=coverage, baselines=models)


def energy_report_from_store(store: Any, *, start: datetime | None = None, end: datetime | None = None,
                             meter_id: str | None = None, reference_days: float | None = None) -> EnergyReport:
    """:func:`analyze_energy` on a :class:`fabmind.store.Store`: its energy readings in the window, with
    the production load of each tool computed from the store's runs (the service behind ``fabmind energy``)."""
    frame = store.energy(meter_id=meter_id, start=start, end=end)
    if frame.empty:
        raise ModelError("energy_report_from_store: the store has no energy readings in this window")
    runs = store.runs(start=start, end=end)
    load = production_load(runs) if len(runs) else None
    return analyze_energy(frame, reference_days=reference_days, load=load)
