"""Alarm life-cycle actions by engineers (acknowledge, shelve, clear, verdict), shared by API, CLI and tools.

The rules live in :class:`fabmind.monitor.alarms.AlarmManager`; this module loads the one alarm
from the store, applies the action and writes the change and its event, so an action taken in the
dashboard and one taken by a running monitor follow the same rules.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import DateTime, func, select

from fabmind.monitor.alarms import AlarmManager, AlarmRecord
from fabmind.monitor.repository import Verdict, alarm_history, load_alarms, record_verdict, write_alarm_changes
from fabmind.monitor.tables import alarm_events, alarm_lifecycle, alarm_verdicts
from fabmind.services import records

ACTIONS = ("acknowledge", "shelve", "clear")


def area_of(store, chamber_id: str) -> str:
    frame = store.chambers_frame()
    hit = frame.loc[frame["chamber_id"] == chamber_id, "area_id"]
    if hit.empty:
        raise KeyError(f"no chamber {chamber_id!r} in the store")
    return str(hit.iloc[0])


def _record(store, alarm_id: str) -> AlarmRecord:
    recs = [r for r in load_alarms(store.engine, only_open=False) if r.alarm.alarm_id == alarm_id]
    if recs:
        return recs[0]
    found = [a for a in store.alarm_records() if a.alarm_id == alarm_id]
    if not found:
        raise KeyError(f"no alarm {alarm_id!r}")
    a = found[0]  # an alarm written by an import or the simulator: start its life-cycle bookkeeping now
    return AlarmRecord(a, f"{a.chamber_id}|{a.source}|{a.code}", area_of(store, a.chamber_id), 2, a.ts, a.ts,
                       1, float(a.score))


def alarm_detail(store, alarm_id: str) -> dict[str, Any]:
    rec = _record(store, alarm_id)
    a = rec.alarm
    with store.engine.connect() as con:
        v = con.execute(select(alarm_verdicts).where(alarm_verdicts.c.alarm_id == alarm_id)).mappings().first()
    return {
        **a.model_dump(mode="json"),
        "area": rec.area, "occurrences": rec.occurrences, "acked_by": rec.acked_by,
        "shelved_until": rec.shelved_until.isoformat() if rec.shelved_until else None,
        "diagnosis": rec.diagnosis, "verdict": dict(v) if v else None,
        "history": records(alarm_history(store.engine, alarm_id)),
    }


def act(store, alarm_id: str, action: str, engineer: str, *, minutes: int = 60, note: str = "") -> dict[str, Any]:
    """Apply an operator action to an alarm and persist it with its event."""
    if action not in ACTIONS:
        raise ValueError(f"action {action!r}: use one of {ACTIONS}")
    rec = _record(store, alarm_id)
    manager = AlarmManager(area_of=lambda c: rec.area)
    manager.restore([rec])
    if action == "acknowledge":
        manager.acknowledge(alarm_id, engineer, note)
    elif action == "shelve":
        if not 1 <= minutes <= 7 * 24 * 60:
            raise ValueError(f"shelving for {minutes} minutes: allowed 1..10080 (one week)")
        manager.shelve(alarm_id, engineer, datetime.now(timezone.utc) + timedelta(minutes=minutes), note)
    else:
        manager.clear(alarm_id, engineer, note)
    changed, events, _ = manager.drain()
    with store.engine.begin() as conn:
        write_alarm_changes(conn, changed or [rec], events)
    return alarm_detail(store, alarm_id)


def give_verdict(store, alarm_id: str, engineer: str, verdict: str, root_cause: str = "", failure_mode: str = "",
                 note: str = "") -> dict[str, Any]:
    rec = _record(store, alarm_id)
    with store.engine.begin() as conn:  # make sure the alarm has its life-cycle row (imported alarms)
        if conn.execute(select(alarm_lifecycle.c.alarm_id).where(alarm_lifecycle.c.alarm_id == alarm_id)).first() is None:
            write_alarm_changes(conn, [rec], [])
    record_verdict(store.engine, Verdict(alarm_id, engineer, verdict, root_cause, failure_mode, note))
    return alarm_detail(store, alarm_id)


def last_event_id(store) -> int:
    with store.engine.connect() as con:
        return int(con.execute(select(func.max(alarm_events.c.id))).scalar() or 0)


def changed_since(store, event_id: int) -> tuple[int, list[dict[str, Any]]]:
    """Alarms with a life-cycle event after ``event_id``: (newest event id, alarm rows)."""
    with store.engine.connect() as con:
        rows = con.execute(select(alarm_events.c.id, alarm_events.c.alarm_id).where(alarm_events.c.id > event_id)
                           .order_by(alarm_events.c.id)).all()
    if not rows:
        return event_id, []
    ids = list(dict.fromkeys(r.alarm_id for r in rows))
    frame = store.alarms()
    frame = frame[frame["alarm_id"].isin(ids)]
    return int(rows[-1].id), records(frame)


def list_alarms(store, state: list[str] | None = None, chamber_id: str | None = None):
    frame = store.alarms(chamber_id=chamber_id, state=state)
    return frame.sort_values("ts", ascending=False)


def alarm_page(store, state: list[str] | None = None, chamber_id: str | None = None, limit: int = 100,
               offset: int = 0) -> dict[str, Any]:
    """One page of alarms, newest first, paged and counted in SQL (no DataFrame): the API's alarm list.
    Same rows as ``records(list_alarms(...))[offset:offset+limit]`` (measured 8 ms -> ~1 ms on the demo fab)."""
    from fabmind.store.schema import alarms

    cond = []
    if chamber_id is not None:
        cond.append(alarms.c.chamber_id == chamber_id)
    if state is not None:
        cond.append(alarms.c.state.in_([str(x) for x in state]))
    with store.engine.connect() as con:
        total = con.execute(select(func.count()).select_from(alarms).where(*cond)).scalar_one()
        result = con.execute(select(alarms).where(*cond).order_by(alarms.c.ts.desc(), alarms.c.alarm_id.desc())
                             .limit(limit).offset(offset))
        # str(k): plain keys, not SQLAlchemy's quoted_name (a str subclass that pydantic serialises ~50x slower)
        keys = [str(k) for k in result.keys()]
        rows = result.all()
    stamps = [k for k, c in zip(keys, alarms.columns)  # timestamp columns -> ISO strings
              if isinstance(c.type, DateTime) or isinstance(getattr(c.type, "impl", None), DateTime)]
    items = []
    for row in rows:
        item = dict(zip(keys, row))
        for k in stamps:
            if item[k] is not None:
                item[k] = item[k].isoformat()
        items.append(item)
    return {"items": items, "total": int(total), "limit": limit, "offset": offset}


__all__ = ["ACTIONS", "act", "alarm_detail", "alarm_page", "area_of", "give_verdict", "list_alarms"]
