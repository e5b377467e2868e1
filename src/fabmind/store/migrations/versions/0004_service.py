"""Service tables: users, hashed API tokens, audit log.

Revision id: 0004.
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from fabmind.api.tables import SERVICE_TABLES
    from fabmind.store.schema import metadata

    metadata.create_all(op.get_bind(), tables=list(SERVICE_TABLES))


def downgrade() -> None:
    from fabmind.api.tables import SERVICE_TABLES
    from fabmind.store.schema import metadata

    metadata.drop_all(op.get_bind(), tables=list(SERVICE_TABLES))
