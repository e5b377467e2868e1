"""The fab's store: one code path for SQLite (embedded default) and PostgreSQL.

>>> from fabmind.domain import Site
>>> store = Store("sqlite:///:memory:")
>>> store.upsert([Site(site_id="FAB1", name="Fab 1")])
{'sites': 1}
>>> store.upsert([Site(site_id="FAB1", name="Fab 1")])  # a replay changes nothing
{'sites': 1}
>>> store.counts()["sites"]
1
>>> store.close()
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from fabmind.domain import FabBatch, Reading, Record, RunTrace
from fabmind.store import codec, migrate
from fabmind.store import schema as s
from fabmind.store.engine import make_engine, write_transaction
from fabmind.store.ingest import IngestReport, quarantine_rows, validate_readings
from fabmind.store.queries import QueryMixin

_CHUNK = 5000  # rows per executemany: bounds memory on large batches


class Store(QueryMixin):
    """Persistence of the fab's records; opens (and migrates) the database at ``url``.

    ``url``: ``sqlite:///path/fab.db`` (created with its folder) or ``postgresql+psycopg://user@host/db``.
    ``schema``: PostgreSQL only: keep every table in this schema (created if missing).
    """

    def __init__(self, url: str, *, schema: str | None = None, echo: bool = False, migrate_to: str = "head"):
        self.url = url
        self.schema = schema
        self.engine: Engine = make_engine(url, schema=schema, echo=echo)
        self.revision = migrate.upgrade(self.engine, migrate_to)

    @classmethod
    def from_settings(cls, settings) -> "Store":
        """The store configured by :class:`fabmind.config.Settings` (``FABMIND_DB_URL``)."""
        return cls(settings.db_url)

    @property
    def dialect(self) -> str:
        """``'sqlite'`` or ``'postgresql'``."""
        return self.engine.dialect.name

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.engine.url.render_as_string(hide_password=True)!r}, revision={self.revision!r})"

    # ------------------------------------------------------------------ writes

    def _insert(self, table: Table):
        return (postgresql.insert if self.dialect == "postgresql" else sqlite.insert)(table)

    def _upsert_rows(self, conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> int:
        """INSERT .. ON CONFLICT (natural key) DO UPDATE; the last of duplicate keys in ``rows`` wins."""
        if not rows:
            return 0
        key = [c.name for c in table.primary_key.columns]
        unique = list({tuple(r[k] for k in key): r for r in rows}.values())  # PG refuses a key twice per statement
        stmt = self._insert(table)
        others = [c.name for c in table.columns if c.name not in key]
        if others:
            stmt = stmt.on_conflict_do_update(index_elements=key, set_={c: stmt.excluded[c] for c in others})
        else:
            stmt = stmt.on_conflict_do_nothing(index_elements=key)
        for i in range(0, len(unique), _CHUNK):
            conn.execute(stmt, unique[i : i + _CHUNK])
        return len(unique)

    def _upsert_records(self, conn: Connection, records: Iterable[Record]) -> dict[str, int]:
        by_table: dict[Table, list[Record]] = defaultdict(list)
        for record in records:
            table = codec.TABLE_OF.get(type(record))
            if table is None:
                raise TypeError(f"the store has no table for {type(record).__name__} records")
            by_table[table].append(record)
        written: dict[str, int] = {}
        for table, recs in by_table.items():
            if table is s.traces:
                rows = [codec.trace_row(r) for r in recs]  # type: ignore[arg-type]
            elif table is s.sensors:
                rows = codec.sensor_rows(recs)  # type: ignore[arg-type]
            else:
                rows = [codec.to_row(r) for r in recs]
            written[table.name] = self._upsert_rows(conn, table, rows)
        return written

    def upsert(self, records: Iterable[Record]) -> dict[str, int]:
        """Insert or update records of any kinds by natural key, in one transaction.

        Returns rows written per table. Replaying the same records changes nothing. Readings
        written here are trusted; use :meth:`ingest_readings` for data from outside.
        """
        with write_transaction(self.engine) as conn:
            return self._upsert_records(conn, records)

    def write_batch(self, batch: FabBatch) -> dict[str, int]:
        """Write every record of ``batch`` in one transaction; returns rows written per table."""
        with write_transaction(self.engine) as conn:
            written: dict[str, int] = {}
            for f in fields(batch):
                recs = getattr(batch, f.name)
                if recs:
                    written.update(self._upsert_records(conn, recs))
            return written

    def write_traces(self, traces: Iterable[RunTrace]) -> int:
        """Write run traces (one row per run, float32 blob); returns the number of runs written."""
        with write_transaction(self.engine) as conn:
            return self._write_traces(conn, traces)

    def _write_traces(self, conn: Connection, traces: Iterable[RunTrace]) -> int:
        n = 0
        batch: list[dict[str, Any]] = []
        for trace in traces:
            batch.append(codec.trace_row(trace))
            if len(batch) >= 1000:
                n += self._upsert_rows(conn, s.traces, batch)
                batch = []
        return n + self._upsert_rows(conn, s.traces, batch)

    # ------------------------------------------------------------------ alarms

    def set_alarm_state(self, alarm_id: str, state: str, message: str | None = None) -> None:
        """Move an alarm through its life cycle (raised, acknowledged, shelved, cleared)."""
        from fabmind.domain import AlarmState

        values: dict[str, Any] = {"state": AlarmState(state).value}
        if message is not None:
            values["message"] = message
        with write_transaction(self.engine) as conn:
            done = conn.execute(s.alarms.update().where(s.alarms.c.alarm_id == alarm_id).values(**values))
            if done.rowcount == 0:
                raise KeyError(f"no alarm {alarm_id!r} in the store")

    # ------------------------------------------------------------------ quarantine and ingest

    def quarantine(self, source: str, kind: str, reason: str, payload: Any, code: str = "rejected") -> None:
        """Keep a rejected record with its raw payload, where it came from and why."""
        if not isinstance(payload, str):
            payload = json.dumps(payload, default=str)
        row = {"source": source, "kind": kind, "code": code, "reason": reason, "payload": payload,
               "received": datetime.now(timezone.utc)}  # fmt: skip
        with write_transaction(self.engine) as conn:
            conn.execute(insert(s.quarantine), [row])

    def ingest_readings(self, readings: Iterable[dict | Reading], source: str) -> IngestReport:
        """Validate streaming readings; store the good ones and quarantine the rest, atomically.

        See :mod:`fabmind.store.ingest` for the reasons a reading is quarantined.
        """
        readings = list(readings)
        with write_transaction(self.engine) as conn:
            good, bad = validate_readings(conn, readings)
            for i in range(0, len(good), _CHUNK):
                conn.execute(insert(s.readings), good[i : i + _CHUNK])
            if bad:
                conn.execute(insert(s.quarantine), quarantine_rows(source, "reading", bad))
        return IngestReport(
            source=source, received=len(readings), stored=len(good), quarantined=len(bad),
            reasons=Counter(r.code for r in bad),
        )

    # ------------------------------------------------------------------ housekeeping

    def counts(self) -> dict[str, int]:
        """Rows per table (all tables known to the schema that exist in the database)."""
        from sqlalchemy import inspect

        with self.engine.connect() as conn:
            present = set(inspect(conn).get_table_names())
            return {
                t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in s.metadata.sorted_tables
                if t.name in present
            }

    def export_parquet(self, table: str, path: str | Path, chunk_rows: int = 200_000) -> Path:
        """Write ``table`` to a Parquet file (streamed in chunks); returns the path."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        t = s.metadata.tables.get(table)
        if t is None:
            raise KeyError(f"no table {table!r}; tables: {sorted(s.metadata.tables)}")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        writer = None
        with self.engine.connect() as conn:
            result = conn.execution_options(stream_results=True).execute(select(t))
            try:
                while chunk := result.mappings().fetchmany(chunk_rows):
                    frame = self._typed_frame([dict(r) for r in chunk], t, json_as_text=True)
                    tbl = pa.Table.from_pandas(frame, preserve_index=False)
                    if writer is None:
                        writer = pq.ParquetWriter(path, tbl.schema)
                    writer.write_table(tbl.cast(writer.schema))
            finally:
                if writer is not None:
                    writer.close()
        if writer is None:  # empty table: still write the columns
            pq.write_table(pa.Table.from_pandas(self._typed_frame([], t, json_as_text=True), preserve_index=False), path)
        return path
