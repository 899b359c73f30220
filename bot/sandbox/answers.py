"""The sandbox's answers: the ServiceResult envelope, a page of the company list, refusals."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone
from typing import Any

from aiohttp import web

from bot.sandbox.binding import Query
from bot.sandbox.switches import FRACTION_DIGITS, Switches

Row = dict[str, Any]
JSON = "application/json"
_TIME_FIELDS = ("licenseEndDate", "createTime")


def envelope(
    switches: Switches,
    *,
    data: Any = None,
    message: str | None = None,
    messages: list[str] | None = None,
    failed: bool = False,
) -> dict[str, Any]:
    if switches.use_is_success_envelope:
        return {"isSuccess": not failed, "message": message, "messages": messages,
                "data": data}  # fmt: skip
    status = "Failed" if failed else switches.envelope_status
    return {"status": status, "message": message, "validationMessages": messages,
            "data": data}  # fmt: skip


def page(rows: list[Row], query: Query, switches: Switches, *, flagged: int) -> web.Response:
    """One page of rows as the search answers it, paged by the size the server serves."""
    counted = len(rows)
    served = rows[: max(0, counted - switches.hidden_rows)]
    cap = switches.page_size_cap
    size = query.size if cap is None else max(1, min(query.size, cap))
    start = (query.page - 1) * size
    data: dict[str, Any] = {
        "pageNumber": query.page,
        "pageSize": size,
        "totalNumberOfPages": math.ceil(counted / size),
        "totalNumberOfRecords": counted,
        "limitExceededCompanyCount": flagged,
        "results": [_served(row, switches) for row in served[start : start + size]],
    }
    if switches.reported_total is not None:
        reported = switches.reported_total
        data["totalNumberOfPages"] = data["totalNumberOfRecords"] = reported
    return web.json_response(envelope(switches, data=data), dumps=json.dumps)


def failure(switches: Switches, status: int) -> web.Response:
    headers = {"Retry-After": _seconds(switches.retry_after_s)} if status == 429 else {}
    if status >= 500:
        return web.Response(status=status, text=f"{status} sandbox fault", headers=headers)
    body = envelope(switches, message=f"Sandbox fault {status}.", failed=True)
    return web.json_response(body, status=status, headers=headers)


def rejected(switches: Switches, problems: list[str]) -> web.Response:
    body = envelope(switches, message="Validation failed.", messages=problems, failed=True)
    return web.json_response(body, status=400)


def _served(row: Row, switches: Switches) -> Row:
    """The row as sent: its date-times in the offset and with the fraction the switches ask."""
    offset, digits = switches.time_offset_minutes, switches.time_fraction_digits
    if offset is None and digits <= 0:
        return row
    sent = dict(row)
    for name in _TIME_FIELDS:
        value = sent.get(name)
        if isinstance(value, str):
            sent[name] = _time(value, offset, digits)
    return sent


def _time(text: str, offset_minutes: int | None, digits: int) -> str:
    moment = datetime.fromisoformat(text)
    local = moment.astimezone(timezone(timedelta(minutes=offset_minutes or 0)))
    fraction = f".{FRACTION_DIGITS[:digits]}" if digits > 0 else ""
    return f"{local:%Y-%m-%dT%H:%M:%S}{fraction}{_zone(offset_minutes)}"


def _zone(offset_minutes: int | None) -> str:
    if offset_minutes is None:
        return "Z"
    hours, minutes = divmod(abs(offset_minutes), 60)
    return f"{'-' if offset_minutes < 0 else '+'}{hours:02d}:{minutes:02d}"


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
