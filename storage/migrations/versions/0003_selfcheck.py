"""selfcheck: questionnaire results, drafts and shares

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "selfcheck_results",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("instrument", sa.String(length=16), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_selfcheck_results_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_selfcheck_results")),
    )
    with op.batch_alter_table("selfcheck_results", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_selfcheck_results_user_id"), ["user_id"], unique=False)

    op.create_table(
        "selfcheck_drafts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("instrument", sa.String(length=16), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_selfcheck_drafts_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_selfcheck_drafts")),
        sa.UniqueConstraint("user_id", "instrument", name="uq_selfcheck_drafts_user_instrument"),
    )
    op.create_table(
        "selfcheck_shares",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("result_id", sa.Integer(), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["result_id"],
            ["selfcheck_results.id"],
            name=op.f("fk_selfcheck_shares_result_id_selfcheck_results"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_selfcheck_shares")),
        sa.UniqueConstraint("result_id", "booking_id", name="uq_selfcheck_shares_result_booking"),
    )


def downgrade() -> None:
    op.drop_table("selfcheck_shares")
    op.drop_table("selfcheck_drafts")
    with op.batch_alter_table("selfcheck_results", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_selfcheck_results_user_id"))

    op.drop_table("selfcheck_results")
