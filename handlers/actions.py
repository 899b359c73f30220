"""Buttons and menus on our messages: export, the invoice CSV, post to channel, company
details and the options of the company picker."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond

from bot import logs, render_slack
from bot.errors import BotError
from bot.render_slack import (
    DETAILS_SELECT,
    EXPORT_BUTTON,
    EXPORT_CSV_BUTTON,
    EXPORT_INVOICE_BUTTON,
    POST_TO_CHANNEL_BUTTON,
)
from bot.services import Services
from handlers.commands import ephemeral_reply
from handlers.errors import answering_errors, in_their_channel, telling_errors
from handlers.home import telling_on_home

log = logging.getLogger(__name__)


def _clicked_in(body: dict[str, Any]) -> str | None:
    """The channel of the message whose button was clicked; None on the App Home tab."""
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
        "channel_id"
    )
    return str(channel) if channel else None


def _channel(body: dict[str, Any]) -> str:
    channel = _clicked_in(body)
    if channel is None:
        raise BotError.button_outside_channel()
    return channel


def _log_click(
    name: str, body: dict[str, Any], meter: logs.Meter, outcome: dict[str, str], **extra: str
) -> None:
    """The click's one log line: which action, who, where (a channel or "home"), how it went."""
    logs.event(
        log,
        f"action {name}",
        action=name,
        **extra,
        user=body.get("user", {}).get("id", ""),
        channel=_clicked_in(body) or "home",
        **meter.fields(),
        outcome=outcome["outcome"],
    )


def register(app: AsyncApp, services: Services, guard: Any) -> None:
    @app.action(EXPORT_BUTTON, middleware=[guard])
    @app.action(EXPORT_CSV_BUTTON, middleware=[guard])
    async def on_export_clicked(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond
    ) -> None:
        await ack()
        fmt = "csv" if action.get("action_id") == EXPORT_CSV_BUTTON else "xlsx"
        user = body.get("user", {}).get("id", "")
        clicked_in = _clicked_in(body)
        meter = logs.Meter()
        if clicked_in is None:  # the Home tab: into the person's DM, failures shown on the tab
            async with telling_errors(telling_on_home(services, user)) as outcome:
                await services.upload_export_to_dm(user, fmt=fmt)
        else:
            async with answering_errors(ephemeral_reply(respond)) as outcome:
                with in_their_channel(clicked_in):
                    await services.upload_export(clicked_in, fmt=fmt, native=False, user=user)
        _log_click("export", body, meter, outcome, fmt=fmt)

    @app.action(EXPORT_INVOICE_BUTTON, middleware=[guard])
    async def on_export_invoice_clicked(
        ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond
    ) -> None:
        await ack()
        user = body.get("user", {}).get("id", "")
        clicked_in = _clicked_in(body)
        meter = logs.Meter()
        if clicked_in is None:  # the Home tab: into the person's DM, failures shown on the tab
            async with telling_errors(telling_on_home(services, user)) as outcome:
                await services.upload_invoice_to_dm(user)
        else:
            async with answering_errors(ephemeral_reply(respond)) as outcome:
                with in_their_channel(clicked_in):
                    await services.upload_invoice(clicked_in, user=user)
        _log_click("export_invoice", body, meter, outcome)

    @app.action(POST_TO_CHANNEL_BUTTON, middleware=[guard])
    async def on_post_to_channel_clicked(
        ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond
    ) -> None:
        await ack()
        user = body.get("user", {}).get("id", "")
        meter = logs.Meter()
        async with answering_errors(ephemeral_reply(respond)) as outcome:
            channel = _channel(body)
            with in_their_channel(channel):
                await services.post_summary(channel, user=user)
        _log_click("post_to_channel", body, meter, outcome)

    @app.options(DETAILS_SELECT, middleware=[guard])
    async def on_company_options(ack: Any, body: dict[str, Any]) -> None:
        """The company picker's options for what the person typed. Slack waits 3 s for them:
        the report last fetched serves (a picker is only shown on a message rendered from
        one); a fetch is made only when this process has none yet."""
        report = await services.any_report()
        await ack(options=render_slack.render_options(report, str(body.get("value") or "")))

    @app.action(DETAILS_SELECT, middleware=[guard])
    async def on_details_selected(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond
    ) -> None:
        await ack()
        company_id = (action.get("selected_option") or {}).get("value", "")
        meter = logs.Meter()
        async with answering_errors(ephemeral_reply(respond)) as outcome:
            details = await services.company_details(company_id)
            if details is None:
                raise BotError.no_longer_over()
            await ephemeral_reply(respond)(details)
        _log_click("details", body, meter, outcome)
