"""ISA-18.2-style life cycle: dedup, re-alarm, acknowledge, shelve, flood suppression, priority."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fabmind.domain import AlarmState
from fabmind.monitor.alarms import AlarmManager, AlarmPolicy, Violation, priority_of, severity_of

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def v(chamber="ETCH-01/A", t=0, score=1.5, code="FDC-STREAM"):
    return Violation(chamber, T0 + timedelta(seconds=t), "stream", code, score)


def test_repeat_while_open_is_deduplicated_and_escalates():
    m = AlarmManager()
    first = m.violation(v(score=1.5))
    assert first is not None and first.alarm.severity == 1
    assert m.violation(v(t=1, score=1.6)) is None
    assert m.violation(v(t=2, score=9.0)) is None  # escalation, not a new alarm
    rec = m.open[first.dedup_key]
    assert rec.occurrences == 3 and rec.alarm.severity == 4 and rec.alarm.alarm_id == first.alarm.alarm_id
    events = [e.event for e in m.events]
    assert events == ["raised", "escalated"]


def test_clear_then_violation_raises_a_new_alarm():
    m = AlarmManager()
    a = m.violation(v())
    cleared = m.normal("ETCH-01/A", "stream", "FDC-STREAM", T0 + timedelta(seconds=5))
    assert cleared.alarm.state == AlarmState.CLEARED and not m.open
    b = m.violation(v(t=10))
    assert b is not None and b.alarm.alarm_id != a.alarm.alarm_id


def test_acknowledge_keeps_it_open_and_records_who():
    m = AlarmManager()
    a = m.violation(v())
    m.acknowledge(a.alarm.alarm_id, "kim", "looking")
    assert a.alarm.state == AlarmState.ACKNOWLEDGED and a.acked_by == "kim"
    assert m.violation(v(t=1)) is None  # still deduplicated
    with pytest.raises(KeyError, match="NOPE"):
        m.acknowledge("NOPE", "kim")


def test_shelved_alarm_is_suppressed_until_the_shelf_expires():
    m = AlarmManager()
    a = m.violation(v())
    m.shelve(a.alarm.alarm_id, "kim", T0 + timedelta(minutes=10))
    assert a.alarm.state == AlarmState.SHELVED
    assert m.violation(v(t=60)) is None and m.suppressed == 1
    assert m.normal("ETCH-01/A", "stream", "FDC-STREAM", T0 + timedelta(seconds=70)) is None  # shelved: no clear
    m.violation(v(t=700))  # shelf expired -> comes back (same alarm, raised again)
    assert a.alarm.state == AlarmState.RAISED
    assert "unshelved" in [e.event for e in m.events]


def test_flood_suppression_raises_one_flood_alarm():
    m = AlarmManager(AlarmPolicy(flood_limit=5, flood_window_s=60), area_of=lambda c: "ETCH")
    raised = [m.violation(v(chamber=f"ETCH-{i:02d}/A", t=i)) for i in range(1, 13)]
    real = [r for r in raised[:5] if r is not None]
    assert len(real) == 5
    floods = [r for r in m.open.values() if r.alarm.code == "ALARM-FLOOD"]
    assert len(floods) == 1 and m.suppressed == 7
    assert sum(e.event == "suppressed" for e in m.events) == 7
    # after the window the rate is low again: the flood alarm clears, new alarms raise normally
    late = m.violation(v(chamber="ETCH-77/A", t=500))
    assert late is not None and floods[0].alarm.state == AlarmState.CLEARED


@pytest.mark.parametrize("sev, cons, prio", [(1, 1, "low"), (2, 2, "medium"), (3, 2, "medium"), (3, 3, "high"),
                                             (4, 3, "urgent"), (4, 4, "urgent"), (1, 4, "medium")])
def test_priority_matrix(sev, cons, prio):
    assert priority_of(sev, cons) == prio


def test_consequence_configured_per_tool_drives_priority():
    m = AlarmManager(AlarmPolicy(consequence={"ETCH-01": 4}))
    a = m.violation(v(score=5.0))  # severity 3
    b = m.violation(v(chamber="ETCH-02/A", score=5.0))
    assert severity_of(5.0) == 3 and a.alarm.priority == "urgent" and b.alarm.priority == "medium"
