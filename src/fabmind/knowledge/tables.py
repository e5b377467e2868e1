"""The knowledge room's tables, on the store's shared ``metadata`` (created by Alembic revision 0002).

Chunks live in the fab's own database so a PostgreSQL deployment keeps one database; the search
indexes (BM25, dense vectors) are rebuilt in memory from these rows.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, ForeignKey, Index, Integer, String, Table, Text

from fabmind.store.schema import metadata

knowledge_documents = Table(
    "knowledge_documents",
    metadata,
    Column("doc_id", String(200), primary_key=True),
    Column("title", Text, nullable=False, default=""),
    Column("kind", String(32), nullable=False, default="other"),
    Column("format", String(16), nullable=False),
    Column("type_id", String(96), nullable=False, default=""),
    Column("source", Text, nullable=False, default=""),
    Column("content_hash", String(64), nullable=False),
    Column("n_chunks", Integer, nullable=False, default=0),
    Column("flagged_chunks", Integer, nullable=False, default=0),
    Column("ingested_at", DateTime(timezone=True), nullable=False),
)

knowledge_chunks = Table(
    "knowledge_chunks",
    metadata,
    Column("chunk_id", String(240), primary_key=True),
    Column("doc_id", String(200), ForeignKey("knowledge_documents.doc_id", ondelete="CASCADE"), nullable=False),
    Column("ordinal", Integer, nullable=False),
    Column("section", Text, nullable=False, default=""),
    Column("page", Integer, nullable=True),
    Column("row", Integer, nullable=True),
    Column("text", Text, nullable=False),
    Column("fields", Text, nullable=True),  # JSON object of a table row's cells
    Column("flagged", Boolean, nullable=False, default=False),
    Column("flag_reason", Text, nullable=False, default=""),
    Index("ix_knowledge_chunks_doc", "doc_id", "ordinal"),
)

KNOWLEDGE_TABLES = [knowledge_documents, knowledge_chunks]
