"""The monitor's tables (Alembic revision 0005, with :mod:`fabmind.ingest.tables`).

The alarm itself (id, chamber, state, score, contributions) lives in the store's ``alarms``
table so every room reads one place; these tables add the life cycle around it:

* ``alarm_lifecycle``: per alarm the dedup key, how often it re-occurred while open, when it was
  last seen, who acknowledged it, until when it is shelved;
* ``alarm_events``: the append-only history of every transition (raised, repeated, escalated,
  acknowledged, shelved, unshelved, cleared, suppressed) — the audit trail ISA-18.2 asks for;
* ``alarm_verdicts``: the engineer's verdict (true fault / false alarm, root cause), the labels
  the registry retrains from;
* ``monitor_baselines``: the normal mean/spread per chamber x sensor the streaming charts use,
  so a restarted monitor scores at once instead of learning again.
"""

from __future__ import annotations

from sqlalchemy import Column, Float, Index, Integer, String, Table, Text

from fabmind.store.schema import ID, UtcDateTime, metadata

alarm_lifecycle = Table(
    "alarm_lifecycle",
    metadata,
    Column("alarm_id", String(ID), primary_key=True),
    Column("dedup_key", String(256), nullable=False),
    Column("area", String(ID), nullable=False),
    Column("consequence", Integer, nullable=False),
    Column("first_ts", UtcDateTime, nullable=False),
    Column("last_ts", UtcDateTime, nullable=False),
    Column("occurrences", Integer, nullable=False),
    Column("max_score", Float, nullable=False),
    Column("acked_by", String(ID), nullable=True),
    Column("acked_at", UtcDateTime, nullable=True),
    Column("shelved_until", UtcDateTime, nullable=True),
    Column("cleared_at", UtcDateTime, nullable=True),
    Column("diagnosis", Text, nullable=True),
    Index("ix_alarm_lifecycle_key", "dedup_key"),
)

alarm_events = Table(
    "alarm_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alarm_id", String(ID), nullable=False),
    Column("ts", UtcDateTime, nullable=False),
    Column("event", String(32), nullable=False),
    Column("state", String(16), nullable=False),
    Column("actor", String(ID), nullable=False),
    Column("score", Float, nullable=False),
    Column("note", Text, nullable=False),
    Index("ix_alarm_events_alarm", "alarm_id", "ts"),
)

alarm_verdicts = Table(
    "alarm_verdicts",
    metadata,
    Column("alarm_id", String(ID), primary_key=True),
    Column("ts", UtcDateTime, nullable=False),
    Column("engineer", String(ID), nullable=False),
    Column("verdict", String(32), nullable=False),  # true_fault | false_alarm | unsure
    Column("root_cause", Text, nullable=False),
    Column("failure_mode", String(128), nullable=False),
    Column("note", Text, nullable=False),
)

monitor_baselines = Table(
    "monitor_baselines",
    metadata,
    Column("chamber_id", String(ID), primary_key=True),
    Column("sensor", String(ID), primary_key=True),
    Column("mean", Float, nullable=False),
    Column("spread", Float, nullable=False),
    Column("n", Integer, nullable=False),
    Column("updated", UtcDateTime, nullable=False),
)

MONITOR_TABLES: tuple[Table, ...] = (alarm_lifecycle, alarm_events, alarm_verdicts, monitor_baselines)


def live_tables() -> list[Table]:
    """Every table revision 0005 creates (ingest bookkeeping + monitor)."""
    from fabmind.ingest.tables import INGEST_TABLES

    return [*INGEST_TABLES, *MONITOR_TABLES]


def ensure_live_tables(engine) -> None:
    """Create the live tables if the store's migrations have not (before revision 0005 lands)."""
    from fabmind.store.schema import metadata as md

    md.create_all(engine, tables=live_tables(), checkfirst=True)
