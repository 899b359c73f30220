"""Overage cases from Slack: the actions on a company's case, as buttons or a row's menu,
wherever the company is shown."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond

from bot import logs, render_slack
from bot.errors import case_refused
from bot.render_slack import CASE_BUTTON, CASE_FORM, CASE_MENU, CASE_REOPEN, CaseTarget
from bot.services import CaseOrigin, Services
from handlers.commands import ephemeral_reply
from handlers.errors import Tell, sentence_for, telling_errors
from handlers.home import telling_on_home

log = logging.getLogger(__name__)

CASE_ACTIONS = re.compile(rf"^(?:{re.escape(CASE_BUTTON)}:|{re.escape(CASE_MENU)}#)")


def origin_of(body: dict[str, Any], target: CaseTarget) -> CaseOrigin:
    """Where the click happened: a message in a channel (by its ts), an answer only the
    person sees (by the click's response_url), or their Home tab."""
    user = str((body.get("user") or {}).get("id") or "")
    container = body.get("container") or {}
    if container.get("type") == "view":
        return CaseOrigin(render_slack.HOME_SURFACE, user)
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
    return CaseOrigin(
        target.surface,
        user,
        channel=str(channel) if channel else None,
        ts=str(container.get("message_ts") or "") or None,
        ephemeral=bool(container.get("is_ephemeral")),
        response_url=body.get("response_url") or None,
    )


def register(app: AsyncApp, services: Services, guard: Any) -> None:
    @app.action(CASE_ACTIONS, middleware=[guard])
    async def on_case_action(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond
    ) -> None:
        await ack()
        chosen = render_slack.case_action(action)
        target = render_slack.case_target(str(action.get("block_id") or ""))
        meter = logs.Meter()
        origin = origin_of(body, target or CaseTarget("", ""))
        async with telling_errors(_tell(services, origin, respond)) as outcome:
            if chosen is None or target is None:
                raise case_refused("missing")
            trigger = str(body.get("trigger_id") or "")
            await services.case_clicked(chosen, target.company, origin, trigger_id=trigger)
        logs.event(
            log,
            "action case",
            action="case",
            case_action=chosen.value if chosen else "",
            surface=origin.surface,
            user=origin.user,
            channel=origin.channel or "home",
            **meter.fields(),
            outcome=outcome["outcome"],
        )

    # the form's listeners check who may change the case themselves: a modal belongs to no
    # channel, and the allow-list's channel rule would refuse it (the click that opened the
    # form passed it)
    @app.view(CASE_FORM)
    async def on_case_form_submitted(ack: AsyncAck, body: dict[str, Any]) -> None:
        """Slack waits 3 s for the answer to a form: the change is made before it, the
        message or tab it came from is brought up to date after."""
        view = body.get("view") or {}
        user = str((body.get("user") or {}).get("id") or "")
        meter = logs.Meter()
        try:
            values = (view.get("state") or {}).get("values") or {}
            reply = await services.submit_case_form(user, str(view.get("private_metadata")), values)
        except Exception as exc:  # the edge: the form hears one sentence, never nothing
            notice = render_slack.render_form_error(sentence_for(exc))
            await ack(response_action="update", view=notice)
            _log_form(user, meter, type(exc).__name__)
            return
        await ack(**reply.ack)
        _log_form(user, meter, "ok" if reply.origin else "refused")
        async with telling_errors(_nobody):
            await services.show_case_change(reply)

    @app.action(CASE_REOPEN)
    async def on_case_form_reopened(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        view = body.get("view") or {}
        user = str((body.get("user") or {}).get("id") or "")
        async with telling_errors(_nobody):
            await services.reopen_case_form(
                user, str(view.get("id") or ""), str(view.get("private_metadata") or "")
            )


async def _nobody(sentence: str) -> None:
    """A failure after the form closed has no one to tell but the log."""
    log.warning("after a case form: %s", sentence)


def _log_form(user: str, meter: logs.Meter, outcome: str) -> None:
    logs.event(log, "case form", action="case_form", user=user, **meter.fields(), outcome=outcome)


def _tell(services: Services, origin: CaseOrigin, respond: AsyncRespond) -> Tell:
    """How a refusal reaches the person: on their Home tab, or in an answer only they see."""
    if origin.on_home:
        return telling_on_home(services, origin.user)
    reply = ephemeral_reply(respond)

    async def tell(sentence: str) -> None:
        await reply(render_slack.render_error(sentence))

    return tell
