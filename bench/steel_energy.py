"""UCI Steel Industry Energy: predict 15-min Usage_kWh on a time-ordered split (train Jan-Sep, test Oct-Dec).

The headline ``rmse`` is fabmind's EnergyBaseline (LightGBM, squared loss) **without the leaky columns**
CO2(tCO2) and Lagging_Current_Reactive_Power_kVarh (measured with the target, see SOURCE.md): inputs are
calendar / NSM / WeekStatus / Load_Type, lagged consumption (15 min .. 1 week back) and the concurrent
leading reactive power and power factors. ``rmse_forecast_only`` drops every concurrent electrical
column (calendar, load type and lags only: a true one-step-ahead forecast). ``rmse_all_columns``: the
same model with every column (reference for the published RF 7.33, which used all columns).
Baselines in the same run: seasonal naive (same time yesterday), last value, and a random forest on
calendar + the concurrent columns without lags (as in the paper), with and without the leaky columns.

    .venv/bin/python bench/steel_energy.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import datasets_dir, write_result

from fabmind.models.energy import EnergyBaseline

LEAKY = ["CO2(tCO2)", "Lagging_Current_Reactive_Power_kVarh"]
CONCURRENT = ["Leading_Current_Reactive_Power_kVarh", "Lagging_Current_Power_Factor", "Leading_Current_Power_Factor"]
SPLIT = "2018-10-01"


def load(folder: Path) -> pd.DataFrame:
    df = pd.read_csv(folder / "Steel_industry_data.csv", encoding="utf-8-sig")
    df["ts"] = pd.to_datetime(df["date"], format="%d/%m/%Y %H:%M")
    return df.sort_values("ts", kind="stable").reset_index(drop=True)


def features(df: pd.DataFrame) -> dict[str, pd.DataFrame]:
    y = df["Usage_kWh"]
    cal = pd.DataFrame({
        "nsm": df["NSM"], "weekday": df["ts"].dt.day_of_week, "month": df["ts"].dt.month,
        "weekend": (df["WeekStatus"] == "Weekend").astype(int),
        "load_type": df["Load_Type"].map({"Light_Load": 0, "Medium_Load": 1, "Maximum_Load": 2}),
    })
    lag = pd.DataFrame(index=df.index)
    for k in (1, 2, 3, 4, 5, 6, 8, 12, 95, 96, 97, 192, 672):
        lag[f"lag{k}"] = y.shift(k)
    past = y.shift(1)
    for w in (4, 8, 96):
        lag[f"mean{w}"] = past.rolling(w).mean()
        lag[f"std{w}"] = past.rolling(w).std()
    lag["max4"] = past.rolling(4).max()
    lag["diff1"] = y.shift(1) - y.shift(2)
    lag["same_time_week_mean"] = sum(y.shift(96 * d) for d in range(1, 8)) / 7.0
    for c in CONCURRENT + LEAKY:
        lag[f"lag1_{c}"] = df[c].shift(1)
    lagged_leaky = [f"lag1_{c}" for c in LEAKY]  # lagged values are fair: they are known before the interval
    forecast = pd.concat([cal, lag], axis=1)
    return {
        "no_leaky": pd.concat([forecast, df[CONCURRENT]], axis=1),
        "forecast_only": forecast,
        "all_columns": pd.concat([forecast, df[CONCURRENT + LEAKY]], axis=1),
        "_lagged_leaky": forecast[lagged_leaky],
    }


def rmse(p: np.ndarray, y: np.ndarray) -> float:
    return float(np.sqrt(np.mean((p - y) ** 2)))


def main() -> None:
    df = load(datasets_dir() / "steel_industry_energy")
    y = df["Usage_kWh"].to_numpy()
    train = (df["ts"] < SPLIT).to_numpy()
    sets = features(df)
    result: dict = {"split": f"train < {SPLIT} ({train.sum()} rows), test >= {SPLIT} ({(~train).sum()} rows)"}
    for name in ("no_leaky", "forecast_only", "all_columns"):
        X = sets[name]
        t0 = time.perf_counter()
        model = EnergyBaseline(objective="regression", n_estimators=1200, learning_rate=0.02, num_leaves=63,
                               min_child_samples=20).fit(X[train], y[train])
        p = model.predict(X[~train])
        result[f"rmse_{name}" if name != "no_leaky" else "rmse"] = rmse(p, y[~train])
        result[f"train_seconds_{name}"] = time.perf_counter() - t0
        print(name, result[f"rmse_{name}" if name != "no_leaky" else "rmse"], flush=True)
    test_y = y[~train]
    result["baseline_seasonal_naive_rmse"] = rmse(df["Usage_kWh"].shift(96).to_numpy()[~train], test_y)
    result["baseline_last_value_rmse"] = rmse(df["Usage_kWh"].shift(1).to_numpy()[~train], test_y)
    from sklearn.ensemble import RandomForestRegressor

    raw = pd.concat([sets["forecast_only"][["nsm", "weekday", "weekend", "load_type"]], df[CONCURRENT + LEAKY]], axis=1)
    rf = RandomForestRegressor(n_estimators=100, min_samples_leaf=2, n_jobs=1, random_state=0).fit(raw[train], y[train])
    result["baseline_rf_all_columns_rmse"] = rmse(rf.predict(raw[~train]), test_y)
    rf2 = RandomForestRegressor(n_estimators=100, min_samples_leaf=2, n_jobs=1, random_state=0)
    raw2 = raw.drop(columns=LEAKY)
    result["baseline_rf_no_leaky_rmse"] = rmse(rf2.fit(raw2[train], y[train]).predict(raw2[~train]), test_y)
    result["published"] = {"method": "RF, all columns (Sathishkumar et al. 2020)", "rmse": 7.33}
    result["goal"] = {"rmse_without_leaky_columns": 7.33}
    rows = [
        ("rmse without CO2 / lagging kVarh (headline)", result["rmse"], result["baseline_rf_no_leaky_rmse"], None),
        ("rmse forecast only (calendar, load type, lags)", result["rmse_forecast_only"],
         result["baseline_seasonal_naive_rmse"], None),
        ("rmse all columns (reference)", result["rmse_all_columns"], result["baseline_rf_all_columns_rmse"], 7.33),
        ("last-value naive rmse", None, result["baseline_last_value_rmse"], None),
    ]
    write_result("steel_energy", result, rows,
                 header=("metric", "fabmind EnergyBaseline",
                         "baseline (RF on calendar + concurrent columns, no lags / seasonal naive)", "published RF"))


if __name__ == "__main__":
    main()
