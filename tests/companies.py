"""Companies as the core sees them, built for tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.overage import Company


def company(
    index: int = 1,
    *,
    name: str | None = None,
    company_id: str | None = None,
    limit: int | None = 100,
    users: int | None = None,
    **fields: Any,
) -> Company:
    """Company number `index` (ID `c00001`, name `Company 00001`), over its limit by
    `index + 1` seats unless `users` says otherwise; `fields` sets any other field."""
    return Company(
        company_id=f"c{index:05d}" if company_id is None else company_id,
        name=f"Company {index:05d}" if name is None else name,
        limit=limit,
        target_users=users if users is not None else (limit or 100) + index + 1,
        **fields,
    )


def filled_company(name: str = "Acme", **fields: Any) -> Company:
    """A company with every field the platform lists filled in and its ID made from its name
    (`id-Acme`): 125 users on a limit of 100; `fields` (and `users`, `limit`) change any."""
    filled: dict[str, Any] = {
        "company_id": f"id-{name}",
        "reseller": "Reseller One",
        "license_type": "Enterprise",
        "users": 125,
        "inactive_users": 3,
        "monthly_active_users": 90,
        "license_end": datetime(2025, 3, 31, 23, 0, tzinfo=UTC),
        "created": datetime(2020, 5, 1, 12, 0, tzinfo=UTC),
        "tags": ("emea", "gold"),
    }
    return company(name=name, **{**filled, **fields})
