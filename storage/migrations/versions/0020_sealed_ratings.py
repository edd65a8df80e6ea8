"""confidentiality: no clear rating, no row that exists because a teacher rated, consents by pseudonym

- bookings.rating and chat_sessions.rating (clear integers, NULL until rated) become sealed JSON of
  one size in every row, "not rated" a sealed None; a booking's rating comment and cancel reason,
  NULL in every booking written without them, become sealed Nones too;
- group_ratings had a row only once a teacher rated a group session: its score and comment go onto
  the teacher's seat (group_seats.rating, .rating_comment, sealed on every seat) and the table is
  dropped; a rating whose seat is gone (none is, seats are never deleted alone) goes with it;
- users.prefs kept the consents to continuity ("p") as psychologist profile ids, which SQLite may
  give again to another psychologist's new profile: they become the psychologists' pseudonyms, and a
  consent to a profile that no longer exists is dropped.

Downgrade puts the clear ratings, the group_ratings rows (with the downgrade's moment: none was kept)
and the profile ids back. Sizes are written out as they are at this revision. A clear column is
read, dropped and added again sealed, in place, never by a batch copy (see 0017).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-01
"""

import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

import storage.types
from storage import crypto

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

RATING_SIZE = 16
PREFS_SIZE = 1024
BOOKING_COMMENT_SIZE = 3 * 500 + 2
REASON_SIZE = 3 * 300 + 2
GROUP_COMMENT_SIZE = 3 * 1000 + 2

bookings = sa.table(
    "bookings", sa.column("id"), sa.column("rating"), sa.column("rating_comment"), sa.column("cancel_reason")
)
chats = sa.table("chat_sessions", sa.column("id"), sa.column("rating"))
seats = sa.table(
    "group_seats",
    sa.column("id"),
    sa.column("session_id"),
    sa.column("user_id"),
    sa.column("rating_asked"),
    sa.column("rating"),
    sa.column("rating_comment"),
)
ratings = sa.table(
    "group_ratings",
    sa.column("session_id"),
    sa.column("user_id"),
    sa.column("score"),
    sa.column("comment"),
    sa.column("created_at", storage.types.UTCDateTime()),
)
users = sa.table("users", sa.column("id"), sa.column("pseudonym"), sa.column("prefs"))
profiles = sa.table("psychologist_profiles", sa.column("id"), sa.column("user_id"))


def _seal(value, size: int) -> str:
    content = None if value is None else json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    return crypto.active().seal(content, size)


def _open(token: str | None):
    content = None if token is None else crypto.active().open(token)
    return None if content is None else json.loads(content)


def _reseal(token: str | None, size: int) -> str:
    """A sealed text as it was, or a sealed None where the column was NULL."""
    return token if token is not None else crypto.active().seal(None, size)


def _replace_column(table: str, name: str, new_type: sa.types.TypeEngine) -> dict[int, Any]:
    """The column's values by id, then the column dropped and added again, empty, as `new_type`."""
    connection = op.get_bind()
    values: dict[int, Any] = dict(connection.execute(sa.text(f'SELECT id, "{name}" FROM "{table}"')).all())
    op.drop_column(table, name)
    op.add_column(table, sa.Column(name, new_type, nullable=True))
    return values


def _profile_codes() -> dict[int, str]:
    query = sa.select(profiles.c.id, users.c.pseudonym).join(users, users.c.id == profiles.c.user_id)
    return dict(op.get_bind().execute(query).all())


def _carry(key: dict) -> None:
    """Every user's consents ("p" in prefs) mapped through `key`; what it does not know is dropped."""
    connection = op.get_bind()
    for user_id, token in connection.execute(sa.select(users.c.id, users.c.prefs)).all():
        prefs = _open(token)
        if prefs is None:
            continue
        prefs["p"] = sorted(key[each] for each in prefs.get("p", []) if each in key)
        connection.execute(
            sa.update(users).where(users.c.id == user_id).values(prefs=_seal(prefs, PREFS_SIZE))
        )


def upgrade() -> None:
    connection = op.get_bind()
    stars = _replace_column("bookings", "rating", sa.Text())
    texts = connection.execute(sa.select(bookings.c.id, bookings.c.rating_comment, bookings.c.cancel_reason))
    for booking_id, comment, reason in texts.all():
        connection.execute(
            sa.update(bookings)
            .where(bookings.c.id == booking_id)
            .values(
                rating=_seal(stars.get(booking_id), RATING_SIZE),
                rating_comment=_reseal(comment, BOOKING_COMMENT_SIZE),
                cancel_reason=_reseal(reason, REASON_SIZE),
            )
        )
    helped = _replace_column("chat_sessions", "rating", sa.Text())
    for chat_id, value in helped.items():
        connection.execute(
            sa.update(chats).where(chats.c.id == chat_id).values(rating=_seal(value, RATING_SIZE))
        )

    op.add_column("group_seats", sa.Column("rating", sa.Text(), nullable=True))
    op.add_column("group_seats", sa.Column("rating_comment", sa.Text(), nullable=True))
    given = {
        (session_id, user_id): (score, comment)
        for session_id, user_id, score, comment in connection.execute(
            sa.select(ratings.c.session_id, ratings.c.user_id, ratings.c.score, ratings.c.comment)
        )
    }
    for seat_id, session_id, user_id, asked in connection.execute(
        sa.select(seats.c.id, seats.c.session_id, seats.c.user_id, seats.c.rating_asked)
    ).all():
        score, comment = given.get((session_id, user_id), (None, None))
        connection.execute(
            sa.update(seats)
            .where(seats.c.id == seat_id)
            .values(
                rating=_seal(score, RATING_SIZE),
                rating_comment=_reseal(comment, GROUP_COMMENT_SIZE),
                # Only a seat asked may rate (storage.repo.groups.can_rate), and statistics read those.
                rating_asked=bool(asked) or score is not None,
            )
        )
    op.drop_table("group_ratings")

    _carry(_profile_codes())


def downgrade() -> None:
    connection = op.get_bind()
    _carry({code: profile_id for profile_id, code in _profile_codes().items()})

    op.create_table(
        "group_ratings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.SmallInteger(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["group_sessions.id"],
            name=op.f("fk_group_ratings_session_id_group_sessions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_group_ratings_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_ratings")),
        sa.UniqueConstraint("session_id", "user_id", name=op.f("uq_group_ratings_session_id")),
    )
    now = datetime.now(UTC)
    rated = sa.select(seats.c.session_id, seats.c.user_id, seats.c.rating, seats.c.rating_comment)
    for session_id, user_id, token, comment in connection.execute(rated).all():
        score = _open(token)
        if score is not None:
            kept = None if comment is None or crypto.active().open(comment) is None else comment
            connection.execute(
                sa.insert(ratings).values(
                    session_id=session_id, user_id=user_id, score=score, comment=kept, created_at=now
                )
            )
    op.drop_column("group_seats", "rating_comment")
    op.drop_column("group_seats", "rating")

    for table, target in (("chat_sessions", chats), ("bookings", bookings)):
        tokens = _replace_column(table, "rating", sa.SmallInteger())
        for row_id, token in tokens.items():
            value = _open(token)
            if value is not None:
                connection.execute(sa.update(target).where(target.c.id == row_id).values(rating=value))
