"""Every table round-trips its records; replaying a batch changes nothing (SQLite and PostgreSQL)."""

from __future__ import annotations

from dataclasses import fields

import pytest
from sqlalchemy import select
from store_fab_data import small_batch

from fabmind import domain as d
from fabmind.store import Store, codec
from fabmind.store import schema as s


def _table_records(store: Store, table) -> list:
    cls = codec.RECORD_OF[table.name]
    key = [c for c in table.primary_key.columns]
    with store.engine.connect() as conn:
        rows = conn.execute(select(table).order_by(*key)).mappings().all()
    if table is s.traces:
        return [codec.trace_from_row(r) for r in rows]
    return [codec.from_row(cls, r) for r in rows]


def _snapshot(store: Store) -> dict[str, list]:
    out = {}
    for t in s.CORE_TABLES:
        with store.engine.connect() as conn:
            out[t.name] = [tuple(r) for r in conn.execute(select(t).order_by(*t.primary_key.columns))]
    return out


def test_write_batch_round_trips_every_table(any_store):
    batch = small_batch()
    written = any_store.write_batch(batch)
    for f in fields(batch):
        expected = getattr(batch, f.name)
        assert written.get(f.name, 0) == len(expected), f.name
        if f.name == "traces":
            continue  # compared exactly in test_store_traces
        table = s.metadata.tables[f.name]
        got = _table_records(any_store, table)
        assert sorted(got, key=lambda r: r.natural_key()) == sorted(expected, key=lambda r: r.natural_key()), f.name


def test_round_trip_keeps_utc_timestamps_and_nested_fields(any_store):
    batch = small_batch()
    any_store.write_batch(batch)
    alarm = any_store.alarm_records()[0]
    assert alarm == batch.alarms[0]
    assert alarm.ts.tzinfo is not None and alarm.ts.utcoffset().total_seconds() == 0
    assert alarm.contributions[0].sensor == "RF_REFL"
    recipe = any_store.recipes()[0]
    assert recipe.parameter("RF_FWD").high == 1800
    assert recipe.steps == ("stabilise", "main", "overetch")


def test_replaying_the_same_batch_changes_nothing(any_store):
    batch = small_batch()
    any_store.write_batch(batch)
    before_counts, before = any_store.counts(), _snapshot(any_store)
    any_store.write_batch(batch)
    any_store.upsert([*batch.runs, *batch.alarms])
    assert any_store.counts() == before_counts
    assert _snapshot(any_store) == before


def test_upsert_updates_by_natural_key(any_store):
    batch = small_batch()
    any_store.write_batch(batch)
    y = batch.yields[0]
    changed = d.Yield(lot_id=y.lot_id, substrate_id=y.substrate_id, ts=y.ts, yield_pct=12.5)
    assert any_store.upsert([changed]) == {"yields": 1}
    ys = any_store.yields(per_substrate=True)
    row = ys[(ys.lot_id == y.lot_id) & (ys.substrate_id == y.substrate_id)]
    assert row.yield_pct.tolist() == [12.5]
    assert len(ys) == sum(1 for x in batch.yields if x.substrate_id)


def test_duplicate_keys_within_one_upsert_keep_the_last(any_store):
    a = d.Site(site_id="FAB1", name="first")
    b = d.Site(site_id="FAB1", name="second")
    assert any_store.upsert([a, b]) == {"sites": 1}
    assert _table_records(any_store, s.sites) == [b]


def test_upsert_rejects_unknown_record_kinds(any_store):
    with pytest.raises(TypeError, match="Contribution"):
        any_store.upsert([d.Contribution(sensor="X", feature="X", contribution=1, value=1, expected=1,
                                         deviation=0, deviation_sigma=0)])


def test_failed_batch_is_not_half_written(any_store):
    batch = small_batch()
    batch.sites.append(d.Site.model_construct(site_id="FAB2", name=None))  # NOT NULL violation at the end
    with pytest.raises(Exception):
        any_store.write_batch(batch)
    assert all(n == 0 for n in any_store.counts().values())


def test_sensors_keep_their_written_order(any_store):
    batch = small_batch()
    any_store.write_batch(batch)
    assert [x.name for x in any_store.sensors("DRYETCH-X")] == ["PRESSURE", "RF_FWD", "RF_REFL"]
    assert [x.name for x in any_store.sensors_of_chamber("ETCH-01/A")] == ["PRESSURE", "RF_FWD", "RF_REFL"]


def test_alarm_state_update(any_store):
    batch = small_batch()
    any_store.write_batch(batch)
    any_store.set_alarm_state("A-1", "acknowledged", message="looking at it")
    alarm = any_store.alarm_records()[0]
    assert alarm.state == d.AlarmState.ACKNOWLEDGED and alarm.message == "looking at it"
    assert len(any_store.alarms(state="raised")) == 0
    with pytest.raises(KeyError, match="A-404"):
        any_store.set_alarm_state("A-404", "cleared")
    with pytest.raises(ValueError):
        any_store.set_alarm_state("A-1", "exploded")


def test_reopening_keeps_data_and_revision(tmp_path):
    url = f"sqlite:///{tmp_path / 'sub' / 'fab.db'}"
    with Store(url) as store:
        store.write_batch(small_batch(n_lots=1))
        counts = store.counts()
    with Store(url) as again:
        assert again.counts() == counts
        assert again.revision == "0001" or again.revision > "0001"
