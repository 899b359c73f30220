"""Requests as Slack sends them: a slash command's fields and the signature headers.

Kept free of pytest and the fakes, so a benchmark can import it into the process it measures.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNING_SECRET = "test-signing-secret-0123456789"


def slash_command(
    text: str, response_url: str, *, user: str = "U1", channel: str = "C0GENERAL"
) -> dict[str, str]:
    """The fields of `/overage TEXT` as Slack sends them (form-encoded over HTTP, a JSON
    payload in Socket Mode)."""
    return {
        "token": "legacy", "team_id": "T0001", "team_domain": "acme",
        "channel_id": channel, "channel_name": "general", "user_id": user,
        "user_name": "user", "command": "/overage", "text": text,
        "api_app_id": "A0001", "response_url": response_url, "trigger_id": "1.2.3",
    }  # fmt: skip


def signed_headers(
    body: bytes,
    *,
    secret: str = SIGNING_SECRET,
    ts: int | None = None,
    content_type: str = "application/x-www-form-urlencoded",
) -> dict[str, str]:
    """Headers exactly as Slack signs a request: v0=HMAC-SHA256(v0:ts:body)."""
    stamp = str(int(time.time()) if ts is None else ts)
    base = b"v0:" + stamp.encode() + b":" + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": content_type,
    }
