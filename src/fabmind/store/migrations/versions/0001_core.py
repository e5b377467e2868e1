"""Core tables of the fab: plant, production, traces, readings, quality, maintenance, energy,
alarms, documents, injected faults and the quarantine.

Revision id: 0001. Later rooms copy this pattern: import the module that defines their tables
(on ``fabmind.store.schema.metadata``) inside ``upgrade()`` and create exactly those tables.
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    from fabmind.store.schema import CORE_TABLES, metadata

    metadata.create_all(op.get_bind(), tables=list(CORE_TABLES))


def downgrade() -> None:
    from fabmind.store.schema import CORE_TABLES, metadata

    metadata.drop_all(op.get_bind(), tables=list(CORE_TABLES))
