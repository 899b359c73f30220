"""The Socket Mode connection: Slack pushes requests over it instead of HTTP."""

from __future__ import annotations

import aiohttp
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import SlackAuthError, SlackBusy, SlackRefused
from bot.publish.codes import _AUTH_ERRORS, error_code_and_status

# Slack's answers to apps.connections.open that say the app-level token will not do
_APP_TOKEN_ERRORS = _AUTH_ERRORS | {"missing_scope", "not_allowed_token_type", "no_permission"}


async def open_socket_mode(client: AsyncWebClient, app_token: str) -> str:
    """The WebSocket URL of a new Socket Mode connection, asked of Slack once: slack_sdk
    asks again forever for a refused token, and a bad one must stop the start."""
    try:
        opened = await client.apps_connections_open(app_token=app_token)
    except SlackApiError as exc:
        code, status = error_code_and_status(exc)
        if code in _APP_TOKEN_ERRORS:
            raise SlackAuthError.app_token_refused(code) from None
        raise SlackRefused(
            f"Slack did not open a Socket Mode connection ({code or f'HTTP {status}'})."
        ) from None
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise SlackBusy(
            f"Slack could not be reached to open Socket Mode ({type(exc).__name__})."
        ) from None
    return str(opened["url"])


class SocketMode:
    """Bolt's Socket Mode connection: Slack pushes requests over it instead of HTTP."""

    def __init__(self, handler: AsyncSocketModeHandler) -> None:
        self._handler = handler

    @classmethod
    async def connect(cls, bolt: AsyncApp, client: AsyncWebClient, app_token: str) -> SocketMode:
        """Connect with a URL asked of Slack once (see open_socket_mode)."""
        handler = AsyncSocketModeHandler(bolt, app_token)
        handler.client.wss_uri = await open_socket_mode(client, app_token)
        await handler.connect_async()  # type: ignore[no-untyped-call]
        return cls(handler)

    async def is_connected(self) -> bool:
        return bool(await self._handler.client.is_connected())

    async def close(self) -> None:
        await self._handler.close_async()  # type: ignore[no-untyped-call]
