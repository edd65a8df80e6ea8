"""stat_releases: coordinators' statistics, published once per closed period

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stat_releases",
        sa.Column("period", sa.String(length=8), nullable=False),
        sa.Column("published_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("period", name=op.f("pk_stat_releases")),
    )


def downgrade() -> None:
    op.drop_table("stat_releases")
