"""chat: anonymous chat sessions and anonymous questions (no message content)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chat_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("teacher_id", sa.Integer(), nullable=False),
        sa.Column("psychologist_id", sa.Integer(), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=True),
        sa.Column("question_id", sa.Integer(), nullable=True),
        sa.Column("starts_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("ends_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("closed_at", storage.types.UTCDateTime(), nullable=True),
        sa.Column("rating", sa.SmallInteger(), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["psychologist_id"],
            ["users.id"],
            name=op.f("fk_chat_sessions_psychologist_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["teacher_id"], ["users.id"], name=op.f("fk_chat_sessions_teacher_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_sessions")),
        sa.UniqueConstraint("booking_id", name=op.f("uq_chat_sessions_booking_id")),
    )
    with op.batch_alter_table("chat_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_chat_sessions_psychologist_id"), ["psychologist_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_chat_sessions_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_chat_sessions_teacher_id"), ["teacher_id"], unique=False)

    op.create_table(
        "anon_questions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("teacher_id", sa.Integer(), nullable=False),
        sa.Column("psychologist_id", sa.Integer(), nullable=True),
        sa.Column("region", sa.String(length=8), nullable=True),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("taken_at", storage.types.UTCDateTime(), nullable=True),
        sa.Column("reply_until", storage.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["psychologist_id"],
            ["users.id"],
            name=op.f("fk_anon_questions_psychologist_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["teacher_id"], ["users.id"], name=op.f("fk_anon_questions_teacher_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_anon_questions")),
    )
    with op.batch_alter_table("anon_questions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_anon_questions_psychologist_id"), ["psychologist_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_anon_questions_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_anon_questions_teacher_id"), ["teacher_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("anon_questions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_anon_questions_teacher_id"))
        batch_op.drop_index(batch_op.f("ix_anon_questions_status"))
        batch_op.drop_index(batch_op.f("ix_anon_questions_psychologist_id"))

    op.drop_table("anon_questions")
    with op.batch_alter_table("chat_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chat_sessions_teacher_id"))
        batch_op.drop_index(batch_op.f("ix_chat_sessions_status"))
        batch_op.drop_index(batch_op.f("ix_chat_sessions_psychologist_id"))

    op.drop_table("chat_sessions")
