"""Which rows a sandbox query selects, and in which order."""

from __future__ import annotations

from typing import Any

from bot.sandbox.binding import Group, Item, Query
from bot.sandbox.data import is_flagged

Row = dict[str, Any]


def ordered(rows: list[Row], order_by: str, ascending: bool) -> list[Row]:
    """The rows sorted by one DTO field; ties in company ID order, whichever way."""
    result = sorted(rows, key=lambda r: str(r.get("companyResourceId") or ""))
    result.sort(key=lambda r: sort_value(r.get(order_by)), reverse=not ascending)
    return result


def select(rows: list[Row], query: Query, *, unlimited_too: bool = False) -> list[Row]:
    """The rows query selects, in the order given; unlimited_too: the overage filter lets the
    unlimited licences through as well."""
    return [row for row in rows if _matches(row, query, unlimited_too=unlimited_too)]


def sort_value(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, "")
    if isinstance(value, bool | int | float):
        return (1, float(value))
    if isinstance(value, list):
        return (2, ", ".join(str(v) for v in value).casefold())
    return (2, str(value).casefold())


def _matches(row: Row, query: Query, *, unlimited_too: bool) -> bool:
    if query.flagged_only and not is_flagged(row):
        unlimited = row.get("isNumberOfUsersLimited") is False
        if not (unlimited_too and unlimited):
            return False
    if query.text and query.text not in str(row.get("companyName") or "").casefold():
        return False
    if not query.groups:
        return True
    verdicts = (_group_matches(row, group) for group in query.groups)
    return all(verdicts) if query.condition == "AND" else any(verdicts)


def _group_matches(row: Row, group: Group) -> bool:
    verdicts = [_item_matches(row, item) for item in group.items]
    verdicts += [_group_matches(row, inner) for inner in group.groups]
    return all(verdicts) if group.condition == "AND" else any(verdicts)


def _item_matches(row: Row, item: Item) -> bool:
    name, operator, wanted = item
    actual = row.get(name)
    if operator == "Contains":
        return str(wanted).casefold() in str(actual if actual is not None else "").casefold()
    left, right = _comparable(actual, wanted)
    if operator == "=":
        return bool(left == right)
    if operator == "!=":
        return bool(left != right)
    if left is None or right is None:
        return False
    comparisons = {">": left > right, "<": left < right, ">=": left >= right, "<=": left <= right}
    return bool(comparisons[operator])


def _comparable(actual: Any, wanted: Any) -> tuple[Any, Any]:
    """Both sides as numbers, booleans or folded text, whichever the row's value is."""
    if isinstance(actual, bool):
        return actual, str(wanted).strip().lower() == "true"
    if isinstance(actual, int | float):
        try:
            return actual, float(wanted)
        except (TypeError, ValueError):
            return actual, None
    if actual is None:
        return None, str(wanted).casefold()
    if isinstance(actual, list):
        actual = ", ".join(str(v) for v in actual)
    return str(actual).casefold(), str(wanted).casefold()
