"""The same monitor path on the real PostgreSQL: idempotent writes, dedup ledger, alarms."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest
from sqlalchemy import func, select, text

from fabmind.ingest.source import InProcessBus
from fabmind.monitor import repository as repo
from fabmind.monitor.service import Monitor, MonitorConfig
from fabmind.monitor.tables import ensure_live_tables
from fabmind.store.schema import readings

pytestmark = pytest.mark.postgres


@pytest.fixture()
def pg_live_store(pg_url, gen):
    from fabmind.store import Store
    from fabmind.store.engine import make_engine

    schema = f"fabmind_live_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    store = Store(pg_url, schema=schema)
    ensure_live_tables(store.engine)
    store.upsert(gen.chambers + gen.sensors)
    yield store
    store.close()
    engine = make_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


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
