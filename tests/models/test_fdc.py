"""Run-level FDC on the simulator: a fault injected in one chamber is found, by the right sensors."""

from __future__ import annotations

from datetime import timedelta

import pytest

from fabmind.models.fdc import FdcConfig, compare_with_faults, fdc_demo, pm_ends_from, score_fdc, train_fdc
from fabmind.models.registry import ModelRegistry


@pytest.fixture(scope="module")
def faulty_fab():
    from fabmind.sim import Simulator

    sim = Simulator(seed=3, scale="small", documents=False)
    sim.inject("pump_degradation", "CVD-01/A", start=2.6, severity=0.8, duration_days=1.0)
    return sim.run(days=4)


def test_injected_fault_is_detected_and_localised(faulty_fab):
    from fabmind.sim.faults import FAULT_LIBRARY

    batch = faulty_fab.batch
    runs = [r for r in batch.runs if r.chamber_id.startswith("CVD")]
    traces = {t.run_id: t for t in batch.traces if t.chamber_id.startswith("CVD")}
    recipes = {r.recipe_id: r for r in batch.recipes}
    train_end = min(r.start for r in runs) + timedelta(days=2.2)
    config = FdcConfig(min_train_runs=20)
    pm_ends = pm_ends_from(batch.work_orders)
    models = train_fdc([r for r in runs if r.start < train_end], traces, recipes, train_end, config, pm_ends=pm_ends)
    assert models and all(m.metadata.scope.startswith("CVD") for m in models.values())
    units = {s.name: s.unit for s in batch.sensors}
    alarms, scored = score_fdc(models, runs, traces, recipes, units, train_end, config, pm_ends=pm_ends)
    report = compare_with_faults(alarms, scored, faulty_fab.faults, {k: f.sensors for k, f in FAULT_LIBRARY.items()})
    (outcome,) = report.outcomes
    assert outcome.detected and outcome.delay_runs <= 3
    assert outcome.top1_hit, outcome.top_sensor
    # two days of training, one tool (three chambers) to learn the setpoint response from, no
    # designed-experiment lot in training and a single known PM per chamber: false alarms are frequent
    # here (35 %: every DOE run, 20 % of the others; 1.6 % on the 30-day demo fab in bench/fdc_sim.py),
    # but far rarer than alarms in the fault
    fault_runs = set(faulty_fab.fault_runs(outcome.fault_id))
    in_fault = scored[scored.run_id.isin(fault_runs)]
    alarmed = {a.run_id for a in alarms}
    assert in_fault.run_id.isin(alarmed).mean() > 0.9
    assert report.false_alarm_rate < 0.4
    alarm = next(a for a in alarms if a.run_id == outcome.first_alarm_run)
    top = alarm.contributions[0]
    assert top.unit and top.deviation_sigma > 3 and alarm.score > alarm.limit and alarm.model_version == ""


def test_fdc_demo_on_store_registers_models_and_reports(demo_store, tmp_path):
    registry = ModelRegistry(tmp_path)
    report = fdc_demo(demo_store, registry, FdcConfig(train_days=2.0, min_train_runs=20))
    assert registry.names() and all(n.startswith("fdc-") for n in registry.names())
    # only two days of training in the 4-day test fab: loose limits, many false alarms (known gap;
    # bench/fdc_sim.py with 5-6 days of training measures 7 %); still most runs must pass
    assert 0 <= report.false_alarm_rate < 0.5
    for o in report.outcomes:  # the faults that start after training
        assert o.fault_type and o.chamber_id
    assert all(a.model_version.startswith("fdc-") for a in report.alarms)


def test_cli_train_and_score(demo_store, tmp_path):
    import typer
    from typer.testing import CliRunner

    from fabmind.cli import models as models_cli

    app = typer.Typer()  # the lead adds "models" to fabmind.cli._GROUPS; test the group on its own
    models_cli.register(app)

    url = str(demo_store.engine.url)
    runner = CliRunner()
    res = runner.invoke(app, ["train", "--db", url, "--home", str(tmp_path), "--days", "2"])
    assert res.exit_code == 0, res.output
    assert "FDC models registered" in res.output
    pdm = res.output[res.output.index("failure-risk"):]  # no CM work orders yet: a reason per type
    assert all(t in pdm for t in ("DRYETCH-X", "PECVD-X", "TRACK-X")) and pdm.count("0 failures") == 3
    res = runner.invoke(app, ["score", "--db", url, "--home", str(tmp_path), "--start", "2026-01-07T00:00"])
    assert res.exit_code == 0, res.output
    assert "scored" in res.output and "alarms" in res.output
