"""Settings: one typed, frozen object built once from the environment."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import TypeVar
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.crontab import make_trigger
from bot.errors import ConfigError

T = TypeVar("T")

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("text", "json")
OTHER_PLANS = "*"  # in SEAT_PRICES: the price of every license type not named


@dataclass(frozen=True, slots=True)
class Settings:
    keepnet_client_id: str = ""
    keepnet_client_secret: str = field(default="", repr=False)
    keepnet_base_url: str = "https://api.keepnetlabs.com"
    keepnet_page_size: int = 100
    keepnet_concurrency: int = 4
    keepnet_timeout_s: float = 30.0
    slack_bot_token: str = field(default="", repr=False)
    slack_signing_secret: str = field(default="", repr=False)
    slack_app_token: str = field(default="", repr=False)
    slack_api_url: str = "https://slack.com/api/"
    port: int = 3000
    digest_channel: str | None = None
    digest_schedule: str = "0 9 * * MON"
    digest_timezone: str = "UTC"
    digest_attach_export: bool = True
    alert_channel: str | None = None
    alert_schedule: str = "0 * * * *"
    database_url: str = field(default="sqlite:///overage-bot.db", repr=False)  # may hold a password
    allowed_channel_ids: frozenset[str] = frozenset()
    allowed_user_ids: frozenset[str] = frozenset()
    admin_user_ids: frozenset[str] = frozenset()
    cache_seconds: int = 60
    digest_lease_s: int = 90
    seat_price: Decimal | None = None
    # license type as written in SEAT_PRICES (OTHER_PLANS for the rest) → monthly seat price;
    # empty when unset. Read-only; left out of the hash, which a mapping has none of
    seat_prices: Mapping[str, Decimal] = field(
        default_factory=lambda: MappingProxyType({}), hash=False
    )
    currency: str = "USD"
    case_reminder_days: int = 14
    case_editor_ids: frozenset[str] = frozenset()
    log_level: str = "INFO"
    log_format: str = "text"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.digest_timezone)

    @property
    def socket_mode(self) -> bool:
        return bool(self.slack_app_token)

    def secrets(self) -> tuple[str, ...]:
        """Every secret value set, for the log redaction filter."""
        values = (
            self.keepnet_client_secret,
            self.slack_bot_token,
            self.slack_signing_secret,
            self.slack_app_token,
            _password_of(self.database_url),
        )
        return tuple(v for v in values if v)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Read and check every setting; a bad one raises ConfigError naming the variable."""
        r, d = _Reader(env), cls()  # d: the defaults, written once, on the fields
        return cls(
            keepnet_client_id=r.text("KEEPNET_CLIENT_ID", ""),
            keepnet_client_secret=r.text("KEEPNET_CLIENT_SECRET", ""),
            keepnet_base_url=r.url("KEEPNET_BASE_URL", d.keepnet_base_url),
            # no ceiling of our own: the spec sets none (int32 is its type), and a server that
            # serves fewer rows is paged by what it answers
            keepnet_page_size=r.integer(
                "KEEPNET_PAGE_SIZE", d.keepnet_page_size, low=1, high=2**31 - 1
            ),
            keepnet_concurrency=r.integer(
                "KEEPNET_CONCURRENCY", d.keepnet_concurrency, low=1, high=32
            ),
            keepnet_timeout_s=float(
                r.integer("KEEPNET_TIMEOUT", int(d.keepnet_timeout_s), low=1, high=600)
            ),
            slack_bot_token=r.token("SLACK_BOT_TOKEN", "xoxb-"),
            slack_signing_secret=r.text("SLACK_SIGNING_SECRET", ""),
            slack_app_token=r.token("SLACK_APP_TOKEN", "xapp-"),
            slack_api_url=_with_slash(r.url("SLACK_API_URL", d.slack_api_url)),
            port=r.integer("PORT", d.port, low=0, high=65535),
            digest_channel=r.text("DIGEST_CHANNEL", "") or None,
            digest_schedule=r.crontab("DIGEST_SCHEDULE", d.digest_schedule),
            digest_timezone=r.zone("DIGEST_TIMEZONE", d.digest_timezone),
            digest_attach_export=r.boolean("DIGEST_ATTACH_EXPORT", d.digest_attach_export),
            alert_channel=r.text("ALERT_CHANNEL", "") or None,
            alert_schedule=r.crontab("ALERT_SCHEDULE", d.alert_schedule),
            database_url=r.database("DATABASE_URL", d.database_url),
            allowed_channel_ids=r.id_list("ALLOWED_CHANNEL_IDS"),
            allowed_user_ids=r.id_list("ALLOWED_USER_IDS"),
            admin_user_ids=r.id_list("ADMIN_USER_IDS"),
            cache_seconds=r.integer("CACHE_SECONDS", d.cache_seconds, low=0, high=86400),
            digest_lease_s=r.integer("DIGEST_LEASE_SECONDS", d.digest_lease_s, low=15, high=3600),
            seat_price=r.money("SEAT_PRICE"),
            seat_prices=r.plan_prices("SEAT_PRICES", one_price="SEAT_PRICE"),
            currency=r.currency("CURRENCY", d.currency),
            case_reminder_days=r.integer(
                "CASE_REMINDER_DAYS", d.case_reminder_days, low=1, high=3650
            ),
            case_editor_ids=r.id_list("CASE_EDITOR_IDS"),
            log_level=r.choice("LOG_LEVEL", d.log_level, LOG_LEVELS),
            log_format=r.choice("LOG_FORMAT", d.log_format, LOG_FORMATS),
        )

    def require_keepnet(self) -> None:
        """The platform credential is needed by every command that fetches."""
        for name, value in (
            ("KEEPNET_CLIENT_ID", self.keepnet_client_id),
            ("KEEPNET_CLIENT_SECRET", self.keepnet_client_secret),
        ):
            if not value:
                raise ConfigError(
                    f"{name} is not set: create a REST API credential in Keepnet under "
                    "Company → Company Settings → REST API (Client Role = Reseller)"
                )

    def require_slack(self, *, serving: bool = True) -> None:
        """Posting needs the bot token; serving over HTTP also needs the signing secret."""
        if not self.slack_bot_token:
            raise ConfigError(
                "SLACK_BOT_TOKEN is not set: copy the xoxb- token from the app's "
                "OAuth & Permissions page"
            )
        if serving and not self.socket_mode and not self.slack_signing_secret:
            raise ConfigError(
                "SLACK_SIGNING_SECRET is not set: copy it from the app's "
                "Basic Information page (or set SLACK_APP_TOKEN for Socket Mode)"
            )


def _password_of(url: str) -> str:
    """The password in a database URL, or "" (SQLAlchemy is imported only when one is set)."""
    if "@" not in url:
        return ""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).password or ""
    except ArgumentError:
        return ""


def _price(text: str) -> Decimal | None:
    """A price: a finite, non-negative decimal number; None for anything else."""
    try:
        price = Decimal(text)
    except InvalidOperation:
        return None
    return price if price.is_finite() and price >= 0 else None


def _plan_price(
    name: str, value: str, entry: str, seen: Mapping[str, Decimal]
) -> tuple[str, Decimal]:
    """One `license type=price` entry of SEAT_PRICES; a license type named twice (in any
    letter case or spacing) is refused, as the platform's names would match both."""
    plan, equals, amount = (part.strip() for part in entry.partition("="))
    if not equals or not plan:
        raise _bad_plan_prices(name, value, f"{entry!r} is not license type=price")
    price = _price(amount)
    if price is None:
        raise _bad_plan_prices(name, value, f"{amount!r} is not a price like 4.50")
    key = " ".join(plan.casefold().split())
    if any(" ".join(known.casefold().split()) == key for known in seen):
        raise _bad_plan_prices(name, value, f"{plan!r} is named twice")
    return plan, price


def _bad_plan_prices(name: str, value: str, why: str) -> ConfigError:
    return ConfigError(
        f"{name} must be a comma list of license type=price like "
        f"'Enterprise=4.50,Professional=3.20,*=4.00' ({why}), got {value!r}"
    )


def _with_slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"


class _Reader:
    """Reads one variable at a time and raises one clear ConfigError per bad value."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def _raw(self, name: str) -> str | None:
        value = self._env.get(name)
        if value is None or value.strip() == "":
            return None
        return value.strip()

    def _parse(self, name: str, default: T, parse: Callable[[str], T]) -> T:
        raw = self._raw(name)
        return default if raw is None else parse(raw)

    def text(self, name: str, default: str) -> str:
        return self._parse(name, default, lambda v: v)

    def token(self, name: str, prefix: str) -> str:
        def parse(value: str) -> str:
            if not value.startswith(prefix):
                # never echo the value: it is a secret
                raise ConfigError(f"{name} must start with '{prefix}'")
            return value

        return self._parse(name, "", parse)

    def url(self, name: str, default: str) -> str:
        def parse(value: str) -> str:
            parts = urlparse(value)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ConfigError(f"{name} must be an http(s) URL, got {value!r}")
            return value

        return self._parse(name, default, parse)

    def integer(self, name: str, default: int, *, low: int, high: int) -> int:
        def parse(value: str) -> int:
            try:
                number = int(value)
            except ValueError:
                number = low - 1
            if not low <= number <= high:
                raise ConfigError(
                    f"{name} must be a whole number from {low} to {high}, got {value!r}"
                )
            return number

        return self._parse(name, default, parse)

    def boolean(self, name: str, default: bool) -> bool:
        def parse(value: str) -> bool:
            lowered = value.lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ConfigError(f"{name} must be true or false, got {value!r}")

        return self._parse(name, default, parse)

    def crontab(self, name: str, default: str) -> str:
        def parse(value: str) -> str:
            try:
                make_trigger(value, "UTC")
            except ValueError as exc:
                raise ConfigError(
                    f"{name} must be a crontab of 5 fields like '0 9 * * MON', got {value!r} "
                    f"({exc})"
                ) from None
            return value

        return self._parse(name, default, parse)

    def zone(self, name: str, default: str) -> str:
        def parse(value: str) -> str:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ConfigError(
                    f"{name} must be an IANA time zone like 'Europe/Istanbul', got {value!r}"
                ) from None
            return value

        return self._parse(name, default, parse)

    def database(self, name: str, default: str) -> str:
        def parse(value: str) -> str:
            if not value.startswith(("sqlite:", "postgresql")):
                raise ConfigError(
                    f"{name} must be a sqlite:/// or postgresql+psycopg:// URL, "
                    f"got a URL starting {value.split(':', 1)[0]!r}"
                )
            if value.startswith("postgresql://") or value.startswith("postgres://"):
                value = "postgresql+psycopg://" + value.split("://", 1)[1]
            return value

        return self._parse(name, default, parse)

    def id_list(self, name: str) -> frozenset[str]:
        def parse(value: str) -> frozenset[str]:
            ids = frozenset(part.strip() for part in value.split(",") if part.strip())
            bad = sorted(i for i in ids if not i.isalnum())
            if bad:
                raise ConfigError(f"{name} must be a comma list of Slack IDs, got {bad[0]!r}")
            return ids

        return self._parse(name, frozenset(), parse)

    def money(self, name: str) -> Decimal | None:
        def parse(value: str) -> Decimal | None:
            price = _price(value)
            if price is None:
                raise ConfigError(f"{name} must be a price like 4.50, got {value!r}")
            return price

        return self._parse(name, None, parse)

    def plan_prices(self, name: str, *, one_price: str) -> Mapping[str, Decimal]:
        """`Enterprise=4.50,Professional=3.20,*=4.00`: a price per license type, `*` for the
        rest; never together with the one price of `one_price`."""

        def parse(value: str) -> Mapping[str, Decimal]:
            single = self._raw(one_price)
            if single is not None:
                raise ConfigError(
                    f"{one_price} and {name} are both set ({single!r} and {value!r}): "
                    f"set {one_price} for one price, or {name} for a price per license type"
                )
            prices: dict[str, Decimal] = {}
            for entry in (part.strip() for part in value.split(",")):
                if entry:
                    plan, price = _plan_price(name, value, entry, prices)
                    prices[plan] = price
            if not prices:
                raise _bad_plan_prices(name, value, "no entry")
            return MappingProxyType(prices)

        return self._parse(name, MappingProxyType({}), parse)

    def currency(self, name: str, default: str) -> str:
        def parse(value: str) -> str:
            if not (len(value) == 3 and value.isalpha()):
                raise ConfigError(
                    f"{name} must be a 3-letter currency code like EUR, got {value!r}"
                )
            return value.upper()

        return self._parse(name, default, parse)

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        def parse(value: str) -> str:
            for choice in choices:
                if value.lower() == choice.lower():
                    return choice
            raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}")

        return self._parse(name, default, parse)
