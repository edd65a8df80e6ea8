"""rooms: a private video room per booking and group session, calendar UIDs, group places

A booking's room, a slot's own link, an online group session's room, an office session's place and
calendar UIDs are sealed (sa.Text here, like every sealed column). Bookings and group seats get a
calendar UID and SEQUENCE; teachers a setting for detailed calendar titles; each side of a live chat
whether it is in the chat or in the menu. The in-bot chat format of group sessions is gone: its
sessions become online ones (they get a room). Teachers may wait for a time to open (booking_waits).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every column is added in place (constant defaults): on SQLite a batch copy of `users` would
    # drop the old table and cascade into every table that references it.
    with op.batch_alter_table("booking_slots") as batch:
        batch.add_column(sa.Column("video_link", sa.Text(), nullable=True))
    with op.batch_alter_table("bookings") as batch:
        batch.add_column(sa.Column("room", sa.Text(), nullable=True))
        batch.add_column(sa.Column("calendar_uid", sa.Text(), nullable=True))
        batch.add_column(sa.Column("calendar_seq", sa.SmallInteger(), nullable=False, server_default="0"))
    with op.batch_alter_table("group_sessions") as batch:
        batch.add_column(sa.Column("place", sa.Text(), nullable=True))
        batch.add_column(sa.Column("room", sa.Text(), nullable=True))
    with op.batch_alter_table("group_seats") as batch:
        batch.add_column(sa.Column("calendar_uid", sa.Text(), nullable=True))
        batch.add_column(sa.Column("calendar_seq", sa.SmallInteger(), nullable=False, server_default="0"))
    with op.batch_alter_table("chat_sessions") as batch:
        batch.add_column(sa.Column("teacher_away", sa.Boolean(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("psychologist_away", sa.Boolean(), nullable=False, server_default="0"))
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("calendar_detail", sa.Boolean(), nullable=False, server_default="0"))
    op.create_table(
        "booking_waits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("teacher_id", sa.Integer(), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("region", sa.String(length=8), nullable=False),
        sa.Column("psychologist_id", sa.Integer(), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["teacher_id"], ["users.id"], name=op.f("fk_booking_waits_teacher_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booking_waits")),
        sa.UniqueConstraint(
            "teacher_id", "format", "language", "region", "psychologist_id", name="uq_booking_waits"
        ),
    )
    op.create_index(op.f("ix_booking_waits_teacher_id"), "booking_waits", ["teacher_id"], unique=False)
    groups = sa.table("group_sessions", sa.column("format", sa.String))
    op.execute(sa.update(groups).where(groups.c.format == "chat").values(format="online"))


def downgrade() -> None:
    # ALTER TABLE ... DROP COLUMN (SQLite 3.35+), never a batch copy: dropping the old users table
    # of a copy would cascade into every table that references it.
    op.drop_index(op.f("ix_booking_waits_teacher_id"), table_name="booking_waits")
    op.drop_table("booking_waits")
    for table, column in (
        ("users", "calendar_detail"),
        ("chat_sessions", "psychologist_away"),
        ("chat_sessions", "teacher_away"),
        ("group_seats", "calendar_seq"),
        ("group_seats", "calendar_uid"),
        ("group_sessions", "room"),
        ("group_sessions", "place"),
        ("bookings", "calendar_seq"),
        ("bookings", "calendar_uid"),
        ("bookings", "room"),
        ("booking_slots", "video_link"),
    ):
        op.drop_column(table, column)
