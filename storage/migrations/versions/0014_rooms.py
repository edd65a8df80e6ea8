"""rooms: a private video room per booking and group session, calendar UIDs, group places

A booking's room, a slot's own link, an online group session's room and an office session's
place are sealed (sa.Text here, like every sealed column). Bookings and group seats get a
calendar UID and SEQUENCE; teachers a setting for detailed calendar titles. The in-bot chat
format of group sessions is gone: its sessions become online ones (they get a room).

Revision ID: 0014
Revises: 0012
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("booking_slots") as batch:
        batch.add_column(sa.Column("video_link", sa.Text(), nullable=True))
    with op.batch_alter_table("bookings") as batch:
        batch.add_column(sa.Column("room", sa.Text(), nullable=True))
        batch.add_column(sa.Column("calendar_uid", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("calendar_seq", sa.SmallInteger(), nullable=False, server_default="0"))
    with op.batch_alter_table("group_sessions") as batch:
        batch.add_column(sa.Column("place", sa.Text(), nullable=True))
        batch.add_column(sa.Column("room", sa.Text(), nullable=True))
    with op.batch_alter_table("group_seats") as batch:
        batch.add_column(sa.Column("calendar_uid", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("calendar_seq", sa.SmallInteger(), nullable=False, server_default="0"))
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("calendar_detail", sa.Boolean(), nullable=False, server_default=sa.false()))
    groups = sa.table("group_sessions", sa.column("format", sa.String))
    op.execute(sa.update(groups).where(groups.c.format == "chat").values(format="online"))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("calendar_detail")
    with op.batch_alter_table("group_seats") as batch:
        batch.drop_column("calendar_seq")
        batch.drop_column("calendar_uid")
    with op.batch_alter_table("group_sessions") as batch:
        batch.drop_column("room")
        batch.drop_column("place")
    with op.batch_alter_table("bookings") as batch:
        batch.drop_column("calendar_seq")
        batch.drop_column("calendar_uid")
        batch.drop_column("room")
    with op.batch_alter_table("booking_slots") as batch:
        batch.drop_column("video_link")
