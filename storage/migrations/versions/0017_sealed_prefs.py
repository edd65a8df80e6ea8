"""confidentiality: no row or clear column tells a teacher's calendar choice, intake, consent or favourites

- users.calendar_detail (a clear Boolean) goes into `users.prefs`, one sealed JSON of the same
  size for everyone: {"c": detailed calendar titles, "p": [profile ids allowed to see earlier
  sessions], "x": [favourite exercise ids, in the order chosen]};
- continuity_consents had a row only once a teacher consented, relax_favourites one per favourite
  exercise, named in clear: their rows go into each user's prefs ("p", "x"), and the tables are dropped;
- intakes had a row only once a teacher answered one: each intake goes into its booking's new sealed
  `bookings.intake`, every other booking gets a sealed None of the same size, and the table is dropped.

Downgrade puts everything back where it was. Sizes are written out as they are at this revision.
Columns are added and dropped in place, never by a batch copy: on SQLite dropping the old `users`
of a copy would cascade into every table that references it (see 0014).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01
"""

import json
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import storage.types
from storage import crypto

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

PREFS_SIZE = 1024
INTAKE_SIZE = 3 * 500 + 2 + 256

users = sa.table("users", sa.column("id"), sa.column("calendar_detail"), sa.column("prefs"))
bookings = sa.table("bookings", sa.column("id"), sa.column("intake"))
intakes = sa.table("intakes", sa.column("booking_id"), sa.column("answers"))
consents = sa.table("continuity_consents", sa.column("teacher_id"), sa.column("psychologist_id"))
favourites = sa.table(
    "relax_favourites",
    sa.column("id"),
    sa.column("user_id"),
    sa.column("exercise_id"),
    sa.column("created_at", storage.types.UTCDateTime()),
)


def _seal(value, size: int) -> str:
    content = None if value is None else json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    return crypto.active().seal(content, size)


def _open(token: str | None):
    content = None if token is None else crypto.active().open(token)
    return None if content is None else json.loads(content)


def _create_old_tables() -> None:
    op.create_table(
        "intakes",
        sa.Column("booking_id", sa.Integer(), nullable=False),
        sa.Column("answers", sa.Text(), nullable=False),
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


def upgrade() -> None:
    connection = op.get_bind()
    op.add_column("users", sa.Column("prefs", sa.Text(), nullable=True))
    op.add_column("bookings", sa.Column("intake", sa.Text(), nullable=True))
    allowed: dict[int, list[int]] = {}
    for teacher_id, profile_id in connection.execute(
        sa.select(consents.c.teacher_id, consents.c.psychologist_id)
    ):
        allowed.setdefault(teacher_id, []).append(profile_id)
    liked: dict[int, list[str]] = {}
    chosen = sa.select(favourites.c.user_id, favourites.c.exercise_id).order_by(
        favourites.c.created_at, favourites.c.id
    )
    for user_id, exercise_id in connection.execute(chosen):
        liked.setdefault(user_id, []).append(exercise_id)
    for user_id, detail in connection.execute(sa.select(users.c.id, users.c.calendar_detail)).all():
        prefs = {"c": bool(detail), "p": sorted(allowed.get(user_id, [])), "x": liked.get(user_id, [])}
        connection.execute(
            sa.update(users).where(users.c.id == user_id).values(prefs=_seal(prefs, PREFS_SIZE))
        )
    answers = dict(connection.execute(sa.select(intakes.c.booking_id, intakes.c.answers)).all())
    for (booking_id,) in connection.execute(sa.select(bookings.c.id)).all():
        value = _open(answers.get(booking_id))
        connection.execute(
            sa.update(bookings).where(bookings.c.id == booking_id).values(intake=_seal(value, INTAKE_SIZE))
        )
    op.drop_table("relax_favourites")
    op.drop_table("continuity_consents")
    op.drop_table("intakes")
    op.drop_column("users", "calendar_detail")


def downgrade() -> None:
    connection = op.get_bind()
    _create_old_tables()
    op.add_column("users", sa.Column("calendar_detail", sa.Boolean(), nullable=False, server_default="0"))
    profiles = {row for (row,) in connection.execute(sa.text("SELECT id FROM psychologist_profiles"))}
    for user_id, token in connection.execute(sa.select(users.c.id, users.c.prefs)).all():
        prefs = _open(token) or {}
        connection.execute(
            sa.update(users).where(users.c.id == user_id).values(calendar_detail=bool(prefs.get("c")))
        )
        for profile_id in prefs.get("p", []):
            if profile_id in profiles:
                connection.execute(sa.insert(consents).values(teacher_id=user_id, psychologist_id=profile_id))
        for exercise_id in prefs.get("x", []):  # in the order chosen (ids ascending)
            connection.execute(
                sa.insert(favourites).values(
                    user_id=user_id, exercise_id=exercise_id, created_at=datetime.now(UTC)
                )
            )
    for booking_id, token in connection.execute(sa.select(bookings.c.id, bookings.c.intake)).all():
        value = _open(token)
        if value is not None:
            connection.execute(
                sa.insert(intakes).values(booking_id=booking_id, answers=_seal(value, INTAKE_SIZE))
            )
    op.drop_column("bookings", "intake")
    op.drop_column("users", "prefs")
