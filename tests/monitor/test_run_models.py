"""Run-level models in the live monitor: the registry's active FDC and PdM models score streamed runs.

The demo fab's runs are replayed as live messages (steps and ``run_end`` in the payload); the
monitor assembles each run, scores it with the active models and raises alarms with contributions.
What the live path computes is checked against the batch path on the stored traces.
"""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import timedelta

import numpy as np
import pytest

from fabmind.ingest.catalog import SensorCatalog
from fabmind.ingest.live import trace_messages
from fabmind.ingest.source import InProcessBus
from fabmind.monitor import repository as repo
from fabmind.monitor.alarms import InControl, Violation
from fabmind.monitor.run_models import FdcRunScorer, PdmRiskScorer
from fabmind.monitor.service import Monitor, MonitorConfig
from fabmind.monitor.tables import ensure_live_tables


@pytest.fixture()
def fab_copy(demo_store, tmp_path):
    """A writable copy of the demo fab (the session's demo store must not change)."""
    from fabmind.store import Store

    dst = tmp_path / "fab.db"
    with sqlite3.connect(demo_store.engine.url.database) as a, sqlite3.connect(dst) as b:
        a.backup(b)
    store = Store(f"sqlite:///{dst}")
    ensure_live_tables(store.engine)
    yield store
    store.close()


@pytest.fixture()
def registry(tmp_path):
    from fabmind.models.registry import ModelRegistry

    return ModelRegistry(tmp_path / "models")


def _stream(store, runs, scorers) -> Monitor:
    mon = Monitor(store.engine, SensorCatalog.from_store(store), run_scorers=scorers,
                  config=MonitorConfig(warmup=10**6))  # charts never fitted: only the run-level models alarm
    bus = InProcessBus()
    traces = store.traces([r.run_id for r in runs])
    for topic, payload in trace_messages([traces[r.run_id] for r in runs], topic_root="fab"):
        bus.publish(topic, payload)
    asyncio.run(mon.run(bus, idle_timeout=0.2))
    mon.close()
    return mon


def test_active_fdc_model_scores_each_streamed_run_like_the_batch_path(fab_copy, small_fab, registry):
    from fabmind.models.fdc import FdcConfig, indicators, model_name, store_pm_ends, train_fdc

    fault = next(f for f in small_fab.faults if f.fault_type == "chamber_leak")
    chamber = fault.chamber_id
    runs = fab_copy.run_records(chamber_id=chamber)
    recipes = {r.recipe_id: r for r in fab_copy.recipes()}
    train_end = fault.start - timedelta(hours=12)
    history = [r for r in runs if r.start < train_end]
    pm_ends = store_pm_ends(fab_copy)
    models = train_fdc(history, fab_copy.traces([r.run_id for r in history]), recipes, train_end, FdcConfig(),
                       pm_ends=pm_ends)
    for (ch, recipe), model in models.items():
        registry.register(model, name=model_name(recipe), scope=ch)
    live = [r for r in runs if r.start >= train_end][:40] + fab_copy.run_records(chamber_id=chamber)[-20:]
    scorer = FdcRunScorer(fab_copy, registry)
    said = {}

    def recorded(chamber_id, run_id, trace):
        said[run_id] = scorer(chamber_id, run_id, trace)
        return said[run_id]

    mon = _stream(fab_copy, live, [recorded])

    assert mon.stats.runs_scored == len(live) and scorer.scored == len(live) and not scorer.skipped
    violated = {rid for rid, v in said.items() if isinstance(v, Violation)}
    assert {rid for rid, v in said.items() if isinstance(v, InControl)} == {r.run_id for r in live} - violated
    # the same model on the stored traces (batch path): clear calls must agree with the live path
    traces = fab_copy.traces([r.run_id for r in live])
    cfg = FdcConfig()
    for r in live:
        model = models[(chamber, r.recipe_id)]
        X = indicators([r], traces, recipes[r.recipe_id], cfg.stats, cfg.setpoints, pm_ends.get(chamber))
        ratio = float(model.score(X)[0] / model.threshold_)
        if ratio > 1.05:
            assert r.run_id in violated, f"{r.run_id} over the limit ({ratio:.2f}x) but in control live"
        elif ratio < 0.95:
            assert r.run_id not in violated, f"{r.run_id} under the limit ({ratio:.2f}x) but violated live"
    # alarms: one per excursion (repeats while open are counted, an in-control run clears it)
    alarms = [a for a in repo.load_alarms(fab_copy.engine, only_open=False) if a.alarm.source.startswith("mspc.")]
    faulty = set(small_fab.fault_runs(fault.fault_id))
    hits = [a.alarm for a in alarms if a.alarm.run_id in faulty]
    assert hits, "no alarm on the leaking chamber's faulty runs"
    a = hits[0]
    assert a.chamber_id == chamber and a.code == "FDC-MSPC" and a.contributions and a.model_version
    assert a.contributions[0].unit  # sensors carry their units from the catalog
    assert sum(r.occurrences for r in alarms) == len(violated)


def test_scorer_skips_what_it_cannot_score(fab_copy, registry):
    scorer = FdcRunScorer(fab_copy, registry)
    run = fab_copy.run_records()[0]
    trace = fab_copy.traces([run.run_id])[run.run_id]
    assert scorer(run.chamber_id, run.run_id, None) is None
    assert scorer(run.chamber_id, "no-such-run", trace) is None
    assert scorer(run.chamber_id, run.run_id, trace) is None  # the registry is empty
    late = trace.model_copy(update={"start": trace.start + timedelta(seconds=10 * trace.dt_s)})
    assert scorer(run.chamber_id, run.run_id, late) is None  # the stream began mid-run
    assert scorer.skipped == {"not_seen_whole": 2, "run_unknown": 1, "no_active_model": 1}


def test_active_pdm_risk_model_alarms_on_a_degrading_chamber(fab_copy, small_fab, registry):
    from fabmind.models.maintenance import FailureRiskModel, pdm_frame_from_store

    fault = next(f for f in small_fab.faults if f.fault_type == "chamber_leak")
    chamber = fault.chamber_id
    data = pdm_frame_from_store(fab_copy, chamber_ids=[chamber])
    # label: the run is inside the (growing) leak, i.e. the chamber is heading for a repair
    y = (data.info["start"] >= fault.start).astype(int)
    model = FailureRiskModel(n_estimators=60, min_child_samples=5).fit(data.features, y)
    registry.register(model, name="pdm-risk", scope=chamber)
    runs = fab_copy.run_records(chamber_id=chamber)
    live = runs[-3:]
    scorer = PdmRiskScorer(fab_copy, registry)

    mon = _stream(fab_copy, live, [scorer])

    assert mon.stats.runs_scored == 3 and not scorer.skipped
    # the live features of the last run are the batch features of the stored run
    last = live[-1]
    feats = scorer.features(chamber, last.run_id, fab_copy.traces([last.run_id])[last.run_id])
    batch = data.features.loc[[last.run_id], feats.columns]
    np.testing.assert_allclose(feats.to_numpy(float), batch.to_numpy(float), rtol=1e-4, atol=1e-6)
    assert scorer.last_risk[chamber] >= 0.5
    [alarm] = [a.alarm for a in repo.load_alarms(fab_copy.engine) if a.alarm.source == "pdm.risk"]
    assert alarm.code == "PDM-RISK" and alarm.chamber_id == chamber and alarm.contributions
    assert "failure risk" in alarm.message
