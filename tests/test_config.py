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
    assert settings.seat_prices == {}
    assert settings.case_reminder_days == 14
    assert settings.case_editor_ids == frozenset()
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
    ("value", "expected"),
    [
        (
            "Enterprise=4.50,Professional=3.20,*=4.00",
            {"Enterprise": "4.50", "Professional": "3.20", "*": "4.00"},
        ),
        (" Enterprise = 4.50 , , Pro Plus=0 ,", {"Enterprise": "4.50", "Pro Plus": "0"}),
        ("*=4", {"*": "4"}),
        ("Enterprise=1e1", {"Enterprise": "10"}),
        ("Kurumsal Lisans=12.345", {"Kurumsal Lisans": "12.345"}),
        ("@Plan=2.5", {"@Plan": "2.5"}),  # a name is any text: it is matched, never run
    ],
)
def test_seat_prices_are_a_price_per_license_type(value: str, expected: dict[str, str]) -> None:
    prices = Settings.from_env({"SEAT_PRICES": value}).seat_prices

    assert prices == {plan: Decimal(price) for plan, price in expected.items()}
    assert all(type(price) is Decimal for price in prices.values())


def test_seat_prices_cannot_be_changed_and_leave_the_settings_hashable() -> None:
    settings = Settings.from_env({"SEAT_PRICES": "Enterprise=4.50"})

    with pytest.raises(TypeError):
        settings.seat_prices["Enterprise"] = Decimal(0)  # type: ignore[index]
    assert hash(settings) == hash(Settings.from_env({"SEAT_PRICES": "Enterprise=4.50"}))


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("Enterprise", "('Enterprise' is not license type=price)"),
        ("Enterprise=", "('' is not a price like 4.50)"),
        ("Enterprise=cheap", "('cheap' is not a price like 4.50)"),
        ("Enterprise=-1", "('-1' is not a price like 4.50)"),
        ("Enterprise=NaN", "('NaN' is not a price like 4.50)"),
        ("Enterprise=Infinity", "('Infinity' is not a price like 4.50)"),
        ("Enterprise=4,50", "('50' is not license type=price)"),
        ("=4.50", "('=4.50' is not license type=price)"),
        ("=SUM(1)=2.5", "('=SUM(1)=2.5' is not license type=price)"),
        ("Enterprise=1,enterprise =2", "('enterprise' is named twice)"),
        ("Pro  Plus=1,pro plus=2", "('pro plus' is named twice)"),
        ("*=1,*=2", "('*' is named twice)"),
        (",", "(no entry)"),
    ],
)
def test_a_malformed_seat_prices_entry_is_one_line_naming_it(value: str, why: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"SEAT_PRICES": value})

    message = str(caught.value)
    assert message.startswith("SEAT_PRICES must be a comma list of license type=price like")
    assert why in message
    assert message.endswith(f"got {value!r}")
    assert "\n" not in message


def test_one_price_and_prices_per_plan_together_are_refused_naming_both() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"SEAT_PRICE": "4.00", "SEAT_PRICES": "Enterprise=4.50"})

    message = str(caught.value)
    assert message.startswith(
        "SEAT_PRICE and SEAT_PRICES are both set ('4.00' and 'Enterprise=4.50')"
    )
    assert "\n" not in message


@pytest.mark.parametrize(
    ("env", "days", "editors"),
    [
        ({}, 14, frozenset()),
        ({"CASE_REMINDER_DAYS": " 7 ", "CASE_EDITOR_IDS": "U1, U2,,"}, 7, {"U1", "U2"}),
        ({"CASE_REMINDER_DAYS": "1", "CASE_EDITOR_IDS": " "}, 1, frozenset()),
        ({"CASE_REMINDER_DAYS": "3650"}, 3650, frozenset()),
    ],
)
def test_case_settings_are_read(env: dict[str, str], days: int, editors: frozenset[str]) -> None:
    settings = Settings.from_env(env)

    assert settings.case_reminder_days == days
    assert settings.case_editor_ids == editors


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("CASE_REMINDER_DAYS", "0", "CASE_REMINDER_DAYS must be a whole number from 1 to 3650"),
        ("CASE_REMINDER_DAYS", "-3", "got '-3'"),
        ("CASE_REMINDER_DAYS", "2.5", "got '2.5'"),
        ("CASE_REMINDER_DAYS", "two weeks", "got 'two weeks'"),
        ("CASE_REMINDER_DAYS", "3651", "got '3651'"),
        ("CASE_EDITOR_IDS", "U1,<@U2>", "CASE_EDITOR_IDS must be a comma list of Slack IDs"),
    ],
)
def test_a_bad_case_setting_names_the_variable(name: str, value: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({name: value})

    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"KEEPNET_PAGE_SIZE": "ten"}, "KEEPNET_PAGE_SIZE"),
        ({"SEAT_PRICE": "1", "SEAT_PRICES": "*=2"}, "SEAT_PRICE and SEAT_PRICES"),
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
