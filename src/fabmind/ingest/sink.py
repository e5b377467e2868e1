"""Idempotent, transactional writes of validated messages: readings, quarantine, dedup ledger.

One :meth:`ReadingSink.write` is one database transaction covering every message of a batch
(and whatever the caller adds through ``also``, e.g. the monitor's alarm changes). The caller
acknowledges the messages to the broker only after it returns, so a crash at any point either
leaves nothing (the broker re-delivers) or everything (the re-delivery is a recorded duplicate):
at-least-once delivery into idempotent writes.
"""

from __future__ import annotations

import json
import logging
import threading
from itertools import repeat
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from fabmind.ingest.records import IngestReport, QuarantineItem, ReadingBatch, ValidatedMessage
from fabmind.ingest.tables import ingest_messages
from fabmind.store.schema import quarantine, readings

log = logging.getLogger(__name__)


def reason_code(reason: str) -> str:
    return reason.split(":", 1)[0].strip()[:32] or "invalid"


def sqlite_ts(ts_us: np.ndarray) -> list[str]:
    """UTC microseconds -> the text SQLAlchemy's SQLite DateTime stores (so natural keys match)."""
    uniq, inverse = np.unique(ts_us, return_inverse=True)  # a message repeats each sample time per sensor
    text = [t.replace("T", " ") for t in np.datetime_as_string(uniq.astype("datetime64[us]"), unit="us").tolist()]
    return [text[i] for i in inverse.tolist()]


class ReadingSink:
    """Writes :class:`ValidatedMessage` batches into the store's ``readings`` / ``quarantine`` tables."""

    def __init__(self, engine: Engine, *, checkpoint_s: float = 1.0):
        self.engine = engine
        self.dialect = engine.dialect.name
        self._conn: Connection | None = None
        self._checkpointer: threading.Thread | None = None
        self._closing = threading.Event()
        self.checkpoint_s = checkpoint_s
        if self.dialect == "sqlite":
            self._insert_sql = (
                f"INSERT OR IGNORE INTO {readings.name} (chamber_id, sensor, ts, value, run_id) VALUES (?, ?, ?, ?, ?)"
            )
        else:
            self._insert_sql = (
                f"INSERT INTO {readings.name} (chamber_id, sensor, ts, value, run_id) VALUES (%s, %s, %s, %s, %s) "
                "ON CONFLICT DO NOTHING"
            )

    def _connection(self) -> Connection:
        """One connection for every write. On SQLite the WAL checkpoint moves off the write path:
        this connection does not checkpoint on commit, a background thread does (PASSIVE) every
        ``checkpoint_s`` — a commit then costs a WAL append, not a page copy and fsync."""
        if self._conn is None or self._conn.closed:
            self._conn = self.engine.connect()
            if self.dialect == "sqlite":
                # take the write lock up front: a read-then-write transaction never fails because
                # another connection (API, diagnosis thread) committed after its snapshot began
                self._conn = self._conn.execution_options(sqlite_begin="IMMEDIATE")
            if self.dialect == "sqlite" and self.checkpoint_s > 0:
                self._conn.exec_driver_sql("PRAGMA wal_autocheckpoint=0")
                self._conn.commit()
                if self._checkpointer is None:
                    self._checkpointer = threading.Thread(target=self._checkpoint_loop, daemon=True,
                                                          name="fabmind-wal-checkpoint")
                    self._checkpointer.start()
        return self._conn

    def _checkpoint_loop(self) -> None:
        while not self._closing.wait(self.checkpoint_s):
            try:
                with self.engine.connect() as conn:
                    conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
            except SQLAlchemyError as exc:  # a busy database: try again next period
                log.debug("WAL checkpoint skipped: %s", exc)

    def close(self) -> None:
        self._closing.set()
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _rows(self, b: ReadingBatch) -> Iterable[tuple]:
        n = len(b)
        d = b.dense
        if d is not None and d.complete:  # every reading of the block: sensor-major, each sensor's times in order
            nt, ns = len(d.ts_us), len(d.sensors)
            ts: list = self._ts_values(d.ts_us) * ns
            sensors = [s for s in d.sensors for _ in range(nt)]
            return zip(repeat(b.chamber_id, n), sensors, ts, d.X.T.ravel().tolist(), repeat(b.run_id, n))
        ts = sqlite_ts(b.ts_us) if self.dialect == "sqlite" else self._ts_values(b.ts_us)
        return zip(repeat(b.chamber_id, n), b.sensor.tolist(), ts, b.value.tolist(), repeat(b.run_id, n))

    def _ts_values(self, ts_us: np.ndarray) -> list:
        if self.dialect == "sqlite":
            return [t.replace("T", " ") for t in np.datetime_as_string(ts_us.astype("datetime64[us]"), unit="us").tolist()]
        return [datetime.fromtimestamp(t / 1e6, UTC) for t in ts_us.tolist()]

    def _insert(self, conn: Connection, b: ReadingBatch) -> int:
        """Insert-or-ignore one message's readings on the DB-API cursor (rows streamed, no SQLAlchemy
        per-call work); returns how many were new."""
        cur = conn.connection.cursor()
        try:
            cur.executemany(self._insert_sql, self._rows(b))
            return cur.rowcount
        finally:
            cur.close()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction on the sink's connection (the monitor writes its alarm changes here too)."""
        conn = self._connection()
        with conn.begin():
            yield conn

    def stored_keys(self, keys: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which ``(source, msg_key)`` pairs the ledger already holds (a read; WAL readers do not block)."""
        by_source: dict[str, list[str]] = {}
        for s, k in keys:
            by_source.setdefault(s, []).append(k)
        if not by_source:
            return set()
        with self.transaction() as conn:
            return {(s, k) for s, ks in by_source.items() for k in self.known_keys(conn, s, ks)}

    def known_keys(self, conn: Connection | Any, source: str, keys: Sequence[str]) -> set[str]:
        """Which of ``keys`` (one source) the ledger holds. ``conn``: a SQLAlchemy connection or a
        DB-API one; plain SQL on its cursor (this runs once per batch on the latency-critical path)."""
        found: set[str] = set()
        dbapi = conn.connection if isinstance(conn, Connection) else conn
        mark = "?" if self.dialect == "sqlite" else "%s"
        cur = dbapi.cursor()
        try:
            for i in range(0, len(keys), 500):
                chunk = list(keys[i : i + 500])
                cur.execute(f"SELECT msg_key FROM {ingest_messages.name} WHERE source = {mark} AND msg_key IN "
                            f"({', '.join([mark] * len(chunk))})", [source, *chunk])
                found.update(r[0] for r in cur.fetchall())
        finally:
            cur.close()
        return found

    def write(
        self,
        messages: Sequence[ValidatedMessage],
        also: Callable[[Connection, list[ValidatedMessage]], None] | None = None,
        stop_early: Callable[[], bool] | None = None,
    ) -> tuple[IngestReport, list[ValidatedMessage]]:
        """Store a batch in one transaction; returns the report and the messages that were new.

        A message whose id was already stored (same source) is quarantined whole as
        ``duplicate_message``; readings whose natural key is already stored are counted as
        ``duplicate_reading``. ``also(conn, new_messages)`` runs inside the same transaction.
        ``stop_early()`` is asked after each message: True commits what is written so far and
        returns; ``report.messages`` says how many of ``messages`` that covered (each message is
        always whole, with its ledger row, in one transaction).
        """
        report = IngestReport(source=messages[0].source if messages else "")
        now = datetime.now(UTC)
        fresh: list[ValidatedMessage] = []
        q_rows: list[dict] = []
        ledger: list[dict] = []
        conn = self._connection()
        with conn.begin():
            by_source: dict[str, list[str]] = {}
            for m in messages:
                by_source.setdefault(m.source, []).append(m.msg_key)
            seen = {(s, k) for s, keys in by_source.items() for k in self.known_keys(conn, s, keys)}
            for i, m in enumerate(messages):
                if i and stop_early is not None and stop_early():
                    break
                report.messages += 1
                report.received += m.n_received
                key = (m.source, m.msg_key)
                if key in seen:
                    item = QuarantineItem(m.source, "message", f"duplicate_message: message {m.msg_key!r} already stored",
                                          json.dumps({"msg_id": m.msg_key}), m.n_received, m.readings.chamber_id,
                                          msg_key=m.msg_key)
                    self._quarantine(item, now, q_rows, report)
                    report.duplicates += m.n_received
                    continue
                seen.add(key)
                stored = 0
                if len(m.readings):
                    stored = self._insert(conn, m.readings)
                dup = len(m.readings) - stored
                report.stored += stored
                for item in m.quarantine:
                    self._quarantine(item, now, q_rows, report)
                if dup:
                    report.duplicates += dup
                    self._quarantine(
                        QuarantineItem(m.source, "reading", "duplicate: (chamber, sensor, ts) already stored",
                                       json.dumps({"msg_id": m.msg_key, "n": dup}), dup, m.readings.chamber_id),
                        now, q_rows, report)
                n_q = sum(i.n_readings for i in m.quarantine) + dup
                if m.msg_key:
                    ledger.append(dict(source=m.source, msg_key=m.msg_key, chamber_id=m.readings.chamber_id or None,
                                       received=now, n_received=m.n_received, n_stored=stored, n_quarantined=n_q,
                                       n_duplicates=dup))
                fresh.append(m)
            if ledger:
                conn.execute(ingest_messages.insert(), ledger)
            if q_rows:
                conn.execute(quarantine.insert(), q_rows)
            if also is not None:
                also(conn, fresh)
        return report, fresh

    @staticmethod
    def _quarantine(item: QuarantineItem, now: datetime, rows: list[dict], report: IngestReport) -> None:
        code = reason_code(item.reason)
        payload = item.payload
        if item.n_readings != 1 or item.msg_key:
            payload = json.dumps({"n_readings": item.n_readings, "msg_id": item.msg_key, "payload": item.payload})
        rows.append(dict(source=item.source, kind=item.kind, code=code, reason=item.reason, payload=payload, received=now))
        report.quarantined += item.n_readings
        report.reasons[code] = report.reasons.get(code, 0) + max(item.n_readings, 1)


def quarantine_items(engine: Engine, items: Sequence[QuarantineItem]) -> IngestReport:
    """Write rejects that are not part of a message batch (file rows, OPC UA / SECS values)."""
    report = IngestReport(source=items[0].source if items else "")
    now = datetime.now(UTC)
    rows: list[dict] = []
    for item in items:
        ReadingSink._quarantine(item, now, rows, report)
    if rows:
        with engine.begin() as conn:
            conn.execute(quarantine.insert(), rows)
    return report
