"""Pure overage model: Company, Overage, Report; who is over, by how much, what it is worth."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from bot.config import OTHER_PLANS

NO_LICENSE_TYPE = "(no license type)"  # the plan of a company the platform names none for


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
class Prices:
    """Monthly seat prices: one for every plan (SEAT_PRICE), or one per license type with an
    optional price for the rest (SEAT_PRICES and its `*`). License types match in any letter
    case and spacing; a plan with no price has none, never zero."""

    plans: tuple[tuple[str, Decimal], ...] = ()  # (license type as configured, price)
    rest: Decimal | None = None  # every license type not in plans
    _keys: dict[str, tuple[str, Decimal]] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_keys", {_plan_key(plan): (plan, p) for plan, p in self.plans})

    @classmethod
    def single(cls, price: Decimal) -> Prices:
        return cls(rest=price)

    @classmethod
    def configured(
        cls, *, seat_price: Decimal | None, seat_prices: Mapping[str, Decimal]
    ) -> Prices | None:
        """The prices the settings give (SEAT_PRICE, or SEAT_PRICES), None when unpriced."""
        if seat_price is not None:
            return cls.single(seat_price)
        if not seat_prices:
            return None
        plans = tuple((plan, p) for plan, p in seat_prices.items() if plan != OTHER_PLANS)
        return cls(plans=plans, rest=seat_prices.get(OTHER_PLANS))

    @property
    def by_plan(self) -> bool:
        """True when some license type has a price of its own."""
        return bool(self.plans)

    def price_of(self, license_type: str) -> Decimal | None:
        """The monthly seat price of a license type; None: no price set."""
        named = self._keys.get(_plan_key(license_type))
        return named[1] if named is not None else self.rest

    def plan_of(self, license_type: str) -> str:
        """The name a license type is totalled under: as configured when it is named there,
        else as the platform spells it (trimmed), or NO_LICENSE_TYPE."""
        named = self._keys.get(_plan_key(license_type))
        if named is not None:
            return named[0]
        return " ".join(license_type.split()) or NO_LICENSE_TYPE


def _plan_key(license_type: str) -> str:
    return " ".join(license_type.casefold().split())


@dataclass(frozen=True, slots=True)
class PlanTotal:
    """One plan's overage: its seat price (None: no price set) and what it is worth."""

    plan: str
    price: Decimal | None
    companies: int
    seats_over: int  # of the companies whose limit is known
    true_up: Decimal | None  # None when no price is set, never zero for it

    @property
    def priced(self) -> bool:
        return self.price is not None


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
    # the prices; seat_price alone is the one price for all (and is that price when prices
    # has no plan of its own), so reports built with seat_price read as they always did
    prices: Prices | None = None

    def __post_init__(self) -> None:
        if self.prices is None:
            if self.seat_price is not None:
                object.__setattr__(self, "prices", Prices.single(self.seat_price))
            return
        one = None if self.prices.by_plan else self.prices.rest
        if self.seat_price is not None and self.seat_price != one:
            raise ValueError("a Report takes seat_price or prices, not two different ones")
        object.__setattr__(self, "seat_price", one)

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
    def priced(self) -> bool:
        return self.prices is not None

    @property
    def true_up(self) -> Decimal | None:
        """The estimated monthly true-up in all: the sum over the plans that have a price."""
        if self.prices is None:
            return None
        if self.seat_price is not None:
            return self.seat_price * self.seats_over
        return sum((t.true_up for t in self.plan_totals() if t.true_up is not None), Decimal(0))

    def plan_totals(self) -> tuple[PlanTotal, ...]:
        """The overage per plan: priced plans first, then those with no price set, each by
        name; () when the report is not priced."""
        if self.prices is None:
            return ()
        groups: dict[str, list[Overage]] = {}  # one per plan, whatever its letter case
        for overage in self.overages:
            key = _plan_key(self.prices.plan_of(overage.company.license_type))
            groups.setdefault(key, []).append(overage)
        totals = [_plan_total(group, self.prices) for group in groups.values()]
        return tuple(sorted(totals, key=lambda t: (not t.priced, t.plan.casefold(), t.plan)))

    @property
    def unpriced(self) -> tuple[Overage, ...]:
        """The companies listed under "no price set": their plan has no price."""
        if self.prices is None:
            return ()
        prices = self.prices
        return tuple(o for o in self.overages if prices.price_of(o.company.license_type) is None)

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
    prices: Prices | None = None,
    currency: str = "USD",
    platform_count: int | None = None,
) -> Report:
    """Rank the flagged companies: biggest overage first, "limit unknown" last.

    A row whose readable limit shows it is not over (a stale flag) is left out: the platform
    UI highlights only `targetUserCount > limit`, and billing must not charge for it. So is an
    unlimited licence (isNumberOfUsersLimited false), whatever the filter returned: it has no
    limit to be over. platform_count is what the platform said it holds (see shortfall_note).
    Each true-up follows the company's plan: `prices`, or `seat_price` as the one price.
    """
    if seat_price is not None and prices is not None:
        raise ValueError("build_report takes seat_price or prices, not both")
    if seat_price is not None:
        prices = Prices.single(seat_price)
    unique = _unique(companies)
    overages = [_overage(c, prices) for c in unique if _counts_as_over(c)]
    overages.sort(key=_rank)
    return Report(
        overages=tuple(overages),
        fetched_at=fetched_at,
        source=source,
        currency=currency,
        platform_count=platform_count,
        rows_read=len(unique),
        prices=prices,
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


def _overage(company: Company, prices: Prices | None) -> Overage:
    seats = company.seats_over
    if seats is None:
        return Overage(company, None, None, None)
    limit = company.limit or 0
    ratio = seats / limit if limit > 0 else None
    price = prices.price_of(company.license_type) if prices is not None else None
    true_up = price * seats if price is not None else None
    return Overage(company, seats, ratio, true_up)


def _plan_total(overages: list[Overage], prices: Prices) -> PlanTotal:
    """The total of one plan's overages, named as the first (the biggest) names it: every
    overage of a plan has one price, as plan_of and price_of read the same entry."""
    license_type = overages[0].company.license_type
    plan, price = prices.plan_of(license_type), prices.price_of(license_type)
    seats = sum(o.seats_over for o in overages if o.seats_over is not None)
    return PlanTotal(
        plan=plan,
        price=price,
        companies=len(overages),
        seats_over=seats,
        true_up=None if price is None else price * seats,
    )


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
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:([0-9]{2})"
    r"(?:\.[0-9]+)?(?:[Zz]|[+-][0-9]{2}:([0-9]{2}))?"
)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_time(value: object) -> datetime | None:
    """An RFC 3339 date-time from the platform as the instant it names, in the offset it was
    sent with: a fraction of any length (cut to microseconds), any offset, Z, a leap second
    (read as the next second); a time without an offset is taken as UTC, a date alone as its
    midnight in UTC; anything else is None."""
    if not isinstance(value, str):
        return None
    text = value.strip().upper()  # t and z may be lower case
    match = _RFC3339.fullmatch(text)
    if match is None and not _DATE.fullmatch(text):
        return None
    leap = match is not None and match.group(1) == "60"
    if match is not None and int(match.group(2) or 0) > 59:
        return None  # an offset's minutes (Python would read +03:99 as 4:39)
    try:
        # Python reads fractions of any length (cut to microseconds) and offsets since 3.11;
        # offsets past 23:59 and impossible dates it refuses
        parsed = datetime.fromisoformat(text[:17] + "59" + text[19:] if leap else text)
    except ValueError:
        return None
    if leap:  # 23:59:60 is the second before the next minute begins
        parsed += timedelta(seconds=1)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


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
