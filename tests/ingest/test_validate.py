"""Bad input never reaches the readings table, never stops the monitor, and counts reconcile."""

from __future__ import annotations

import asyncio
import json
import math
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from fabmind.ingest.payload import MAX_PAYLOAD_BYTES, encode_trace
from fabmind.ingest.source import InProcessBus
from fabmind.ingest.validate import TraceValidator
from fabmind.monitor.service import Monitor, MonitorConfig
from fabmind.store.schema import quarantine, readings

TOPIC = "fab/ETCH/ETCH-01/A/trace"


def _codes(msg) -> set[str]:
    return {q.reason.split(":")[0] for q in msg.quarantine}


def test_good_message_is_accepted(gen):
    v = TraceValidator(gen.catalog())
    now = time.time()
    m = v.validate("t", TOPIC, encode_trace("m1", ["S00", "S01"], [now - 2, now - 1], [[100.0, 200.0], [101.0, 201.0]]))
    assert len(m.readings) == 4 and not m.quarantine and m.n_received == 4


@pytest.mark.parametrize(
    "payload, code",
    [
        (b"{not json", "malformed_json"),
        (b"[1, 2, 3]", "bad_schema"),
        (json.dumps({"sensors": "S00", "ts": [1], "values": [[1]]}).encode(), "bad_schema"),
        (json.dumps({"sensors": ["S00"], "ts": [1, 2], "values": [[1]]}).encode(), "bad_schema"),
        (b"x" * (MAX_PAYLOAD_BYTES + 1), "oversize"),
    ],
)
def test_broken_messages_are_quarantined_whole(gen, payload, code):
    m = TraceValidator(gen.catalog()).validate("t", TOPIC, payload)
    assert len(m.readings) == 0 and _codes(m) == {code}


def test_each_bad_value_gets_its_own_reason(gen):
    v = TraceValidator(gen.catalog())
    now = time.time()
    body = {
        "msg_id": "m",
        "sensors": ["S00", "NOPE", "S01"],
        "ts": [now - 3, now - 2, now - 2, now + 86400 * 365],
        "values": [[100, 1, "high"], [math.nan, 1, 5000.0], [100, 1, 100], [100, 1, 100]],
    }
    m = v.validate("t", TOPIC, json.dumps(body).encode())
    assert _codes(m) == {"unknown_sensor", "not_a_number", "not_finite", "out_of_range", "out_of_order", "future_ts"}
    assert len(m.readings) + sum(q.n_readings for q in m.quarantine) == m.n_received == 12
    assert len(m.readings) == 1  # S00 at the first sample only


def test_run_fields_step_and_run_end(gen):
    import numpy as np

    v = TraceValidator(gen.catalog())
    now = time.time()
    ts = np.array([now - 3, now - 2, now - 1])
    ok = v.validate("t", TOPIC, encode_trace("s1", ["S00", "S01"], ts, np.full((3, 2), 100.0), run_id="R",
                                             step=np.array([0, 0, 1]), run_end=True))
    assert not ok.quarantine and ok.run_end and ok.readings.dense.steps.tolist() == [0, 0, 1]
    assert ok.readings.dense.complete and ok.readings.dense.X.shape == (3, 2)
    one = v.validate("t", TOPIC, encode_trace("s2", ["S00"], [now - 0.5], [[100.0]], step=2))
    assert one.readings.dense.steps.tolist() == [2] and not one.run_end
    for bad in ({"step": [0, 1]}, {"step": [0, 0, 300]}, {"step": True}, {"step": "main"}, {"run_end": "yes"}):
        body = {"msg_id": "b", "sensors": ["S00"], "ts": [now - 3, now - 2, now - 1], "values": [[1.0], [2.0], [3.0]],
                **bad}
        assert _codes(v.validate("t", TOPIC, json.dumps(body).encode())) == {"bad_schema"}, bad


def test_json_parser_fallback_keeps_the_reasons(gen):
    """orjson refuses NaN literals and huge integers: the standard parser then reads the message and
    the validator names the value's problem, as before."""
    v = TraceValidator(gen.catalog())
    now = time.time()
    nan = v.validate("t", TOPIC, f'{{"sensors":["S00","S01"],"ts":[{now - 1}],"values":[[NaN, 1e999]]}}'.encode())
    assert _codes(nan) == {"not_finite"}
    big = v.validate("t", TOPIC, f'{{"sensors":["S00"],"ts":[{now - 1}],"values":[[{10**30}]]}}'.encode())
    assert _codes(big) == {"out_of_range"}
    assert _codes(v.validate("t", TOPIC, b'{"sensors": ["S00"], "ts": [1')) == {"malformed_json"}


def test_unknown_chamber_and_bad_topic(gen):
    v = TraceValidator(gen.catalog())
    p = encode_trace("m", ["S00"], [time.time()], [[1.0]])
    assert _codes(v.validate("t", "fab/ETCH/ETCH-99/Z/trace", p)) == {"unknown_chamber"}
    assert _codes(v.validate("t", "fab/ETCH-01/trace", p)) == {"bad_topic"}


def test_stream_high_water_mark_rejects_late_samples_after_commit(gen):
    v = TraceValidator(gen.catalog(), max_lateness_s=10)
    now = time.time()
    v.validate("t", TOPIC, encode_trace("a", ["S00"], [now], [[100.0]]))
    v.commit()
    late = v.validate("t", TOPIC, encode_trace("b", ["S00"], [now - 60], [[100.0]]))
    assert _codes(late) == {"out_of_order"}
    v.rollback()
    ok = v.validate("t", TOPIC, encode_trace("c", ["S00"], [now - 5], [[100.0]]))
    assert not ok.quarantine


# ---------------------------------------------------------------------- hypothesis: the monitor stays up

values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**30, 10**30), st.text(max_size=5),
    st.none(), st.booleans(), st.just(150.0),
)
now = time.time()
times = st.one_of(st.floats(now - 100, now + 10**6, allow_nan=False), st.just("2026-13-45"), st.none(),
                  st.floats(allow_nan=True), st.text(max_size=4))


@st.composite
def payloads(draw):
    kind = draw(st.sampled_from(["good", "fields", "junk", "bytes", "dup", "oversize"]))
    sensors = draw(st.lists(st.sampled_from(["S00", "S01", "S02", "XX", ""]), min_size=1, max_size=3, unique=True))
    n = draw(st.integers(1, 4))
    msg_id = draw(st.sampled_from(["m1", "m2", "m3", None]))
    if kind == "good":
        base = draw(st.floats(now - 50, now - 1))
        return encode_trace(msg_id or "g", ["S00", "S01"], [base + i * 0.01 for i in range(n)],
                            [[100.0 + i, 200.0] for i in range(n)])
    if kind == "fields":
        body = {"msg_id": msg_id, "sensors": sensors, "ts": draw(st.lists(times, min_size=n, max_size=n)),
                "values": draw(st.lists(st.lists(values, min_size=len(sensors), max_size=len(sensors)),
                                        min_size=n, max_size=n))}
        return json.dumps(body).encode()
    if kind == "junk":
        return json.dumps(draw(st.recursive(st.none() | st.integers() | st.text(max_size=3),
                                            lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=3), c,
                                                                                                max_size=3),
                                            max_leaves=8))).encode()
    if kind == "dup":
        return encode_trace("dup-1", ["S00"], [now - 30], [[100.0]])
    if kind == "oversize":
        return b'{"pad": "' + b"a" * MAX_PAYLOAD_BYTES + b'"}'
    return draw(st.binary(max_size=40))


def _counts(engine) -> tuple[int, int, int]:
    with engine.connect() as conn:
        n_q = conn.execute(select(func.count()).select_from(quarantine)).scalar()
        n_r = conn.execute(select(func.count()).select_from(readings)).scalar()
        n_nan = conn.execute(select(func.count()).select_from(readings).where(readings.c.value != readings.c.value)).scalar()
    return n_r, n_q, n_nan


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(payloads(), min_size=1, max_size=8))
def test_bad_payloads_quarantined_monitor_stays_up_counts_reconcile(live_store, gen, batch):
    before_r, before_q, _ = _counts(live_store.engine)
    mon = Monitor(live_store.engine, gen.catalog(), config=MonitorConfig(warmup=5, max_retries=0))
    bus = InProcessBus()
    for p in batch:
        bus.publish(TOPIC, p)
    try:
        stats = asyncio.run(mon.run(bus, idle_timeout=0.05))  # returns: the monitor survived every payload
    finally:
        mon.close()
    rep = stats.report
    assert rep.messages == len(batch)
    assert rep.received == rep.stored + rep.quarantined
    after_r, after_q, n_nan = _counts(live_store.engine)
    assert after_r - before_r == rep.stored and n_nan == 0
    # a message that stored nothing left at least one quarantine row naming why
    with live_store.engine.connect() as conn:
        new = conn.execute(select(quarantine.c.code, quarantine.c.reason).where(quarantine.c.id > before_q)).all()
    assert len(new) == after_q - before_q
    assert all(code and reason for code, reason in new)
    empty = sum(1 for p in batch if b'"values"' not in p)
    assert after_q - before_q >= empty
