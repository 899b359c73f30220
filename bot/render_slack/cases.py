"""Overage cases on Slack: a case's status and its actions wherever one company is shown, the
case list, and a company's case with its history (the forms are in `case_forms`).

Every company shown with actions carries them in one block whose ID names the surface and the
company (`case_block_id`), so a click says which case it is about and where it happened; a
message in a channel has its cases' blocks brought up to date in place (`refresh_cases`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from enum import StrEnum
from typing import Any

from bot.cases import SYSTEM, Action, Case, CaseEvent, State, Surface
from bot.render_slack.blocks import (
    MAX_BLOCKS,
    MAX_FIELDS,
    MAX_HEADER,
    MAX_OPTION_VALUE,
    Block,
    Message,
    _actions,
    _age,
    _button,
    _context,
    _cut,
    _fields,
    _fitted,
    _header,
    _inert,
    _message,
    _money,
    _name,
    _one_line,
    _plain,
    _plain_text,
    _section,
    escape,
    invoice_button,
)
from bot.render_slack.lengths import units

CASE_BLOCK = "overage_case"  # block ID of a case's actions: CASE_BLOCK|surface|company
CASE_STATUS = "overage_case_status"  # block ID of a case's status line: CASE_STATUS|company
CASE_BUTTON = "overage_case_button"  # action ID of a button: CASE_BUTTON:action#tag
CASE_MENU = "overage_case_menu"  # action ID of a row's menu of actions: CASE_MENU#tag
CASE_KEY_MAX = MAX_OPTION_VALUE  # a company whose ID is longer is shown without actions
CASES_LISTED = 30
HOME_CASES = 10
HISTORY_SHOWN = 40


class CaseAction(StrEnum):
    """What a person can do to a case from Slack; the ones with a form open a modal."""

    ASSIGN_ME = "assign_me"
    ASSIGN = "assign"
    CONTACTED = "contacted"
    INVOICED = "invoiced"
    SNOOZE = "snooze"
    WAIVE = "waive"
    NOTE = "note"

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def has_form(self) -> bool:
        return self not in (CaseAction.ASSIGN_ME, CaseAction.CONTACTED)


_LABELS = {
    CaseAction.ASSIGN_ME: "Assign to me",
    CaseAction.ASSIGN: "Assign…",
    CaseAction.CONTACTED: "Contacted",
    CaseAction.INVOICED: "Invoiced…",
    CaseAction.SNOOZE: "Snooze…",
    CaseAction.WAIVE: "Waive…",
    CaseAction.NOTE: "Add note…",
}

# a surface: where a company is shown with its case's actions
ALERT_SURFACE = "alert"
CARD_SURFACE = "card"
DETAILS_SURFACE = "details"
HOME_SURFACE = "home"
LIST_SURFACE = "list"  # list.<filter>


@dataclass(frozen=True, slots=True)
class CaseTarget:
    """Which company's case an action is about, and on which surface it was clicked."""

    surface: str
    company: str

    @property
    def listing(self) -> str | None:
        """The listing's filter, for a click in a case list."""
        kind, _, which = self.surface.partition(".")
        return which if kind == LIST_SURFACE and which else None


@dataclass(frozen=True, slots=True)
class Shown:
    """How times, people and money are shown: the zone's clock and the currency."""

    now: datetime
    zone: tzinfo = UTC
    zone_name: str = "UTC"
    currency: str = "USD"


# --- the case's block: which company, where; its actions ---------------------------------------


def case_block_id(surface: str, company: str) -> str:
    return f"{CASE_BLOCK}|{surface}|{company}"


def case_target(block_id: str) -> CaseTarget | None:
    """The company and surface of a case's block, from its ID; None for any other block."""
    prefix, _, rest = block_id.partition("|")
    surface, _, company = rest.partition("|")
    if prefix != CASE_BLOCK or not surface or not company:
        return None
    return CaseTarget(surface, company)


def case_action(action: Mapping[str, Any]) -> CaseAction | None:
    """The action a clicked button or a chosen menu option stands for."""
    action_id = str(action.get("action_id") or "")
    if action_id.startswith(CASE_MENU):
        chosen = str((action.get("selected_option") or {}).get("value") or "")
    else:
        chosen = action_id.removeprefix(f"{CASE_BUTTON}:").partition("#")[0]
    return next((a for a in CaseAction if a.value == chosen), None)


def actionable(company: str) -> bool:
    """Whether a company's case can carry actions: its ID fits a block ID."""
    return 0 < units(company) <= CASE_KEY_MAX


def case_actions_for(case: Case | None) -> tuple[CaseAction, ...]:
    """The actions a case in its state can take; every one while its state is not known."""
    if case is None:
        return tuple(CaseAction)
    if not case.is_open:
        return (CaseAction.NOTE,)
    left_out: set[CaseAction] = set()
    if case.state in (State.CONTACTED, State.INVOICED):
        left_out.add(CaseAction.CONTACTED)
    if case.state is State.WAIVED:
        left_out |= {CaseAction.SNOOZE, CaseAction.WAIVE}
    return tuple(a for a in CaseAction if a not in left_out)


def _tag(company: str) -> str:
    """A short tag of the company for action IDs, which must differ within a message."""
    return hashlib.sha256(company.encode("utf-8", "surrogatepass")).hexdigest()[:12]


def _case_buttons(surface: str, company: str, case: Case | None) -> Block:
    tag = _tag(company)
    buttons = [
        _button(a.label, f"{CASE_BUTTON}:{a.value}#{tag}", a.value) for a in case_actions_for(case)
    ]
    return {"type": "actions", "block_id": case_block_id(surface, company), "elements": buttons}


def _case_menu(company: str, case: Case | None) -> Block:
    options = [{"text": _plain_text(a.label), "value": a.value} for a in case_actions_for(case)]
    return {
        "type": "static_select",
        "action_id": f"{CASE_MENU}#{_tag(company)}",
        "placeholder": _plain_text("Case…"),
        "options": options,
    }


def case_strip(surface: str, company: str, case: Case | None, *, shown: Shown) -> list[Block]:
    """A company's case where one company is shown: its status (once it is known) and its
    actions as buttons; nothing for a company whose ID cannot be carried."""
    if not actionable(company):
        return []
    status = [] if case is None else [_status_block(company, case, shown=shown)]
    return [_case_buttons(surface, company, case), *status]


def case_row(surface: str, company: str, text: str) -> Block:
    """A company's line among others (mrkdwn, ours) with the menu of its case's actions: how
    a message that lists several companies carries them."""
    section = _section(text)
    if actionable(company):
        section["block_id"] = case_block_id(surface, company)
        section["accessory"] = _case_menu(company, None)
    return section


def _status_block(company: str, case: Case, *, shown: Shown) -> Block:
    return {**_context(case_status(case, shown=shown)), "block_id": f"{CASE_STATUS}|{company}"}


def refresh_cases(
    blocks: Sequence[Block], cases: Mapping[str, Case | None], *, shown: Shown
) -> list[Block]:
    """A message's blocks with each case's actions and status as the case is now: what a
    message in a channel is updated to after a change, whoever made it."""
    fresh: list[Block] = []
    for block in blocks:
        if str(block.get("block_id") or "").startswith(f"{CASE_STATUS}|"):
            continue  # each is made again after its case's block
        target = case_target(str(block.get("block_id") or ""))
        if target is None:
            fresh.append(block)
            continue
        case = cases.get(target.company)
        if block.get("type") == "actions":
            fresh.append(_case_buttons(target.surface, target.company, case))
        else:
            fresh.append({**block, "accessory": _case_menu(target.company, case)})
        if case is not None:
            fresh.append(_status_block(target.company, case, shown=shown))
    return fresh


def case_companies(blocks: Sequence[Block]) -> list[str]:
    """The companies whose cases a message shows with actions, in order, each once."""
    found = (case_target(str(b.get("block_id") or "")) for b in blocks)
    return list(dict.fromkeys(t.company for t in found if t is not None))


# --- a case's status in words ------------------------------------------------------------------


def case_status(case: Case, *, shown: Shown) -> str:
    """State, owner and the last change: `*Case:* contacted · owner @Ann · marked contacted
    by @Bob 5 minutes ago`."""
    return f"*Case:* {_state(case, shown=shown)} · {_owner(case.owner)} · {_last(case, shown)}"


def _last(case: Case, shown: Shown) -> str:
    when = _age(case.updated_at, now=shown.now)
    return f"{_did(case.last_action)} by {_who(case.updated_by)} {when}"


def _state(case: Case, *, shown: Shown) -> str:
    match case.state:
        case State.SNOOZED if case.snoozed_until is not None:
            return f"snoozed until {case.snoozed_until:%Y-%m-%d}"
        case State.INVOICED if case.invoiced_seats is not None:
            return f"invoiced for {case.invoiced_seats:,} seats"
        case State.RESOLVED if case.closed_at is not None:
            return f"resolved {_day(case.closed_at, shown)}"
    return case.state.value


def _owner(owner: str | None) -> str:
    return "no owner" if owner is None else f"owner {_who(owner)}"


def _who(user: str | None) -> str:
    """A person by their mention (IDs come from our own database), or the bot itself."""
    if user is None or user == SYSTEM:
        return "the bot"
    return f"<@{escape(user)}>"


_DONE = {
    Action.OPENED: "opened",
    Action.ASSIGNED: "assigned",
    Action.CONTACTED: "marked contacted",
    Action.INVOICED: "marked invoiced",
    Action.SNOOZED: "snoozed",
    Action.WAIVED: "waived",
    Action.NOTED: "noted",
    Action.WOKE: "woken",
    Action.GREW: "reopened (the overage grew)",
    Action.RESOLVED: "resolved",
}


def _did(action: Action) -> str:
    return _DONE[action]


def _day(moment: datetime, shown: Shown) -> str:
    return f"{moment.astimezone(shown.zone):%Y-%m-%d}"


def _over(seats: int | None) -> str:
    return "limit unknown" if seats is None else f"over by {seats:,}"


def _people_text(text: str, limit: int) -> str:
    """Text a person typed (a note, a reason, a reference): hostile like the platform's."""
    return escape(_inert(_cut(" ".join(_one_line(text).split()), limit))) or "—"


# --- the case list -----------------------------------------------------------------------------

_TITLES = {
    "open": "Open overage cases",
    "mine": "Your open overage cases",
    "all": "All overage cases",
}


def _title(which: str) -> str:
    return _TITLES.get(which) or f"Overage cases: {which}"


def render_cases(
    cases: Sequence[Case], which: str, *, shown: Shown, total: int | None = None
) -> Message:
    """The answer to `/overage cases [filter]`: each case with its state, owner and last
    change, and a menu of what can be done; as many as fit, then "…and N more". `total` is
    how many the listing holds when `cases` are only its first."""
    title = _title(which)
    total = len(cases) if total is None else max(total, len(cases))
    if not cases:
        sentence = _nothing_listed(which)
        return _message(sentence, [_header(title), _section(sentence)])
    surface = f"{LIST_SURFACE}.{which}"
    count = f"{total:,} case{'' if total == 1 else 's'}"

    def build(rows: int) -> Message:
        blocks = [_header(f"{title} ({total:,})")]
        listed = enumerate(cases[:rows], 1)
        blocks += [_case_row(rank, case, surface, shown=shown) for rank, case in listed]
        if total > rows:
            blocks.append(_context(_more_cases(total - rows, which)))
        blocks.append(_context(_listing_hint(which)))
        blocks += _actions([invoice_button()])
        return _message(f"{title}: {count}.", blocks)

    return _fitted(build, min(len(cases), CASES_LISTED, MAX_BLOCKS - 4))


def _case_row(rank: int, case: Case, surface: str, *, shown: Shown) -> Block:
    line = f"*{rank}.* {_name(case.company_name)} · {_over(case.seats_over)}"
    section = _section(f"{line}\n{case_status(case, shown=shown)}")
    if actionable(case.company_id):
        section["block_id"] = case_block_id(surface, case.company_id)
        section["accessory"] = _case_menu(case.company_id, case)
    return section


def render_your_cases(cases: Sequence[Case], *, shown: Shown) -> list[Block]:
    """The Home tab's "Your cases": the open cases the person owns, with their actions."""
    if not cases:
        return [_section("*Your cases*\nYou own no open overage case. `/overage cases` lists "
                         "the open ones; *Assign to me* on one makes it yours.")]  # fmt: skip
    rows = [_case_row(n, c, HOME_SURFACE, shown=shown) for n, c in enumerate(cases[:HOME_CASES], 1)]
    more = len(cases) - len(rows)
    tail = [_context(f"…and {more:,} more: `/overage cases mine` lists them all.")] if more else []
    return [_section(f"*Your cases* ({len(cases):,})"), *rows, *tail]


def _nothing_listed(which: str) -> str:
    if which == "mine":
        return "You own no open overage case."
    if which in ("open", "all"):
        return "There is no overage case: no company has gone over its limit since cases began."
    return f"No overage case is {which}."


def _more_cases(count: int, which: str) -> str:
    return (
        f"…and {count:,} more: `/overage cases mine`, `new` or another state narrows the list; "
        "`/overage case NAME` shows one company's case."
        if which in ("open", "all")
        else f"…and {count:,} more: `/overage case NAME` shows one company's case."
    )


def _listing_hint(which: str) -> str:
    others = " · ".join(
        f"`{w}`"
        for w in ("mine", "new", "contacted", "invoiced", "snoozed", "waived", "resolved", "all")
        if w != which
    )
    return f"`/overage cases` lists the open ones; after it: {others}"


# --- one company's case, with its history ------------------------------------------------------


def render_case(case: Case, events: Sequence[CaseEvent], *, shown: Shown) -> Message:
    """The answer to `/overage case TEXT`: the case in full, its history (the latest entries
    when it is long) and its actions."""
    fields = _case_fields(case, shown=shown)

    def build(rows: int) -> Message:
        latest = events[-rows:] if rows else []
        blocks = [_header(_plain(case.company_name, MAX_HEADER)), _fields(fields)]
        blocks += _history(latest, total=len(events), shown=shown)
        blocks += case_strip(CARD_SURFACE, case.company_id, case, shown=shown)
        return _message(f"{_name(case.company_name)}: the case is {case.state.value}.", blocks)

    return _fitted(build, min(len(events), HISTORY_SHOWN))


def _case_fields(case: Case, *, shown: Shown) -> list[tuple[str, str]]:
    pairs = [
        ("State", _state(case, shown=shown)),
        ("Owner", _who(case.owner) if case.owner else "nobody"),
        ("Seats over", _over(case.seats_over).removeprefix("over by ")),
        ("Opened", _day(case.opened_at, shown)),
    ]
    if case.invoiced_seats is not None and case.invoiced_amount is not None:
        money = _money(case.invoiced_amount, shown.currency)
        pairs.append(("Invoiced", f"{case.invoiced_seats:,} seats, {money}"))
        pairs.append(("Invoice reference", _people_text(case.invoice_ref, 100)))
    if case.reason:
        pairs.append(("Why " + case.state.value, _people_text(case.reason, 500)))
    pairs.append(("Last change", _last(case, shown)))
    return pairs[:MAX_FIELDS]


def _history(events: Sequence[CaseEvent], *, total: int, shown: Shown) -> list[Block]:
    if not events:
        return []
    earlier = total - len(events)
    lines = [_event_line(e, shown=shown) for e in events]
    head = "*History*" + (f" (the latest {len(events):,} of {total:,})" if earlier else "")
    blocks: list[Block] = []
    text = head
    for line in lines:
        if units(text) + 1 + units(line) > 2900:
            blocks.append(_section(text))
            text = line
        else:
            text += "\n" + line
    blocks.append(_section(text))
    return blocks


def _event_line(event: CaseEvent, *, shown: Shown) -> str:
    when = f"{event.at.astimezone(shown.zone):%Y-%m-%d %H:%M}"
    what = _event_what(event, shown=shown)
    where = (
        "" if event.surface in (Surface.SYSTEM, Surface.UPGRADE) else f" ({event.surface.value})"
    )
    return f"• {when} · {_who(event.actor)} {what}{where}"


def _event_what(event: CaseEvent, *, shown: Shown) -> str:
    match event.action:
        case Action.OPENED:
            return f"opened it ({_over(event.seats)})"
        case Action.ASSIGNED:
            return f"assigned it to {_who(event.owner)}" if event.owner else "left it unowned"
        case Action.CONTACTED:
            return "marked it contacted"
        case Action.INVOICED:
            money = "" if event.amount is None else f", {_money(event.amount, shown.currency)}"
            seats = f"{event.seats:,}" if event.seats is not None else "?"
            reference = _people_text(event.reference, 100)
            return f"marked it invoiced: {seats} seats{money}, ref {reference}"
        case Action.SNOOZED:
            until = f" until {event.until:%Y-%m-%d}" if event.until else ""
            return f"snoozed it{until}: {_people_text(event.text, 300)}"
        case Action.WAIVED:
            return f"waived it: {_people_text(event.text, 300)}"
        case Action.NOTED:
            return f"noted: {_people_text(event.text, 500)}"
        case Action.WOKE:
            return f"woke it, back to {event.after.value}"
        case Action.GREW:
            return f"reopened it as {event.after.value}: {_over(event.seats)}"
        case Action.RESOLVED:
            return "resolved it: the company is back under its limit"
    return f"{_did(event.action)} it"


def render_case_matches(cases: Sequence[Case], text: str, *, shown: Shown) -> Message:
    """`/overage case TEXT` naming no company, or several."""
    echo = _name(text, 100)
    if not cases:
        sentence = f"No overage case has “{echo}” in its company's name."
        return _message(sentence, [_section(sentence), _context(_listing_hint("all"))])
    listed = render_cases(cases, "all", shown=shown)
    sentence = f"{len(cases):,} companies with a case have “{echo}” in their name: pick one."
    return Message(
        text=sentence,
        blocks=[_section(sentence), *listed.blocks[1:]],
        smaller=tuple(
            Message(text=sentence, blocks=[_section(sentence), *one.blocks[1:]])
            for one in listed.smaller
        ),
    )
