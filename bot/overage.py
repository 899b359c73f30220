"""Pure overage model: Company, Overage, Report; who is over, by how much, what it is worth."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any


@dataclass(frozen=True, slots=True)
class Company:
    """One customer company as the platform lists it, parsed leniently."""

    company_id: str
    name: str
    reseller: str = ""
    industry: str = ""
    license_type: str = ""
    limited: bool = True
    limit: int | None = None  # the licensed maximum; None when unreadable
    target_users: int = 0
    inactive_users: int = 0
    monthly_active_users: int = 0
    licence_expired: bool = False
    license_end: datetime | None = None
    created: datetime | None = None
    tags: tuple[str, ...] = ()

    @property
    def seats_over(self) -> int | None:
        """Seats above the limit; None when the limit cannot be read."""
        if not self.limited or self.limit is None:
            return None
        return self.target_users - self.limit

    @property
    def ref(self) -> str:
        """What tells one company from another, on two pages or in two reports: its ID, or for
        a row without one a digest of what its counts changing leaves alone (name, reseller,
        created), short enough for the store."""
        if self.company_id:
            return self.company_id
        created = self.created.isoformat() if self.created else ""
        identity = "\x00".join((self.name, self.reseller, created)).encode("utf-8", "replace")
        return "~" + hashlib.sha256(identity).hexdigest()[:40]


@dataclass(frozen=True, slots=True)
class Overage:
    """A company that is over its limit (or flagged so with an unreadable limit)."""

    company: Company
    seats_over: int | None  # None = "limit unknown"
    ratio: float | None  # seats_over / limit, e.g. 0.25 for 25 % over
    true_up: Decimal | None  # seats_over × seat price per month, when priced

    @property
    def limit_unknown(self) -> bool:
        return self.seats_over is None


@dataclass(frozen=True, slots=True)
class Report:
    """The overage list at one moment, ranked biggest first, with its totals."""

    overages: tuple[Overage, ...]
    fetched_at: datetime
    source: str = ""
    seat_price: Decimal | None = None
    currency: str = "USD"
    # Keepnet's own count of companies over their limit (limitExceededCompanyCount, else
    # totalNumberOfRecords, as last read); None when the platform sent neither
    platform_count: int | None = None
    # the unique rows read from the platform's over-limit answer, before any row was left out
    # here (unlimited licences, flags whose limit shows they are not over)
    rows_read: int = 0

    @property
    def companies_over(self) -> int:
        return len(self.overages)

    @property
    def seats_over(self) -> int:
        return sum(o.seats_over for o in self.overages if o.seats_over is not None)

    @property
    def limit_unknown(self) -> int:
        return sum(1 for o in self.overages if o.seats_over is None)

    @property
    def true_up(self) -> Decimal | None:
        if self.seat_price is None:
            return None
        return self.seat_price * self.seats_over

    def top(self, count: int) -> tuple[Overage, ...]:
        return self.overages[:count]

    def find(self, text: str) -> tuple[Overage, ...]:
        """Over-limit companies whose name contains text, case-insensitively, with runs of
        whitespace in either counted as one space."""
        needle = " ".join(text.casefold().split())
        return tuple(
            o for o in self.overages if needle in " ".join(o.company.name.casefold().split())
        )

    def by_id(self, company_id: str) -> Overage | None:
        return next((o for o in self.overages if o.company.company_id == company_id), None)


def build_report(
    companies: Iterable[Company],
    *,
    fetched_at: datetime,
    source: str = "",
    seat_price: Decimal | None = None,
    currency: str = "USD",
    platform_count: int | None = None,
) -> Report:
    """Rank the flagged companies: biggest overage first, "limit unknown" last.

    A row whose readable limit shows it is not over (a stale flag) is left out: the platform
    UI highlights only `targetUserCount > limit`, and billing must not charge for it. So is an
    unlimited licence (isNumberOfUsersLimited false), whatever the filter returned: it has no
    limit to be over. platform_count is what the platform said it holds (see shortfall_note).
    """
    unique = _unique(companies)
    overages = [_overage(c, seat_price) for c in unique if _counts_as_over(c)]
    overages.sort(key=_rank)
    return Report(
        overages=tuple(overages),
        fetched_at=fetched_at,
        source=source,
        seat_price=seat_price,
        currency=currency,
        platform_count=platform_count,
        rows_read=len(unique),
    )


def shortfall_note(report: Report) -> str | None:
    """One sentence when rows Keepnet counted could not be read, e.g. "Keepnet counts 141
    companies over their limit; 139 could be read."; None when the list is complete.

    The comparison is between the unique rows read from the over-limit answer, before any of
    them was left out here, and the platform's own count. Rows left out by us (unlimited
    licences, flags whose limit shows they are not over) were read, so they never make a
    note: only rows that the platform counted and no page served do. More rows than the count
    (the list grew while it was read) is no shortfall either: nothing counted is missing.
    """
    counted, read = report.platform_count, report.rows_read
    if counted is None or read >= counted:
        return None
    what = "company over its limit" if counted == 1 else "companies over their limit"
    could = f"{read:,}" if read else "none"
    return f"Keepnet counts {counted:,} {what}; {could} could be read."


def _unique(companies: Iterable[Company]) -> list[Company]:
    seen: dict[str, Company] = {}
    for company in companies:
        seen.setdefault(company.ref, company)
    return list(seen.values())


def _counts_as_over(company: Company) -> bool:
    """Limited, and over its limit or with a limit that cannot be read ("limit unknown")."""
    return company.limited and (company.seats_over is None or company.seats_over > 0)


def _overage(company: Company, seat_price: Decimal | None) -> Overage:
    seats = company.seats_over
    if seats is None:
        return Overage(company, None, None, None)
    limit = company.limit or 0
    ratio = seats / limit if limit > 0 else None
    true_up = seat_price * seats if seat_price is not None else None
    return Overage(company, seats, ratio, true_up)


def _rank(overage: Overage) -> tuple[int, int, str, str]:
    unknown = overage.seats_over is None
    seats = overage.seats_over or 0
    return (int(unknown), -seats, overage.company.name.casefold(), overage.company.company_id)


# --- parsing the platform's SearchCompanyDto -------------------------------------------------


def parse_company(raw: Mapping[str, Any]) -> Company:
    """A Company from one SearchCompanyDto; never raises on missing or odd fields."""
    return Company(
        company_id=_text(raw.get("companyResourceId")),
        name=_text(raw.get("companyName")),
        reseller=_text(raw.get("resellerName")),
        industry=_text(raw.get("industryName")),
        license_type=_text(raw.get("licenseTypeName")),
        limited=_flag(raw.get("isNumberOfUsersLimited"), default=True),
        limit=parse_limit(raw.get("numberOfUsers")),
        target_users=_count(raw.get("targetUserCount")),
        inactive_users=_count(raw.get("inactiveTargetUserCount")),
        monthly_active_users=_count(raw.get("monthlyActiveUserCount")),
        licence_expired=_flag(raw.get("licenceExpired"), default=False),
        license_end=parse_time(raw.get("licenseEndDate")),
        created=parse_time(raw.get("createTime")),
        tags=tuple(_text(t) for t in raw.get("tags") or () if t is not None)
        if isinstance(raw.get("tags"), list)
        else (),
    )


# "250", " 1,000 ", "250.0": digits, or digits in groups of three, and an optional ".0"
_WHOLE = re.compile(r"\s*([0-9]{1,12}|[0-9]{1,3}(?:,[0-9]{3}){1,3})(?:\.0+)?\s*")
_MAX_WHOLE = 10**12 - 1


def parse_limit(value: object) -> int | None:
    """numberOfUsers is a string: "250", " 1,000 ", "250.0"; "Unlimited" or null is None.

    Only plain whole numbers up to twelve digits are read: "1e9", "NaN", "-5", "12.5" are None.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value if 0 <= value <= _MAX_WHOLE else None
    if isinstance(value, float):
        integral = value.is_integer() and 0 <= value <= _MAX_WHOLE  # False for NaN, Infinity
        return int(value) if integral else None
    if not isinstance(value, str) or len(value) > 64:
        return None
    match = _WHOLE.fullmatch(value)
    return int(match.group(1).replace(",", "")) if match else None


# RFC 3339 date-time: T or space, a fraction of any length, Z or an offset (or none: UTC)
_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]+))?(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))?"
)


def parse_time(value: object) -> datetime | None:
    """An RFC 3339 date-time from the platform as the instant it names, in the offset it was
    sent with: a fraction of any length (cut to microseconds), any offset, Z, a leap second
    (read as the next second). Other ISO 8601 forms Python reads (a date alone) are read too;
    a time without an offset is taken as UTC; junk is None."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    match = _RFC3339.fullmatch(text)
    try:
        parsed = _rfc3339(match) if match else datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _rfc3339(match: re.Match[str]) -> datetime:
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    micro = int((match.group(7) or "").ljust(6, "0")[:6])
    zone = None if match.group(8) else _offset(match.group(9), match.group(10), match.group(11))
    leap = second == 60  # 23:59:60 is the second before the next minute begins
    moment = datetime(year, month, day, hour, minute, 59 if leap else second, micro, UTC)
    if zone is not None:
        moment = moment.replace(tzinfo=zone)
    return moment + timedelta(seconds=1) if leap else moment


def _offset(sign: str | None, hours: str | None, minutes: str | None) -> timezone | None:
    """The offset as a zone; None when there is none (read as UTC). Raises ValueError past
    23:59, as no offset can be."""
    if sign is None or hours is None or minutes is None:
        return None
    if int(minutes) > 59:
        raise ValueError("offset minutes past 59")
    delta = timedelta(hours=int(hours), minutes=int(minutes))
    return timezone(-delta if sign == "-" else delta)


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _count(value: object) -> int:
    """A user count; missing, negative or unreadable is 0."""
    return parse_limit(value) or 0


def _flag(value: object, *, default: bool) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return default
