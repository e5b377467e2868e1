from __future__ import annotations

import pytest

from fabmind.ingest.live import StreamGenerator


@pytest.fixture()
def gen() -> StreamGenerator:
    return StreamGenerator(n_chambers=3, n_sensors=5, seed=3)


@pytest.fixture()
def live_store(store, gen):
    """Empty SQLite store with the live tables and the generator's chambers and sensors."""
    from fabmind.monitor.tables import ensure_live_tables

    ensure_live_tables(store.engine)
    store.upsert(gen.chambers + gen.sensors)
    return store
