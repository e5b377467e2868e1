"""Run-level FDC on the 30-day demo fab (``simulate(days=30, seed=0, scale="demo")``, the fab
``fabmind demo`` builds, default fault plan, designed-experiment lots and PMs included): one model
per (chamber, recipe) is trained on the first 5 days and scores the rest.

Reports detection rate over injected faults, false-alarm rate over runs outside faults, median
detection delay (runs of that chamber from fault start to first alarm) and top-1 sensor hit (the
sensor leading the fault's first alarms is one the fault moves). Baselines (same run):

* the previous pipeline: MSPC on indicators with the setpoints as plain features (no adjustment,
  no PM age) -- ``FdcConfig(adjust=False, pm_age=False)``;
* per-sensor 3-sigma limits on the same indicators (Shewhart, univariate), the classic FDC practice.

The false-alarm rate is also split into designed-experiment runs (a setpoint more than 4 % of its
span from the recipe default) and ordinary runs.

    .venv/bin/python bench/fdc_sim.py [--seed N]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_result

from fabmind.models.fdc import FdcConfig, compare_with_faults, pm_ends_from, score_fdc, train_fdc
from fabmind.sim import simulate
from fabmind.sim.faults import FAULT_LIBRARY

DAYS, TRAIN_DAYS, SEED = 30, 5.0, 0


def build_fab(seed: int = SEED):
    return simulate(days=DAYS, seed=seed, scale="demo", documents=False)


def run_config(result, config, train_end, pm_ends):
    runs = result.batch.runs
    traces = {t.run_id: t for t in result.batch.traces}
    recipes = {r.recipe_id: r for r in result.batch.recipes}
    units = {s.name: s.unit for s in result.batch.sensors}
    t0 = time.perf_counter()
    models = train_fdc([r for r in runs if r.start < train_end], traces, recipes, train_end, config, pm_ends=pm_ends)
    train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    alarms, scored = score_fdc(models, runs, traces, recipes, units, train_end, config, pm_ends=pm_ends)
    score_s = time.perf_counter() - t0
    faults = [f for f in result.faults if f.fault_type in FAULT_LIBRARY and f.start >= train_end]
    report = compare_with_faults(alarms, scored, faults, {k: ft.sensors for k, ft in FAULT_LIBRARY.items()})
    return report, scored, len(models), train_s, score_s


def doe_split(result, report, scored, faults) -> dict:
    """False-alarm rate on designed-experiment runs and on ordinary runs (outside faults)."""
    import pandas as pd

    from fabmind.sim.recipes import RECIPES

    by_id = {r.run_id: r for r in result.batch.runs}

    def is_doe(run) -> bool:
        rec = RECIPES[run.recipe_id]
        return max(abs(run.setpoints[p.name] - p.default) / (p.high - p.low) for p in rec.params) > 0.04

    starts = pd.to_datetime(scored["start"], utc=True)
    inside = np.zeros(len(scored), dtype=bool)
    for f in faults:
        end = pd.Timestamp(f.end) + pd.Timedelta(hours=2) if f.end else pd.Timestamp.max.tz_localize("UTC")
        inside |= ((scored["chamber_id"] == f.chamber_id) & (starts >= pd.Timestamp(f.start)) & (starts <= end)).to_numpy()
    out = scored[~inside]
    alarmed = out["run_id"].isin({a.run_id for a in report.alarms}).to_numpy()
    doe = np.array([is_doe(by_id[r]) for r in out["run_id"]])
    return {"doe_runs": int(doe.sum()), "false_alarm_rate_doe": float(alarmed[doe].mean()) if doe.any() else None,
            "ordinary_runs": int((~doe).sum()),
            "false_alarm_rate_ordinary": float(alarmed[~doe].mean()) if (~doe).any() else None}


def shewhart_report(result, config, train_end):
    """Baseline: a run alarms when any indicator leaves mean ± 3 sigma of training (no correlation model)."""
    from fabmind.domain import Alarm, Contribution
    from fabmind.models.fdc import _groups, indicators

    recipes = {r.recipe_id: r for r in result.batch.recipes}
    traces = {t.run_id: t for t in result.batch.traces}
    alarms, scored = [], []
    import pandas as pd

    for (chamber, recipe), group in _groups(result.batch.runs).items():
        X = indicators(group, traces, recipes[recipe], config.stats)
        starts = {r.run_id: r for r in group}
        train = X[[starts[i].start < train_end for i in X.index]]
        test = X[[starts[i].start >= train_end for i in X.index]]
        if len(train) < config.min_train_runs or test.empty:
            continue
        mu, sd = train.mean(), train.std().replace(0, np.nan)
        z = ((test - mu) / sd).abs().fillna(0)
        scored.append(pd.DataFrame({"run_id": test.index, "chamber_id": chamber, "recipe_id": recipe,
                                    "start": [starts[i].start for i in test.index], "score": z.max(axis=1)}))
        for rid in test.index[(z.max(axis=1) > 3.0).to_numpy()]:
            feat = z.loc[rid].idxmax()
            alarms.append(Alarm(alarm_id=f"shewhart:{chamber}:{rid}", chamber_id=chamber, ts=starts[rid].end,
                                source="shewhart", run_id=rid, score=float(z.loc[rid].max()), limit=3.0,
                                contributions=(Contribution(sensor=feat.split(".")[0], feature=feat, contribution=1.0,
                                                            value=0.0, expected=0.0, deviation=0.0,
                                                            deviation_sigma=float(z.loc[rid, feat])),)))
    scored = pd.concat(scored, ignore_index=True)
    faults = [f for f in result.faults if f.fault_type in FAULT_LIBRARY and f.start >= train_end]
    return compare_with_faults(alarms, scored, faults, {k: ft.sensors for k, ft in FAULT_LIBRARY.items()})


def main() -> None:
    import argparse
    from datetime import timedelta

    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=SEED, help="fab seed (0 = the demo fab)")
    args = parser.parse_args()
    t0 = time.perf_counter()
    result = build_fab(args.seed)
    sim_s = time.perf_counter() - t0
    config = FdcConfig(train_days=TRAIN_DAYS)
    previous = FdcConfig(train_days=TRAIN_DAYS, adjust=False, pm_age=False, min_train_runs=30)  # the old default
    runs = result.batch.runs
    train_end = min(r.start for r in runs) + timedelta(days=TRAIN_DAYS)
    pm_ends = pm_ends_from(result.batch.work_orders)
    report, scored, n_models, train_s, score_s = run_config(result, config, train_end, pm_ends)
    faults = [f for f in result.faults if f.fault_type in FAULT_LIBRARY and f.start >= train_end]
    prev, prev_scored, *_ = run_config(result, previous, train_end, pm_ends)
    base = shewhart_report(result, config, train_end)
    result_json = {
        **report.summary(),
        **doe_split(result, report, scored, faults),
        "baseline_previous_pipeline": {**prev.summary(), **doe_split(result, prev, prev_scored, faults)},
        "baseline_shewhart": base.summary(),
        "per_fault": [{"fault_id": o.fault_id, "fault_type": o.fault_type, "chamber_id": o.chamber_id,
                       "detected": o.detected, "delay_runs": o.delay_runs, "top_sensor": o.top_sensor,
                       "fault_sensors": list(o.fault_sensors), "top1_hit": o.top1_hit} for o in report.outcomes],
        "models": n_models, "config": repr(config), "sim_days": DAYS, "scale": "demo", "train_days": TRAIN_DAYS,
        "seed": args.seed, "seconds": {"simulate": sim_s, "train": train_s, "score": score_s},
        "goal": "false alarms <= 2 % of runs, detection >= 0.95, top-1 sensor >= 0.90",
    }
    rows = [("detection_rate", report.detection_rate, prev.detection_rate, base.detection_rate, "≥ 0.95"),
            ("false_alarm_rate (runs)", report.false_alarm_rate, prev.false_alarm_rate, base.false_alarm_rate, "≤ 0.02"),
            ("  on DOE runs", result_json["false_alarm_rate_doe"],
             result_json["baseline_previous_pipeline"]["false_alarm_rate_doe"], None, ""),
            ("  on ordinary runs", result_json["false_alarm_rate_ordinary"],
             result_json["baseline_previous_pipeline"]["false_alarm_rate_ordinary"], None, ""),
            ("median_delay_runs", report.median_delay_runs, prev.median_delay_runs, base.median_delay_runs, ""),
            ("top1_sensor_hit", report.top1_sensor_hit, prev.top1_sensor_hit, base.top1_sensor_hit, "≥ 0.90"),
            ("faults / alarms", f"{len(report.outcomes)} / {len(report.alarms)}",
             f"{len(prev.outcomes)} / {len(prev.alarms)}", f"{len(base.outcomes)} / {len(base.alarms)}", ""),
            ("runs scored", report.n_scored_runs, prev.n_scored_runs, base.n_scored_runs, "")]
    name = "fdc_sim" if args.seed == SEED else f"fdc_sim_seed{args.seed}"
    write_result(name, result_json, rows, header=(
        "metric", "fabmind (setpoint+PM-adjusted MSPC)", "previous pipeline (SP as features)",
        "per-indicator 3σ (same run)", "goal"))


if __name__ == "__main__":
    main()
