"""The monitor end to end on the in-process bus: stored, scored, alarmed, verdicts, restart."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from fabmind.ingest.source import InProcessBus
from fabmind.monitor import repository as repo
from fabmind.monitor.service import Monitor, MonitorConfig
from fabmind.store.schema import readings


def _run(mon, bus):
    return asyncio.run(mon.run(bus, idle_timeout=0.1))


def _n_readings(store) -> int:
    with store.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(readings)).scalar()


def test_fault_raises_one_alarm_on_the_faulty_chamber_only(live_store, gen):
    gen.fault_chamber, gen.fault_at_message = 1, 12
    diagnosed = threading.Event()
    mon = Monitor(live_store.engine, gen.catalog(), config=MonitorConfig(warmup=400),
                  on_alarm=lambda a: (diagnosed.set(), f"check {a.contributions[0].sensor}")[1])
    bus = InProcessBus(max_batch=8)
    for t, p in gen.messages(24, 100):
        bus.publish(t, p)
    stats = _run(mon, bus)
    mon.close()
    assert stats.report.stored == 24 * 3 * 100 * 5 == _n_readings(live_store)
    open_alarms = repo.load_alarms(live_store.engine)
    assert [a.alarm.chamber_id for a in open_alarms] == ["ETCH-02/A"]
    alarm = open_alarms[0].alarm
    assert {c.sensor for c in alarm.contributions[:2]} == {"S00", "S01"}  # the two faulted sensors lead
    assert alarm.contributions[0].deviation_sigma > 3
    assert diagnosed.wait(5)
    assert repo.load_alarms(live_store.engine)[0].diagnosis.startswith("check S0")


def test_verdicts_are_stored_for_retraining(live_store, gen):
    gen.fault_chamber, gen.fault_at_message = 0, 8
    mon = Monitor(live_store.engine, gen.catalog(), config=MonitorConfig(warmup=300))
    bus = InProcessBus()
    for t, p in gen.messages(12, 100):
        bus.publish(t, p)
    _run(mon, bus)
    alarm_id = repo.load_alarms(live_store.engine)[0].alarm.alarm_id
    mon.acknowledge(alarm_id, "kim")
    repo.record_verdict(live_store.engine, repo.Verdict(alarm_id, "kim", "true_fault", "RF match drift",
                                                         "match_drift"))
    v = repo.verdicts(live_store.engine)
    assert list(v["verdict"]) == ["true_fault"] and v["chamber_id"].iloc[0] == "ETCH-01/A"
    with pytest.raises(ValueError, match="maybe"):
        repo.record_verdict(live_store.engine, repo.Verdict(alarm_id, "kim", "maybe"))
    events = list(repo.alarm_history(live_store.engine, alarm_id)["event"])
    assert events[0] == "raised" and "acknowledged" in events and events[-1] == "verdict"


def test_restart_resumes_alarms_baselines_and_marks(live_store, gen):
    gen.fault_chamber, gen.fault_at_message = 2, 8
    msgs = list(gen.messages(16, 100))
    mon = Monitor(live_store.engine, gen.catalog(), config=MonitorConfig(warmup=300))
    bus = InProcessBus()
    for t, p in msgs[:30]:
        bus.publish(t, p)
    _run(mon, bus)
    n_alarms = len(repo.load_alarms(live_store.engine))
    # a new process: it must not learn again, nor raise the same alarm twice, nor take old data twice
    mon2 = Monitor(live_store.engine, gen.catalog(), config=MonitorConfig(warmup=10**6))
    assert all(ch in mon2._baselines for ch in ("ETCH-01/A", "ETCH-02/A", "ETCH-03/A"))
    bus2 = InProcessBus()
    for t, p in msgs[24:]:  # 6 already stored: re-delivered duplicates
        bus2.publish(t, p)
    stats = _run(mon2, bus2)
    assert stats.report.reasons.get("duplicate_message") == 6 * 500
    assert len(repo.load_alarms(live_store.engine)) == n_alarms == 1
    assert _n_readings(live_store) == len(msgs) * 500


def test_shelve_and_equipment_alarms_persist(live_store, gen):
    mon = Monitor(live_store.engine, gen.catalog())
    rec = mon.equipment_alarm("ETCH-01/A", "ALID-7", "RF generator tripped", True)
    assert rec.alarm.source == "equipment" and rec.alarm.severity == 3
    mon.shelve(rec.alarm.alarm_id, "kim", datetime.now(UTC) + timedelta(hours=1))
    stored = repo.load_alarms(live_store.engine)
    assert stored[0].alarm.state.value == "shelved" and stored[0].shelved_until is not None
    mon.equipment_alarm("ETCH-01/A", "ALID-7", "", False)  # shelved: the clear waits for the shelf
    mon.clear(rec.alarm.alarm_id, "kim")
    assert repo.load_alarms(live_store.engine) == []


def test_operator_actions_from_another_process_reach_the_running_monitor(live_store, gen):
    from fabmind.services.alarms import act

    gen.fault_chamber, gen.fault_at_message = 0, 6
    msgs = list(gen.messages(30, 100))  # 3 chambers x 30; chamber 0 faulty from its 7th message on

    def feed(part):
        bus = InProcessBus()
        for t, p in part:
            bus.publish(t, p)
        _run(mon, bus)

    mon = Monitor(live_store.engine, gen.catalog(), config=MonitorConfig(warmup=300))
    feed(msgs[:30])
    alarm_id = repo.load_alarms(live_store.engine)[0].alarm.alarm_id
    assert act(live_store, alarm_id, "acknowledge", "kim", note="on it")["state"] == "acknowledged"
    feed(msgs[30:45])  # the fault goes on: the monitor keeps the engineer's acknowledgement
    [rec] = repo.load_alarms(live_store.engine)
    assert rec.alarm.state.value == "acknowledged" and rec.acked_by == "kim" and rec.occurrences > 1
    act(live_store, alarm_id, "shelve", "kim", minutes=30)
    feed(msgs[45:60])  # still faulty while shelved: suppressed, the shelf is kept
    [rec] = repo.load_alarms(live_store.engine)
    assert rec.alarm.state.value == "shelved" and mon.alarms.suppressed > 0
    act(live_store, alarm_id, "clear", "kim")
    feed(msgs[60:])  # still faulty after the clear: a new alarm (re-alarm), the old one stays cleared
    [new] = repo.load_alarms(live_store.engine)
    assert new.alarm.alarm_id != alarm_id and new.alarm.chamber_id == "ETCH-01/A"


def test_run_level_scorers_are_called_once_per_finished_run(live_store, gen):
    from fabmind.ingest.payload import encode_trace, trace_topic
    from fabmind.monitor.alarms import Violation

    calls = []

    def mspc_like(chamber_id, run_id, trace):  # stands in for a registry model scored on the run's indicators
        calls.append((chamber_id, run_id, None if trace is None else trace.values[:, 0].tolist()))
        if run_id == "R-2":
            return Violation(chamber_id, datetime.now(UTC), "mspc.RCP", "FDC-MSPC", 3.0, run_id=run_id)
        return None

    def boom(chamber_id, run_id, trace):
        raise RuntimeError("model file missing")

    mon = Monitor(live_store.engine, gen.catalog(), run_scorers=[mspc_like, boom])
    bus = InProcessBus()
    t0 = datetime.now(UTC).timestamp() - 100
    for k, run in enumerate(["R-1", "R-1", "R-2", "R-3", "R-4"]):
        bus.publish(trace_topic("fab", "ETCH", "ETCH-01/A"),
                    encode_trace(f"m{k}", ["S00"], [t0 + k], [[100.0 + k]], run_id=run, run_end=run == "R-4"))
    _run(mon, bus)
    mon.close()
    # end when the next run starts, R-4 with its run_end flag; each scorer sees the run's samples
    assert calls == [("ETCH-01/A", "R-1", [100.0, 101.0]), ("ETCH-01/A", "R-2", [102.0]),
                     ("ETCH-01/A", "R-3", [103.0]), ("ETCH-01/A", "R-4", [104.0])]
    [rec] = repo.load_alarms(live_store.engine)
    assert rec.alarm.run_id == "R-2" and rec.alarm.source == "mspc.RCP" and mon.stats.scoring_errors == 4
    assert mon.stats.runs_scored == 4


def test_failed_writes_are_retried_decisions_stand_nothing_lost(live_store, gen):
    gen.fault_chamber, gen.fault_at_message = 1, 6
    mon = Monitor(live_store.engine, gen.catalog(), config=MonitorConfig(warmup=300, retry_s=0.01))
    real, calls = mon.sink.write, []

    def flaky(*a, **k):  # every third transaction fails once (e.g. the database is locked by another process)
        calls.append(1)
        if len(calls) % 3 == 1:
            raise RuntimeError("database is locked")
        return real(*a, **k)

    mon.sink.write = flaky
    bus = InProcessBus(max_batch=4)
    for t, p in gen.messages(16, 100):
        bus.publish(t, p)
    stats = _run(mon, bus)
    mon.close()
    assert stats.write_failures >= 1 and stats.report.stored == 16 * 3 * 500 == _n_readings(live_store)
    assert stats.report.duplicates == 0 and not bus._unacked  # everything stored was acknowledged
    assert [a.alarm.chamber_id for a in repo.load_alarms(live_store.engine)] == ["ETCH-02/A"]


def test_alarm_transitions_do_not_wait_for_a_long_readings_backlog(live_store, gen):
    """The writer ends a readings transaction at a message boundary when an alarm transition is
    waiting: the alarm is committed before the backlog queued ahead of it."""
    gen.fault_chamber, gen.fault_at_message = 2, 20
    mon = Monitor(live_store.engine, gen.catalog(), config=MonitorConfig(warmup=300, write_batch_rows=10**6))
    order = []
    real_write, real_alarms = mon.sink.write, mon._commit_alarms

    def write(msgs, *a, **k):
        rep, fresh = real_write(msgs, *a, **k)
        order.append(("readings", rep.messages))
        return rep, fresh

    def alarms(change, conn=None):
        real_alarms(change, conn)
        order.append(("alarm", len(change.raised)))

    mon.sink.write, mon._commit_alarms = write, alarms
    # first batch: 60 quiet messages, queued for the writer as one transaction; the second batch
    # raises the alarm (chamber 3's 21st message is the 63rd) while that transaction is being written
    bus = InProcessBus(max_batch=60)
    for t, p in gen.messages(24, 100):
        bus.publish(t, p)
    _run(mon, bus)
    mon.close()
    assert ("alarm", 1) in order
    first_alarm = order.index(("alarm", 1))
    assert sum(n for kind, n in order[:first_alarm] if kind == "readings") < 60  # the transaction was cut short
    assert sum(n for kind, n in order if kind == "readings") == 72 == _n_readings(live_store) // 500
