"""Alembic environment: uses the connection handed over by :func:`fabmind.store.migrate.upgrade`.

Also works from the ``alembic`` command line with ``sqlalchemy.url`` set in the config.
"""

from alembic import context
from sqlalchemy import create_engine

from fabmind.store.schema import metadata

def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite ALTER TABLE needs batch mode
        transactional_ddl=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    config = context.config
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
    else:
        engine = create_engine(config.get_main_option("sqlalchemy.url"))
        with engine.begin() as conn:
            _run(conn)


if getattr(context, "config", None) is not None:  # only when Alembic runs this file (not on import)
    main()
