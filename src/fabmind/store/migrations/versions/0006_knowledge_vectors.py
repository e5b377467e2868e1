"""Knowledge: cached dense vectors of the chunks, one row per chunk and embedding model
(fabmind.knowledge.tables.knowledge_vectors).

Revision id: 0006.
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from fabmind.knowledge.tables import VECTOR_TABLES
    from fabmind.store.schema import metadata

    metadata.create_all(op.get_bind(), tables=VECTOR_TABLES)


def downgrade() -> None:
    from fabmind.knowledge.tables import VECTOR_TABLES
    from fabmind.store.schema import metadata

    metadata.drop_all(op.get_bind(), tables=VECTOR_TABLES)
