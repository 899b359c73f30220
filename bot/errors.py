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


# --- overage cases -----------------------------------------------------------------------------


class CaseRefused(BotError):
    """A change an overage case cannot take: not in its state, or with values it cannot use."""

    hint = "Look at the case again and choose what to do."


# code → (what happened, what to do); {placeholders} are filled by case_refused
_CASE_REFUSALS: dict[str, tuple[str, str]] = {
    "resolved": (
        "This case was resolved on {day}, when the company came back under its limit.",
        "Add a note if you like; a new case opens if it goes over again.",
    ),
    "state": ("A case that is {state} cannot be {done}.", CaseRefused.hint),
    "seats": (
        "The invoiced seats must be a whole number from 1 to {most:,}, got {value}.",
        "Correct it and submit again.",
    ),
    "amount": (
        "The invoiced amount must be a sum like 180.00 (at most {places} decimals), got {value}.",
        "Correct it and submit again.",
    ),
    "reference": ("An invoice needs its reference.", "Enter the invoice number and submit again."),
    "until": (
        "A snooze must end after today ({today}), got {until}.",
        "Choose a later date and submit again.",
    ),
    "reason": ("A case is {done} only with a reason.", "Say why and submit again."),
    "note": ("A note needs some text.", "Write the note and submit again."),
    "long": (
        "The {field} is longer than {most:,} characters.",
        "Shorten it and submit again.",
    ),
    "owner": ("A case's owner must be a Slack user.", "Pick a person and submit again."),
    "missing": ("There is no such overage case.", "List the cases with `/overage cases`."),
}


def case_refused(code: str, **values: object) -> CaseRefused:
    """The sentence for a refused case change, by its code in _CASE_REFUSALS."""
    what, hint = _CASE_REFUSALS[code]
    return CaseRefused(what.format(**values), hint=hint)


class CaseChanged(BotError):
    """A form about a case was submitted after someone else had changed the case."""

    hint = "Open the form again to see the case as it is now, then make your change."

    @staticmethod
    def sentence(*, by: str, state: str, system: bool) -> str:
        who = "the bot" if system else f"<@{by}>"
        return f"This case was changed by {who} after you opened the form: it is {state} now."


def case_edit_refused() -> NotAllowed:
    return NotAllowed(
        "Only the people in CASE_EDITOR_IDS can change overage cases.",
        hint="Ask whoever runs the bot to add you there.",
    )
