"""App Home tab: the current state at a glance, with refresh and export."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot import render_slack
from bot.errors import BotError
from bot.overage import Report
from bot.publish import Publisher
from bot.render_slack import REFRESH_HOME_BUTTON
from bot.services import Services
from handlers.errors import Tell, sentence_for, telling_errors

log = logging.getLogger(__name__)


async def publish_home(services: Services, client: Any, user: str, *, fresh: bool) -> None:
    report: Report | None
    error: str | None = None
    try:
        report = await services.report(fresh=fresh)
    except Exception as exc:  # the Home tab shows the failure instead of going blank
        report, error = services.cache.latest, sentence_for(exc)
        if not isinstance(exc, BotError):
            log.warning("home: %s", type(exc).__name__)
    await _publish(services, client, user, report, error)


def telling_on_home(services: Services, client: Any, user: str) -> Tell:
    """How a Home tab button tells a failure: Slack gives such a click no response_url, so
    the tab is published again with the sentence at its top, over the data last fetched."""

    async def tell(sentence: str) -> None:
        await _publish(services, client, user, services.cache.latest, sentence)

    return tell


async def _publish(
    services: Services, client: Any, user: str, report: Report | None, error: str | None
) -> None:
    last, upcoming = await services.digest_times()
    blocks = render_slack.render_home(
        report, now=services.now(), last_digest=last, next_digest=upcoming, error=error
    )
    await Publisher(client).publish_home(user, blocks)


def register(app: AsyncApp, services: Services, guard: Any) -> None:
    @app.event("app_home_opened", middleware=[guard])
    async def on_home_opened(event: dict[str, Any], client: Any) -> None:
        if event.get("tab", "home") != "home":
            return
        user = event.get("user", "")
        async with telling_errors(telling_on_home(services, client, user)):
            await publish_home(services, client, user, fresh=False)

    @app.action(REFRESH_HOME_BUTTON, middleware=[guard])
    async def on_refresh_clicked(ack: Any, body: dict[str, Any], client: Any) -> None:
        await ack()
        user = body.get("user", {}).get("id", "")
        async with telling_errors(telling_on_home(services, client, user)):
            await publish_home(services, client, user, fresh=True)
