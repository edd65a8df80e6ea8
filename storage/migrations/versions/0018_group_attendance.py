"""group_sessions.attended: how many came to a group session, one count reported after it (None:
not reported), never a row per teacher

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("group_sessions") as batch:
        batch.add_column(sa.Column("attended", sa.SmallInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("group_sessions") as batch:
        batch.drop_column("attended")
