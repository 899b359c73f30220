"""App Home tab: the current state at a glance, with refresh and export."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck

from bot.render_slack import REFRESH_HOME_BUTTON
from bot.services import Services
from handlers.errors import Tell, telling_errors


def telling_on_home(services: Services, user: str) -> Tell:
    """How a Home tab button tells a failure: Slack gives such a click no response_url, so
    the tab is published again with the sentence at its top, over the data last fetched."""

    async def tell(sentence: str) -> None:
        await services.tell_on_home(user, sentence)

    return tell


def register(app: AsyncApp, services: Services, guard: Any) -> None:
    @app.event("app_home_opened", middleware=[guard])
    async def on_home_opened(event: dict[str, Any]) -> None:
        if event.get("tab", "home") != "home":
            return
        user = event.get("user", "")
        async with telling_errors(telling_on_home(services, user)):
            await services.show_home(user, fresh=False)

    @app.action(REFRESH_HOME_BUTTON, middleware=[guard])
    async def on_refresh_clicked(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        user = body.get("user", {}).get("id", "")
        async with telling_errors(telling_on_home(services, user)):
            await services.show_home(user, fresh=True)
