"""Schema by numbered Alembic revisions; engines for both dialects."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from fabmind.store import Store, StoreURLError, migrate
from fabmind.store.engine import make_engine
from fabmind.store.schema import CORE_TABLES

LATER_REVISION = '''
from alembic import op
import sqlalchemy as sa

revision = "0002"
down_revision = "0001"


def upgrade():
    op.create_table("kb_chunks", sa.Column("chunk_id", sa.String(96), primary_key=True), sa.Column("text", sa.Text))


def downgrade():
    op.drop_table("kb_chunks")
'''


def _core_only(tmp_path: Path) -> Path:
    """A copy of the migration environment holding revision 0001 only (later rooms' files left out)."""
    location = tmp_path / "migrations"
    (location / "versions").mkdir(parents=True)
    shutil.copy(migrate.MIGRATIONS / "env.py", location / "env.py")
    shutil.copy(migrate.MIGRATIONS / "versions" / "0001_core.py", location / "versions" / "0001_core.py")
    return location


def test_head_is_the_highest_numbered_revision_file():
    numbers = sorted(p.name[:4] for p in (migrate.MIGRATIONS / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))
    assert numbers[0] == "0001" and migrate.head() == numbers[-1]


def test_store_creates_core_tables_at_open(any_store):
    names = set(inspect(any_store.engine).get_table_names())
    assert {t.name for t in CORE_TABLES} <= names and "alembic_version" in names
    assert any_store.revision == migrate.head()


def test_later_revision_files_are_discovered_and_applied(tmp_path):
    location = _core_only(tmp_path)
    (location / "versions" / "0002_knowledge.py").write_text(LATER_REVISION)
    engine = make_engine(f"sqlite:///{tmp_path / 'fab.db'}")
    assert migrate.upgrade(engine, location=location) == "0002"
    assert {"kb_chunks", "runs"} <= set(inspect(engine).get_table_names())
    assert migrate.upgrade(engine, location=location) == "0002"  # idempotent
    engine.dispose()


def test_old_database_is_upgraded_step_by_step(tmp_path):
    location = _core_only(tmp_path)
    engine = make_engine(f"sqlite:///{tmp_path / 'fab.db'}")
    assert migrate.upgrade(engine, "0001", location=location) == "0001"
    (location / "versions" / "0002_knowledge.py").write_text(LATER_REVISION)
    assert migrate.current(engine) == "0001"
    assert migrate.upgrade(engine, location=location) == "0002"
    engine.dispose()


def test_sqlite_runs_in_wal_mode_with_pragmas(store):
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    assert Path(store.engine.url.database).exists()


def test_in_memory_sqlite_works():
    with Store("sqlite:///:memory:") as s:
        assert s.counts()["runs"] == 0


@pytest.mark.parametrize("url", ["mysql+pymysql://u@h/d", "not a url"])
def test_unsupported_urls_are_named(url):
    with pytest.raises(StoreURLError, match="URL"):
        make_engine(url)


def test_schema_names_are_checked_and_sqlite_refuses_schema(tmp_path):
    with pytest.raises(StoreURLError, match="PostgreSQL"):
        make_engine(f"sqlite:///{tmp_path / 'a.db'}", schema="abc")
    with pytest.raises(StoreURLError, match="schema name"):
        make_engine("postgresql+psycopg://u@127.0.0.1/test", schema="x; drop table runs")


@pytest.mark.postgres
def test_postgres_tables_live_in_the_session_schema(pg_store_session):
    with pg_store_session.engine.connect() as conn:
        schema = conn.execute(text("SELECT current_schema()")).scalar()
        assert schema == pg_store_session.schema
        found = conn.execute(text("SELECT count(*) FROM information_schema.tables WHERE table_schema = :s "
                                  "AND table_name = 'runs'"), {"s": schema}).scalar()
        assert found == 1


def test_concurrent_openers_of_a_new_database_migrate_once(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    url = f"sqlite:///{tmp_path / 'shared.db'}"

    def open_and_write(i: int) -> str | None:
        from fabmind.domain import Site

        with Store(url) as s:
            s.upsert([Site(site_id=f"FAB{i}", name=str(i))])
            return s.revision

    with ThreadPoolExecutor(4) as pool:
        revisions = list(pool.map(open_and_write, range(4)))
    assert revisions == [migrate.head()] * 4
    with Store(url) as s:
        assert s.counts()["sites"] == 4
