"""question_mutes: a psychologist's mute on a pseudonym's question notices

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "question_mutes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("teacher_id", sa.Integer(), nullable=False),
        sa.Column("muted_by", sa.Integer(), nullable=True),
        sa.Column("region", sa.String(length=8), nullable=True),
        sa.Column("until", storage.types.UTCDateTime(), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["teacher_id"], ["users.id"], name=op.f("fk_question_mutes_teacher_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["muted_by"], ["users.id"], name=op.f("fk_question_mutes_muted_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_question_mutes")),
    )
    op.create_index(op.f("ix_question_mutes_teacher_id"), "question_mutes", ["teacher_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_question_mutes_teacher_id"), table_name="question_mutes")
    op.drop_table("question_mutes")
