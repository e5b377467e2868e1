"""Store fixtures: every store test runs on SQLite and on the real PostgreSQL.

PostgreSQL isolation: the session gets its own schema (``fabmind_t_<pid>_<random>``), so other
helpers using the same ``test`` database are not disturbed; tables are truncated between tests
and the schema is dropped at the end.
"""

from __future__ import annotations


import pytest
from sqlalchemy import text

from fabmind.store import Store
from fabmind.store.schema import CORE_TABLES


@pytest.fixture(scope="session")
def pg_store_session(pg_url, pg_schema_store):
    with pg_schema_store(pg_url, "fabmind_t") as store:
        yield store


def _truncate(store: Store) -> None:
    names = ", ".join(f'"{t.name}"' for t in CORE_TABLES)
    with store.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_store(request, tmp_path):
    """An empty store on SQLite (temporary file) or PostgreSQL (session schema, truncated)."""
    if request.param == "sqlite":
        store = Store(f"sqlite:///{tmp_path / 'fab.db'}")
        yield store
        store.close()
    else:
        store = request.getfixturevalue("pg_store_session")
        _truncate(store)
        yield store
