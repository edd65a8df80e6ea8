"""safety: safety plans (unlinkable), duty hours and "on duty now", short-notice psychologists,
crisis hand-offs among questions, sealed reminders without a user

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

import json

import sqlalchemy as sa
from alembic import op

import storage.types
from storage import crypto

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "safety_plans",
        sa.Column("owner", sa.String(length=64), nullable=False),
        *(sa.Column(f"step{n}", sa.Text(), nullable=True) for n in range(1, 7)),
        sa.PrimaryKeyConstraint("owner", name=op.f("pk_safety_plans")),
    )
    op.create_table(
        "duty_hours",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("profile_id", sa.Integer(), nullable=False),
        sa.Column("weekday", sa.SmallInteger(), nullable=False),
        sa.Column("start_min", sa.SmallInteger(), nullable=False),
        sa.Column("end_min", sa.SmallInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["profile_id"],
            ["psychologist_profiles.id"],
            name=op.f("fk_duty_hours_profile_id_psychologist_profiles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duty_hours")),
    )
    with op.batch_alter_table("duty_hours") as batch:
        batch.create_index(batch.f("ix_duty_hours_profile_id"), ["profile_id"], unique=False)
    with op.batch_alter_table("psychologist_profiles") as batch:
        batch.add_column(sa.Column("on_duty_until", storage.types.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("short_notice", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("anon_questions") as batch:
        batch.add_column(sa.Column("handoff", sa.Text(), nullable=True))
    questions = sa.table("anon_questions", sa.column("id"), sa.column("handoff"))
    connection = op.get_bind()
    for (question_id,) in connection.execute(sa.select(questions.c.id)).all():
        connection.execute(
            sa.update(questions)
            .where(questions.c.id == question_id)
            .values(handoff=crypto.active().seal(json.dumps(False).encode(), 16))
        )
    with op.batch_alter_table("anon_questions") as batch:
        batch.alter_column("handoff", existing_type=sa.Text(), nullable=False)
    with op.batch_alter_table("reminders") as batch:
        batch.alter_column("user_id", existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("reminders") as batch:
        batch.alter_column("user_id", existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table("anon_questions") as batch:
        batch.drop_column("handoff")
    with op.batch_alter_table("psychologist_profiles") as batch:
        batch.drop_column("short_notice")
        batch.drop_column("on_duty_until")
    with op.batch_alter_table("duty_hours") as batch:
        batch.drop_index(batch.f("ix_duty_hours_profile_id"))
    op.drop_table("duty_hours")
    op.drop_table("safety_plans")
