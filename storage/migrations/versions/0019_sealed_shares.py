"""confidentiality: no row tells that a teacher showed a self-check result to a psychologist

selfcheck_shares had a row only once a teacher shared a result with the psychologist of a booking,
joined to a result whose instrument is clear ("this teacher showed their PHQ-9"): each booking gets
a sealed `bookings.shared`, the list of result ids shown to its psychologist in the order shared, one
size for every booking ([] for most), and the table is dropped. A share whose booking is gone goes too.

Downgrade puts the rows back (the moment of each share was not kept: they get the downgrade's).
Sizes are written out as they are at this revision; columns are added and dropped in place (see 0017).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-01
"""

import json
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import storage.types
from storage import crypto

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

SHARED_SIZE = 512

bookings = sa.table("bookings", sa.column("id"), sa.column("shared"))
results = sa.table("selfcheck_results", sa.column("id"))
shares = sa.table(
    "selfcheck_shares",
    sa.column("id"),
    sa.column("result_id"),
    sa.column("booking_id"),
    sa.column("created_at", storage.types.UTCDateTime()),
)


def upgrade() -> None:
    connection = op.get_bind()
    op.add_column("bookings", sa.Column("shared", sa.Text(), nullable=True))
    shown: dict[int, list[int]] = {}
    in_order = sa.select(shares.c.booking_id, shares.c.result_id).order_by(shares.c.created_at, shares.c.id)
    for booking_id, result_id in connection.execute(in_order):
        shown.setdefault(booking_id, []).append(result_id)
    cipher = crypto.active()
    for (booking_id,) in connection.execute(sa.select(bookings.c.id)).all():
        content = json.dumps(shown.get(booking_id, []), separators=(",", ":")).encode()
        connection.execute(
            sa.update(bookings)
            .where(bookings.c.id == booking_id)
            .values(shared=cipher.seal(content, SHARED_SIZE))
        )
    op.drop_table("selfcheck_shares")


def downgrade() -> None:
    connection = op.get_bind()
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
    existing = set(connection.execute(sa.select(results.c.id)).scalars())
    cipher, now = crypto.active(), datetime.now(UTC)
    for booking_id, token in connection.execute(sa.select(bookings.c.id, bookings.c.shared)).all():
        content = None if token is None else cipher.open(token)
        for result_id in [] if content is None else json.loads(content):
            if result_id in existing:  # a result deleted since is not shown any more
                connection.execute(
                    sa.insert(shares).values(result_id=result_id, booking_id=booking_id, created_at=now)
                )
    op.drop_column("bookings", "shared")
