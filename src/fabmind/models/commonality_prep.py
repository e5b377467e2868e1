"""Turn route history + yields into the flat arrays the commonality analysis works on.

One *unit* is a substrate when yields are per substrate (more power: chambers of one tool
often share a lot), else a lot. A substrate is compared with its lot-mates (its metric minus
the lot mean), which removes everything that hit the whole lot. One *row* is one unit at one
step (its chamber, recipe and time there); rows carry that value and its residual against the
median of the same step in the same time bin, so fab-wide drifts cancel out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from fabmind.models.commonality_types import CommonalityError

_TIME_COLUMNS = ("start", "run_start", "ts", "started")


@dataclass
class Units:
    unit: str
    n_units: int
    n_lots: int
    lot_ids: np.ndarray  # [n_lots] str
    lot_of_unit: np.ndarray  # [n_units] int
    unit_value: np.ndarray  # [n_units] float: the metric
    unit_contrast: np.ndarray  # [n_units] what is tested: metric - lot mean (substrates) or the metric (lots)
    step_code: np.ndarray  # [n_rows] int
    chamber_code: np.ndarray
    recipe_code: np.ndarray
    t: np.ndarray  # [n_rows] datetime64[ns]
    value: np.ndarray  # [n_rows] unit_contrast of the row's unit
    resid: np.ndarray  # [n_rows] value - median(step, time bin)
    unit_of_row: np.ndarray
    steps: list[str]
    chambers: list[str]
    recipes: list[str]
    step_sigma: np.ndarray  # [n_steps] robust sigma of resid
    step_rows_sorted: list[np.ndarray]  # per step: row ids sorted by time
    step_t_sorted: list[np.ndarray]
    all_rows_sorted: np.ndarray  # all row ids sorted by time
    all_t_sorted: np.ndarray
    lot_metric: pd.DataFrame  # lot_id, ts, <metric>
    t_min: datetime | None
    t_max: datetime | None


def _require(df: pd.DataFrame, cols: tuple[str, ...], what: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise CommonalityError(f"{what} lacks columns {missing}; it has {list(df.columns)}")


def _time_column(df: pd.DataFrame) -> str:
    for c in _TIME_COLUMNS:
        if c in df.columns:
            return c
    raise CommonalityError(
        f"lot history has no run time column (one of {_TIME_COLUMNS}); it has {list(df.columns)}"
    )


def prepare_units(
    lot_history: pd.DataFrame, yields: pd.DataFrame, metric: str = "yield_pct", bin_hours: float = 24.0
) -> Units:
    if lot_history is None or len(lot_history) == 0:
        raise CommonalityError("no route history: lot_history is empty (which lots ran where is needed)")
    if yields is None or len(yields) == 0:
        raise CommonalityError(f"no {metric} values: the yields table is empty")
    _require(lot_history, ("lot_id", "step_id", "chamber_id"), "lot history")
    _require(yields, ("lot_id", metric), "yields")
    tcol = _time_column(lot_history)
    hist = lot_history[
        [
            c
            for c in ("lot_id", "substrate_id", "step_id", "chamber_id", "recipe_id", tcol)
            if c in lot_history.columns
        ]
    ].rename(columns={tcol: "t"})
    if "recipe_id" not in hist:
        hist = hist.assign(recipe_id="")
    hist = hist.assign(t=pd.to_datetime(hist["t"], utc=True).dt.tz_localize(None))
    y = yields.copy()
    if "ts" not in y:
        y["ts"] = pd.NaT
    y["ts"] = pd.to_datetime(y["ts"], utc=True).dt.tz_localize(None)
    y = y[np.isfinite(pd.to_numeric(y[metric], errors="coerce"))]
    per_substrate = (
        "substrate_id" in y
        and "substrate_id" in hist
        and (y["substrate_id"].fillna("").astype(str) != "").all()
    )

    if per_substrate:
        rows = hist.drop_duplicates(["lot_id", "substrate_id", "step_id"], keep="last")
        y_key, row_key = _joint_codes(
            [y["lot_id"], y["substrate_id"]], [rows["lot_id"], rows["substrate_id"]]
        )
        unit_name = "substrate"
    else:
        if "substrate_id" in y:
            lot_rows = y["substrate_id"].fillna("").astype(str) == ""
            y = y[lot_rows] if lot_rows.any() else y
        y = y.groupby("lot_id", as_index=False).agg(**{metric: (metric, "mean"), "ts": ("ts", "max")})
        # a lot split over chambers counts for the chamber that ran most of it
        size = (
            hist.groupby(["lot_id", "step_id", "chamber_id", "recipe_id"], sort=False, observed=True)
            .agg(n=("t", "size"), t=("t", "min"))
            .reset_index()
        )
        rows = size.sort_values("n", ascending=False, kind="stable").drop_duplicates(["lot_id", "step_id"])
        y_key, row_key = _joint_codes([y["lot_id"]], [rows["lot_id"]])
        unit_name = "lot"

    keep_y = ~pd.Series(y_key).duplicated(keep="last").to_numpy()
    y, y_key = y[keep_y], y_key[keep_y]
    has_y = np.isin(row_key, y_key)
    rows, row_key = rows[has_y], row_key[has_y]
    if rows.empty:
        sample = list(y["lot_id"].astype(str).head(3))
        raise CommonalityError(
            f"no route history for any lot with a {metric} value (e.g. {sample}); "
            "check that lot_history and yields cover the same lots and window"
        )
    has_rows = np.isin(y_key, row_key)
    y, y_key = y[has_rows], y_key[has_rows]
    unit_index = pd.Index(y_key)
    unit_codes = np.arange(len(y_key))
    lot_codes, lot_index = pd.factorize(y["lot_id"].astype(str), sort=False)
    unit_value = y[metric].to_numpy(dtype=float)
    lot_of_unit = np.empty(len(unit_index), dtype=np.int64)
    lot_of_unit[unit_codes] = lot_codes

    unit_of_row = unit_index.get_indexer(row_key)
    step_code, steps = pd.factorize(rows["step_id"].astype(str))
    chamber_code, chambers = pd.factorize(rows["chamber_id"].astype(str))
    recipe_code, recipes = pd.factorize(rows["recipe_id"].fillna("").astype(str))
    t = rows["t"].to_numpy(dtype="datetime64[ns]")
    if unit_name == "substrate":
        # within-lot contrast: a glass against its lot-mates. Whatever hit the whole lot (another step's
        # tool, a designed experiment, the material) cancels; a chamber that ran only some of the lot's
        # glasses stands out. Glasses of one lot are correlated, so testing raw yields would count one
        # bad lot as many independent bad glasses.
        lot_mean = np.bincount(lot_of_unit, weights=unit_value) / np.maximum(np.bincount(lot_of_unit), 1)
        unit_contrast = unit_value - lot_mean[lot_of_unit]
    else:
        unit_contrast = unit_value
    value = unit_contrast[unit_of_row]

    bins = (t.astype("int64") // int(bin_hours * 3600e9)).astype(np.int64)
    med = pd.Series(value).groupby([step_code, bins]).transform("median").to_numpy()
    resid = value - med
    n_steps = len(steps)
    step_sigma = np.empty(n_steps)
    step_rows_sorted, step_t_sorted = [], []
    order = np.lexsort((t, step_code))
    bounds = np.searchsorted(step_code[order], np.arange(n_steps + 1))
    for s in range(n_steps):
        r = order[bounds[s] : bounds[s + 1]]
        step_rows_sorted.append(r)
        step_t_sorted.append(t[r])
        res = resid[r]
        mad = 1.4826 * np.median(np.abs(res - np.median(res))) if len(res) else 0.0
        step_sigma[s] = mad or (np.std(res) if len(res) > 1 else 0.0) or 1e-9

    by_time = np.argsort(t, kind="stable")
    lot_metric = (
        pd.DataFrame({"lot_id": lot_index[lot_of_unit], "v": unit_value, "ts": y["ts"].to_numpy()})
        .groupby("lot_id", as_index=False)
        .agg(**{metric: ("v", "mean"), "ts": ("ts", "max")})
    )
    if lot_metric["ts"].isna().any():  # no metric timestamp: use the lot's last run
        last = rows.assign(lot=lot_index[lot_of_unit[unit_of_row]]).groupby("lot")["t"].max()
        lot_metric["ts"] = lot_metric["ts"].fillna(lot_metric["lot_id"].map(last))
    return Units(
        unit=unit_name,
        n_units=len(unit_index),
        n_lots=len(lot_index),
        lot_ids=np.asarray(lot_index, dtype=object),
        lot_of_unit=lot_of_unit,
        unit_value=unit_value,
        unit_contrast=unit_contrast,
        step_code=step_code.astype(np.int64),
        chamber_code=chamber_code.astype(np.int64),
        recipe_code=recipe_code.astype(np.int64),
        t=t,
        value=value,
        resid=resid,
        unit_of_row=unit_of_row.astype(np.int64),
        steps=[str(s) for s in steps],
        chambers=[str(c) for c in chambers],
        recipes=[str(r) for r in recipes],
        step_sigma=step_sigma,
        step_rows_sorted=step_rows_sorted,
        step_t_sorted=step_t_sorted,
        all_rows_sorted=by_time,
        all_t_sorted=t[by_time],
        lot_metric=lot_metric,
        t_min=pd.Timestamp(t.min()).floor("us").tz_localize("UTC").to_pydatetime() if len(t) else None,
        t_max=pd.Timestamp(t.max()).floor("us").tz_localize("UTC").to_pydatetime() if len(t) else None,
    )


def _joint_codes(left: list[pd.Series], right: list[pd.Series]) -> tuple[np.ndarray, np.ndarray]:
    """Integer keys for tuples of id columns, consistent between two tables (no string concatenation)."""
    n_left = len(left[0])
    key_left = np.zeros(n_left, dtype=np.int64)
    key_right = np.zeros(len(right[0]), dtype=np.int64)
    for a, b in zip(left, right):
        codes, uniques = pd.factorize(pd.concat([a.astype(str), b.astype(str)], ignore_index=True))
        k = max(len(uniques), 1)
        key_left = key_left * k + codes[:n_left]
        key_right = key_right * k + codes[n_left:]
    return key_left, key_right


def defect_counts(
    defects: pd.DataFrame, lot_history: pd.DataFrame, defect_class: str | None = None
) -> pd.DataFrame:
    """Defects per substrate (zeros included) as a metric table for ``analyze(..., metric='defect_count',
    direction='high')``: columns lot_id, substrate_id, ts (the substrate's last run), defect_count."""
    _require(lot_history, ("lot_id", "substrate_id"), "lot history")
    tcol = _time_column(lot_history)
    subs = (
        lot_history.groupby(["lot_id", "substrate_id"], as_index=False)[tcol]
        .max()
        .rename(columns={tcol: "ts"})
    )
    d = defects if defect_class is None else defects[defects["defect_class"] == defect_class]
    if len(d):
        _require(d, ("lot_id", "substrate_id"), "defects")
        n = d.groupby(["lot_id", "substrate_id"]).size().rename("defect_count").reset_index()
        subs = subs.merge(n, on=["lot_id", "substrate_id"], how="left")
    else:
        subs["defect_count"] = 0.0
    subs["defect_count"] = subs["defect_count"].fillna(0.0).astype(float)
    return subs
