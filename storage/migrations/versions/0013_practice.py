"""practice: private session notes, intakes, continuity consents

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

NOTE_SIZE = 3 * 1500 + 2 + 3 * 300 + 2 + 256
INTAKE_SIZE = 3 * 500 + 2 + 256


def upgrade() -> None:
    op.create_table(
        "session_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=True),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("body", storage.types.EncryptedJSON(NOTE_SIZE), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_session_notes_author_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["booking_id"],
            ["bookings.id"],
            name=op.f("fk_session_notes_booking_id_bookings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["group_sessions.id"],
            name=op.f("fk_session_notes_group_id_group_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_notes")),
        sa.UniqueConstraint("booking_id", name="uq_session_notes_booking_id"),
        sa.UniqueConstraint("group_id", "author_id", name="uq_session_notes_group_id"),
    )
    op.create_index(op.f("ix_session_notes_author_id"), "session_notes", ["author_id"], unique=False)
    op.create_table(
        "intakes",
        sa.Column("booking_id", sa.Integer(), nullable=False),
        sa.Column("answers", storage.types.EncryptedJSON(INTAKE_SIZE), nullable=False),
        sa.ForeignKeyConstraint(
            ["booking_id"], ["bookings.id"], name=op.f("fk_intakes_booking_id_bookings"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("booking_id", name=op.f("pk_intakes")),
    )
    op.create_table(
        "continuity_consents",
        sa.Column("teacher_id", sa.Integer(), nullable=False),
        sa.Column("psychologist_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["teacher_id"],
            ["users.id"],
            name=op.f("fk_continuity_consents_teacher_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["psychologist_id"],
            ["psychologist_profiles.id"],
            name=op.f("fk_continuity_consents_psychologist_id_psychologist_profiles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("teacher_id", "psychologist_id", name=op.f("pk_continuity_consents")),
    )


def downgrade() -> None:
    op.drop_table("continuity_consents")
    op.drop_table("intakes")
    op.drop_index(op.f("ix_session_notes_author_id"), table_name="session_notes")
    op.drop_table("session_notes")
