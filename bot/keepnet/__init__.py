"""Async Keepnet client: token, search paging, export; raw JSON stops here and becomes Company.

`transport` sends one request with bounded retries and maps HTTP statuses, `answers` reads the
platform's JSON and envelopes, `token` holds the access token and makes the authorised calls,
`paging` reads the over-limit list, `export` the platform's own file of it; `client` puts them
together as KeepnetClient, the one entry point.
"""

from __future__ import annotations

from bot.keepnet.client import KeepnetClient
from bot.keepnet.export import NativeFile
from bot.keepnet.paging import EXTRA_PASSES, MAX_PAGES, Fetch, Page
from bot.keepnet.token import MAX_TOKEN_LIFETIME_S
from bot.keepnet.transport import MAX_ATTEMPTS, MAX_BACKOFF_S, RETRY_BUDGET_S

__all__ = [
    "EXTRA_PASSES",
    "MAX_ATTEMPTS",
    "MAX_BACKOFF_S",
    "MAX_PAGES",
    "MAX_TOKEN_LIFETIME_S",
    "RETRY_BUDGET_S",
    "Fetch",
    "KeepnetClient",
    "NativeFile",
    "Page",
]
