"""The Slack edge: the Web API calls the bot makes, who the bot is, the Socket Mode connection;
Slack's error codes mapped to our errors, once.

`retries` builds the Web API client and its retries, `codes` maps Slack's error codes to our
errors, `identity` asks auth.test once, `socket_mode` opens the Socket Mode connection,
`publisher` makes the calls (Publisher, and Poster, what the services need of it) and
`smaller` posts a message Slack refuses as too long in its smaller versions.
"""

from __future__ import annotations

from bot.publish.codes import error_code_and_status, slack_error
from bot.publish.identity import LEARN_TIMEOUT_S, Identity
from bot.publish.publisher import (
    HISTORY_MAX_PAGES,
    HISTORY_PAGE_SIZE,
    Interactive,
    Poster,
    Publisher,
    Send,
    TokenIdentity,
)
from bot.publish.retries import (
    MAX_RETRIES,
    MAX_RETRY_AFTER_S,
    SlackRetry,
    make_client,
    retry_after_s,
)
from bot.publish.smaller import posting_smaller
from bot.publish.socket_mode import SocketMode, open_socket_mode

__all__ = [
    "HISTORY_MAX_PAGES",
    "HISTORY_PAGE_SIZE",
    "LEARN_TIMEOUT_S",
    "MAX_RETRIES",
    "MAX_RETRY_AFTER_S",
    "Identity",
    "Interactive",
    "Poster",
    "Publisher",
    "Send",
    "SlackRetry",
    "SocketMode",
    "TokenIdentity",
    "error_code_and_status",
    "make_client",
    "open_socket_mode",
    "posting_smaller",
    "retry_after_s",
    "slack_error",
]
