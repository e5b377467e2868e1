"""The learning loop on the demo fab: false alarms before and after retraining with 50 engineer verdicts.

The fab (``scale="demo"``, 38 chambers, 16 days, seeded) has its default faults plus faults injected
in the test period, and **a sensor prone to false alarms**: the chamber-pressure gauge of
``CVD-02/A`` is recalibrated on day 6 (a post-processing step, :func:`fabmind.models.drift.recalibrated`:
+3 run-to-run sigmas on every sample from then on; the process itself is unchanged, so every alarm
it causes is false).

Timeline: FDC models (one plain MSPC per chamber x recipe, ``FdcConfig(adjust=False)``: the model
this scenario was built against; the context-adjusted default of the FDC room raised 37 % false
alarms here, see the report) train on days 0-5; they score days 5-10 and
their alarms go to the store; **50 alarms** drawn at random are judged by simulated engineers who
know the ground truth (inside an injected fault's window on that chamber -> ``true_fault`` with
the fault's root cause, else ``false_alarm``); ``retrain_from_verdicts`` retrains at day 10
(hold-out: day 9-10) and promotes only better candidates; days 10-16 (never seen by any model or
verdict) are scored by the models active before and after. Baseline (same run): the models before
retraining; also "retrain everything on recent data without verdicts" (a blind refresh).

    .venv/bin/python bench/feedback.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_result

from fabmind.domain import FabBatch, utc
from fabmind.models.drift import recalibrated
from fabmind.models.fdc import FdcConfig, compare_with_faults
from fabmind.models.learning import LearningConfig, retrain_from_verdicts
from fabmind.models.registry import ModelRegistry
from fabmind.monitor.repository import Verdict, record_verdict
from fabmind.scale import InProcessExecutor
from fabmind.scale.jobs import score_fleet, train_fleet
from fabmind.sim import FAULT_LIBRARY, Simulator
from fabmind.sim.faults import applicable

SEED, DAYS, TRAIN_DAYS, LABEL_END, N_VERDICTS = 11, 16, 5.0, 10.0, 50
RECAL_CHAMBER, RECAL_SENSOR, RECAL_DAY, RECAL_SIGMAS = "CVD-02/A", "CHAMBER_PRESS_MTORR", 6.0, 3.0


def build_fab():
    sim = Simulator(seed=SEED, scale="demo", documents=False)
    rng = np.random.default_rng(SEED)
    chambers = sim.layout.chamber_ids
    picks = [RECAL_CHAMBER] + [chambers[i] for i in rng.choice(len(chambers), 7, replace=False)
                               if chambers[i] != RECAL_CHAMBER][:6]
    for i, chamber in enumerate(picks):  # faults in the test period: does retraining blind the models?
        kinds = [f.fault_type for f in applicable(sim.layout.type_of(chamber).process)]
        sim.inject(kinds[i % len(kinds)], chamber, start=LABEL_END + 0.5 + rng.uniform(0, 3.5),
                   severity=float(rng.uniform(0.4, 0.8)), duration_days=2.0)
    result = sim.run(DAYS, default_faults=True)
    recal_at = result.start + timedelta(days=RECAL_DAY)
    traces = result.batch.traces
    by_id = {t.run_id: t for t in traces}
    before = [r for r in result.batch.runs if r.chamber_id == RECAL_CHAMBER and r.start < recal_at]
    j = by_id[before[0].run_id].sensors.index(RECAL_SENSOR)
    sigma = float(np.std([by_id[r.run_id].values[:, j].mean() for r in before if r.run_id in by_id]))
    batch = FabBatch(**{**result.batch.__dict__,
                        "traces": recalibrated(traces, RECAL_CHAMBER, RECAL_SENSOR, recal_at, RECAL_SIGMAS * sigma)})
    return result, batch, RECAL_SIGMAS * sigma


def engineer_verdicts(alarms, result, rng, n):
    """Simulated engineers: the ground truth decides; the root cause is the fault's (or the gauge)."""
    faults = {f.fault_id: f for f in result.faults}
    picked = rng.choice(len(alarms), size=min(n, len(alarms)), replace=False)
    out = []
    for i in sorted(picked):
        a = alarms[i]
        hit = [faults[k] for k in result.run_faults.get(a.run_id, {}) if k in faults]
        if hit:
            ft = FAULT_LIBRARY[hit[0].fault_type]
            out.append(Verdict(a.alarm_id, "eng-sim", "true_fault", ft.root_cause, ft.failure_mode))
        else:
            lead = a.contributions[0].sensor if a.contributions else ""
            cause = "gauge recalibrated, process normal" if (a.chamber_id, lead) == (RECAL_CHAMBER, RECAL_SENSOR) \
                else "no fault found"
            out.append(Verdict(a.alarm_id, "eng-sim", "false_alarm", cause))
    return out


def outcome(fleet, result, test_start, test_end):
    faults = [f for f in result.faults if utc(f.start) < test_end and (f.end is None or utc(f.end) > test_start)]
    report = compare_with_faults(fleet.alarms, fleet.scored, faults,
                                 {k: ft.sensors for k, ft in FAULT_LIBRARY.items()})
    new = [o for o in report.outcomes if utc(o.start) >= test_start]
    scored = fleet.scored
    recal = scored[scored["chamber_id"] == RECAL_CHAMBER]
    recal_alarms = sum(a.chamber_id == RECAL_CHAMBER for a in fleet.alarms)
    alarmed = {a.run_id for a in fleet.alarms}
    per_recipe = {rid: float(g["run_id"].isin(alarmed).mean()) for rid, g in recal.groupby("recipe_id")}
    return {"false_alarm_rate": report.false_alarm_rate, "false_alarms": report.n_false_alarms,
            "detection_rate": float(np.mean([o.detected for o in new])) if new else float("nan"),
            "faults_in_test": len(new), "median_delay_runs": float(np.median([o.delay_runs for o in new if o.detected]))
            if any(o.detected for o in new) else float("nan"),
            "recal_chamber_alarm_rate": recal_alarms / max(len(recal), 1), "recal_alarm_rate_by_recipe": per_recipe,
            "scored_runs": len(scored)}


def main() -> None:
    t0 = time.perf_counter()
    result, batch, offset = build_fab()
    start = result.start
    train_end, label_end, test_end = (start + timedelta(days=d) for d in (TRAIN_DAYS, LABEL_END, DAYS))
    tmp = Path(tempfile.mkdtemp(prefix="fabmind-feedback-"))
    url = f"sqlite:///{tmp / 'fab.db'}"
    from fabmind.store import Store

    store = Store(url)
    store.write_batch(batch)
    registry = ModelRegistry(tmp / "models")
    ex = InProcessExecutor()
    fdc = FdcConfig(adjust=False)  # plain MSPC per chamber x recipe (see the docstring)
    train_fleet(ex, url, registry, start, train_end, config=fdc)
    print(f"built and trained in {time.perf_counter() - t0:.0f} s", file=sys.stderr)

    label = score_fleet(ex, url, registry, train_end, label_end, save=True, config=fdc)
    alarms = sorted(label.alarms, key=lambda a: a.alarm_id)
    verdicts = engineer_verdicts(alarms, result, np.random.default_rng(SEED), N_VERDICTS)
    for v in verdicts:
        record_verdict(store.engine, v)
    before = outcome(score_fleet(ex, url, registry, label_end, test_end, config=fdc), result, label_end, test_end)

    report = retrain_from_verdicts(store, registry, now=label_end, config=LearningConfig(), fdc=fdc)
    after = outcome(score_fleet(ex, url, registry, label_end, test_end, config=fdc), result, label_end, test_end)

    # a blind refresh (same run): every model refitted on its last 4 days before day 10, no verdicts used
    blind_reg = ModelRegistry(tmp / "blind")
    train_fleet(ex, url, blind_reg, label_end - timedelta(days=4), label_end, config=fdc)
    blind = outcome(score_fleet(ex, url, blind_reg, label_end, test_end, config=fdc), result, label_end, test_end)

    rollback_ok = True
    for d in report.promoted[:1]:  # rollback is one call and restores the previous version
        back = registry.rollback(d.model, d.scope)
        rollback_ok = back.version == d.active_version
        registry.activate(d.model, d.scope, d.candidate_version)

    n_fa = sum(v.verdict == "false_alarm" for v in verdicts)
    res = {
        "false_alarm_before": before["false_alarm_rate"], "false_alarm_after": after["false_alarm_rate"],
        "detection_before": before["detection_rate"], "detection_after": after["detection_rate"],
        "false_alarm_reduction": 1 - after["false_alarm_rate"] / before["false_alarm_rate"],
        "before": before, "after": after, "blind_refresh": blind,
        "verdicts": len(verdicts), "verdicts_false_alarm": n_fa, "verdicts_true_fault": len(verdicts) - n_fa,
        "label_period_alarms": len(alarms),
        "models_retrained": len(report.decisions), "models_promoted": len(report.promoted),
        "strategies_promoted": pd.Series([d.strategy for d in report.promoted]).value_counts().to_dict(),
        "decisions": [dict(model=d.model, scope=d.scope, strategy=d.strategy, promoted=d.promoted, reason=d.reason)
                      for d in report.decisions],
        "rollback_restores_previous": rollback_ok,
        "noisy_sensor": {"chamber": RECAL_CHAMBER, "sensor": RECAL_SENSOR, "recalibrated_day": RECAL_DAY,
                         "offset": offset, "offset_sigmas": RECAL_SIGMAS},
        "seconds": time.perf_counter() - t0,
        "note": "2 shared, busy cores: timings pessimistic",
    }
    rows = [
        ("false-alarm rate (runs outside faults, days 10-16)", before["false_alarm_rate"], after["false_alarm_rate"],
         blind["false_alarm_rate"], "goal: -50 % or more"),
        ("detection (faults starting in days 10-16)", before["detection_rate"], after["detection_rate"],
         blind["detection_rate"], "goal: not lower"),
        ("alarm rate on the recalibrated chamber", before["recal_chamber_alarm_rate"],
         after["recal_chamber_alarm_rate"], blind["recal_chamber_alarm_rate"], ""),
        *[(f"alarm rate, recalibrated chamber, {rid}", before["recal_alarm_rate_by_recipe"].get(rid),
           after["recal_alarm_rate_by_recipe"].get(rid), blind["recal_alarm_rate_by_recipe"].get(rid), "")
          for rid in sorted(before["recal_alarm_rate_by_recipe"])],
        ("models retrained / promoted", "", f"{len(report.decisions)} / {len(report.promoted)}", "all", ""),
    ]
    write_result("feedback", res, rows, header=("metric", "before (active)", "after 50 verdicts",
                                                "blind refresh (same run)", "goal"))


if __name__ == "__main__":
    main()
