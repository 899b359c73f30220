"""Binding a search or export body as the platform's ASP.NET Core server does, and refusing
only what the published spec or the platform's documented behaviour forbids.

Property names bind case-insensitively (`filter.condition` and `filter.Condition` are one
field, the last one sent wins), as System.Text.Json binds them in ASP.NET Core; the values of
`orderBy`, `exportType`, `Condition`, `FieldName` and `Operator` are read in any letter case.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# the properties of SearchCompanyDto, as the spec names them: orderBy may name any of them
DTO_FIELDS: tuple[str, ...] = (
    "companyName", "companyResourceId", "resellerName", "industryName", "industryResourceId",
    "licenseTypeName", "licenseTypeResourceId", "isNumberOfUsersLimited", "numberOfUsers",
    "privacyDurationId", "licenceExpired", "licenseEndDate", "createTime", "targetUserCount",
    "children", "tags", "deletedTargetUserCount", "inactiveTargetUserCount",
    "monthlyActiveUserCount",
)  # fmt: skip
ORDER_FIELDS: dict[str, str] = {name.casefold(): name for name in DTO_FIELDS}
# FieldName of a filter item: the names the platform's own clients send, and the DTO's own
FILTER_FIELDS: dict[str, str] = {**ORDER_FIELDS, "monthlyactiveuser": "monthlyActiveUserCount"}
OPERATORS: dict[str, str] = {
    op.casefold(): op for op in ("=", "!=", "Contains", ">", "<", ">=", "<=")
}
CONDITIONS = ("AND", "OR")
EXPORT_TYPES: dict[str, str] = {"csv": "Csv", "excel": "Excel"}
INT32_MAX = 2**31 - 1
# the request media types the spec lists for search and export (and any other +json type)
JSON_TYPES = ("application/json-patch+json", "application/json", "text/json")

Item = tuple[str, str, Any]  # (DTO field, operator, value)


@dataclass(frozen=True, slots=True)
class Group:
    """One filter group: its items and nested groups, joined by its condition."""

    condition: str
    items: tuple[Item, ...]
    groups: tuple[Group, ...] = ()


@dataclass(frozen=True, slots=True)
class Query:
    """A validated search or export body."""

    page: int
    size: int
    order_by: str  # a SearchCompanyDto property
    ascending: bool
    flagged_only: bool
    text: str
    condition: str
    groups: tuple[Group, ...]
    export_type: str = ""  # "Csv" or "Excel"
    all_pages: bool = False

    @property
    def selection(self) -> tuple[Any, ...]:
        """What decides the rows and their order, paging aside."""
        return (self.order_by, self.ascending, self.flagged_only, self.text, self.condition,
                self.groups)  # fmt: skip


def is_json_type(content_type: str) -> bool:
    """One of the spec's request media types: application/json, text/json,
    application/json-patch+json, application/*+json."""
    kind = content_type.strip().lower()
    return kind in JSON_TYPES or (kind.startswith("application/") and kind.endswith("+json"))


def bind(body: Mapping[str, Any], *, export: bool) -> tuple[Query | None, list[str]]:
    """The query a body asks for, or None and what is wrong with it."""
    given = _fold(body)
    problems = _check_body(given, export=export)
    if problems:
        return None, problems
    return _query(given), []


def _fold(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """Keys in one letter case, as case-insensitive binding reads them; the last one wins."""
    return {str(key).casefold(): value for key, value in mapping.items()}


def _name(value: Any, names: Mapping[str, str]) -> str | None:
    """The canonical spelling of a value read in any letter case, or None."""
    return names.get(value.casefold()) if isinstance(value, str) else None


# --- checks ------------------------------------------------------------------------------------


def _check_body(body: Mapping[str, Any], *, export: bool) -> list[str]:
    problems = _check_paging(body) + _check_order(body) + _check_filter(body.get("filter", ...))
    for name in ("isTargetUserCountExceededLimit", "isClustered", "reportAllPages"):
        value = body.get(name.casefold())
        if value is not None and not isinstance(value, bool):
            problems.append(f"'{name}' must be true or false.")
    if export and _name(body.get("exporttype"), EXPORT_TYPES) is None:
        problems.append("'exportType' must be Csv or Excel (in any letter case).")
    return problems


def _check_paging(body: Mapping[str, Any]) -> list[str]:
    problems = []
    for name in ("pageNumber", "pageSize"):
        value = body.get(name.casefold())
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= INT32_MAX:
            problems.append(f"'{name}' must be a whole number from 1 to {INT32_MAX}.")
    return problems


def _check_order(body: Mapping[str, Any]) -> list[str]:
    problems = []
    order_by = body.get("orderby")
    if order_by is None:
        problems.append("'orderBy' is required and must not be null.")
    elif _name(order_by, ORDER_FIELDS) is None:
        problems.append(f"'orderBy' must name a field of SearchCompanyDto; got {order_by!r}.")
    if "ascending" not in body:
        problems.append("'ascending' is required.")
    elif not isinstance(body["ascending"], bool):
        problems.append("'ascending' must be true or false.")
    return problems


def _check_filter(given: Any) -> list[str]:
    if given is ...:
        return ["'filter' is required."]
    if given is None:
        return ["'filter' must not be null."]
    if not isinstance(given, dict):
        return ["'filter' must be an object."]
    problems = _nulls(given, "filter")
    folded = _fold(given)
    text = folded.get("searchinputtextvalue")
    if text is not None and not isinstance(text, str):
        problems.append("'filter.SearchInputTextValue' must be a string.")
    return problems + _check_group_body(folded, "filter")


def _check_group_body(folded: Mapping[str, Any], where: str) -> list[str]:
    """The condition, items and nested groups of the filter or of one of its groups."""
    problems = []
    condition = folded.get("condition")
    if condition is not None and _name(condition, _CONDITION_NAMES) is None:
        problems.append(f"'{where}.Condition' must be AND or OR.")
    for key, check in (("filteritems", _check_item), ("filtergroups", _check_group)):
        listed = folded.get(key)
        label = "FilterItems" if key == "filteritems" else "FilterGroups"
        if listed is not None and not isinstance(listed, list):
            problems.append(f"'{where}.{label}' must be a list.")
            continue
        for index, entry in enumerate(listed or []):
            problems += check(entry, f"{where}.{label}[{index}]")
    return problems


def _check_group(group: Any, where: str) -> list[str]:
    if not isinstance(group, dict):
        return [f"'{where}' must be an object."]
    return _nulls(group, where) + _check_group_body(_fold(group), where)


def _check_item(item: Any, where: str) -> list[str]:
    if not isinstance(item, dict):
        return [f"'{where}' must be an object."]
    problems = _nulls(item, where)
    folded = _fold(item)
    if _name(folded.get("fieldname"), FILTER_FIELDS) is None:
        problems.append(f"'{where}.FieldName' must name a field of the company list.")
    if _name(folded.get("operator"), OPERATORS) is None:
        problems.append(f"'{where}.Operator' must be one of {', '.join(OPERATORS.values())}.")
    if "value" not in folded or isinstance(folded.get("value"), dict | list):
        problems.append(f"'{where}.Value' must be a string, number or boolean.")
    return problems


def _nulls(given: Mapping[str, Any], where: str) -> list[str]:
    # the platform refuses null members although the spec marks them nullable (keepnet-api.md)
    return [f"'{where}.{name}' must not be null." for name, value in given.items() if value is None]


_CONDITION_NAMES = {name.casefold(): name for name in CONDITIONS}


# --- the query ---------------------------------------------------------------------------------


def _query(body: Mapping[str, Any]) -> Query:
    given = _fold(body["filter"])
    return Query(
        page=body["pagenumber"],
        size=body["pagesize"],
        order_by=ORDER_FIELDS[body["orderby"].casefold()],
        ascending=body["ascending"],
        flagged_only=body.get("istargetusercountexceededlimit") is True,
        text=str(given.get("searchinputtextvalue") or "").strip().casefold(),
        condition=_condition(given),
        groups=_groups(given),
        export_type=_name(body.get("exporttype"), EXPORT_TYPES) or "",
        all_pages=body.get("reportallpages") is True,
    )


def _condition(folded: Mapping[str, Any]) -> str:
    return _name(folded.get("condition"), _CONDITION_NAMES) or "AND"


def _groups(folded: Mapping[str, Any]) -> tuple[Group, ...]:
    return tuple(_group(_fold(group)) for group in folded.get("filtergroups") or [])


def _group(folded: Mapping[str, Any]) -> Group:
    items = tuple(_item(_fold(item)) for item in folded.get("filteritems") or [])
    return Group(_condition(folded), items, _groups(folded))


def _item(folded: Mapping[str, Any]) -> Item:
    return (
        FILTER_FIELDS[folded["fieldname"].casefold()],
        OPERATORS[folded["operator"].casefold()],
        folded["value"],
    )
