"""booking: psychologist profiles, slots and individual bookings

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "psychologist_profiles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("display_name", sa.Text(), nullable=False),
        sa.Column("languages", sa.String(length=16), nullable=False),
        sa.Column("formats", sa.String(length=32), nullable=False),
        sa.Column("regions", sa.String(length=256), nullable=False),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("video_link", sa.Text(), nullable=True),
        sa.Column("bio_kk", sa.Text(), nullable=True),
        sa.Column("bio_ru", sa.Text(), nullable=True),
        sa.Column("published", sa.Boolean(), nullable=False),
        sa.Column("demo", sa.Boolean(), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_psychologist_profiles_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_psychologist_profiles")),
        sa.UniqueConstraint("user_id", name=op.f("uq_psychologist_profiles_user_id")),
    )
    op.create_table(
        "booking_slots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("psychologist_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("duration_min", sa.SmallInteger(), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("removed", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["psychologist_id"],
            ["psychologist_profiles.id"],
            name=op.f("fk_booking_slots_psychologist_id_psychologist_profiles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booking_slots")),
        sa.UniqueConstraint("psychologist_id", "starts_at", name="uq_booking_slots_psychologist_start"),
    )
    with op.batch_alter_table("booking_slots", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_booking_slots_starts_at"), ["starts_at"], unique=False)

    op.create_table(
        "bookings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slot_id", sa.Integer(), nullable=False),
        sa.Column("teacher_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("holds", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("previous_id", sa.Integer(), nullable=True),
        sa.Column("cancelled_by", sa.String(length=12), nullable=True),
        sa.Column("cancel_reason", sa.Text(), nullable=True),
        sa.Column("late_cancel", sa.Boolean(), nullable=False),
        sa.Column("rating", sa.SmallInteger(), nullable=True),
        sa.Column("rating_comment", sa.Text(), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["previous_id"],
            ["bookings.id"],
            name=op.f("fk_bookings_previous_id_bookings"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["slot_id"],
            ["booking_slots.id"],
            name=op.f("fk_bookings_slot_id_booking_slots"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["teacher_id"], ["users.id"], name=op.f("fk_bookings_teacher_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bookings")),
    )
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bookings_teacher_id"), ["teacher_id"], unique=False)
        # One live booking per slot, enforced by the database (see storage/models/booking.py).
        batch_op.create_index(
            "uq_bookings_slot_holds",
            ["slot_id"],
            unique=True,
            sqlite_where=sa.text("holds"),
            postgresql_where=sa.text("holds"),
        )


def downgrade() -> None:
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.drop_index("uq_bookings_slot_holds")
        batch_op.drop_index(batch_op.f("ix_bookings_teacher_id"))

    op.drop_table("bookings")
    with op.batch_alter_table("booking_slots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_booking_slots_starts_at"))

    op.drop_table("booking_slots")
    op.drop_table("psychologist_profiles")
