"""Ingest bookkeeping tables (created by Alembic revision 0005 with the monitor's tables).

* ``ingest_messages``: one row per accepted message id and source — the dedup key that makes a
  re-delivered or replayed message a no-op, and the ledger that reconciles counts
  (``n_received == n_stored + n_quarantined``).
* ``ingest_offsets``: how far a consumer got in a stream it can re-read (a file by content hash,
  an OPC UA / SECS source), so a restart resumes instead of re-reading everything.

Readings go to the store's ``readings`` table, rejects to the store's ``quarantine`` table.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table

from fabmind.store.schema import ID, UtcDateTime, metadata

ingest_messages = Table(
    "ingest_messages",
    metadata,
    Column("source", String(128), primary_key=True),
    Column("msg_key", String(200), primary_key=True),
    Column("chamber_id", String(ID), nullable=True),
    Column("received", UtcDateTime, nullable=False),
    Column("n_received", Integer, nullable=False),
    Column("n_stored", Integer, nullable=False),
    Column("n_quarantined", Integer, nullable=False),
    Column("n_duplicates", Integer, nullable=False),
    Index("ix_ingest_messages_received", "received"),
)

ingest_offsets = Table(
    "ingest_offsets",
    metadata,
    Column("consumer", String(128), primary_key=True),
    Column("stream", String(512), primary_key=True),
    Column("position", BigInteger, nullable=False),
    Column("updated", UtcDateTime, nullable=False),
)

INGEST_TABLES: tuple[Table, ...] = (ingest_messages, ingest_offsets)
