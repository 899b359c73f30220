"""Settings for a runtime against the sandbox platform and the fake Slack, for tests."""

from __future__ import annotations

from bot.config import Settings


def sandbox_settings(
    *,
    keepnet_url: str,
    slack_url: str,
    database_url: str,
    bot_token: str = "xoxb-test-token",
    signing_secret: str = "s",
    **env: str,
) -> Settings:
    """The sandbox's own credential; `env` adds or overrides any other setting."""
    return Settings.from_env(
        {
            "KEEPNET_BASE_URL": keepnet_url,
            "KEEPNET_CLIENT_ID": "sandbox-client",
            "KEEPNET_CLIENT_SECRET": "sandbox-secret",
            "SLACK_BOT_TOKEN": bot_token,
            "SLACK_SIGNING_SECRET": signing_secret,
            "SLACK_API_URL": slack_url,
            "DATABASE_URL": database_url,
            **env,
        }
    )
