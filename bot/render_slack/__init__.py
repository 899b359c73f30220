"""PURE: Report/DigestDiff -> Block Kit messages, one module per Slack surface.

`lengths` counts text as Slack does (UTF-16 units, the budget of a whole message); `blocks`
holds the shared pieces (Message, Block, Slack's limits, the action IDs handlers import,
escaping, block builders); `summary`, `digest`, `alerts`, `home` and `notes` render one
surface each; `picker` is the company picker and the options it is served; `plaintext` turns
a message back into readable text. Everything public is
re-exported here, so callers import from `bot.render_slack`.
"""

from __future__ import annotations

from bot.render_slack.alerts import ALERT_LIST, render_alert
from bot.render_slack.blocks import (
    DETAILS_SELECT,
    DIGEST_LIST,
    EXPORT_BUTTON,
    EXPORT_CSV_BUTTON,
    EXPORT_INVOICE_BUTTON,
    FIND_DETAILED,
    HOME_TOP,
    MAX_BLOCKS,
    MAX_BUTTON,
    MAX_FIELD,
    MAX_FIELDS,
    MAX_HEADER,
    MAX_HOME_BLOCKS,
    MAX_MESSAGE_TEXT,
    MAX_OPTION,
    MAX_OPTION_VALUE,
    MAX_OPTIONS,
    MAX_SECTION,
    MAX_TABLE_CELL_CHARS,
    MAX_TABLE_ROWS,
    MAX_TEXT,
    NAME_IN_LIST,
    POST_TO_CHANNEL_BUTTON,
    REFRESH_HOME_BUTTON,
    Block,
    Message,
    escape,
    invoice_button,
)
from bot.render_slack.digest import render_digest, sparkline
from bot.render_slack.home import render_home, render_home_refused
from bot.render_slack.invoice import render_invoice_comment
from bot.render_slack.lengths import TEXT_BUDGET, text_size, units
from bot.render_slack.notes import (
    describe_crontab,
    describe_schedule,
    render_error,
    render_help,
    render_notice,
    render_refusal,
    render_subscribed,
    render_subscriptions,
    render_unsubscribed,
    render_upload_comment,
    render_working,
)
from bot.render_slack.picker import PICKER_MIN_QUERY, render_options
from bot.render_slack.plaintext import to_text
from bot.render_slack.reminder import render_reminder
from bot.render_slack.summary import (
    native_upload_comment,
    render_company,
    render_find,
    render_shared,
    render_summary,
    render_top,
)

__all__ = [
    "ALERT_LIST",
    "DETAILS_SELECT",
    "DIGEST_LIST",
    "EXPORT_BUTTON",
    "EXPORT_CSV_BUTTON",
    "EXPORT_INVOICE_BUTTON",
    "FIND_DETAILED",
    "HOME_TOP",
    "MAX_BLOCKS",
    "MAX_BUTTON",
    "MAX_FIELD",
    "MAX_FIELDS",
    "MAX_HEADER",
    "MAX_HOME_BLOCKS",
    "MAX_MESSAGE_TEXT",
    "MAX_OPTION",
    "MAX_OPTIONS",
    "MAX_OPTION_VALUE",
    "MAX_SECTION",
    "MAX_TABLE_CELL_CHARS",
    "MAX_TABLE_ROWS",
    "MAX_TEXT",
    "NAME_IN_LIST",
    "PICKER_MIN_QUERY",
    "POST_TO_CHANNEL_BUTTON",
    "REFRESH_HOME_BUTTON",
    "TEXT_BUDGET",
    "Block",
    "Message",
    "describe_crontab",
    "describe_schedule",
    "escape",
    "invoice_button",
    "native_upload_comment",
    "render_alert",
    "render_company",
    "render_digest",
    "render_error",
    "render_find",
    "render_help",
    "render_home",
    "render_home_refused",
    "render_invoice_comment",
    "render_notice",
    "render_options",
    "render_refusal",
    "render_reminder",
    "render_shared",
    "render_subscribed",
    "render_subscriptions",
    "render_summary",
    "render_top",
    "render_unsubscribed",
    "render_upload_comment",
    "render_working",
    "sparkline",
    "text_size",
    "to_text",
    "units",
]
