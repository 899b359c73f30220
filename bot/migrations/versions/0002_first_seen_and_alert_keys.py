"""Digest channels' first-seen time; the check that set out to announce an alert episode.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "digest_channels",
        sa.Column("channel", sa.String(64), primary_key=True),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
    )
    # a channel with scheduled digests already was known from its first one on
    op.execute(
        "INSERT INTO digest_channels (channel, first_seen) "
        "SELECT channel, MIN(created_at) FROM digest_runs "
        "WHERE kind = 'scheduled' GROUP BY channel"
    )
    op.add_column("alerts", sa.Column("check_key", sa.String(40)))


def downgrade() -> None:
    op.drop_column("alerts", "check_key")
    op.drop_table("digest_channels")
