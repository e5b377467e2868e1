"""Run the numbered Alembic revisions programmatically (no ``alembic.ini`` needed)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

from fabmind.store.engine import write_transaction

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_PG_LOCK = 7_415_001  # advisory lock id: two processes opening the same database migrate one after the other


def _config(location: Path) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(location))
    return cfg


def head(location: Path = MIGRATIONS) -> str:
    """The newest revision id found in ``<location>/versions``."""
    heads = ScriptDirectory.from_config(_config(location)).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"store migrations must form one chain; found heads {sorted(heads)}")
    return heads[0]


def current(engine: Engine) -> str | None:
    """The revision the database is at (None for an empty database)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head", location: Path = MIGRATIONS) -> str | None:
    """Bring the database to ``revision`` in one transaction; returns the revision reached."""
    cfg = _config(location)
    target = head(location) if revision == "head" else revision
    if current(engine) == target:
        return target
    with write_transaction(engine) as conn:  # a second process opening the same database waits here
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    return current(engine)
