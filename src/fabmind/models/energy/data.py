"""Meter data preparation: regular interval grid (gaps kept missing), baseline inputs, production load."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from fabmind.models.base import ModelError

STATES = ("producing", "idle", "standby", "down")
SHIFTS = (("A", 6), ("B", 14), ("C", 22))  # shift name, start hour (C runs over midnight)


def shift_of(hours: np.ndarray | pd.Index) -> np.ndarray:
    h = np.asarray(hours)
    return np.where((h >= 6) & (h < 14), "A", np.where((h >= 14) & (h < 22), "B", "C"))


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
