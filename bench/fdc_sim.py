"""Run-level FDC on the simulated fab: every chamber gets faults of the library injected, one
MSPC per (chamber, recipe) is trained on the first days and scores the rest.

Reports detection rate over injected faults, false-alarm rate over runs outside faults, median
detection delay (runs of that chamber from fault start to first alarm) and top-1 sensor hit (the
sensor leading the fault's first alarms is one the fault moves). Baseline (same run): per-sensor
3-sigma limits on the same indicators (Shewhart, univariate), the classic FDC practice.

    .venv/bin/python bench/fdc_sim.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_result

from fabmind.models.fdc import FdcConfig, compare_with_faults, score_fdc, train_fdc
from fabmind.sim import Simulator
from fabmind.sim.faults import FAULT_LIBRARY, applicable

DAYS, TRAIN_DAYS, SEED = 24, 6.0, 11


def build_fab():
    sim = Simulator(seed=SEED, scale="small", documents=False)
    rng = np.random.default_rng(SEED)
    for i, chamber in enumerate(sim.layout.chamber_ids):
        kinds = [f.fault_type for f in applicable(sim.layout.type_of(chamber).process)]
        for j, day in enumerate((8.0, 16.0)):
            kind = kinds[(2 * i + j) % len(kinds)]
            sim.inject(kind, chamber, start=day + rng.uniform(0, 2), severity=float(rng.uniform(0.3, 0.8)),
                       duration_days=3.0)
    return sim.run(DAYS)


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
    return compare_with_faults(alarms, scored, result.faults, {k: ft.sensors for k, ft in FAULT_LIBRARY.items()})


def main() -> None:
    from datetime import timedelta

    t0 = time.perf_counter()
    result = build_fab()
    sim_s = time.perf_counter() - t0
    config = FdcConfig(train_days=TRAIN_DAYS)
    runs = result.batch.runs
    traces = {t.run_id: t for t in result.batch.traces}
    recipes = {r.recipe_id: r for r in result.batch.recipes}
    units = {s.name: s.unit for s in result.batch.sensors}
    train_end = min(r.start for r in runs) + timedelta(days=TRAIN_DAYS)
    t0 = time.perf_counter()
    models = train_fdc([r for r in runs if r.start < train_end], traces, recipes, train_end, config)
    train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    alarms, scored = score_fdc(models, runs, traces, recipes, units, train_end, config)
    score_s = time.perf_counter() - t0
    report = compare_with_faults(alarms, scored, result.faults, {k: ft.sensors for k, ft in FAULT_LIBRARY.items()})
    base = shewhart_report(result, config, train_end)
    result_json = {
        **report.summary(),
        "baseline_shewhart": base.summary(),
        "per_fault": [{"fault_id": o.fault_id, "fault_type": o.fault_type, "chamber_id": o.chamber_id,
                       "detected": o.detected, "delay_runs": o.delay_runs, "top_sensor": o.top_sensor,
                       "fault_sensors": list(o.fault_sensors), "top1_hit": o.top1_hit} for o in report.outcomes],
        "models": len(models), "config": repr(config), "sim_days": DAYS, "train_days": TRAIN_DAYS, "seed": SEED,
        "seconds": {"simulate": sim_s, "train": train_s, "score": score_s},
        "goal": "detection >= 0.95, top-1 sensor >= 0.90",
    }
    rows = [("detection_rate", report.detection_rate, base.detection_rate, "goal ≥ 0.95"),
            ("false_alarm_rate (runs)", report.false_alarm_rate, base.false_alarm_rate, ""),
            ("median_delay_runs", report.median_delay_runs, base.median_delay_runs, ""),
            ("top1_sensor_hit", report.top1_sensor_hit, base.top1_sensor_hit, "goal ≥ 0.90"),
            ("faults / alarms", f"{len(report.outcomes)} / {len(report.alarms)}", f"{len(base.outcomes)} / {len(base.alarms)}", "")]
    write_result("fdc_sim", result_json, rows, header=("metric", "fabmind MSPC per chamber×recipe",
                                                       "per-indicator 3σ (same run)", "goal"))


if __name__ == "__main__":
    main()
