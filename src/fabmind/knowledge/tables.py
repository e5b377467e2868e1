"""The knowledge room's tables, on the store's shared ``metadata`` (Alembic revisions 0002 and 0006).

Chunks live in the fab's own database so a PostgreSQL deployment keeps one database. The BM25 index is
rebuilt in memory from these rows; the dense vectors of each chunk are computed once per embedding model
and kept in ``knowledge_vectors`` (a transformer encodes only tens of chunks a second on a CPU).
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, ForeignKey, Index, Integer, LargeBinary, String, Table, Text

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

KNOWLEDGE_TABLES = [knowledge_documents, knowledge_chunks]  # revision 0002

knowledge_vectors = Table(
    "knowledge_vectors",
    metadata,
    Column("chunk_id", String(240), primary_key=True),
    Column("model", String(120), primary_key=True),  # the embedder's fingerprint (name@hash of its weights)
    Column("doc_id", String(200), nullable=False),
    Column("text_hash", String(32), nullable=False),  # of the indexed text: a vector is reused only if it matches
    Column("dims", Integer, nullable=False),
    Column("vector", LargeBinary, nullable=False),  # float16, little-endian
    Index("ix_knowledge_vectors_doc", "doc_id"),
)

VECTOR_TABLES = [knowledge_vectors]  # revision 0006
