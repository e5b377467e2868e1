"""Answers reused while the store has not changed: polled JSON responses and API-token lookups.

The **change marker** is a value that changes whenever anything is committed to the store, by this
process or by any other (a monitor, an import, the CLI):

- SQLite: ``PRAGMA data_version`` on a private, read-only connection (SQLite changes it whenever another
  connection has committed; ~10 µs), paired with a generation number so that a reopened connection,
  whose counter starts again, cannot reproduce an old marker;
- PostgreSQL: the text of ``pg_current_snapshot()`` (xmin:xmax:in-progress ids): two equal snapshots mean
  no transaction ended in between, so everything a query could see is the same;
- anything else (an in-memory SQLite database): no marker, nothing is cached.

A cached value is used only while the marker equals the one read **before** it was computed, so a write
that lands during the computation makes the next request compute again; new alarms, acknowledgements,
revoked tokens and role changes are visible on the very next request.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import sqlite3
import threading
from collections.abc import Callable, Hashable
from typing import Any

import pydantic_core
from sqlalchemy import Engine, text
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

Marker = Hashable | None


class ChangeMarker:
    """``current()`` → a value that differs after every commit to the store (``None``: cannot tell)."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.dialect = engine.dialect.name
        db = engine.url.database or ""
        self._sqlite_path = db if self.dialect == "sqlite" and db and db != ":memory:" and "mode=memory" not in db else ""
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0
        self._generation = 0

    @property
    def enabled(self) -> bool:
        return bool(self._sqlite_path) or self.dialect == "postgresql"

    def current(self) -> Marker:
        if self._sqlite_path:
            return self._sqlite_marker()
        if self.dialect == "postgresql":
            with self.engine.connect() as con:
                return str(con.execute(text("SELECT pg_current_snapshot()::text")).scalar_one())
        return None

    def _sqlite_marker(self) -> Marker:
        with self._lock:
            try:
                if self._conn is None or self._pid != os.getpid():
                    self._open()
                return self._generation, self._conn.execute("PRAGMA data_version").fetchone()[0]
            except sqlite3.Error:
                self._conn = None  # reopened (new generation) on the next call; this request is not cached
                return None

    def _open(self) -> None:
        path = self._sqlite_path  # a connection of its own that only ever reads this pragma
        self._conn = sqlite3.connect(path, uri=path.startswith("file:"), isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA busy_timeout=1000")  # read on the event loop: never wait long
        self._pid = os.getpid()
        self._generation += 1

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


class MarkedCache:
    """key → value, each valid only under the change marker it was computed under. Bounded: when full, it
    starts again empty (keys are a handful of polled queries and the active API tokens)."""

    def __init__(self, marker: ChangeMarker, max_entries: int = 512, enabled: bool = True):
        self.marker = marker
        self.max_entries = max_entries
        self.enabled = enabled  # False: every request computes (for measurements)
        self._values: dict[Hashable, tuple[Marker, Any]] = {}
        self._locks: dict[asyncio.AbstractEventLoop, dict[Hashable, asyncio.Lock]] = {}  # a lock is bound to its loop
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, mark: Marker) -> Any | None:
        if mark is None:
            return None
        hit = self._values.get(key)
        if hit is not None and hit[0] == mark:
            self.hits += 1
            return hit[1]
        return None

    def put(self, key: Hashable, mark: Marker, value: Any) -> None:
        if mark is None or value is None:
            return
        if len(self._values) >= self.max_entries and key not in self._values:
            self._values.clear()
        self._values[key] = (mark, value)

    async def get_or_compute(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """The cached value, or ``compute()`` run in the threadpool, once per key at a time (concurrent
        requests for the same key wait for that one computation instead of repeating it)."""
        mark = self.marker.current() if self.enabled else None
        value = self.get(key, mark)
        if value is not None:
            return value
        if mark is None:
            self.misses += 1
            return await run_in_threadpool(compute)
        locks = self._locks.get(asyncio.get_running_loop())
        if locks is None or len(locks) > self.max_entries:
            if len(self._locks) > 8:
                self._locks.clear()
            locks = self._locks[asyncio.get_running_loop()] = {}
        lock = locks.get(key)
        if lock is None:
            lock = locks[key] = asyncio.Lock()
        async with lock:
            mark = self.marker.current()  # read before computing: a later write invalidates the result
            value = self.get(key, mark)
            if value is not None:
                return value
            self.misses += 1
            value = await run_in_threadpool(compute)
            self.put(key, mark, value)
        return value


class CachedJSON:
    """A serialised JSON body and its ETag."""

    __slots__ = ("body", "etag")

    def __init__(self, body: bytes):
        self.body = body
        self.etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


def json_body(data: Any) -> CachedJSON:
    """JSON as FastAPI would write it for a ``dict`` response (NaN/inf → null)."""
    return CachedJSON(pydantic_core.to_json(data, inf_nan_mode="null"))


async def cached_json(request: Request, key: Hashable, compute: Callable[[], Any]) -> Response:
    """The JSON answer of ``compute()`` for ``key``, reused while the store is unchanged; answers
    ``304 Not Modified`` to a matching ``If-None-Match``. Call only after authorisation."""
    cache: MarkedCache = request.app.state.response_cache
    cached: CachedJSON = await cache.get_or_compute(key, lambda: json_body(compute()))
    headers = {"ETag": cached.etag, "Cache-Control": "private, no-cache"}
    if request.headers.get("if-none-match") == cached.etag:
        return Response(status_code=304, headers=headers)
    return Response(cached.body, media_type="application/json", headers=headers)
