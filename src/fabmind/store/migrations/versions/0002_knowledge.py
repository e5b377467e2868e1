"""Knowledge tables: ingested documents and their chunks (fabmind.knowledge.tables).

Revision id: 0002.
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from fabmind.knowledge.tables import KNOWLEDGE_TABLES
    from fabmind.store.schema import metadata

    metadata.create_all(op.get_bind(), tables=KNOWLEDGE_TABLES)


def downgrade() -> None:
    from fabmind.knowledge.tables import KNOWLEDGE_TABLES
    from fabmind.store.schema import metadata

    metadata.drop_all(op.get_bind(), tables=KNOWLEDGE_TABLES)
