"""The same monitor path on the real PostgreSQL: idempotent writes, dedup ledger, alarms."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from fabmind.ingest.source import InProcessBus
from fabmind.monitor import repository as repo
from fabmind.monitor.service import Monitor, MonitorConfig
from fabmind.monitor.tables import ensure_live_tables
from fabmind.store.schema import readings

pytestmark = pytest.mark.postgres


@pytest.fixture()
def pg_live_store(pg_url, gen, pg_schema_store):
    with pg_schema_store(pg_url, "fabmind_live") as store:
        ensure_live_tables(store.engine)
        store.upsert(gen.chambers + gen.sensors)
        yield store


def test_replayed_stream_on_postgres_stores_each_reading_once(pg_live_store, gen):
    gen.fault_chamber, gen.fault_at_message = 1, 8
    msgs = list(gen.messages(12, 50))
    for attempt in range(2):  # the second pass is a full replay (e.g. a consumer that lost its offsets)
        mon = Monitor(pg_live_store.engine, gen.catalog(), config=MonitorConfig(warmup=150))
        bus = InProcessBus()
        for t, p in msgs:
            bus.publish(t, p)
        stats = asyncio.run(mon.run(bus, idle_timeout=0.1))
        mon.close()
        rep = stats.report
        assert rep.received == rep.stored + rep.quarantined
        if attempt == 1:
            assert rep.stored == 0 and rep.duplicates == len(msgs) * 250
    with pg_live_store.engine.connect() as conn:
        n = conn.execute(select(func.count()).select_from(readings)).scalar()
    assert n == len(msgs) * 250
    assert [r.alarm.chamber_id for r in repo.load_alarms(pg_live_store.engine)] == ["ETCH-02/A"]
