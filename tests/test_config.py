"""Settings.from_env: names and defaults of product.md; one clear line per bad value."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from bot.cli import load_environment
from bot.config import Settings
from bot.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_match_the_product_contract() -> None:
    settings = Settings.from_env({})
    assert settings.keepnet_base_url == "https://api.keepnetlabs.com"
    assert settings.keepnet_page_size == 100
    assert settings.keepnet_concurrency == 4
    assert settings.keepnet_timeout_s == 30
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.port == 3000
    assert settings.digest_schedule == "0 9 * * MON"
    assert settings.digest_timezone == "UTC"
    assert settings.digest_attach_export is True
    assert settings.database_url == "sqlite:///overage-bot.db"
    assert settings.cache_seconds == 60
    assert settings.seat_price is None
    assert settings.currency == "USD"
    assert settings.log_level == "INFO"
    assert settings.digest_channel is None
    assert settings.alert_channel is None  # no alerts unless a channel is named
    assert settings.alert_schedule == "0 * * * *"
    assert settings.admin_user_ids == frozenset()
    assert not settings.socket_mode


def test_values_are_typed() -> None:
    settings = Settings.from_env(
        {
            "SEAT_PRICE": "4.50",
            "CURRENCY": "eur",
            "ALLOWED_CHANNEL_IDS": "C1, C2,,",
            "DIGEST_ATTACH_EXPORT": "no",
            "SLACK_APP_TOKEN": "xapp-1-abc",
            "DATABASE_URL": "postgresql://u@db/x",
            "SLACK_API_URL": "http://127.0.0.1:9/api",
            "KEEPNET_PAGE_SIZE": "5000",  # no ceiling of our own
        }
    )
    assert settings.keepnet_page_size == 5000
    assert settings.seat_price == Decimal("4.50")
    assert settings.currency == "EUR"
    assert settings.allowed_channel_ids == frozenset({"C1", "C2"})
    assert settings.digest_attach_export is False
    assert settings.socket_mode
    assert settings.database_url == "postgresql+psycopg://u@db/x"
    assert settings.slack_api_url == "http://127.0.0.1:9/api/"


def test_alert_and_admin_settings_are_read() -> None:
    settings = Settings.from_env(
        {
            "ALERT_CHANNEL": "C0ALERTS",
            "ALERT_SCHEDULE": "*/15 8-18 * * 1-5",
            "ADMIN_USER_IDS": "U1, U2,",
            "DIGEST_SCHEDULE": "0 9 * * 7",
        }
    )
    assert settings.alert_channel == "C0ALERTS"
    assert settings.alert_schedule == "*/15 8-18 * * 1-5"
    assert settings.admin_user_ids == frozenset({"U1", "U2"})
    assert settings.digest_schedule == "0 9 * * 7"  # cron's Sunday, which APScheduler lacks


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        (
            "KEEPNET_PAGE_SIZE",
            "ten",
            "KEEPNET_PAGE_SIZE must be a whole number from 1 to 2147483647",
        ),
        ("KEEPNET_PAGE_SIZE", "2147483648", "got '2147483648'"),
        ("KEEPNET_PAGE_SIZE", "0", "got '0'"),
        ("KEEPNET_CONCURRENCY", "-1", "KEEPNET_CONCURRENCY"),
        ("PORT", "70000", "PORT"),
        ("DIGEST_SCHEDULE", "every monday", "DIGEST_SCHEDULE must be a crontab"),
        ("DIGEST_SCHEDULE", "0 0 30 2 *", "got '0 0 30 2 *' (it never fires)"),
        ("DIGEST_SCHEDULE", "0 9 * * 8", "DIGEST_SCHEDULE must be a crontab"),
        ("ALERT_SCHEDULE", "hourly", "ALERT_SCHEDULE must be a crontab"),
        ("ALERT_SCHEDULE", "0 0 31 4 *", "(it never fires)"),
        ("ADMIN_USER_IDS", "U1,@admin", "ADMIN_USER_IDS must be a comma list of Slack IDs"),
        ("DIGEST_TIMEZONE", "Mars/Olympus", "DIGEST_TIMEZONE must be an IANA time zone"),
        ("DIGEST_ATTACH_EXPORT", "maybe", "DIGEST_ATTACH_EXPORT must be true or false"),
        ("DIGEST_LEASE_SECONDS", "5", "DIGEST_LEASE_SECONDS must be a whole number from 15"),
        ("SEAT_PRICE", "cheap", "SEAT_PRICE must be a price"),
        ("SEAT_PRICE", "-3", "SEAT_PRICE"),
        ("CURRENCY", "euro", "CURRENCY must be a 3-letter"),
        ("KEEPNET_BASE_URL", "api.keepnetlabs.com", "KEEPNET_BASE_URL must be an http(s) URL"),
        ("DATABASE_URL", "mysql://x", "DATABASE_URL must be"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL must be one of"),
        ("ALLOWED_USER_IDS", "U1,<!channel>", "ALLOWED_USER_IDS"),
    ],
)
def test_a_bad_value_names_the_variable(name: str, value: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({name: value})
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_malformed_secret_is_never_echoed() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"SLACK_BOT_TOKEN": "not-a-token-s3cr3t"})
    assert "SLACK_BOT_TOKEN" in str(caught.value)
    assert "s3cr3t" not in str(caught.value)


def test_secrets_stay_out_of_repr() -> None:
    settings = Settings.from_env(
        {
            "KEEPNET_CLIENT_SECRET": "kn-secret-1",
            "SLACK_BOT_TOKEN": "xoxb-secret-2",
            "SLACK_SIGNING_SECRET": "sign-secret-3",
            "DATABASE_URL": "postgresql+psycopg://bot:db-secret-4@db.example/overage",
        }
    )
    text = repr(settings)
    for secret in ("kn-secret-1", "xoxb-secret-2", "sign-secret-3", "db-secret-4"):
        assert secret not in text
    assert set(settings.secrets()) == {
        "kn-secret-1",
        "xoxb-secret-2",
        "sign-secret-3",
        "db-secret-4",
    }


def test_missing_credentials_name_the_variable() -> None:
    with pytest.raises(ConfigError, match="KEEPNET_CLIENT_ID is not set"):
        Settings.from_env({}).require_keepnet()
    with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET is not set"):
        Settings.from_env({"SLACK_BOT_TOKEN": "xoxb-1"}).require_slack()
    Settings.from_env({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1"}).require_slack()


def test_dotenv_is_read_from_the_start_directory_and_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text("KEEPNET_PAGE_SIZE=50\nCURRENCY=EUR\n")
    monkeypatch.setenv("CURRENCY", "TRY")
    env = load_environment(tmp_path)
    assert env["KEEPNET_PAGE_SIZE"] == "50"
    assert env["CURRENCY"] == "TRY"
    assert "KEEPNET_PAGE_SIZE" not in load_environment(tmp_path / "elsewhere")


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"KEEPNET_PAGE_SIZE": "ten"}, "KEEPNET_PAGE_SIZE"),
        ({"DIGEST_TIMEZONE": "Nowhere/City"}, "DIGEST_TIMEZONE"),
        ({"DIGEST_SCHEDULE": "0 0 30 2 *"}, "DIGEST_SCHEDULE"),
        ({"ALERT_SCHEDULE": "61 * * * *"}, "ALERT_SCHEDULE"),
        ({}, "KEEPNET_CLIENT_ID"),
    ],
)
def test_the_program_stops_with_one_line_and_exit_code_2(
    tmp_path: Path, env: dict[str, str], needle: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "serve"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert needle in lines[0]
    assert "Traceback" not in result.stderr
