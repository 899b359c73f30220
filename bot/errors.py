"""The BotError family: the only home of user-facing failure text."""

from __future__ import annotations


class BotError(Exception):
    """A failure we can explain to a person: what happened, then what to do."""

    hint = "Try again in a few minutes."
    # True when waiting does not heal it (a wrong channel, token or address, a refused
    # request): a scheduled digest failing so is retried only at the longest gap
    lasting = False

    def __init__(self, what: str, *, hint: str | None = None) -> None:
        super().__init__(what)
        self.hint = hint or self.hint

    def for_user(self) -> str:
        return f"{self} {self.hint}".strip()


class UpstreamError(BotError):
    """The Keepnet platform failed us."""


class BadCredentials(UpstreamError):
    hint = (
        "Check KEEPNET_CLIENT_ID and KEEPNET_CLIENT_SECRET: create them in Keepnet under "
        "Company → Company Settings → REST API."
    )
    lasting = True


class NotReseller(UpstreamError):
    hint = (
        "Set Client Role = Reseller for this credential in Keepnet under "
        "Company → Company Settings → REST API."
    )
    lasting = True


class RequestRejected(UpstreamError):
    hint = "Please report this to whoever runs the bot."
    lasting = True


class PlatformDown(UpstreamError):
    hint = "Try again in a few minutes."


class WrongAddress(UpstreamError):
    """KEEPNET_BASE_URL answered in a way the Keepnet API does not (404, 405, 501...)."""

    hint = (
        "Check KEEPNET_BASE_URL: it should be the address of the Keepnet API, "
        "such as https://api.keepnetlabs.com."
    )
    lasting = True


class SlackDeliveryError(BotError):
    """Slack refused or failed a post or upload."""

    @classmethod
    def workbook_not_attached(cls) -> SlackDeliveryError:
        """The digest is out, but its workbook did not reach its thread."""
        return cls(
            "The workbook could not be attached to this digest.",
            hint="Use `/overage export` to get it.",
        )


class NotInChannel(SlackDeliveryError):
    hint = "Invite the bot with `/invite @Overage Bot` and try again."
    lasting = True


class ChannelNotFound(SlackDeliveryError):
    hint = "Check the channel ID (for the digest: DIGEST_CHANNEL)."
    lasting = True


class SlackAuthError(SlackDeliveryError):
    hint = "Check SLACK_BOT_TOKEN: reinstall the app to get a new bot token."
    lasting = True


class SlackBusy(SlackDeliveryError):
    """Slack kept rate-limiting or failing after the client's retries, or could not be reached."""

    hint = "Try again in a few minutes."


class SlackRefused(SlackDeliveryError):
    """Slack answered with an error code that trying again will not fix."""

    hint = "Please report this to whoever runs the bot."
    lasting = True


class NotAllowed(BotError):
    """The person may not do this (allow-lists, admin-only commands)."""

    hint = "Ask whoever runs the bot."

    @classmethod
    def admins_only(cls) -> NotAllowed:
        return cls(
            "Only the bot's admins can change digest subscriptions.",
            hint="Ask one of them, or have ADMIN_USER_IDS include you.",
        )

    @classmethod
    def digest_channel_in_settings(cls) -> NotAllowed:
        return cls(
            "This channel's digest is set by DIGEST_CHANNEL in the bot's settings, not from Slack.",
            hint="Change DIGEST_SCHEDULE there, or subscribe another channel.",
        )


class ConfigError(Exception):
    """A setting is missing or malformed; raised at start-up only (exit code 2)."""


class StoreUnavailable(BotError):
    """The database (DATABASE_URL) could not be reached or brought up to date."""

    hint = "Check DATABASE_URL and that the database server is running and accepts connections."
