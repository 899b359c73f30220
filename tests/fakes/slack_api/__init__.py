"""A local fake of the Slack Web API over real HTTP that records every call it receives.

`server` holds FakeSlack (HTTP routes, Socket Mode, the admin routes), built on `methods`
(one handler per Web API method) and `state` (set-up, faults and the call record); `checks`
refuses what Slack refuses, `scopes` what the token's scopes do not allow; `records` holds
the recorded values.
"""

from __future__ import annotations

from tests.fakes.slack_api.checks import (
    MAX_BLOCK_TEXT_CHARS,
    MAX_MESSAGE_BLOCKS,
    MAX_TABLE_CELLS,
    MAX_TABLE_CHARS,
    MAX_TABLE_ROWS,
    MAX_TEXT_CHARS,
    MAX_VIEW_BLOCKS,
)
from tests.fakes.slack_api.records import (
    BytesReceived,
    Call,
    Channel,
    Params,
    ResponsePost,
    Upload,
)
from tests.fakes.slack_api.server import FakeSlack

__all__ = [
    "MAX_BLOCK_TEXT_CHARS",
    "MAX_MESSAGE_BLOCKS",
    "MAX_TABLE_CELLS",
    "MAX_TABLE_CHARS",
    "MAX_TABLE_ROWS",
    "MAX_TEXT_CHARS",
    "MAX_VIEW_BLOCKS",
    "BytesReceived",
    "Call",
    "Channel",
    "FakeSlack",
    "Params",
    "ResponsePost",
    "Upload",
]
