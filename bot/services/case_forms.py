"""Reading a case form: the values Slack sends for its fields become the change they ask for,
or one sentence for each field that cannot be used (shown under the field), and what the
form remembers of where it was opened (its private_metadata)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from bot import grammar, render_slack
from bot.cases import (
    AMOUNT_PLACES,
    MOST_AMOUNT,
    MOST_REFERENCE,
    MOST_SEATS,
    MOST_TEXT,
    AddNote,
    Assign,
    Change,
    MarkInvoiced,
    Snooze,
    Waive,
)
from bot.errors import CaseRefused, case_refused
from bot.render_slack import CaseAction

_SEATS = re.compile(r"[0-9]{1,3}(?:[, ][0-9]{3})*|[0-9]+", re.ASCII)
_AMOUNT = re.compile(r"(?:[0-9]{1,3}(?:,[0-9]{3})*|[0-9]+)(?:\.[0-9]+)?", re.ASCII)
_MOST_METADATA = 3000  # Slack's limit on a view's private_metadata


class FieldErrors(Exception):
    """Fields a form cannot be used with: block ID → the sentence shown under it."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__(", ".join(errors))
        self.errors = dict(errors)


@dataclass(frozen=True, slots=True)
class FormState:
    """What a form carries from where it was opened to its submission: the change, the case
    and the version it was opened on, and the surface to bring up to date afterwards."""

    action: CaseAction
    case_id: int
    version: int
    company: str
    surface: str
    channel: str | None = None
    ts: str | None = None
    ephemeral: bool = False
    response_url: str | None = None

    def dump(self) -> str:
        """As private_metadata; a response_url that would not fit is left out (the answer it
        reaches is then not replaced)."""
        fields = {
            "a": self.action.value, "c": self.case_id, "v": self.version, "k": self.company,
            "s": self.surface, "ch": self.channel, "ts": self.ts, "e": self.ephemeral,
            "u": self.response_url,
        }  # fmt: skip
        text = json.dumps(fields, separators=(",", ":"), ensure_ascii=False)
        if len(text) > _MOST_METADATA:
            text = json.dumps({**fields, "u": None}, separators=(",", ":"), ensure_ascii=False)
        return text

    @classmethod
    def load(cls, text: str) -> FormState:
        """The state a form was opened with; a form that is not ours is refused."""
        try:
            fields = json.loads(text)
            return cls(
                action=CaseAction(fields["a"]),
                case_id=int(fields["c"]),
                version=int(fields["v"]),
                company=str(fields["k"]),
                surface=str(fields["s"]),
                channel=_text_or_none(fields.get("ch")),
                ts=_text_or_none(fields.get("ts")),
                ephemeral=bool(fields.get("e")),
                response_url=_text_or_none(fields.get("u")),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise case_refused("missing") from exc


def _text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def read_form(action: CaseAction, values: Mapping[str, Any], *, today: date) -> Change:
    """The change a submitted form asks for, or FieldErrors naming every field it cannot use.
    The model checks the change again (bot.cases.apply); these checks say which field."""
    fields = _Fields(values)
    match action:
        case CaseAction.ASSIGN:
            change: Change = Assign(fields.user(render_slack.FIELD_OWNER))
        case CaseAction.INVOICED:
            change = MarkInvoiced(
                seats=fields.check(render_slack.FIELD_SEATS, _seats) or 0,
                amount=fields.check(render_slack.FIELD_AMOUNT, _amount) or Decimal(0),
                reference=fields.check(render_slack.FIELD_REFERENCE, _reference) or "",
            )
        case CaseAction.SNOOZE:
            until = fields.check(render_slack.FIELD_UNTIL, lambda raw: _until(raw, today))
            reason = fields.check(render_slack.FIELD_REASON, lambda raw: _text(raw, "snoozed"))
            change = Snooze(until=until or today, reason=reason or "")
        case CaseAction.WAIVE:
            reason = fields.check(render_slack.FIELD_REASON, lambda raw: _text(raw, "waived"))
            change = Waive(reason or "")
        case _:
            change = AddNote(fields.check(render_slack.FIELD_NOTE, lambda r: _text(r, "")) or "")
    if fields.errors:
        raise FieldErrors(fields.errors)
    return change


class _Fields:
    """The form's values by field, and the sentences of those that cannot be used."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = values
        self.errors: dict[str, str] = {}

    def raw(self, field: str) -> Mapping[str, Any]:
        found = (self._values.get(field) or {}).get(render_slack.FORM_VALUE) or {}
        return found if isinstance(found, Mapping) else {}

    def user(self, field: str) -> str | None:
        selected = self.raw(field).get("selected_user")
        return str(selected) if selected else None

    def check(self, field: str, read: Any) -> Any:
        raw = self.raw(field)
        text = raw.get("value") if "value" in raw else raw.get("selected_date")
        try:
            return read(str(text or ""))
        except CaseRefused as refused:
            self.errors[field] = refused.for_user()
            return None


def _seats(raw: str) -> int:
    text = raw.strip()
    if not _SEATS.fullmatch(text):
        raise case_refused("seats", most=MOST_SEATS, value=grammar.quote(raw))
    digits = text.replace(",", "").replace(" ", "")
    seats = int(digits) if len(digits) <= 10 else MOST_SEATS + 1
    if not 1 <= seats <= MOST_SEATS:
        raise case_refused("seats", most=MOST_SEATS, value=grammar.quote(raw))
    return seats


def _amount(raw: str) -> Decimal:
    text = raw.strip()
    refused = case_refused("amount", places=AMOUNT_PLACES, value=grammar.quote(raw))
    if not _AMOUNT.fullmatch(text) or len(text) > 40:
        raise refused
    try:
        amount = Decimal(text.replace(",", ""))
    except InvalidOperation:
        raise refused from None
    exponent = amount.as_tuple().exponent
    if amount >= MOST_AMOUNT or not isinstance(exponent, int) or exponent < -AMOUNT_PLACES:
        raise refused
    return amount


def _reference(raw: str) -> str:
    reference = raw.strip()
    if not reference:
        raise case_refused("reference")
    if len(reference) > MOST_REFERENCE:
        raise case_refused("long", field="invoice reference", most=MOST_REFERENCE)
    return reference


def _until(raw: str, today: date) -> date:
    try:
        until = date.fromisoformat(raw.strip())
    except ValueError:
        until = today
    if until <= today:
        raise case_refused("until", today=today.isoformat(), until=raw.strip() or "no date")
    return until


def _text(raw: str, done: str) -> str:
    """A reason (of a snooze or a waiver: `done`) or a note ("")."""
    text = raw.strip()
    if not text:
        raise case_refused("reason", done=done) if done else case_refused("note")
    if len(text) > MOST_TEXT:
        raise case_refused("long", field="reason" if done else "note", most=MOST_TEXT)
    return text
