"""A message Slack refuses as too long or invalid: its smaller versions instead."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from slack_sdk.errors import SlackApiError

from bot.errors import TOO_BIG, SlackRefused
from bot.publish.codes import error_code_and_status
from bot.render_slack import Message

log = logging.getLogger(__name__)


async def posting_smaller(post: Callable[[Message], Awaitable[str]], message: Message) -> str:
    """Post the message; when Slack refuses it as too long or invalid, post each of its
    smaller versions (fewer rows, "…and N more") in turn, never the same payload again. Any
    other refusal, or the smallest refused too, travels on."""
    *larger, smallest = [message, *message.smaller]
    for candidate in larger:
        try:
            return await post(candidate)
        except SlackRefused as exc:
            code = _too_big_code(exc)
            if code is None:
                raise
            log.warning("Slack refused a message (%s): posting a smaller one", code)
    return await post(smallest)


def _too_big_code(exc: SlackRefused) -> str | None:
    cause = exc.__cause__
    if not isinstance(cause, SlackApiError):
        return None
    code, _ = error_code_and_status(cause)
    return code if code in TOO_BIG else None
