"""The company picker, "Details of a company…": an external select whose options the bot
serves as the person types, so that no message carries a hundred of them."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from bot.overage import Overage, Report
from bot.render_slack.blocks import (
    _UNKNOWN,
    DETAILS_SELECT,
    MAX_OPTION,
    MAX_OPTION_VALUE,
    MAX_OPTIONS,
    Block,
    _cut,
    _plain,
    _plain_text,
)
from bot.render_slack.lengths import units

# opening the menu lists the biggest overages at once; typing narrows them
PICKER_MIN_QUERY = 0


def _company_picker(overages: Sequence[Overage]) -> list[Block]:
    """The picker, when at least one of these companies can be picked (has a usable ID)."""
    if not any(_pickable(o) for o in overages):
        return []
    return [
        {
            "type": "external_select",
            "action_id": DETAILS_SELECT,
            "placeholder": _plain_text("Details of a company…"),
            "min_query_length": PICKER_MIN_QUERY,
        }
    ]


def render_options(report: Report, typed: str) -> list[Block]:
    """The picker's options for what the person typed: the over-limit companies whose name
    contains it, in any case and as `find` matches, biggest overage first, at most 100; each
    option's value is the company ID the Details select answers with."""
    pickable = (o for o in report.find(typed) if _pickable(o))
    return [_option(o) for o in itertools.islice(pickable, MAX_OPTIONS)]


def _pickable(overage: Overage) -> bool:
    return 0 < units(overage.company.company_id) <= MAX_OPTION_VALUE


def _option(overage: Overage) -> Block:
    over = _UNKNOWN if overage.seats_over is None else f"+{overage.seats_over:,}"
    suffix = f" ({over})"
    name = _plain(overage.company.name, MAX_OPTION - units(suffix))
    text = _plain_text(_cut(name + suffix, MAX_OPTION))
    return {"text": text, "value": overage.company.company_id}
