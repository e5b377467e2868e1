"""File import: mapped columns, bad rows quarantined with row and reason, replay stores nothing twice."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import func, select

from fabmind.ingest.files import import_file, load_mapping
from fabmind.store import schema

T0 = datetime(2026, 2, 1, tzinfo=UTC)


def _count(store, table) -> int:
    with store.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar()


def test_plant_mapping_and_bad_rows(live_store, tmp_path):
    # a plant's MES export with its own column names
    df = pd.DataFrame({
        "LOT": ["L1", "L2", "L3", "bad lot!"],
        "PRODUCT": ["P1", "P1", "P2", "P1"],
        "START_TIME": [T0.isoformat(), (T0 + timedelta(hours=1)).isoformat(), "not a time", T0.isoformat()],
        "WAFERS": ["25", "25", "25", "25"],
    })
    path = tmp_path / "mes_lots.csv"
    df.to_csv(path, index=False)
    mapping_file = tmp_path / "mapping.json"
    mapping_file.write_text(json.dumps({"lots": {"lot_id": "LOT", "product_id": "PRODUCT", "start": "START_TIME",
                                                 "size": "WAFERS"}}))
    mapping = load_mapping(mapping_file)
    seen = []
    r = import_file(live_store, path, "lots", mapping=mapping, progress=lambda d, t: seen.append((d, t)))
    assert (r.rows, r.stored, r.quarantined) == (4, 2, 2) and r.reconciled
    assert seen[-1] == (4, 4)
    q = live_store.quarantined()
    assert len(q) == 2 and q["reason"].str.contains("row 4").any() and q["reason"].str.contains("lot_id").any()
    r2 = import_file(live_store, path, "lots", mapping=mapping)  # replay
    assert _count(live_store, schema.lots) == 2 and r2.stored == 2


def test_mapping_file_errors_name_the_culprit(tmp_path):
    p = tmp_path / "m.json"
    p.write_text(json.dumps({"lots": {"colour": "X"}}))
    with pytest.raises(ValueError, match="colour"):
        load_mapping(p)
    p.write_text(json.dumps({"wafers": {}}))
    with pytest.raises(ValueError, match="wafers"):
        load_mapping(p)


def test_missing_required_column_is_refused(live_store, tmp_path):
    path = tmp_path / "runs.csv"
    pd.DataFrame({"run_id": ["R1"]}).to_csv(path, index=False)
    with pytest.raises(ValueError, match="chamber_id"):
        import_file(live_store, path, "runs")


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_readings_file_replayed_twice_stores_each_reading_once(live_store, tmp_path, suffix):
    base = time.time() - 3600
    rows = []
    for i in range(200):
        for s in ("S00", "S01"):
            rows.append({"chamber_id": "ETCH-01/A", "sensor": s, "ts": datetime.fromtimestamp(base + i * 0.1, UTC),
                         "value": 100.0 + i % 7, "run_id": "R-1"})
    rows += [
        {"chamber_id": "ETCH-01/A", "sensor": "S00", "ts": datetime.fromtimestamp(base + 999, UTC),
         "value": 99999.0, "run_id": "R-1"},  # out of range
        {"chamber_id": "ETCH-01/A", "sensor": "NOPE", "ts": datetime.fromtimestamp(base, UTC),
         "value": 1.0, "run_id": "R-1"},  # unknown sensor
        {"chamber_id": "ETCH-99/Z", "sensor": "S00", "ts": datetime.fromtimestamp(base, UTC),
         "value": 1.0, "run_id": "R-1"},  # unknown chamber
    ]
    df = pd.DataFrame(rows)
    path = tmp_path / f"fdc.{suffix}"
    if suffix == "csv":
        df.assign(ts=df["ts"].map(lambda t: t.isoformat())).to_csv(path, index=False)
    else:
        df.to_parquet(path)
    first = import_file(live_store, path, "readings", chunk_rows=100)
    assert (first.rows, first.stored, first.quarantined) == (403, 400, 3) and first.reconciled
    assert first.reasons == {"out_of_range": 1, "unknown_sensor": 1, "unknown_chamber": 1}
    second = import_file(live_store, path, "readings", chunk_rows=100)
    assert second.stored == 0 and second.reconciled
    sent = 400
    stored = _count(live_store, schema.readings)
    assert (sent - stored, stored - sent) == (0, 0)  # lost, duplicated
