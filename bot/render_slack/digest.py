"""The digest: totals with their change, who went over or came back, the cases by what needs
doing, the trend."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo

from bot.cases import Case
from bot.digest import CaseGroups, Change, DigestDiff, SnapshotRow
from bot.render_slack.blocks import (
    _ALL_CLEAR,
    _TABLE_TITLE,
    _UNKNOWN,
    DIGEST_LIST,
    Block,
    Message,
    _actions,
    _clock,
    _context,
    _data_as_of,
    _delta,
    _export_buttons,
    _fields,
    _fitted,
    _header,
    _line,
    _list_blocks,
    _message,
    _name,
    _nobody_over,
    _over_by,
    _plan_totals,
    _ranking,
    _section,
    _shortfall,
    _true_up_pairs,
    _with_shortfall,
    _zone,
    escape,
)
from bot.render_slack.picker import _company_picker

_SPARKS = "▁▂▃▄▅▆▇█"


def render_digest(
    diff: DigestDiff, *, now: datetime, zone_name: str = "UTC", cadence: str | None = "weekly"
) -> Message:
    """The digest (weekly, daily, or for a schedule that is neither, cadence None): totals
    with their change, who went over or came back, the trend; each list at most DIGEST_LIST
    rows, fewer when the message would carry too much text."""
    zone = _zone(zone_name)
    title = (
        f"{cadence.capitalize()} license overage digest" if cadence else "License overage digest"
    )

    def build(rows: int) -> Message:
        blocks = [_header(title), *_late_note(diff, now, zone, zone_name)]
        cases = _case_groups(diff.cases, rows, now=now, zone=zone)
        if diff.all_clear:
            blocks += _digest_all_clear(diff, rows) + cases
        else:
            blocks += _digest_body(diff, rows, cases)
        as_of = _data_as_of(diff.report, now=now, zone=zone, zone_name=zone_name)
        blocks += [*_trend(diff), as_of]
        if not diff.all_clear:
            blocks += _actions([*_export_buttons(), *_company_picker(diff.report.overages)])
        return _message(_digest_text(diff, title), blocks)

    return _fitted(build, DIGEST_LIST)


def _digest_text(diff: DigestDiff, title: str) -> str:
    report = diff.report
    if diff.all_clear:
        return f"{title}: {_nobody_over(report)[1]}"
    companies = f"{report.companies_over:,} companies over their license limit"
    seats = f"{report.seats_over:,} seats over"
    if not diff.first:
        companies += f" ({_delta(diff.companies_delta)})"
        seats += f" ({_delta(diff.seats_delta)})"
    return _with_shortfall(f"{title}: {companies}, {seats}.", report)


def _late_note(diff: DigestDiff, now: datetime, zone: tzinfo, zone_name: str) -> list[Block]:
    if diff.late_by is None:
        return []
    due = diff.due or now - diff.late_by
    slot = _clock(due, now=now, zone=zone, zone_name=zone_name)
    if diff.retried:
        return [
            _context(
                f":hourglass: Posted late, on a retry after a failed attempt: it was due at {slot}."
            )
        ]
    return [
        _context(f":hourglass: Posted late: the bot was offline at the scheduled time ({slot}).")
    ]


def _digest_all_clear(diff: DigestDiff, rows: int) -> list[Block]:
    emoji, sentence = _nobody_over(diff.report)
    clear = " (All clear.)" if sentence == _ALL_CLEAR else ""
    blocks = [_section(f"{emoji} {sentence}{clear}")]
    if diff.first:
        blocks.append(_context("This is the first digest: nothing to compare with yet."))
    came_back = [_came_back_line(r) for r in diff.came_back[:rows]]
    return blocks + _digest_list("Back under their limit", came_back, total=len(diff.came_back))


def _digest_body(diff: DigestDiff, rows: int, cases: list[Block]) -> list[Block]:
    report = diff.report
    pairs = [
        ("Companies over limit", _with_delta(report.companies_over, diff.companies_delta)),
        ("Seats over in total", _with_delta(report.seats_over, diff.seats_delta)),
    ]
    if report.limit_unknown:
        pairs.append(("Of which limit unknown", f"{report.limit_unknown:,}"))
    blocks = [_fields([*pairs, *_true_up_pairs(report)]), *_plan_totals(report)]
    blocks += _shortfall(report)
    if diff.first:
        blocks.append(_context("This is the first digest: nothing to compare with yet."))
    went_over = [_line(n, o) for n, o in enumerate(diff.went_over[:rows], 1)]
    blocks += _digest_list("Went over since last digest", went_over, total=len(diff.went_over))
    for title, lines, total in _change_lists(diff, rows):
        blocks += _digest_list(title, lines, total=total)
    blocks += cases
    blocks.append({**_section("*Biggest overages*"), "block_id": _TABLE_TITLE})
    return blocks + _ranking(report.top(rows), total=report.companies_over, max_blocks=DIGEST_LIST)


def _change_lists(diff: DigestDiff, rows: int) -> list[tuple[str, list[str], int]]:
    """Each list of what changed, after who went over: title, its first `rows` lines, total."""
    came_back = [_came_back_line(r) for r in diff.came_back[:rows]]
    return [
        ("Back under their limit", came_back, len(diff.came_back)),
        ("Grew", [_change_line(c) for c in diff.grew[:rows]], len(diff.grew)),
        ("Shrank", [_change_line(c) for c in diff.shrank[:rows]], len(diff.shrank)),
        (
            "Limit now unknown",
            [_unknown_line(c) for c in diff.limit_now_unknown[:rows]],
            len(diff.limit_now_unknown),
        ),
        (
            "Limit readable again",
            [_change_line(c) for c in diff.limit_known_again[:rows]],
            len(diff.limit_known_again),
        ),
    ]


def _with_delta(value: int, delta: int | None) -> str:
    return f"{value:,}" if delta is None else f"{value:,}  {_delta(delta)}"


def _digest_list(title: str, lines: Sequence[str], *, total: int) -> list[Block]:
    """A titled list of the first lines of `total`; "…and N more" says what is left out."""
    if not total:
        return []
    heading = f"*{title}* ({total:,})"
    return _list_blocks(lines, total=total, max_blocks=2, title=heading)


def _came_back_line(row: SnapshotRow) -> str:
    was = _UNKNOWN if row.seats_over is None else f"was over by {row.seats_over:,}"
    return f"{_name(row.name)} · {was}"


def _change_line(change: Change) -> str:
    name = _name(change.overage.company.name)
    after = _over_by(change.overage)
    if change.previous_seats_over is None:  # the limit is readable again: no delta to show
        return f"{name} · {_UNKNOWN} → over by {after}"
    return f"{name} · over by {change.previous_seats_over:,} → {after} ({_delta(change.delta)})"


def _unknown_line(change: Change) -> str:
    # only a change from a known overage lands here: the previous value is never None
    was, users = change.previous_seats_over, change.overage.company.target_users
    return (
        f"{_name(change.overage.company.name)} · was over by {was:,} → {_UNKNOWN} ({users:,} users)"
    )


# --- the cases by what needs doing ---------------------------------------------------------------


def _case_groups(
    groups: CaseGroups | None, rows: int, *, now: datetime, zone: tzinfo
) -> list[Block]:
    """Each group's first `rows` cases, owners as mentions; the parked ones counted."""
    if groups is None:
        return []
    invoiced = [_invoiced_line(c, at, now=now) for c, at in groups.invoiced[:rows]]
    lists = [
        ("Needs an owner", [_open_line(c) for c in groups.needs_owner[:rows]], groups.needs_owner),
        ("In progress", [_open_line(c) for c in groups.in_progress[:rows]], groups.in_progress),
        ("Invoiced, limit not raised yet", invoiced, groups.invoiced),
        (
            "Resolved since last digest",
            [_resolved_line(c, zone) for c in groups.resolved[:rows]],
            groups.resolved,
        ),
    ]
    blocks = [
        block
        for title, lines, cases in lists
        for block in _list_blocks(
            lines, total=len(cases), max_blocks=2, title=f"*{title}* ({len(cases):,})",
            more=_more_cases,
        )
        if cases
    ]  # fmt: skip
    return blocks + _parked(groups)


def _more_cases(count: int) -> str:
    return f"…and {count:,} more: `/overage cases` for all"


def _parked(groups: CaseGroups) -> list[Block]:
    parked = [(groups.snoozed, "snoozed"), (groups.waived, "waived")]
    counts = [f"{count:,} {state}" for count, state in parked if count]
    return [_context(f"Parked: {', '.join(counts)}.")] if counts else []


def _mention(user: str | None) -> str:
    """A case owner as a live mention: only a Slack user ID from our own database makes one."""
    if user is None:
        return "no owner"
    return f"<@{user}>" if user.isascii() and user.isalnum() else escape(user)


def _seats(case: Case) -> str:
    return _UNKNOWN if case.seats_over is None else f"over by {case.seats_over:,}"


def _open_line(case: Case) -> str:
    line = f"{_name(case.company_name)} · {_seats(case)} · {case.state.value}"
    return line if case.owner is None else f"{line} · {_mention(case.owner)}"


def _invoiced_line(case: Case, invoiced_at: datetime, *, now: datetime) -> str:
    days = (now - invoiced_at).days
    ago = "today" if days < 1 else f"{days:,} day{'' if days == 1 else 's'} ago"
    seats = f" for {case.invoiced_seats:,} seats" if case.invoiced_seats is not None else ""
    reference = f" ({_name(case.invoice_ref, 40)})" if case.invoice_ref else ""
    return (
        f"{_name(case.company_name)} · {_seats(case)} · invoiced{seats} {ago}{reference}"
        f" · {_mention(case.owner)}"
    )


def _resolved_line(case: Case, zone: tzinfo) -> str:
    closed = (case.closed_at or case.updated_at).astimezone(zone)
    line = f"{_name(case.company_name)} · back under its limit on {closed:%Y-%m-%d}"
    return line if case.owner is None else f"{line} · {_mention(case.owner)}"


def _trend(diff: DigestDiff) -> list[Block]:
    if len(diff.trend) < 2:
        return []
    values = [point.seats_over for point in diff.trend]
    line = f"`{sparkline(values)}` {values[0]:,} → {values[-1]:,}"
    return [_context(f"Seats over, last {len(values)} digests: {line}")]


def sparkline(values: Sequence[int]) -> str:
    """A compact text chart: one block character per value, low to high."""
    if not values:
        return ""
    low, high = min(values), max(values)
    if high == low:
        return _SPARKS[3] * len(values)
    steps = len(_SPARKS) - 1
    return "".join(_SPARKS[round((v - low) * steps / (high - low))] for v in values)
