"""Service tables: users, API tokens (hashed), audit log. Revision 0004 creates them."""

from sqlalchemy import JSON, Column, DateTime, Integer, String, Table, Text

from fabmind.store.schema import metadata

users = Table(
    "users",
    metadata,
    Column("username", String(64), primary_key=True),
    Column("password_hash", String(256), nullable=False),
    Column("role", String(16), nullable=False),  # viewer | engineer | admin
    Column("areas", String(256), nullable=False, default="*"),  # comma-separated area ids, '*' = all
    Column("created", DateTime(timezone=True), nullable=False),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),  # sha256 of the token; the token itself is never stored
    Column("username", String(64), nullable=False, index=True),
    Column("name", String(64), nullable=False, default=""),
    Column("created", DateTime(timezone=True), nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ts", DateTime(timezone=True), nullable=False, index=True),
    Column("username", String(64), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(256), nullable=False, default=""),
    Column("proposal_id", String(64), nullable=True),
    Column("detail", JSON, nullable=True),
    Column("remote", Text, nullable=True),
)

SERVICE_TABLES = [users, api_tokens, audit_log]
