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


class PageSizeRefused(RequestRejected):
    """The platform refused the page size the bot asks for (KEEPNET_PAGE_SIZE)."""

    hint = "Set KEEPNET_PAGE_SIZE to a smaller number, such as the default 100."


def list_refused(
    *, role: str | None = None, roleless: bool = False, missing: str | None = None
) -> NotReseller:
    """The 403 of the company search or export, with what the token says of why: a role other
    than Reseller, no role at all, or permissions without the one the request needs."""
    reasons = []
    if role is not None:
        reasons.append(f"its role is '{role}', not Reseller")
    elif roleless:
        reasons.append("it has no role and no reseller access")
    if missing is not None:
        reasons.append(f"its permissions do not include {missing}")
    why = f": {', and '.join(reasons)}" if reasons else ""
    return NotReseller(f"Keepnet refused the company list to this credential (403){why}.")


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


class ConfigError(Exception):
    """A setting is missing or malformed; raised at start-up only (exit code 2)."""


class StoreUnavailable(BotError):
    """The database (DATABASE_URL) could not be reached or brought up to date."""

    hint = "Check DATABASE_URL and that the database server is running and accepts connections."
