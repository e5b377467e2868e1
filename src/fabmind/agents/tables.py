"""The agents' tables on the shared ``fabmind.store.schema.metadata`` (Alembic revision 0003).

* ``llm_calls``: every chat-completion call (prompt, tool calls, tool results, tokens, latency, error);
* ``conversations`` / ``conversation_messages``: multi-turn conversations kept per user;
* ``proposals``: actions the model asked for, waiting for a person with the right role.
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, DateTime, Float, Index, Integer, String, Table, Text

from fabmind.store.schema import metadata

llm_calls = Table(
    "llm_calls",
    metadata,
    Column("call_id", String(64), primary_key=True),
    Column("conversation_id", String(64), nullable=True),
    Column("agent", String(64), nullable=False),  # fault_assistant, yield_agent
    Column("step", Integer, nullable=False),
    Column("model", String(200), nullable=False),
    Column("base_url", String(500), nullable=False),
    Column("started", DateTime(timezone=True), nullable=False),
    Column("latency_ms", Float, nullable=False),
    Column("prompt_tokens", Integer, nullable=True),
    Column("completion_tokens", Integer, nullable=True),
    Column("messages", JSON, nullable=False),  # the prompt as sent
    Column("response", JSON, nullable=True),  # content + tool calls
    Column("tool_results", JSON, nullable=True),  # results of this step's tool calls
    Column("error", Text, nullable=True),
    Index("ix_llm_calls_conversation", "conversation_id"),
)

conversations = Table(
    "conversations",
    metadata,
    Column("conversation_id", String(64), primary_key=True),
    Column("user_id", String(200), nullable=False),
    Column("agent", String(64), nullable=False),
    Column("title", String(500), nullable=False, default=""),
    Column("created", DateTime(timezone=True), nullable=False),
    Column("updated", DateTime(timezone=True), nullable=False),
    Index("ix_conversations_user", "user_id"),
)

conversation_messages = Table(
    "conversation_messages",
    metadata,
    Column("conversation_id", String(64), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("role", String(20), nullable=False),  # user, assistant
    Column("content", Text, nullable=False),
    Column("mode", String(40), nullable=False, default=""),  # llm | builtin | builtin (fallback)
    Column("meta", JSON, nullable=True),  # claims summary, result ids, diagnosis
    Column("created", DateTime(timezone=True), nullable=False),
)

proposals = Table(
    "proposals",
    metadata,
    Column("proposal_id", String(64), primary_key=True),
    Column("tool", String(100), nullable=False),
    Column("arguments", JSON, nullable=False),
    Column("summary", Text, nullable=False),
    Column("required_role", String(40), nullable=False),
    Column("area_id", String(100), nullable=True),
    Column("status", String(20), nullable=False),  # pending, approved, rejected, executed, failed
    Column("created", DateTime(timezone=True), nullable=False),
    Column("created_by", String(200), nullable=False),  # on whose behalf the model proposed
    Column("conversation_id", String(64), nullable=True),
    Column("decided_by", String(200), nullable=True),
    Column("decided_at", DateTime(timezone=True), nullable=True),
    Column("note", Text, nullable=True),
    Column("result", JSON, nullable=True),
    Index("ix_proposals_status", "status"),
)

AGENT_TABLES = [llm_calls, conversations, conversation_messages, proposals]


def ensure_agent_tables(engine) -> None:  # type: ignore[no-untyped-def]
    """Create the agents' tables if missing (a store opened without migrations, e.g. in tests).

    Stores opened by :class:`fabmind.store.Store` get them from Alembic revision 0003."""
    metadata.create_all(engine, tables=AGENT_TABLES, checkfirst=True)
