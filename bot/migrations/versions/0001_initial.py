"""Initial schema: digest runs, snapshots and their rows, alert episodes, subscriptions.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

OPEN = sa.text("state = 'open'")


def _when(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "digest_runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("channel", sa.String(64), nullable=False),
        _when("slot"),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        _when("lease_until"),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("error", sa.String(500)),
        sa.Column("message_ts", sa.String(64)),
        sa.Column("late", sa.Boolean, nullable=False),
        _when("created_at"),
        _when("updated_at"),
        sa.UniqueConstraint("channel", "slot", "kind", name="uq_digest_runs_slot"),
        sa.CheckConstraint("kind IN ('scheduled', 'manual')", name="ck_digest_runs_kind"),
        sa.CheckConstraint("state IN ('claimed', 'posted', 'failed')", name="ck_digest_runs_state"),
    )
    _snapshots()
    _alerts()
    _subscriptions()


def _snapshots() -> None:
    op.create_table(
        "snapshots",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "run_id",
            sa.Integer,
            sa.ForeignKey("digest_runs.id", ondelete="CASCADE"),
            nullable=False,
            unique=True,
        ),
        sa.Column("channel", sa.String(64), nullable=False),
        _when("taken_at"),
        sa.Column("companies_over", sa.Integer, nullable=False),
        sa.Column("seats_over", sa.Integer, nullable=False),
    )
    op.create_index("ix_snapshots_channel_taken_at", "snapshots", ["channel", "taken_at"])
    op.create_table(
        "snapshot_rows",
        sa.Column(
            "snapshot_id",
            sa.Integer,
            sa.ForeignKey("snapshots.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("company_id", sa.String(128), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("limit", sa.Integer),
        sa.Column("target_users", sa.Integer, nullable=False),
        sa.Column("seats_over", sa.Integer),
    )


def _alerts() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("company_id", sa.String(128), nullable=False),
        _when("episode_start"),
        sa.Column("state", sa.String(16), nullable=False),
        _when("closed_at", nullable=True),
        _when("posted_at", nullable=True),
        sa.Column("message_ts", sa.String(64)),
        sa.UniqueConstraint("channel", "company_id", "episode_start", name="uq_alerts_episode"),
        sa.CheckConstraint("state IN ('open', 'closed')", name="ck_alerts_state"),
    )
    op.create_index(
        "uq_alerts_open",
        "alerts",
        ["channel", "company_id"],
        unique=True,
        sqlite_where=OPEN,
        postgresql_where=OPEN,
    )


def _subscriptions() -> None:
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("channel", sa.String(64), nullable=False, unique=True),
        sa.Column("cadence", sa.String(16), nullable=False),
        sa.Column("weekday", sa.String(3)),
        sa.Column("time", sa.String(5), nullable=False),
        sa.Column("zone", sa.String(64)),
        sa.Column("created_by", sa.String(64), nullable=False),
        _when("created_at"),
        sa.CheckConstraint("cadence IN ('weekly', 'daily')", name="ck_subscriptions_cadence"),
    )


def downgrade() -> None:
    for table in ("subscriptions", "alerts", "snapshot_rows", "snapshots", "digest_runs"):
        op.drop_table(table)
