"""Shared fixtures. Tests run offline; real-server tests carry a marker and skip with a reason."""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

PG_URL = os.environ.get("FABMIND_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def pg_url() -> str:
    """URL of the real PostgreSQL test database; skips the test if the server does not answer."""
    if not _port_open("127.0.0.1", 5432):
        pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432")
    return PG_URL


@contextmanager
def _pg_schema_store(url: str, prefix: str) -> Iterator:
    """A Store in a throwaway PostgreSQL schema (``<prefix>_<pid>_<random>``), dropped afterwards, so
    tests sharing the ``test`` database never see each other's rows."""
    from sqlalchemy import text

    from fabmind.store import Store
    from fabmind.store.engine import make_engine

    schema = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    store = Store(url, schema=schema)
    try:
        yield store
    finally:
        store.close()
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


@pytest.fixture(scope="session")
def pg_schema_store():
    """``with pg_schema_store(url, prefix) as store:`` a Store in its own PostgreSQL schema, dropped after."""
    return _pg_schema_store


@pytest.fixture(scope="session")
def mqtt_broker() -> tuple[str, int]:
    if not _port_open("127.0.0.1", 1883):
        pytest.skip("Mosquitto is not reachable at 127.0.0.1:1883")
    return ("127.0.0.1", 1883)


@pytest.fixture()
def store(tmp_path):
    """An empty SQLite store in a temporary folder."""
    from fabmind.store import Store

    s = Store(f"sqlite:///{tmp_path / 'fab.db'}")
    yield s
    s.close()


@pytest.fixture(scope="session")
def small_fab():
    """A small, deterministic demo fab (a few days, few tools) with injected faults: the ground truth."""
    from fabmind.sim import simulate

    return simulate(days=4, seed=7, scale="small")


@pytest.fixture(scope="session")
def demo_store(small_fab, tmp_path_factory):
    """The small demo fab written into a SQLite store (shared by the session: do not mutate)."""
    from fabmind.store import Store

    path = tmp_path_factory.mktemp("demo") / "demo.db"
    s = Store(f"sqlite:///{path}")
    s.write_batch(small_fab.batch)
    yield s
    s.close()



_EXIT_STATUS = pytest.StashKey[int]()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    session.config.stash[_EXIT_STATUS] = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """A library thread that outlives the tests (non-daemon, e.g. a secsgem server thread left listening)
    would keep the interpreter from exiting after the summary, and CI would hang until its time limit.
    Give such threads a few seconds, then name them on stderr and end the process with the tests' status."""

    def leftover() -> list[threading.Thread]:
        return [t for t in threading.enumerate()
                if t is not threading.main_thread() and not t.daemon and t.is_alive()]

    deadline = time.monotonic() + 5.0
    for t in leftover():
        t.join(max(0.0, deadline - time.monotonic()))
    stuck = leftover()
    if stuck:
        sys.stderr.write("WARNING: non-daemon threads still alive after the tests, exiting without waiting for "
                         f"them: {[t.name for t in stuck]}\n")
        sys.stderr.flush()
        sys.stdout.flush()
        os._exit(config.stash.get(_EXIT_STATUS, 1))
