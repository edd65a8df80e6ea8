"""group_sessions.kind: consultation group, training, art-therapy group or relaxation session

Sessions made before are consultation groups.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("group_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=8), server_default="consult", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("group_sessions", schema=None) as batch_op:
        batch_op.drop_column("kind")
