"""The platform's answers as the client reads them: the JSON body, parsed once, and the two
envelopes (status/validationMessages and isSuccess/messages) with their refusals."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx

from bot.errors import PlatformDown, RequestRejected

# envelope statuses that say the request failed, read in any letter case; the spec gives
# ResultStatus no values, so any other status on a 2xx with data is a success
_FAILED_STATUSES = frozenset({"failed", "failure", "fail", "error", "unsuccessful"})


@dataclass(frozen=True, slots=True)
class _Answer:
    """A response, with its JSON body parsed once (None when it is not JSON)."""

    response: httpx.Response
    body: Any = None


def _parse(response: httpx.Response) -> tuple[Any, bool]:
    """The JSON body, once, and whether the answer is usable: a 200 from an API route whose
    JSON does not parse is a transient fault; a file (the export) is not parsed at all."""
    if "json" not in response.headers.get("content-type", ""):
        return None, True
    try:
        return json.loads(response.content), True
    except ValueError:
        return None, response.status_code != 200


def _json(answer: _Answer) -> dict[str, Any]:
    if not isinstance(answer.body, dict):
        raise PlatformDown("The Keepnet platform sent an answer the bot could not read.")
    return answer.body


def _envelope_data(body: dict[str, Any]) -> dict[str, Any]:
    """Read both envelopes: status/validationMessages and isSuccess/messages. Only an explicit
    failure is a refusal: isSuccess false, or a status such as "Failed" or "ERROR" in any
    letter case; "Success", "SUCCESS" or a status never seen before, with data, is success."""
    status = body.get("status")
    said_failed = isinstance(status, str) and status.strip().casefold() in _FAILED_STATUSES
    if said_failed or body.get("isSuccess") is False:
        raise RequestRejected(f"The Keepnet platform rejected the request: {_reason(body)}.")
    data = body.get("data")
    if not isinstance(data, dict):
        raise PlatformDown("The Keepnet platform sent an answer without data.")
    return data


def _reason(body: Any) -> str:
    """The platform's own words for a refusal, from either envelope."""
    if not isinstance(body, dict):
        return "no reason given"
    found = body.get("validationMessages") or body.get("messages") or body.get("message")
    reason = _join(found).rstrip(" .") if found else ""
    return reason or "no reason given"  # the sentence adds its own full stop


def _join(messages: object) -> str:
    if isinstance(messages, list):
        text = "; ".join(str(m) for m in messages if m)
    else:
        text = str(messages or "no reason given")
    return text[:300]
