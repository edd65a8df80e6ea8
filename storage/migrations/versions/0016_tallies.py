"""stat_tallies: sealed monthly counts of booking searches (how soon the first free time was) and
safety events, by region, written for every region and name of a month at once

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stat_tallies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=8), nullable=False),
        sa.Column("region", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=24), nullable=False),
        sa.Column("count", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stat_tallies")),
        sa.UniqueConstraint("month", "region", "name", name=op.f("uq_stat_tallies_month")),
    )


def downgrade() -> None:
    op.drop_table("stat_tallies")
