"""confidentiality: every encrypted value padded (v2 tokens), health signals sealed, journal unlinkable

- mood_entries.score and anon_questions.urgent were clear: now sealed tokens like the rest;
- fsm_state.state was clear: sealed;
- relax_journal: no user_id, exercise_id, kind or created_at in clear; `owner` is a keyed blind
  index and `meta` the sealed {"kind", "exercise", "at"};
- selfcheck_results.data keeps the answers and the safety flag only (no rendered band texts);
- every other encrypted column re-sealed with its padded size (Fernet tokens become v2).

Sizes are written out here as they are at this revision (the models may change later).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

import json

import sqlalchemy as sa
from alembic import op

from storage import crypto
from storage.rotation import reseal_all

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# (table, primary key, column, padded size)
SEALED = [
    ("users", "id", "chat_id", 24),
    ("fsm_state", "key", "state", 64),
    ("fsm_state", "key", "data", 4096),
    ("psychologist_profiles", "id", "display_name", 256),
    ("psychologist_profiles", "id", "address", 256),
    ("psychologist_profiles", "id", "video_link", 256),
    ("psychologist_profiles", "id", "bio_kk", 256),
    ("psychologist_profiles", "id", "bio_ru", 256),
    ("bookings", "id", "note", 1502),
    ("bookings", "id", "cancel_reason", 902),
    ("bookings", "id", "rating_comment", 1502),
    ("group_ratings", "id", "comment", 3002),
    ("broadcasts", "id", "progress_chat", 24),
    ("broadcasts", "id", "text_kk", 1024),
    ("broadcasts", "id", "text_ru", 1024),
    ("selfcheck_drafts", "id", "data", 1024),
    ("relax_journal", "id", "content", 6002),
    ("mood_entries", "id", "note", 3002),
    ("reminders", "id", "params", 256),
]


def _json(value) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def _answers_only(content: bytes | None) -> bytes | None:
    if content is None:
        return None
    stored = json.loads(content)
    return _json({"answers": stored.get("answers", {}), "safety_screen": bool(stored.get("safety_screen"))})


def _clear_to_token(table: str, name: str, size: int, convert) -> None:
    """A clear column becomes Text holding a sealed JSON of its old value (as text: "3", "1", "true")."""
    connection = op.get_bind()
    target = sa.table(table, sa.column("id"), sa.column(name))
    if connection.dialect.name == "postgresql":
        op.execute(f"ALTER TABLE {table} ALTER COLUMN {name} TYPE TEXT USING {name}::text")
    else:
        with op.batch_alter_table(table) as batch:
            batch.alter_column(name, type_=sa.Text(), existing_nullable=False)
    for row_id, value in connection.execute(sa.select(target.c.id, target.c[name])).all():
        connection.execute(
            sa.update(target)
            .where(target.c.id == row_id)
            .values({name: crypto.active().seal(_json(convert(str(value).lower())), size)})
        )


def _journal_unlinked() -> None:
    connection = op.get_bind()
    with op.batch_alter_table("relax_journal") as batch:
        batch.add_column(sa.Column("owner", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("meta", sa.Text(), nullable=True))
    old = sa.table(
        "relax_journal",
        sa.column("id"),
        sa.column("user_id"),
        sa.column("exercise_id"),
        sa.column("kind"),
        sa.column("created_at"),
        sa.column("owner"),
        sa.column("meta"),
    )
    for row in connection.execute(
        sa.select(old.c.id, old.c.user_id, old.c.exercise_id, old.c.kind, old.c.created_at)
    ).all():
        at = row.created_at if isinstance(row.created_at, str) else row.created_at.isoformat(sep=" ")
        at = at.replace(" ", "T")[:19] + "+00:00"  # stored as naive UTC
        meta = {"kind": row.kind, "exercise": row.exercise_id, "at": at}
        connection.execute(
            sa.update(old)
            .where(old.c.id == row.id)
            .values(
                owner=crypto.active().blind_index("journal", row.user_id),
                meta=crypto.active().seal(_json(meta), 96),
            )
        )
    with op.batch_alter_table("relax_journal") as batch:
        batch.drop_index("ix_relax_journal_user_created")
        batch.drop_constraint("fk_relax_journal_user_id_users", type_="foreignkey")
        batch.drop_column("user_id")
        batch.drop_column("exercise_id")
        batch.drop_column("kind")
        batch.drop_column("created_at")
        batch.alter_column("owner", existing_type=sa.String(length=64), nullable=False)
        batch.alter_column("meta", existing_type=sa.Text(), nullable=False)
        batch.create_index(op.f("ix_relax_journal_owner"), ["owner"], unique=False)


def upgrade() -> None:
    with op.batch_alter_table("fsm_state") as batch:
        batch.alter_column(
            "state", existing_type=sa.String(length=128), type_=sa.Text(), existing_nullable=True
        )
    with op.batch_alter_table("mood_entries") as batch:
        batch.add_column(sa.Column("note_purged", sa.Boolean(), nullable=False, server_default=sa.false()))
    _clear_to_token("mood_entries", "score", 16, int)
    _clear_to_token("anon_questions", "urgent", 16, lambda text: text in ("1", "true", "t"))
    _journal_unlinked()
    connection = op.get_bind()
    reseal_all(connection, "selfcheck_results", "id", "data", 1024, transform=_answers_only)
    for table, key, name, size in SEALED:
        reseal_all(connection, table, key, name, size, force=True)


def downgrade() -> None:
    raise NotImplementedError("0009 re-seals every value; restore a backup taken before it instead")
