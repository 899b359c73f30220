"""Help, errors, short notes and the list of digest subscriptions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.overage import Report
from bot.render_slack.blocks import (
    _REFUSAL,
    MAX_BLOCKS,
    Message,
    _context,
    _fitted,
    _header,
    _list_blocks,
    _message,
    _section,
    _with_shortfall,
    escape,
)

_USAGE = (
    ("/overage", "summary: companies over limit, seats over, the biggest overages"),
    ("/overage top [N]", "the N biggest overages (default 10, at most 100)"),
    ("/overage find TEXT", "over-limit companies whose name contains TEXT, with details"),
    ("/overage export [xlsx|csv]", "uploads the workbook (default xlsx) into this channel"),
    ("/overage export native [xlsx|csv]", "uploads the platform's own export file"),
    ("/overage export invoice", "uploads the invoice CSV: one line per company to bill"),
    ("/overage digest", "posts the digest into this channel now"),
    ("/overage subscribe weekly mon 09:00 [zone]", "posts the digest here every week"),
    ("/overage subscribe daily 08:30 [zone]", "posts the digest here every day"),
    ("/overage unsubscribe", "stops this channel's scheduled digest"),
    ("/overage subscriptions", "lists the scheduled digests"),
    (
        "/overage cases [mine|new|contacted|invoiced|snoozed|waived|resolved|all]",
        "overage cases (default: the open ones, new and unowned first)",
    ),
    ("/overage case TEXT", "one company's case with its history"),
    ("/overage help", "this help"),
)


def render_help(problem: str | None = None) -> Message:
    """Usage of every command, led by what was not understood when there is something."""
    usage = "\n".join(f"`{command}`  {what}" for command, what in _USAGE)
    blocks = [_section(f"*How to use `/overage`*\n{usage}")]
    if problem:
        blocks.insert(0, _section(f":thinking_face: {escape(problem)}"))
        return _message(f"{escape(problem)} Type `/overage help` for usage.", blocks)
    return _message("How to use /overage: summary, top, find, export, digest, help.", blocks)


def render_error(sentence: str) -> Message:
    text = escape(sentence) or "Something went wrong. Try again in a few minutes."
    return _message(text, [_section(f":warning: {text}")])


def render_refusal() -> Message:
    return _message(_REFUSAL, [_section(f":no_entry: {_REFUSAL}")])


def render_working(what: str) -> Message:
    """A short note while slow work goes on, e.g. "Fetching the overage list…"."""
    text = escape(what) or "Working on it…"
    return _message(text, [_context(f":hourglass_flowing_sand: {text}")])


def render_upload_comment(report: Report, *, user: str) -> str:
    """The comment on a workbook uploaded for someone: who asked, the totals, and the
    shortfall when Keepnet counted more companies than could be read."""
    unknown = f" ({report.limit_unknown:,} with limit unknown)" if report.limit_unknown else ""
    text = (
        f"License overage, as <@{escape(user)}> asked: {report.companies_over:,} companies "
        f"over their limit{unknown}, {report.seats_over:,} seats over in total."
    )
    return _with_shortfall(text, report)


# --- subscriptions --------------------------------------------------------------------------


def render_notice(text: str) -> Message:
    """A plain confirmation, e.g. "Subscribed: …"; text is ours, values in it are escaped."""
    return _message(text, [_section(f":white_check_mark: {text}")])


def describe_schedule(cadence: str, weekday: str | None, time: str, zone: str) -> str:
    day = f"every {weekday.capitalize()}" if cadence == "weekly" and weekday else "every day"
    return f"{day} at {time} ({escape(zone)})"


def render_subscriptions(
    entries: Sequence[tuple[str, str, str | None]], *, now: datetime
) -> Message:
    """Each entry: channel ID, schedule description, who set it up (None: the settings)."""
    if not entries:
        text = "No digest subscriptions yet. Add one with `/overage subscribe weekly mon 09:00`."
        return _message(text, [_section(text)])
    title = f"{len(entries)} digest subscription(s)."

    def build(rows: int) -> Message:
        lines = [
            f"• <#{escape(channel)}>: {schedule}"
            + (f", set up by <@{escape(user)}>" if user else " (from DIGEST_CHANNEL)")
            for channel, schedule, user in entries[:rows]
        ]
        sections = _list_blocks(
            lines, total=len(entries), max_blocks=MAX_BLOCKS - 1, more=lambda n: f"…and {n:,} more."
        )
        return _message(title, [_header("Digest subscriptions"), *sections])

    return _fitted(build, len(entries))


def describe_crontab(crontab: str, zone: str) -> str:
    """DIGEST_CHANNEL's schedule in the subscriptions listing: the crontab as it is set."""
    return f"`{crontab}` ({zone})"


def render_subscribed(cadence: str, weekday: str | None, time: str, zone: str) -> Message:
    when = describe_schedule(cadence, weekday, time, zone)
    return render_notice(f"Subscribed: this channel gets the digest {when}.")


def render_unsubscribed(*, removed: bool) -> Message:
    if removed:
        return render_notice("This channel's digest subscription is removed.")
    return render_notice("This channel has no digest subscription to remove.")
