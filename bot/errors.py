"""The BotError family: the only home of user-facing failure text.

A sentence said in more than one place, or by a listener or a service, is a factory on its
class here (`NotInChannel.private(channel)`); the edges that know a cause (bot.keepnet,
bot.publish, bot.store) raise with theirs where they find it.
"""

from __future__ import annotations

# how Slack's /invite names the bot, in the sentences that ask for one
INVITE = "`/invite @Overage Bot`"


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

    @classmethod
    def unexpected(cls, reference: str) -> BotError:
        """A failure we did not foresee; its detail is in the log under `reference`."""
        return cls(
            f"Something went wrong on our side (reference {reference}).",
            hint="Please try again later.",
        )

    @classmethod
    def button_outside_channel(cls) -> BotError:
        return cls(
            "This button only works in a channel.", hint="Run `/overage` in a channel first."
        )

    @classmethod
    def no_longer_over(cls) -> BotError:
        """The company picked from a list is not in the current list any more."""
        return cls(
            "That company is no longer over its limit.",
            hint="Run `/overage` for the current list.",
        )


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

    @classmethod
    def workbook_not_attached(cls) -> SlackDeliveryError:
        """The digest is out, but its workbook did not reach its thread."""
        return cls(
            "The workbook could not be attached to this digest.",
            hint="Use `/overage export` to get it.",
        )

    @classmethod
    def form_too_late(cls) -> SlackDeliveryError:
        """Slack takes a form (a modal) only within 3 s of the click that asked for it."""
        return cls("Slack did not open the form in time.", hint="Click the button again.")


class NotInChannel(SlackDeliveryError):
    hint = f"Invite the bot with {INVITE} and try again."
    lasting = True

    @classmethod
    def public(cls, channel: str | None) -> NotInChannel:
        return cls(f"The bot is not a member of the channel {channel}.")

    @classmethod
    def private(cls, channel: str | None) -> NotInChannel:
        """A private channel: the bot cannot join it, a person must invite it."""
        return cls(f"The bot is not a member of the private channel {channel}.")

    @classmethod
    def cannot_join(cls, channel: str | None) -> NotInChannel:
        """Slack refused the join (private, a direct message, no channels:join, archived)."""
        return cls(f"The bot is not a member of the channel {channel} and cannot join it.")

    @classmethod
    def refused(cls, channel: str | None) -> NotInChannel:
        """Slack keeps the bot out for the channel's kind or state (archived, restricted)."""
        return cls(f"Slack does not let the bot post in the channel {channel}.")


class ChannelNotFound(SlackDeliveryError):
    hint = "Check the channel ID (for the digest: DIGEST_CHANNEL)."
    lasting = True

    @classmethod
    def unknown(cls, channel: str | None) -> ChannelNotFound:
        return cls(
            f"Slack cannot find the channel {channel}, or it is private and the bot is not in it."
        )


class SlackAuthError(SlackDeliveryError):
    hint = "Check SLACK_BOT_TOKEN: reinstall the app to get a new bot token."
    lasting = True

    @classmethod
    def app_token_refused(cls, code: str) -> SlackAuthError:
        """Slack refused SLACK_APP_TOKEN, the app-level token Socket Mode connects with."""
        return cls(
            f"Slack refused SLACK_APP_TOKEN ({code}).",
            hint="Create an app-level token with connections:write under Basic Information → "
            "App-Level Tokens, turn on Socket Mode, and set SLACK_APP_TOKEN to it (xapp-...).",
        )


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


# Slack's codes for a message refused as too long or invalid: a smaller one may pass
TOO_BIG = frozenset(
    {
        "msg_blocks_too_long",
        "msg_too_long",
        "invalid_blocks",
        "invalid_blocks_format",
        "invalid_attachments",
        "too_many_attachments",
    }
)


def refused_as_too_big(answer: str) -> str | None:
    """Slack's too-long-or-invalid code in an error answer (a code, or a response_url's body
    that holds one); None for any other refusal."""
    return next((code for code in sorted(TOO_BIG) if code in answer), None)


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
