"""Slack's error codes (or HTTP status) turned into our errors, in one place."""

from __future__ import annotations

from slack_sdk.errors import SlackApiError

from bot.errors import (
    ChannelNotFound,
    NotInChannel,
    SlackAuthError,
    SlackBusy,
    SlackDeliveryError,
    SlackRefused,
)

_AUTH_ERRORS = frozenset({"invalid_auth", "not_authed", "account_inactive", "token_revoked"})
_BUSY_ERRORS = frozenset(
    {"service_unavailable", "fatal_error", "internal_error", "request_timeout"}
)
# Slack's answers to a post, an upload or a join that only someone in the channel can cure,
# by inviting the bot there (the error lists of chat.postMessage, files.completeUploadExternal
# and conversations.join); a join refused for any other reason is told the same way
# (Publisher._join), and Slack's own code goes to the log
_CHANNEL_ERRORS = frozenset(
    {
        "not_in_channel",
        "is_archived",
        "method_not_supported_for_channel_type",
        "restricted_action",
        "restricted_action_read_only_channel",
        "restricted_action_thread_only_channel",
        "restricted_action_non_threadable_channel",
        "team_access_not_granted",
    }
)


def slack_error(
    code: str | None,
    *,
    status: int,
    action: str,
    channel: str | None = None,
    retry_after: int | None = None,
) -> SlackDeliveryError:
    """The one place that turns a Slack error code (or HTTP status) into our error."""
    where = f" in {channel}" if channel else ""
    if code in _AUTH_ERRORS:
        return SlackAuthError("Slack did not accept the bot token.")
    if code == "channel_not_found":
        return ChannelNotFound.unknown(channel)
    if code in ("expired_trigger_id", "exchanged_trigger_id"):
        return SlackDeliveryError.form_too_late()
    if code in _CHANNEL_ERRORS:
        if code == "not_in_channel":
            return NotInChannel.public(channel)
        return NotInChannel.refused(channel)
    if status == 429 or code == "ratelimited":
        when = f"in {retry_after} s" if retry_after else "in a minute"
        return SlackBusy(
            f"Slack is rate-limiting us and did not complete the {action}{where}.",
            hint=f"Try again {when}.",
        )
    if code in _BUSY_ERRORS or status >= 500:
        return SlackBusy(f"Slack is busy and did not complete the {action}{where}.")
    return SlackRefused(f"Slack refused the {action}{where} ({code or f'HTTP {status}'}).")


def error_code_and_status(exc: SlackApiError) -> tuple[str | None, int]:
    """Slack's error code (None when the answer was not Slack's JSON, a proxy's 404 page)
    and the HTTP status."""
    response = exc.response
    data = getattr(response, "data", None)
    code = data.get("error") if isinstance(data, dict) else None
    return (str(code) if code else None), int(getattr(response, "status_code", 0) or 0)


def _slack_code(exc: BaseException) -> str | None:
    """The Slack error code behind one of our errors, from the exception it was raised from."""
    cause = exc.__cause__
    return error_code_and_status(cause)[0] if isinstance(cause, SlackApiError) else None
