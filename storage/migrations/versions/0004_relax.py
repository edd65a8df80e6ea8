"""relax: favourite exercises, private journal, mood check-ins

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "relax_favourites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("exercise_id", sa.String(length=16), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_relax_favourites_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_relax_favourites")),
        sa.UniqueConstraint("user_id", "exercise_id", name=op.f("uq_relax_favourites_user_id")),
    )
    op.create_table(
        "relax_journal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("exercise_id", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_relax_journal_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_relax_journal")),
    )
    with op.batch_alter_table("relax_journal", schema=None) as batch_op:
        batch_op.create_index("ix_relax_journal_user_created", ["user_id", "created_at"], unique=False)

    op.create_table(
        "mood_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.SmallInteger(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_mood_entries_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mood_entries")),
    )
    with op.batch_alter_table("mood_entries", schema=None) as batch_op:
        batch_op.create_index("ix_mood_entries_user_created", ["user_id", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("mood_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_mood_entries_user_created")
    op.drop_table("mood_entries")
    with op.batch_alter_table("relax_journal", schema=None) as batch_op:
        batch_op.drop_index("ix_relax_journal_user_created")
    op.drop_table("relax_journal")
    op.drop_table("relax_favourites")
