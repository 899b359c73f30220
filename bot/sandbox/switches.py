"""The sandbox's switches: the faults and behaviours a test turns on, checked by name and type."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# digits a date-time's fraction of a second is made of, when time_fraction_digits asks for one
FRACTION_DIGITS = "123456789012345678901234567890"


@dataclass
class Switches:
    """Faults and behaviours a test turns on; read on every request, so change them any time."""

    latency_s: float = 0.0
    token_ttl_s: int = 3600
    token_max_calls: int | None = None
    fail_next: list[int] = field(default_factory=list)
    retry_after_s: float = 1
    fail_token_next: list[int] = field(default_factory=list)
    hang_next: int = 0
    hang_s: float = 30
    malformed_next: int = 0
    shift_every: int | None = None
    shift_remove: bool = False
    # once, right after page K is answered: the top company leaves, a new one joins at the end
    leave_join_after_page: int | None = None
    # sent as totalNumberOfRecords and totalNumberOfPages (NaN and Infinity as JSON spells them)
    reported_total: float | None = None
    export_envelope_next: int = 0  # exports answered 200 with a JSON "Failed" envelope
    # the role claim of the tokens issued from now on; "" issues tokens without one
    role: str = "Reseller"
    # the roles whose tokens the search and export serve; any other role gets a 403
    served_roles: list[str] = field(default_factory=lambda: ["Reseller"])
    use_is_success_envelope: bool = False
    envelope_status: str = "Success"  # the envelope's status on a 200 (the spec gives no values)
    # the server serves at most this many rows a page, whatever it is asked, and says so in the
    # page's pageSize and totalNumberOfPages
    page_size_cap: int | None = None
    max_page_size: int | None = None  # a larger pageSize is refused with a 400
    # the last N rows of every list are counted in its totals but never served on any page
    hidden_rows: int = 0
    # the overage filter also returns the unlimited licences (isNumberOfUsersLimited false);
    # limitExceededCompanyCount still counts only the companies over their limit
    unlimited_in_answer: bool = False
    # date-times sent in this UTC offset instead of Z (the same instant), and with this many
    # digits of a second from FRACTION_DIGITS: the instant sent is the row's own plus that
    # fraction, e.g. 2 digits add 0.12 s
    time_offset_minutes: int | None = None
    time_fraction_digits: int = 0

    def update(self, changes: Mapping[str, Any]) -> None:
        """Set the named switches, checking each name and value type first."""
        checked = {name: _switch_value(name, value) for name, value in changes.items()}
        for name, value in checked.items():
            setattr(self, name, value)


def _switch_value(name: str, value: Any) -> Any:
    kinds = {f.name: f.type for f in dataclasses.fields(Switches)}
    if name not in kinds:
        raise ValueError(f"unknown switch: {name}")
    kind = str(kinds[name])
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if kind in ("float", "float | None") and number:
        return float(value)
    if kind.startswith("int") and _whole(value):
        return value
    if kind in ("int | None", "float | None") and value is None:
        return None
    if kind == "list[int]" and isinstance(value, list) and all(_whole(v) for v in value):
        return list(value)
    if kind == "list[str]" and isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    if kind == "bool" and isinstance(value, bool):
        return value
    if kind == "str" and isinstance(value, str):
        return value
    raise ValueError(f"switch {name} must be {kind}, got {value!r}")


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
