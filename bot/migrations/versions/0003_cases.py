"""Overage cases and their history; the alert episodes open now become new cases.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

STATES = "IN ('new', 'contacted', 'invoiced', 'snoozed', 'waived', 'resolved')"
OPEN = sa.text("state <> 'resolved'")

# the latest name and seats over the digests saw of a company, for the cases seeded below
_LATEST_ROW = (
    "SELECT r.{column} FROM snapshot_rows r JOIN snapshots s ON s.id = r.snapshot_id "
    "WHERE r.company_id = a.company_id ORDER BY s.taken_at DESC, s.id DESC, r.position LIMIT 1"
)


def _when(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    _cases()
    _case_events()
    _seed_from_open_alert_episodes()


def _cases() -> None:
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("company_id", sa.String(128), nullable=False),
        sa.Column("company_name", sa.Text, nullable=False),
        _when("opened_at"),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("seats_over", sa.Integer),
        sa.Column("owner", sa.String(64)),
        sa.Column("resume", sa.String(16)),
        sa.Column("invoiced_seats", sa.Integer),
        sa.Column("invoiced_amount", sa.String(40)),
        sa.Column("invoice_ref", sa.String(100), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("snoozed_until", sa.Date),
        sa.Column("waived_seats", sa.Integer),
        _when("closed_at", nullable=True),
        _when("updated_at"),
        sa.Column("updated_by", sa.String(64), nullable=False),
        sa.Column("last_action", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.UniqueConstraint("company_id", "opened_at", name="uq_cases_episode"),
        sa.CheckConstraint(f"state {STATES}", name="ck_cases_state"),
    )
    op.create_index(
        "uq_cases_open",
        "cases",
        ["company_id"],
        unique=True,
        sqlite_where=OPEN,
        postgresql_where=OPEN,
    )
    op.create_index("ix_cases_state", "cases", ["state"])


def _case_events() -> None:
    op.create_table(
        "case_events",
        sa.Column(
            "case_id",
            sa.Integer,
            sa.ForeignKey("cases.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("version", sa.Integer, primary_key=True),
        _when("at"),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("surface", sa.String(16), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("from_state", sa.String(16), nullable=False),
        sa.Column("to_state", sa.String(16), nullable=False),
        sa.Column("owner", sa.String(64)),
        sa.Column("seats", sa.Integer),
        sa.Column("amount", sa.String(40)),
        sa.Column("reference", sa.String(100), nullable=False),
        sa.Column("snoozed_until", sa.Date),
        sa.Column("text", sa.Text, nullable=False),
    )


def _seed_from_open_alert_episodes() -> None:
    """A company with an open alert episode (in any channel) is over its limit now: it gets a
    new case from the episode's start (the earliest, across channels), with the name and seats
    over of the latest digest that listed it, if any; the next check fills in the rest."""
    name, seats = _LATEST_ROW.format(column="name"), _LATEST_ROW.format(column="seats_over")
    op.execute(
        "INSERT INTO cases (company_id, company_name, opened_at, state, seats_over, "
        "invoice_ref, reason, updated_at, updated_by, last_action, version) "
        f"SELECT a.company_id, COALESCE(({name}), ''), MIN(a.episode_start), 'new', ({seats}), "
        "'', '', MIN(a.episode_start), 'system', 'opened', 1 "
        "FROM alerts a WHERE a.state = 'open' GROUP BY a.company_id"
    )
    op.execute(
        "INSERT INTO case_events (case_id, version, at, actor, surface, action, from_state, "
        "to_state, seats, reference, text) "
        "SELECT id, 1, opened_at, 'system', 'upgrade', 'opened', 'new', 'new', seats_over, '', '' "
        "FROM cases"
    )


def downgrade() -> None:
    op.drop_table("case_events")
    op.drop_table("cases")
