"""Who the bot is: auth.test asked of Slack once, and kept."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)

LEARN_TIMEOUT_S = 10.0  # how long the start waits for auth.test before going on without it


class Identity:
    """Who the bot is, asked of Slack once (auth.test) and kept. Bolt's default asks again
    for every request that arrives before the first answer, 50 calls for a burst of 50."""

    def __init__(self, slack: AsyncWebClient) -> None:
        self._slack = slack
        self._lock = asyncio.Lock()
        self._known: AuthorizeResult | None = None

    async def authorize(self) -> AuthorizeResult:
        async with self._lock:
            if self._known is None:
                response = await self._slack.auth_test()
                self._known = AuthorizeResult.from_auth_test_response(
                    auth_test_response=response, bot_token=self._slack.token
                )
        return self._known

    async def learn(self) -> None:
        """Ask now, before any request waits on the answer; if Slack cannot be asked yet,
        the first request asks again."""
        try:
            async with asyncio.timeout(LEARN_TIMEOUT_S):
                await self.authorize()
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
            log.warning("auth.test at start failed (%s): asked again on the first request",
                        type(exc).__name__)  # fmt: skip
