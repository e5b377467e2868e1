"""UCI Steel Industry Energy: 15-min Usage_kWh on a time-ordered split (train Jan-Sep, test Oct-Dec 2018).

Timestamps: the file labels the last interval of each day ``dd/mm/YYYY 00:00`` with the day it ends
(NSM 0, that day's weekday, and it follows 23:45 in the file), so it is midnight *at the end* of that
date: we add one day, which makes the series strictly regular (the file order). Sorting the raw
labels instead puts each midnight reading a day early, so lag features would peek ~24 h ahead.

Which inputs are available when (all variants are reported):

* ``rmse_forecast`` — a true 15-min-ahead forecast: calendar, the tariff period (Load_Type: a
  time-of-use schedule known in advance, also for the next hour) and every channel up to the
  previous interval (kWh history, and the previous intervals' CO2, reactive energy and power factors:
  known once those intervals are metered).
* ``rmse`` (headline, the issue's protocol) — a nowcast without the leaky columns: the forecast inputs
  plus this interval's leading reactive energy and both power factors (the meter's other channels),
  but not CO2 (kWh x emission factor) nor lagging reactive energy. Caveat, measured here: the
  leading pair (kVArh, PF) recomputes kWh by the power triangle P = Q·PF/sqrt(1−PF²) whenever the
  leading reactive energy is non-zero (~35 % of test intervals, mostly light load); fabmind uses it
  (``power_triangle_kwh``) — it is the virtual-metering setting (other channels of the same meter),
  not forecasting skill. ``rmse_no_exact`` is the same model without that identity override.
* ``rmse_all_columns`` — the same model with CO2 and lagging reactive energy too, whose lagging pair
  then gives kWh by the power triangle almost everywhere (reference for the published RF 7.33, which
  used all columns).

fabmind's model is ``EnergyForecaster`` (3 level + 3 change-from-last-interval LightGBMs). Its design
(features, members) was chosen with ``--validation`` (train Jan-Jul, score Aug-Sep), never on the test
quarter. Headline nowcast since issue 4 (also chosen on that validation split, compared with the previous
design in the same run as ``rmse_previous_design``): training intervals weighted by recency (half-life
120 days before the end of the training period), one more input (``p_from_prev_apparent``: the previous
interval's apparent energy times this interval's lagging power factor) and an ExtraTrees pair blended at
0.3; since session 4 (``SCALED``) also two more member sets of the same kinds that model other
parametrisations of the kWh from this interval's lagging power factor -- the apparent energy S = kWh / PF
and the lagging reactive energy Q = kWh · tan(phi), each a *target* (only past S / Q are inputs) --
converted back to kWh and averaged with equal weights with the plain set (the Q set only where
PF <= 95 %: above, kWh = Q·cot(phi) multiplies its errors by more than 3).
The forecast / all-columns / walk-forward rows keep the previous design (run time). Baselines in the
same run: seasonal naive (same time yesterday), last value, a random forest on calendar + the concurrent
columns without history (as in the paper) with and without the leaky columns, and fabmind's single-LightGBM
``EnergyBaseline`` on the previous headline inputs. ``rmse_walk_forward``: the previous-design
model refit at the start of each test month on everything before it (deployment-style,
still time-ordered; a different protocol, for reference).

    .venv/bin/python bench/steel_energy.py [--validation]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import datasets_dir, write_result

from fabmind.models.energy import (
    EnergyBaseline,
    EnergyForecaster,
    history_features,
    pf_matched_history,
    power_triangle_kwh,
)

LEAKY = ["CO2(tCO2)", "Lagging_Current_Reactive_Power_kVarh"]
LEAD_Q, LAG_PF, LEAD_PF = "Leading_Current_Reactive_Power_kVarh", "Lagging_Current_Power_Factor", "Leading_Current_Power_Factor"
CONCURRENT = [LEAD_Q, LAG_PF, LEAD_PF]
SPLIT = "2018-10-01"
VALIDATION = ("2018-08-01", "2018-10-01")
LOAD_TYPE = {"Light_Load": 0, "Medium_Load": 1, "Maximum_Load": 2}
RUNNING_KWH = 20.0  # above: the plant's heavy equipment is running (light load stays < 10 kWh)
HALF_LIFE_DAYS = 120.0  # recency weight of the training intervals (headline nowcast)
EXTRA_TREES = 0.3  # share of the ExtraTrees pair in the headline nowcast
NEW_INPUTS = ["p_from_prev_apparent", "p_from_lagging_q2", "p_from_lagging_q4mean",  # added in issue 4
              "pf_frac", "cot_phi", "lag1_apparent"]  # scales / last value of the apparent and reactive member sets
# other parametrisations of the kWh, modelled by their own member sets and averaged with the plain one:
# the apparent energy S = kWh / PF and the lagging reactive energy Q = kWh / cot(phi) (a *target*, from this
# interval's power factor; only past Q is an input)
SCALED = {"pf_frac": "lag1_apparent", "cot_phi": "lag1_Lagging_Current_Reactive_Power_kVarh"}
Q_MAX_PF = 95.0  # the Q set answers only up to this lagging power factor (%): cot(phi) <= 3.04
SEEDS = 5  # LightGBM seeds per member kind in the headline nowcast (the previous design: 3)


def load(folder: Path) -> pd.DataFrame:
    df = pd.read_csv(folder / "Steel_industry_data.csv", encoding="utf-8-sig")
    ts = pd.to_datetime(df["date"], format="%d/%m/%Y %H:%M")
    df["ts"] = ts + pd.to_timedelta(((ts.dt.hour == 0) & (ts.dt.minute == 0)).astype(int), unit="D")
    steps = df["ts"].diff().dropna()
    assert (steps == pd.Timedelta("15min")).all(), "timestamps not a regular 15-min series after the midnight fix"
    return df


def features(df: pd.DataFrame) -> dict[str, pd.DataFrame]:
    ts, y = df["ts"], df["Usage_kWh"]
    tariff = df["Load_Type"].map(LOAD_TYPE)
    cal = pd.DataFrame({
        "tod": ts.dt.hour * 4 + ts.dt.minute // 15, "weekday": ts.dt.day_of_week, "month": ts.dt.month,
        "doy": ts.dt.day_of_year, "weekend": (df["WeekStatus"] == "Weekend").astype(int), "load_type": tariff,
        "load_type_next": tariff.shift(-1), "load_type_next4": tariff.shift(-4), "load_type_prev4": tariff.shift(4),
    })
    hist = history_features(y.set_axis(pd.DatetimeIndex(ts)), running_kwh=RUNNING_KWH).reset_index(drop=True)
    past = pd.DataFrame({f"lag{k}_{c}": df[c].shift(k) for c in CONCURRENT + LEAKY for k in (1, 2)})
    forecast = pd.concat([cal, hist, past], axis=1)
    lag_pf = df[LAG_PF]
    from_leading = power_triangle_kwh(df[LEAD_Q], df[LEAD_PF])
    lag_q1 = df["Lagging_Current_Reactive_Power_kVarh"].shift(1)
    electrical = pd.DataFrame({
        "p_power_triangle": from_leading,
        "p_from_lagging_prev_q": power_triangle_kwh(df["Lagging_Current_Reactive_Power_kVarh"].shift(1), lag_pf),
        "lag_pf_change": lag_pf - lag_pf.shift(1),
        # same apparent energy as the previous interval, this interval's power factor
        "p_from_prev_apparent": np.sqrt(y.shift(1) ** 2 + lag_q1**2) * lag_pf / 100.0,
        # the lagging reactive energy of 2 intervals back / of the last 4 intervals, with this interval's power factor
        "p_from_lagging_q2": power_triangle_kwh(df["Lagging_Current_Reactive_Power_kVarh"].shift(2), lag_pf),
        "p_from_lagging_q4mean": power_triangle_kwh(lag_q1.rolling(4).mean(), lag_pf),
        "pf_frac": lag_pf / 100.0,
        # kWh per kVArh at this power factor; only up to Q_MAX_PF (above, cot(phi) blows up the Q set's errors)
        "cot_phi": np.where(lag_pf <= Q_MAX_PF, power_triangle_kwh(np.ones(len(df)), lag_pf), np.nan),
        "lag1_apparent": np.sqrt(y.shift(1) ** 2 + lag_q1**2),
    })
    matched = pf_matched_history(y, lag_pf)
    nowcast = pd.concat([forecast, df[CONCURRENT], electrical, matched], axis=1)
    # with the lagging pair too, the power triangle gives kWh in (nearly) every interval
    from_lagging = power_triangle_kwh(df["Lagging_Current_Reactive_Power_kVarh"], lag_pf)
    every = pd.concat([nowcast, df[LEAKY]], axis=1).assign(p_power_triangle=np.where(
        np.isfinite(from_leading), from_leading, from_lagging))
    return {"forecast": forecast, "no_leaky": nowcast, "all_columns": every}


def rmse(p: np.ndarray, y: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(p) - np.asarray(y)) ** 2)))


def forecaster(exact: bool, extra_trees: float = 0.0, seeds: int = 3, scaled: dict | None = None) -> EnergyForecaster:
    return EnergyForecaster(last_value="lag1", exact="p_power_triangle" if exact else None, extra_trees=extra_trees,
                            extra_trees_estimators=200, seeds=seeds, scaled=scaled)


def recency_weights(ts: pd.Series, end: str | pd.Timestamp, half_life_days: float = HALF_LIFE_DAYS) -> np.ndarray:
    """Weight 1 at ``end`` (the end of the training period), halving every ``half_life_days`` before it."""
    age = (pd.Timestamp(end) - ts).dt.total_seconds().to_numpy() / 86400.0
    return 0.5 ** (age / half_life_days)


def main(validation: bool = False) -> None:
    df = load(datasets_dir() / "steel_industry_energy")
    y = df["Usage_kWh"].to_numpy()
    if validation:
        train = (df["ts"] < VALIDATION[0]).to_numpy()
        test = train.copy()
        test[:] = ((df["ts"] >= VALIDATION[0]) & (df["ts"] < VALIDATION[1])).to_numpy()
    else:
        train, test = (df["ts"] < SPLIT).to_numpy(), (df["ts"] >= SPLIT).to_numpy()
    sets = features(df)
    result: dict = {"split": f"train < {SPLIT if not validation else VALIDATION[0]} ({train.sum()} rows), "
                             f"test {df['ts'][test].min()} .. {df['ts'][test].max()} ({test.sum()} rows)"}
    end = VALIDATION[0] if validation else SPLIT
    for name in ("no_leaky", "forecast", "all_columns"):
        X = sets[name]
        t0 = time.perf_counter()
        if name == "no_leaky":  # headline: the issue-4 design
            model = forecaster(exact=True, extra_trees=EXTRA_TREES, seeds=SEEDS, scaled=SCALED).fit(
                X[train], y[train], sample_weight=recency_weights(df["ts"][train], end))
        else:
            model = forecaster(exact=name != "forecast").fit(X[train].drop(columns=NEW_INPUTS, errors="ignore"), y[train])
            X = X.drop(columns=NEW_INPUTS, errors="ignore")
        est, _, out = model._parts(model._validate(X[test], fitting=False))
        key = "rmse" if name == "no_leaky" else f"rmse_{name}"
        result[key] = rmse(out, y[test])
        result[f"train_seconds_{name}"] = time.perf_counter() - t0
        if name == "no_leaky":
            result["rmse_no_exact"] = rmse(est, y[test])
        print(key, round(result[key], 4), flush=True)
    Xp = sets["no_leaky"].drop(columns=NEW_INPUTS)
    t0 = time.perf_counter()
    previous = forecaster(exact=True).fit(Xp[train], y[train])
    result["rmse_previous_design"] = rmse(previous.predict(Xp[test]), y[test])
    result["train_seconds_previous_design"] = time.perf_counter() - t0
    result["design"] = (f"headline: EnergyForecaster(extra_trees={EXTRA_TREES}, extra_trees_estimators=200, "
                        f"seeds={SEEDS}), training intervals weighted 0.5 ** (age / {HALF_LIFE_DAYS:g} days), inputs + "
                        f"{NEW_INPUTS}; rmse_previous_design: the same run's EnergyForecaster without these changes "
                        "(3 seeds, unweighted, no ExtraTrees, without the new inputs); + scaled member sets "
                        f"{SCALED} (EnergyForecaster(scaled=...): S = kWh / PF and Q = kWh * tan(phi) modelled by "
                        "their own members, averaged with equal weights)")
    result["note"] = ("issue 4 changes chosen on the validation split (train Jan-Jul, score Aug-Sep; previous design "
                      "6.931 there), with 3-seed LightGBM members: recency half-life 60 d 6.972, 120 d 6.920; without "
                      "month/doy 6.963; num_leaves 31 6.961; min_child_samples 50 6.927; colsample 0.8 6.942; + "
                      "three electrical inputs (p_from_prev_apparent, the power triangle with the lagging kVArh of 2 "
                      "intervals back and with its 4-interval mean) 6.917, with 120 d 6.918; + ExtraTrees(200 trees, "
                      "max_features 0.5; unweighted, previous inputs) blended at 0.2/0.25/0.3/0.4: 6.903/6.902/6.901/"
                      "6.903 (100 trees, max_features 0.3: 6.909 at 0.2). Measured by a scratch comparison before this "
                      "script was changed; the committed design keeps only p_from_prev_apparent and weights the "
                      "ExtraTrees pair too: it scores 6.914 on the validation split (steel_energy_validation.json, "
                      "previous design 6.931 in that run); on the test quarter 7.342 (previous design 7.378). Session 4, again on the "
                      "validation split only (scratch script, same code path): that design 6.915; + 5 LightGBM seeds 6.913; "
                      "ExtraTrees pair unweighted 6.917; 400 trees 6.916; + the two other electrical inputs 6.910; both "
                      "(5 seeds + 3 inputs) 6.902, chosen. The test quarter was scored once with this design (7.360, previous design "
                      "7.378). Session 4, second round (physics-informed targets), validation split only: screening with single-seed "
                      "LightGBM members, 120 d weights, no ExtraTrees (plain 6.954): out-of-fold (by month) model of this interval's lagging "
                      "kVArh Q, turned into kWh by the power triangle with this interval's PF, as an input 6.938; an "
                      "out-of-fold model of the apparent energy S times PF as an input 6.974; both 6.973; + the raw S/Q "
                      "estimates 6.948; as blended members instead: Q member alone 6.956, S member alone 6.916, blends "
                      "down to 6.899. With the headline design (5 seeds, ET 0.3, 120 d weights) for each target: plain "
                      "6.904, S alone 6.860, Q alone 6.891, equal thirds 6.856 (grid optimum 6.851 at 0.3 plain / 0.4 S "
                      "/ 0.3 Q, not used: equal weights fixed a priori); gain in both months (Aug 7.217 -> 7.155, Sep "
                      "6.564 -> 6.533) and all tariffs. Committed as EnergyForecaster(scaled=...) (S and Q members see "
                      "the same inputs + pf_frac, cot_phi, lag1_apparent; where PF = 100 % plain and S only): 6.862 on "
                      "the validation split, but rmse_no_exact 7.173 (was 6.986): near PF 100 % cot(phi) multiplies the "
                      "Q set's errors (rows with an exact leading pair, so the headline hides it). Capping the Q set at "
                      "PF <= 90/95/97/99/100 % in the scratch blend: 6.840/6.843/6.852/6.853/6.856 (no-exact 6.930/"
                      "6.935/6.946/6.948/7.129); 95 % chosen as a round physical bound (cot(phi) <= 3.04). Committed "
                      "design (Q_MAX_PF 95): 6.870 on the validation split, rmse_no_exact 6.965, previous design 6.931 "
                      "in the same run (steel_energy_validation.json). The test quarter was scored once more with "
                      "this design (the second test scoring of this session, chosen on validation only): 7.275, rmse_no_exact "
                      "7.336, previous design 7.378 in the same run")
    test_y = y[test]
    result["baseline_seasonal_naive_rmse"] = rmse(df["Usage_kWh"].shift(96).to_numpy()[test], test_y)
    result["baseline_last_value_rmse"] = rmse(df["Usage_kWh"].shift(1).to_numpy()[test], test_y)
    from sklearn.ensemble import RandomForestRegressor

    raw = pd.concat([sets["forecast"][["tod", "weekday", "weekend", "load_type"]], df[CONCURRENT + LEAKY]], axis=1)
    rf = RandomForestRegressor(n_estimators=100, min_samples_leaf=2, n_jobs=1, random_state=0).fit(raw[train], y[train])
    result["baseline_rf_all_columns_rmse"] = rmse(rf.predict(raw[test]), test_y)
    raw2 = raw.drop(columns=LEAKY)
    rf2 = RandomForestRegressor(n_estimators=100, min_samples_leaf=2, n_jobs=1, random_state=0).fit(raw2[train], y[train])
    result["baseline_rf_no_leaky_rmse"] = rmse(rf2.predict(raw2[test]), test_y)
    Xh = Xp  # the previous headline inputs (baseline unchanged by issue 4)
    single = EnergyBaseline(objective="regression", n_estimators=1200, learning_rate=0.02, num_leaves=63,
                            min_child_samples=20).fit(Xh[train], y[train])
    result["baseline_energy_baseline_single_lgbm_rmse"] = rmse(single.predict(Xh[test]), test_y)
    if not validation:
        bounds = [*pd.date_range(SPLIT, df["ts"].max(), freq="MS"), df["ts"].max() + pd.Timedelta("15min")]
        pred = np.full(len(y), np.nan)
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
            before, within = (df["ts"] < lo).to_numpy(), ((df["ts"] >= lo) & (df["ts"] < hi)).to_numpy()
            pred[within] = forecaster(exact=True).fit(Xp[before], y[before]).predict(Xp[within])
        result["rmse_walk_forward"] = rmse(pred[test], test_y)
    result["features"] = {k: list(v.columns) for k, v in sets.items()}
    result["published"] = {"method": "RF, all columns (Sathishkumar et al. 2020)", "rmse": 7.33}
    result["goal"] = {"rmse_without_leaky_columns": 7.33}
    rows = [
        ("rmse without CO2 / lagging kVarh (headline nowcast)", result["rmse"], result["baseline_rf_no_leaky_rmse"], None),
        ("  same, without the power-triangle override", result["rmse_no_exact"],
         result["baseline_energy_baseline_single_lgbm_rmse"], None),
        ("  same, previous design (same run)", result["rmse_previous_design"], None, None),
        ("rmse 15-min-ahead forecast (past channels only)", result["rmse_forecast"],
         result["baseline_seasonal_naive_rmse"], None),
        ("rmse all columns (reference)", result["rmse_all_columns"], result["baseline_rf_all_columns_rmse"], 7.33),
        ("last-value naive rmse", None, result["baseline_last_value_rmse"], None),
    ]
    if "rmse_walk_forward" in result:
        rows.insert(3, ("  previous design refit monthly (walk-forward, other protocol)", result["rmse_walk_forward"],
                        None, None))
    write_result("steel_energy_validation" if validation else "steel_energy", result, rows,
                 header=("metric", "fabmind EnergyForecaster",
                         "baseline (RF paper-style no history / single-LightGBM EnergyBaseline / seasonal naive)",
                         "published RF"))


if __name__ == "__main__":
    main(validation="--validation" in sys.argv[1:])
