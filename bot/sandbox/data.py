"""Deterministic sandbox data: the SearchCompanyDto rows a reseller's customer list holds."""

from __future__ import annotations

import copy
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

ID_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
ID_LENGTH = 16

_PLACES = (
    "Anatolia", "Bosphorus", "Aegean", "Cappadocia", "Marmara", "Nordic", "Baltic", "Alpine",
    "Danube", "Meridian", "Harbor", "Summit", "Cedar", "Orion", "Atlas", "Crescent", "Pioneer",
    "Granite", "Silverline", "Blue Ridge", "Redwood", "Lakeside", "Northwind", "Evergreen",
    "Ironbridge", "Sapphire", "Horizon", "Keystone", "Riverbend", "Starlight", "Pacific",
    "Highland", "Golden Horn", "Ephesus", "Troy", "Lycia", "Kestrel", "Falcon", "Oakridge",
    "Westbrook",
)  # fmt: skip
_TRADES = (
    "Logistics", "Health", "Foods", "Textiles", "Bank", "Insurance", "Energy", "Robotics",
    "Pharma", "Retail", "Consulting", "Airlines", "Telecom", "Construction", "Software",
    "Media", "Shipping", "Labs", "Hotels", "Motors", "Chemicals", "Dairy", "Capital",
    "Security", "Clinics", "Analytics", "Freight", "Glass", "Steel", "Ceramics",
)  # fmt: skip
_SUFFIXES = (
    "", "", "", " GmbH", " Ltd", " A.Ş.", " Inc.", " LLC", " S.A.", " BV", " AB", " Holding",
    " Group", " AG", " Sp. z o.o.",
)  # fmt: skip
_RESELLERS = (
    "Keepnet Sandbox Reseller",
    "SecureWave Distribution",
    "Nordic Cyber Partners",
    "Istanbul Secure IT",
)
_LICENSES = (
    ("Awareness Educator", "lic-awareness-educator"),
    ("Phishing Simulator", "lic-phishing-simulator"),
    ("Full Suite", "lic-full-suite"),
    ("Incident Responder", "lic-incident-responder"),
    ("Threat Sharing", "lic-threat-sharing"),
)
_INDUSTRIES = (
    ("Finance", "ind-finance"),
    ("Healthcare", "ind-healthcare"),
    ("Manufacturing", "ind-manufacturing"),
    ("Retail", "ind-retail"),
    ("Education", "ind-education"),
    ("Government", "ind-government"),
    ("Technology", "ind-technology"),
    ("Transportation", "ind-transportation"),
)
_TAGS = ("EMEA", "Enterprise", "SMB", "Trial", "Priority", "Public Sector", "Renewal Q3")
_LIMITS = (25, 50, 100, 150, 200, 250, 500, 750, 1000, 1500, 2500, 5000)
_EPOCH = datetime(2019, 1, 1, tzinfo=UTC)
_RENEWALS_FROM = datetime(2025, 1, 1, tzinfo=UTC)

HOSTILE_NAMES: tuple[str, ...] = (
    "<!channel> Acme",
    '=HYPERLINK("http://evil.example","click")',
    "@SUM(1+1)",
    "+1-555 Corp",
    "-2+3 Ltd",
    "*bold* _ital_ ~strike~ `code`",
    "<https://evil.example|Totally Safe>",
    "Ünïcödé 株式会社 🚀 شركة",
    ("Extremely Long Name Holding " * 11)[:299] + "Z",
    "Line\nBreak\tTabbed Inc",
    "&amp; &lt; Co",
    # mrkdwn markers and an emoji code, which mrkdwn has no escape for
    "*Ivy* _League_",
    ":rotating_light: Alarm Co",
    "~Strike~ `Code` Ltd",
    # emoji outside the Basic Multilingual Plane (two UTF-16 units each), joined into a family
    # by zero-width joiners, and flags: any cut must keep each whole
    ("👨\u200d👩\u200d👧\u200d👦🇹🇷🚀 Emoji Heavy Holding " * 8).strip(),
)
ODD_LIMITS: tuple[str | None, ...] = (None, "n/a")
"""numberOfUsers of the rows the platform flags although their limit cannot be read."""


def is_flagged(company: dict[str, Any]) -> bool:
    """The platform's "exceeding limit" flag: limited and over, or limited with no readable limit.

    The second half is the "limit unknown" case of keepnet-api.md: a row the platform returns as
    over its limit while its numberOfUsers is missing or not a number.
    """
    if company.get("isNumberOfUsersLimited") is not True:
        return False
    limit = _limit(company.get("numberOfUsers"))
    if limit is None:
        return True
    return int(company.get("targetUserCount") or 0) > limit


def is_over(company: dict[str, Any]) -> bool:
    """Over with a readable limit: isNumberOfUsersLimited and targetUserCount > numberOfUsers."""
    limit = _limit(company.get("numberOfUsers"))
    return is_flagged(company) and limit is not None


def new_company_id(rng: random.Random, taken: set[str]) -> str:
    """A fresh platform-like resource ID, unique within taken (which it joins)."""
    while True:
        candidate = "".join(rng.choices(ID_ALPHABET, k=ID_LENGTH))
        if candidate not in taken:
            taken.add(candidate)
            return candidate


def generate_companies(
    count: int, *, seed: int = 1, over_limit: int | None = None
) -> list[dict[str, Any]]:
    """count SearchCompanyDto dicts; the platform flags exactly over_limit of them.

    over_limit defaults to 15 % of count. When count >= 20, some flagged rows carry hostile
    names (HOSTILE_NAMES) and, when over_limit >= 5, one or two are "odd rows" whose limit is
    unreadable (ODD_LIMITS); the rest of the flagged rows are plainly over their limit.
    """
    if count < 0:
        raise ValueError(f"count must be 0 or more, got {count}")
    over = round(count * 0.15) if over_limit is None else over_limit
    if not 0 <= over <= count:
        raise ValueError(f"over_limit must be from 0 to {count}, got {over_limit}")
    rng = random.Random(seed)
    kinds = _layout(rng, count, over)
    taken: set[str] = set()
    companies = [_company(rng, kind, new_company_id(rng, taken)) for kind in kinds]
    _name_hostile(companies, kinds, count)
    return companies


def _layout(rng: random.Random, count: int, over: int) -> list[str]:
    """Which kind of row sits at each position: over, odd, unlimited or under."""
    odd = 0 if count < 20 or over < 5 else (1 if over < 10 else 2)
    unlimited = min(max(1, count // 30), count - over) if count >= 10 else 0
    kinds = ["odd"] * odd + ["over"] * (over - odd) + ["unlimited"] * unlimited
    kinds += ["under"] * (count - len(kinds))
    rng.shuffle(kinds)
    return kinds


def _company(rng: random.Random, kind: str, company_id: str) -> dict[str, Any]:
    license_name, license_id = rng.choice(_LICENSES)
    industry_name, industry_id = rng.choice(_INDUSTRIES)
    limited, number_of_users, target = _seats(rng, kind)
    created = _EPOCH + timedelta(seconds=rng.randrange(6 * 365 * 86400))
    renewal = _RENEWALS_FROM + timedelta(days=rng.randrange(-60, 700))
    return {
        "companyName": _name(rng),
        "companyResourceId": company_id,
        "resellerName": rng.choice(_RESELLERS),
        "industryName": industry_name,
        "industryResourceId": industry_id,
        "licenseTypeName": license_name,
        "licenseTypeResourceId": license_id,
        "isNumberOfUsersLimited": limited,
        "numberOfUsers": number_of_users,
        "targetUserCount": target,
        "inactiveTargetUserCount": rng.randint(0, target // 10),
        "deletedTargetUserCount": rng.randint(0, target // 20),
        "monthlyActiveUserCount": rng.randint(target // 2, target) if target else 0,
        "licenceExpired": rng.random() < 0.05,
        "licenseEndDate": _iso(renewal.replace(hour=0, minute=0, second=0)),
        "createTime": _iso(created),
        "tags": _tags(rng),
        "privacyDurationId": rng.randint(1, 4),
    }


def _seats(rng: random.Random, kind: str) -> tuple[bool, str | None, int]:
    """(isNumberOfUsersLimited, numberOfUsers, targetUserCount) for a kind of row."""
    limit = rng.choice(_LIMITS)
    if kind == "unlimited":
        # unlimited licenses may hold more users than any limit: they are never over
        return False, rng.choice(("Unlimited", None)), rng.randint(100, 12000)
    if kind == "odd":
        return True, rng.choice(ODD_LIMITS), rng.randint(10, 900)
    if kind == "over":
        return True, str(limit), limit + _overage(rng, limit)
    if rng.random() < 0.05:
        return True, str(limit), limit  # exactly at the limit is not over it
    return True, str(limit), rng.randint(limit * 2 // 5, limit - 1)


def _overage(rng: random.Random, limit: int) -> int:
    size = rng.random()
    if size < 0.4:
        return rng.randint(1, 10)
    if size < 0.85:
        return rng.randint(11, max(12, limit // 5))
    return rng.randint(max(12, limit // 5), max(13, limit * 3 // 5))


def _name(rng: random.Random) -> str:
    return f"{rng.choice(_PLACES)} {rng.choice(_TRADES)}{rng.choice(_SUFFIXES)}"


def _tags(rng: random.Random) -> list[str]:
    if rng.random() < 0.4:
        return []
    return rng.sample(_TAGS, k=rng.randint(1, 3))


def _name_hostile(companies: list[dict[str, Any]], kinds: Sequence[str], count: int) -> None:
    """Give some plainly-over rows the names that break naive renderers and spreadsheets."""
    if count < 20:
        return
    over_rows = [c for c, kind in zip(companies, kinds, strict=True) if kind == "over"]
    wanted = min(len(HOSTILE_NAMES), (len(over_rows) + 1) // 2)
    for company, name in zip(over_rows[:wanted], HOSTILE_NAMES, strict=False):
        company["companyName"] = name


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _limit(value: object) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        return None


# --- a week passes ---------------------------------------------------------------------------

_RENAMES = (" Group", " International", " Holding", " (formerly)")


def advance(companies: Sequence[dict[str, Any]], *, seed: int) -> list[dict[str, Any]]:
    """A copy one "week" later: some go over, some come back, overages move, one is renamed.

    Odd rows and unlimited licenses stay as they were; company IDs never change.
    """
    rng = random.Random(seed)
    week = copy.deepcopy(list(companies))
    over = [c for c in week if is_over(c)]
    under = [c for c in week if c.get("isNumberOfUsersLimited") is True and not is_flagged(c)]
    under = [c for c in under if _limit(c.get("numberOfUsers")) is not None]
    went_over = _pick(rng, under, 3)
    picked = _pick(rng, over, 7)
    came_back, grew, shrank = picked[:2], picked[2:4], picked[4:6]
    for company in went_over:
        company["targetUserCount"] = _limit_of(company) + rng.randint(1, 40)
    for company in came_back:
        company["targetUserCount"] = max(0, _limit_of(company) - rng.randint(0, 10))
    for company in grew:
        company["targetUserCount"] += rng.randint(5, 50)
    for company in shrank:
        excess = company["targetUserCount"] - _limit_of(company)
        company["targetUserCount"] -= rng.randint(0, max(0, excess - 1))
    for company in picked[6:]:
        company["companyName"] = f"{company['companyName']}{rng.choice(_RENAMES)}"
    return week


def _pick(rng: random.Random, rows: list[dict[str, Any]], wanted: int) -> list[dict[str, Any]]:
    return rng.sample(rows, k=min(wanted, len(rows)))


def _limit_of(company: dict[str, Any]) -> int:
    return _limit(company.get("numberOfUsers")) or 0
