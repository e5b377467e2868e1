"""Agents tables: LLM call log, conversations and their messages, proposals (fabmind.agents.tables).

Revision id: 0003.
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from fabmind.agents.tables import AGENT_TABLES
    from fabmind.store.schema import metadata

    metadata.create_all(op.get_bind(), tables=AGENT_TABLES)


def downgrade() -> None:
    from fabmind.agents.tables import AGENT_TABLES
    from fabmind.store.schema import metadata

    metadata.drop_all(op.get_bind(), tables=AGENT_TABLES)
