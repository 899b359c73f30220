"""PURE: the text after `/overage` -> one typed Request; anything odd becomes Help."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import available_timezones

TOP_DEFAULT = 10
TOP_MAX = 100
_QUOTE_MAX = 40

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEKDAY_NAMES = {
    **{day: day for day in WEEKDAYS},
    "monday": "mon",
    "tuesday": "tue",
    "wednesday": "wed",
    "thursday": "thu",
    "friday": "fri",
    "saturday": "sat",
    "sunday": "sun",
}
_TIME = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])", re.ASCII)
_DIGITS = re.compile(r"[0-9]+", re.ASCII)
_FIRST_WORD = re.compile(r"\s*(\S+)(.*)", re.DOTALL)
_ENTITY = re.compile(r"&(amp|lt|gt);")
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">"}
SUBSCRIBE_USAGE = (
    "for example `subscribe weekly mon 09:00 Europe/Istanbul` or `subscribe daily 08:30`"
)


@dataclass(frozen=True, slots=True)
class Summary:
    pass


@dataclass(frozen=True, slots=True)
class Top:
    count: int


@dataclass(frozen=True, slots=True)
class Find:
    text: str


@dataclass(frozen=True, slots=True)
class Export:
    fmt: str = "xlsx"  # "xlsx" or "csv"
    native: bool = False  # the platform's own export file instead of our workbook


@dataclass(frozen=True, slots=True)
class ExportInvoice:
    """The invoice-ready CSV of the companies to bill this month."""


@dataclass(frozen=True, slots=True)
class Digest:
    pass


@dataclass(frozen=True, slots=True)
class Help:
    problem: str | None = None  # one plain sentence on what was not understood


@dataclass(frozen=True, slots=True)
class Subscribe:
    cadence: str  # "weekly" or "daily"
    weekday: str | None  # "mon".."sun" for weekly, None for daily
    time: str  # "HH:MM"
    zone: str | None  # canonical IANA name, None = the bot's default zone


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    pass


@dataclass(frozen=True, slots=True)
class Subscriptions:
    pass


# --- overage cases


@dataclass(frozen=True, slots=True)
class Cases:
    which: str = "open"  # one of CASE_FILTERS


@dataclass(frozen=True, slots=True)
class OneCase:
    text: str  # part of the company's name


# what `cases` takes after it (bot.cases.FILTERS, in the order usage names them)
CASE_FILTERS = (
    "open",
    "mine",
    "new",
    "contacted",
    "invoiced",
    "snoozed",
    "waived",
    "resolved",
    "all",
)

Request = (
    Summary
    | Top
    | Find
    | Export
    | ExportInvoice
    | Digest
    | Help
    | Subscribe
    | Unsubscribe
    | Subscriptions
    | Cases
    | OneCase
)


def parse_overage_text(text: str) -> Request:
    """Parse what a person typed after `/overage`; never raises, whatever the text."""
    # Slack sends &, < and > as entities: from here on the text holds the characters
    text = unescape(text or "")
    match = _FIRST_WORD.fullmatch(text)
    if match is None:
        return Summary()
    keyword, rest = match.group(1).lower(), match.group(2).strip()
    parser = _PARSERS.get(keyword)
    if parser is None:
        return Help(problem=f"I didn't understand {quote(text)}.")
    return parser(rest)


def unescape(text: str) -> str:
    """Slack's three entities back to their characters (Slack escapes &, < and > in what it
    sends, and we escape them in what we send)."""
    return _ENTITY.sub(lambda m: _ENTITIES[m.group(1)], text)


def quote(value: str) -> str:
    """A user's words, on one line and trimmed, in single quotes for a Help sentence."""
    flat = "".join(" " if unicodedata.category(c).startswith(("C", "Z")) else c for c in value)
    flat = " ".join(flat.split())
    if len(flat) > _QUOTE_MAX:
        flat = flat[: _QUOTE_MAX - 1].rstrip() + "…"
    return f"'{flat}'"


def _summary(rest: str) -> Request:
    return Summary() if not rest else _not_understood("summary", rest)


def _top(rest: str) -> Request:
    if not rest:
        return Top(TOP_DEFAULT)
    problem = Help(problem=f"`top` takes a whole number from 1 to {TOP_MAX}, not {quote(rest)}.")
    if not _DIGITS.fullmatch(rest):
        return problem
    digits = rest.lstrip("0")
    if not digits:
        return problem
    # more than three digits is over the cap anyway; int() of huge strings is refused
    return Top(TOP_MAX if len(digits) > 3 else min(int(digits), TOP_MAX))


def _find(rest: str) -> Request:
    if not rest:
        return Help(problem="`find` needs part of a company name, e.g. `find acme`.")
    return Find(" ".join(rest.split()))  # `Acme   Corp` finds "Acme Corp"


def _export(rest: str) -> Request:
    words = [word.lower() for word in rest.split()]
    if words[:1] == ["invoice"]:
        if len(words) == 1:
            return ExportInvoice()
        return _not_understood("export invoice", rest.split(maxsplit=1)[1])
    native = "native" in words
    formats = [word for word in words if word in ("xlsx", "csv")]
    others = [word for word in words if word not in ("xlsx", "csv", "native")]
    if others or len(formats) > 1 or words.count("native") > 1:
        return Help(
            problem=f"`export` takes xlsx, csv, native or invoice (e.g. `export native csv`), "
            f"not {quote(rest)}."
        )
    return Export(fmt=formats[0] if formats else "xlsx", native=native)


def _digest(rest: str) -> Request:
    return Digest() if not rest else _not_understood("digest", rest)


def _help(rest: str) -> Request:
    return Help()


def _unsubscribe(rest: str) -> Request:
    return Unsubscribe() if not rest else _not_understood("unsubscribe", rest)


def _subscriptions(rest: str) -> Request:
    return Subscriptions() if not rest else _not_understood("subscriptions", rest)


def _not_understood(keyword: str, rest: str) -> Help:
    return Help(problem=f"`{keyword}` takes nothing after it, not {quote(rest)}.")


def _subscribe(rest: str) -> Request:
    words = rest.split()
    cadence = words[0].lower() if words else ""
    if cadence not in ("weekly", "daily"):
        if not rest:
            return Help(problem=f"`subscribe` needs a schedule: {SUBSCRIBE_USAGE}.")
        return Help(
            problem=f"`subscribe` takes weekly or daily, not {quote(words[0])}: {SUBSCRIBE_USAGE}."
        )
    weekday: str | None = None
    args = words[1:]
    if cadence == "weekly":
        if not args:
            return Help(problem=f"`subscribe weekly` needs a day and a time: {SUBSCRIBE_USAGE}.")
        weekday = _WEEKDAY_NAMES.get(args[0].lower())
        if weekday is None:
            return Help(
                problem=f"The day {quote(args[0])} is not one of mon, tue, wed, thu, fri, sat "
                f"or sun: {SUBSCRIBE_USAGE}."
            )
        args = args[1:]
    return _subscribe_time(cadence, weekday, args)


def _subscribe_time(cadence: str, weekday: str | None, args: list[str]) -> Request:
    if not args:
        return Help(problem=f"`subscribe {cadence}` needs a time as HH:MM: {SUBSCRIBE_USAGE}.")
    time = _TIME.fullmatch(args[0])
    if time is None:
        return Help(
            problem=f"The time {quote(args[0])} is not a time from 00:00 to 23:59 (HH:MM): "
            f"{SUBSCRIBE_USAGE}."
        )
    hhmm = f"{int(time.group(1)):02d}:{time.group(2)}"
    if len(args) > 2:
        extra = quote(" ".join(args[2:]))
        return Help(problem=f"`subscribe` takes nothing after the zone, not {extra}.")
    zone = None
    if len(args) == 2:
        zone = _zones().get(args[1].casefold())
        if zone is None:
            return Help(
                problem=f"The time zone {quote(args[1])} is not an IANA zone name such as "
                f"Europe/Istanbul or UTC: {SUBSCRIBE_USAGE}."
            )
    return Subscribe(cadence=cadence, weekday=weekday, time=hhmm, zone=zone)


def _cases(rest: str) -> Request:
    which = rest.lower()
    if not rest:
        return Cases()
    if which in CASE_FILTERS:
        return Cases(which)
    return Help(
        problem=f"`cases` takes one of {', '.join(CASE_FILTERS[1:])}, not {quote(rest)}; "
        "`case NAME` shows one company's case."
    )


def _one_case(rest: str) -> Request:
    if not rest:
        return Help(problem="`case` needs part of a company name, e.g. `case acme`.")
    return OneCase(" ".join(rest.split()))


@lru_cache(maxsize=1)
def _zones() -> dict[str, str]:
    # matched against the known names only: user text never becomes a file path
    return {name.casefold(): name for name in available_timezones()}


_PARSERS: dict[str, Callable[[str], Request]] = {
    "summary": _summary,
    "top": _top,
    "find": _find,
    "export": _export,
    "digest": _digest,
    "help": _help,
    "subscribe": _subscribe,
    "unsubscribe": _unsubscribe,
    "subscriptions": _subscriptions,
    "cases": _cases,
    "case": _one_case,
}
WORDS = tuple(_PARSERS)  # the first words the command understands (the manifest's usage hint)
