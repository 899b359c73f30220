"""Errors at the outer edge: a BotError becomes its sentence; anything else a reference."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.respond.async_respond import AsyncRespond

from bot.errors import BotError, ChannelNotFound, NotInChannel
from bot.render_slack import Message, render_error

log = logging.getLogger(__name__)

Reply = Callable[[Message], Awaitable[Any]]
Tell = Callable[[str], Awaitable[Any]]


def sentence_for(exc: BaseException) -> str:
    """One plain sentence for the person; the details go to the log under a reference."""
    if isinstance(exc, BotError):
        return exc.for_user()
    reference = uuid.uuid4().hex[:8]
    log.error("unexpected failure, reference %s", reference, exc_info=exc)
    return BotError.unexpected(reference).for_user()


@asynccontextmanager
async def telling_errors(tell: Tell) -> AsyncIterator[dict[str, str]]:
    """Run a listener's work; any failure is told as one sentence, never a traceback.

    Yields a dict whose "outcome" the caller's log line reads.
    """
    outcome = {"outcome": "ok"}
    try:
        yield outcome
    except Exception as exc:  # the edge: every failure becomes one sentence
        outcome["outcome"] = type(exc).__name__
        if isinstance(exc, BotError):
            log.warning("answered with error: %s", exc)
        await _safe_tell(tell, sentence_for(exc))


@asynccontextmanager
async def answering_errors(reply: Reply) -> AsyncIterator[dict[str, str]]:
    """telling_errors, the sentence sent as a reply message."""
    async with telling_errors(lambda sentence: reply(render_error(sentence))) as outcome:
        yield outcome


@contextmanager
def in_their_channel(channel: str) -> Iterator[None]:
    """Work in the channel of the person's own command or click. The channel exists (they
    are in it), so Slack's channel_not_found means it is private and the bot is not in it."""
    try:
        yield
    except ChannelNotFound as exc:
        raise NotInChannel.private(channel) from exc


async def _safe_tell(tell: Tell, sentence: str) -> None:
    try:
        await tell(sentence)
    except Exception:  # the error reply itself failed: nothing left to tell the user
        log.exception("could not deliver the error reply")


def register(app: AsyncApp) -> None:
    @app.error
    async def on_unhandled_error(
        error: Exception, body: dict[str, Any], respond: AsyncRespond
    ) -> None:
        """The last net: a failure no listener answered."""
        text = sentence_for(error)
        if body.get("response_url"):
            await _safe_tell(
                lambda s: respond(response_type="ephemeral", text=render_error(s).text), text
            )
