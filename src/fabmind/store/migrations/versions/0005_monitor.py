"""Live data and monitor tables: ingest bookkeeping (messages, offsets), alarm life cycle, events,
verdicts, chart baselines (``fabmind.monitor.tables.live_tables``).

Revision id: 0005.
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from fabmind.monitor.tables import live_tables
    from fabmind.store.schema import metadata

    metadata.create_all(op.get_bind(), tables=live_tables())


def downgrade() -> None:
    from fabmind.monitor.tables import live_tables
    from fabmind.store.schema import metadata

    metadata.drop_all(op.get_bind(), tables=live_tables())
