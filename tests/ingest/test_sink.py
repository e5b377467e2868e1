"""The fast write path and the store agree on the natural key: same rows, same timestamps."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from fabmind.ingest.payload import encode_trace
from fabmind.ingest.sink import ReadingSink
from fabmind.ingest.validate import TraceValidator


def test_fast_path_rows_read_back_through_the_store_and_dedup_with_it(live_store, gen):
    t = round(time.time() - 10, 6)
    v = TraceValidator(gen.catalog())
    msg = v.validate("t", "fab/ETCH/ETCH-01/A/trace", encode_trace("k1", ["S00", "S01"], [t, t + 0.5],
                                                                     [[100.0, 200.0], [101.0, 201.0]], run_id="R-9"))
    sink = ReadingSink(live_store.engine)
    report, fresh = sink.write([msg])
    sink.close()
    assert report.stored == 4 and len(fresh) == 1
    frame = live_store.readings(chamber_id="ETCH-01/A", sensor="S00")
    assert list(frame["value"]) == [100.0, 101.0]
    got = [ts.timestamp() for ts in frame["ts"]]
    assert abs(got[0] - t) < 1e-6 and abs(got[1] - (t + 0.5)) < 1e-6 and set(frame["run_id"]) == {"R-9"}
    # the store's own validated path sees the same key as already stored
    again = live_store.ingest_readings(
        [{"chamber_id": "ETCH-01/A", "sensor": "S00", "ts": datetime.fromtimestamp(t, UTC), "value": 100.0}],
        source="t")
    assert again.stored == 0 and again.quarantined == 1
