"""The demo fab's runs replayed as live messages: the whole chain on simulator data."""

from __future__ import annotations

import asyncio

from fabmind.ingest.catalog import SensorCatalog
from fabmind.ingest.live import trace_messages
from fabmind.ingest.source import InProcessBus
from fabmind.monitor.service import Monitor, MonitorConfig
from fabmind.monitor.tables import ensure_live_tables


def test_simulated_runs_stream_through_the_monitor(store, small_fab):
    batch = small_fab.batch
    ensure_live_tables(store.engine)
    store.upsert(batch.equipment + batch.chambers + batch.sensors)
    chambers = sorted({t.chamber_id for t in batch.traces})[:2]
    traces = [t for t in sorted(batch.traces, key=lambda t: t.start) if t.chamber_id in chambers]
    traces = [t for c in chambers for t in [x for x in traces if x.chamber_id == c][:20]]
    traces.sort(key=lambda t: t.start)
    msgs = list(trace_messages(traces, samples_per_message=20))
    bus = InProcessBus()
    for topic, payload in msgs:
        bus.publish(topic, payload)
    mon = Monitor(store.engine, SensorCatalog.from_store(store), config=MonitorConfig(warmup=200))
    stats = asyncio.run(mon.run(bus, idle_timeout=0.1))
    mon.close()
    sent = sum(int(t.values.size) for t in traces)
    r = stats.report
    assert r.received == sent == r.stored + r.quarantined
    assert r.quarantined == 0, r.reasons  # the simulator's values are inside the sensors' valid ranges
    frame = store.readings(chamber_id=chambers[0])
    assert len(frame) == sum(int(t.values.size) for t in traces if t.chamber_id == chambers[0])
    assert set(frame["run_id"]) == {t.run_id for t in traces if t.chamber_id == chambers[0]}
