"""Persistence of the monitor: alarms with their life cycle, events, verdicts, chart baselines."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, Table, select

from fabmind.domain import Alarm, AlarmState, Contribution
from fabmind.monitor.alarms import AlarmEvent, AlarmRecord
from fabmind.monitor.tables import alarm_events, alarm_lifecycle, alarm_verdicts, monitor_baselines
from fabmind.store.schema import alarms

VERDICTS = ("true_fault", "false_alarm", "unsure")


def upsert(conn: Connection, table: Table, rows: Sequence[dict], keep: Sequence[str] = ()) -> None:
    """Insert or update by primary key; columns in ``keep`` are written on insert only."""
    if not rows:
        return
    if conn.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        from sqlalchemy.dialects.postgresql import insert
    stmt = insert(table)
    pk = [c.name for c in table.primary_key.columns]
    cols = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in pk and c.name not in keep}
    conn.execute(stmt.on_conflict_do_update(index_elements=pk, set_=cols), list(rows))


def _alarm_row(a: Alarm) -> dict:
    row = a.model_dump(mode="python")
    row["state"] = a.state.value
    row["contributions"] = [c.model_dump(mode="json") for c in a.contributions]
    return row


def write_alarm_changes(conn: Connection, records: Sequence[AlarmRecord], events: Sequence[AlarmEvent]) -> None:
    """Upsert changed alarms (store ``alarms`` + ``alarm_lifecycle``) and append their events."""
    upsert(conn, alarms, [_alarm_row(r.alarm) for r in records])
    upsert(conn, alarm_lifecycle, [
        dict(alarm_id=r.alarm.alarm_id, dedup_key=r.dedup_key, area=r.area, consequence=r.consequence,
             first_ts=r.first_ts, last_ts=r.last_ts, occurrences=r.occurrences, max_score=r.max_score,
             acked_by=r.acked_by, acked_at=r.acked_at, shelved_until=r.shelved_until, cleared_at=r.cleared_at,
             diagnosis=r.diagnosis)
        for r in records
    ], keep=("diagnosis",))  # written by the diagnosis worker, never overwritten by a life-cycle update
    if events:
        conn.execute(alarm_events.insert(), [
            dict(alarm_id=e.alarm_id, ts=e.ts, event=e.event, state=e.state, actor=e.actor, score=float(e.score),
                 note=e.note) for e in events
        ])


def load_alarms(engine: Engine, only_open: bool = True) -> list[AlarmRecord]:
    q = select(alarms, alarm_lifecycle).join(alarm_lifecycle, alarm_lifecycle.c.alarm_id == alarms.c.alarm_id)
    if only_open:
        q = q.where(alarms.c.state != AlarmState.CLEARED.value)
    out = []
    with engine.connect() as conn:
        for row in conn.execute(q).mappings():
            fields = {k: row[k] for k in Alarm.model_fields if k != "contributions"}
            alarm = Alarm(**fields, contributions=tuple(Contribution(**c) for c in row["contributions"] or []))
            out.append(AlarmRecord(alarm, row["dedup_key"], row["area"], row["consequence"], row["first_ts"],
                                   row["last_ts"], row["occurrences"], row["max_score"], row["acked_by"],
                                   row["acked_at"], row["shelved_until"], row["cleared_at"], row["diagnosis"]))
    return out


def alarm_history(engine: Engine, alarm_id: str | None = None) -> pd.DataFrame:
    q = select(alarm_events).order_by(alarm_events.c.id)
    if alarm_id:
        q = q.where(alarm_events.c.alarm_id == alarm_id)
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(q).mappings().all(), columns=[c.name for c in alarm_events.columns])


def save_diagnosis(engine: Engine, alarm_id: str, text: str) -> None:
    with engine.begin() as conn:
        conn.execute(alarm_lifecycle.update().where(alarm_lifecycle.c.alarm_id == alarm_id).values(diagnosis=text))


# ---------------------------------------------------------------------- verdicts


@dataclass(frozen=True)
class Verdict:
    """An engineer's judgement of an alarm: the label retraining learns from."""

    alarm_id: str
    engineer: str
    verdict: str  # true_fault | false_alarm | unsure
    root_cause: str = ""
    failure_mode: str = ""
    note: str = ""
    ts: datetime | None = None


def record_verdict(engine: Engine, v: Verdict) -> Verdict:
    """Store (or replace) the verdict on an alarm; the alarm must exist."""
    if v.verdict not in VERDICTS:
        raise ValueError(f"verdict {v.verdict!r} for alarm {v.alarm_id}: use one of {VERDICTS}")
    ts = v.ts or datetime.now(UTC)
    with engine.begin() as conn:
        if conn.execute(select(alarms.c.alarm_id).where(alarms.c.alarm_id == v.alarm_id)).first() is None:
            raise KeyError(f"no alarm {v.alarm_id!r} in the store")
        upsert(conn, alarm_verdicts, [dict(alarm_id=v.alarm_id, ts=ts, engineer=v.engineer, verdict=v.verdict,
                                           root_cause=v.root_cause, failure_mode=v.failure_mode, note=v.note)])
        conn.execute(alarm_events.insert(), [dict(alarm_id=v.alarm_id, ts=ts, event="verdict", state="",
                                                   actor=v.engineer, score=0.0, note=v.verdict)])
    return Verdict(v.alarm_id, v.engineer, v.verdict, v.root_cause, v.failure_mode, v.note, ts)


def verdicts(engine: Engine) -> pd.DataFrame:
    """Verdicts joined with their alarms (chamber, source, score, time): the retraining labels."""
    q = select(alarm_verdicts, alarms.c.chamber_id, alarms.c.source, alarms.c.code, alarms.c.score,
               alarms.c.ts.label("alarm_ts"), alarms.c.run_id).join(alarms, alarms.c.alarm_id == alarm_verdicts.c.alarm_id)
    with engine.connect() as conn:
        rows = conn.execute(q).mappings().all()
    cols = [c.name for c in alarm_verdicts.columns] + ["chamber_id", "source", "code", "score", "alarm_ts", "run_id"]
    return pd.DataFrame(rows, columns=cols)


# ---------------------------------------------------------------------- chart baselines


def load_baselines(engine: Engine) -> dict[str, dict[str, tuple[float, float, int]]]:
    out: dict[str, dict[str, tuple[float, float, int]]] = {}
    with engine.connect() as conn:
        for r in conn.execute(select(monitor_baselines)).mappings():
            out.setdefault(r["chamber_id"], {})[r["sensor"]] = (r["mean"], r["spread"], r["n"])
    return out


def baseline_rows(chamber_id: str, sensors: list[str], mean: np.ndarray, spread: np.ndarray, n: int) -> list[dict]:
    now = datetime.now(UTC)
    return [dict(chamber_id=chamber_id, sensor=s, mean=float(m), spread=float(sd), n=int(n), updated=now)
            for s, m, sd in zip(sensors, mean, spread) if np.isfinite(m) and np.isfinite(sd)]


def write_baselines(conn: Connection, rows: list[dict]) -> None:
    upsert(conn, monitor_baselines, rows)


# ---------------------------------------------------------------------- operator actions from other processes
# (the actions themselves: fabmind.services.alarms.act, shared by API, CLI and tools)


def open_states(conn: Connection, alarm_ids: Sequence[str]) -> dict[str, tuple[str, str | None, datetime | None]]:
    """alarm id -> (state, acked_by, shelved_until) as stored, for the monitor's open alarms."""
    if not alarm_ids:
        return {}
    q = (select(alarms.c.alarm_id, alarms.c.state, alarm_lifecycle.c.acked_by, alarm_lifecycle.c.shelved_until)
         .join(alarm_lifecycle, alarm_lifecycle.c.alarm_id == alarms.c.alarm_id)
         .where(alarms.c.alarm_id.in_(list(alarm_ids))))
    return {a: (s, by, until) for a, s, by, until in conn.execute(q)}
