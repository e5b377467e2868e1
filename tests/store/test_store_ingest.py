"""Bad readings are quarantined with their reason, never silently dropped or half-written."""

from __future__ import annotations

import json
import math
from datetime import timedelta

import pytest
from store_fab_data import T0, small_batch

from fabmind.domain import Reading
from fabmind.store import REASONS


def _r(sensor="PRESSURE", value=50.0, minutes=0, chamber="ETCH-01/A", **kw):
    return {"chamber_id": chamber, "sensor": sensor, "ts": T0 + timedelta(minutes=minutes), "value": value, **kw}


@pytest.fixture
def fab(any_store):
    b = small_batch(n_lots=1)
    any_store.upsert([*b.equipment_types, *b.sensors, *b.equipment, *b.chambers])
    return any_store


def test_good_readings_are_stored(fab):
    report = fab.ingest_readings([_r(minutes=i, value=40.0 + i) for i in range(5)] + [Reading(**_r("RF_FWD", 1500))],
                                 source="mqtt:fab/etch")
    assert (report.received, report.stored, report.quarantined) == (6, 6, 0)
    frame = fab.readings(chamber_id="ETCH-01/A", sensor="PRESSURE")
    assert frame.value.tolist() == [40.0, 41.0, 42.0, 43.0, 44.0]
    assert str(frame.ts.dtype) == "datetime64[ns, UTC]"


@pytest.mark.parametrize(
    "bad, code, words",
    [
        (_r(chamber="ETCH-09/Z"), "unknown_chamber", "ETCH-09/Z"),
        (_r(sensor="HELIUM"), "unknown_sensor", "HELIUM"),
        (_r(value=250.0), "out_of_range", "outside valid range 0..200 mTorr"),
        (_r(value=-1.0), "out_of_range", "PRESSURE"),
        (_r(value=math.nan), "not_finite", "NaN"),
        (_r(value=math.inf), "not_finite", "PRESSURE"),
        (_r(value="high"), "malformed", "value"),
        ({"chamber_id": "ETCH-01/A", "sensor": "PRESSURE"}, "malformed", "ts"),
        (_r(chamber="etch 1a"), "malformed", "etch 1a"),
        (_r(colour="red"), "malformed", "colour"),
        (["not", "a", "reading"], "malformed", "list"),
    ],
)
def test_each_bad_kind_is_quarantined_with_its_reason(fab, bad, code, words):
    report = fab.ingest_readings([_r(minutes=-5), bad], source="file:x.csv")
    assert (report.received, report.stored, report.quarantined) == (2, 1, 1)
    assert report.reasons == {code: 1} and code in REASONS
    q = fab.quarantined(source="file:x.csv")
    assert q.code.tolist() == [code] and q.kind.tolist() == ["reading"]
    assert words in q.reason[0]
    assert q.payload[0]  # the raw payload is kept
    assert str(q.received.dtype) == "datetime64[ns, UTC]"


def test_out_of_order_and_duplicates(fab):
    fab.ingest_readings([_r(minutes=10, value=10.0)], source="s")
    report = fab.ingest_readings(
        [_r(minutes=10, value=10.0),   # replay of a stored reading
         _r(minutes=5, value=11.0),    # older than the newest stored
         _r(minutes=11, value=12.0),   # fine
         _r(minutes=11, value=13.0),   # same key twice in one batch
         _r(minutes=10.5, value=14.0),  # older than one accepted earlier in this batch
         _r("RF_FWD", 1000, minutes=1)],  # other sensor: its own order
        source="s",
    )
    assert report.reasons == {"duplicate": 2, "out_of_order": 2}
    assert report.stored == 2
    q = fab.quarantined(source="s")
    assert sorted(q.code) == ["duplicate", "duplicate", "out_of_order", "out_of_order"]
    assert {json.loads(p)["value"] for p in q.payload} == {10.0, 11.0, 13.0, 14.0}
    assert fab.readings(sensor="PRESSURE").value.tolist() == [10.0, 12.0]
    assert any("older than the newest stored reading" in r for r in q.reason)


def test_naive_timestamps_are_utc(fab):
    fab.ingest_readings([_r(minutes=1)], source="s")
    naive = _r(minutes=1)
    naive["ts"] = naive["ts"].replace(tzinfo=None)
    assert fab.ingest_readings([naive], source="s").reasons == {"duplicate": 1}


def test_failure_inside_ingest_writes_nothing(fab, monkeypatch):
    from fabmind.store import store as store_module

    def broken(source, kind, rejected):
        raise RuntimeError("disk full")

    monkeypatch.setattr(store_module, "quarantine_rows", broken)
    with pytest.raises(RuntimeError):
        fab.ingest_readings([_r(), _r(value=math.nan)], source="s")
    assert fab.counts()["readings"] == 0 and fab.counts()["quarantine"] == 0


def test_manual_quarantine(fab):
    fab.quarantine("opcua:etch", "run", "run ends before it starts", {"run_id": "R1"}, code="malformed")
    q = fab.quarantined()
    assert q.iloc[0][["source", "kind", "code"]].tolist() == ["opcua:etch", "run", "malformed"]
    assert json.loads(q.payload[0]) == {"run_id": "R1"}
