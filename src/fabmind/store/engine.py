"""Engines for the two supported databases, with the same transaction semantics on both.

- SQLite (embedded default): one file, WAL journal (readers never block the writer),
  ``synchronous=NORMAL`` (durable across application crashes; WAL keeps the file consistent on
  power loss), a 64 MiB page cache, 256 MiB memory map, ``busy_timeout`` so that a second
  process waits instead of failing. The driver's own implicit transactions are switched off
  and SQLAlchemy emits ``BEGIN`` itself, so DDL (migrations) and multi-table writes are atomic.
- PostgreSQL via psycopg 3 (``postgresql+psycopg://``); an optional ``schema`` puts every table
  in that schema through ``search_path`` (tests isolate themselves this way).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, make_url

_SCHEMA_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

SQLITE_PRAGMAS = (
    "PRAGMA busy_timeout=30000",  # first: the pragmas below may need a lock another opener holds
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA cache_size=-65536",
    "PRAGMA mmap_size=268435456",
    "PRAGMA temp_store=MEMORY",
    "PRAGMA foreign_keys=ON",
)


class StoreURLError(ValueError):
    """The database URL or schema cannot be used; the message names it."""


def make_engine(url: str, schema: str | None = None, echo: bool = False) -> Engine:
    """An engine for ``url`` (``sqlite:///path.db`` or ``postgresql+psycopg://...``)."""
    try:
        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy.exc.ArgumentError
        raise StoreURLError(f"database URL {url!r} cannot be parsed: {exc}") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if schema:
            raise StoreURLError(f"schema {schema!r} is only supported on PostgreSQL, not on {url!r}")
        return _sqlite_engine(parsed, echo)
    if backend == "postgresql":
        if parsed.drivername != "postgresql+psycopg":
            parsed = parsed.set(drivername="postgresql+psycopg")  # psycopg 3 is the one installed
        return _postgres_engine(parsed, schema, echo)
    raise StoreURLError(f"database URL {url!r}: only sqlite:/// and postgresql+psycopg:// are supported")


def _sqlite_engine(url, echo: bool) -> Engine:
    db = url.database or ""
    if db and db != ":memory:" and not db.startswith("file:"):
        Path(db).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, echo=echo)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None  # no implicit transactions: SQLAlchemy emits BEGIN
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            _execute_with_retry(cursor, pragma)
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        # writers ask for BEGIN IMMEDIATE (see write_connection): they take the write lock up front, so a
        # read-then-write transaction never fails on a snapshot another process has moved past
        connection.exec_driver_sql(f"BEGIN {connection.get_execution_options().get('sqlite_begin', '')}")

    return engine


def _execute_with_retry(cursor, sql: str, attempts: int = 60) -> None:
    """Run a PRAGMA, retrying while another connection holds the lock it needs.

    Switching a new database to WAL takes an exclusive lock; SQLite does not always call the busy
    handler for it, so several processes opening a fresh file at once can see "database is locked"
    here. They wait and retry (up to ~30 s in all) instead of failing.
    """
    import sqlite3
    import time

    for attempt in range(attempts):
        try:
            cursor.execute(sql)
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.05 * min(attempt + 1, 10))


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection in a write transaction (``BEGIN IMMEDIATE`` on SQLite), committed on success."""
    with engine.connect() as conn:
        conn.execution_options(sqlite_begin="IMMEDIATE")
        with conn.begin():
            yield conn


def _postgres_engine(url, schema: str | None, echo: bool) -> Engine:
    connect_args: dict = {}
    if schema:
        if not _SCHEMA_RE.match(schema):
            raise StoreURLError(f"schema name {schema!r}: use lower-case letters, digits and _ (max 63)")
        connect_args["options"] = f"-csearch_path={schema}"
    engine = create_engine(url, echo=echo, connect_args=connect_args, pool_pre_ping=True)
    if schema:
        with engine.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    return engine
