"""/overage: parse the text, call a service, respond."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond

from bot import grammar, logs, render_slack
from bot.errors import refused_as_too_big
from bot.render_slack import Message
from bot.services import Services
from handlers.errors import Reply, answering_errors, in_their_channel

log = logging.getLogger(__name__)


def ephemeral_reply(respond: AsyncRespond) -> Reply:
    async def reply(message: Message) -> None:
        # an answer refused as too long or invalid goes again with fewer rows, at most twice
        for candidate in (message, *message.smaller):
            answered = await respond(
                response_type="ephemeral",
                replace_original=False,
                text=candidate.text,
                blocks=candidate.blocks,
                attachments=candidate.attachments or None,
            )
            status = getattr(answered, "status_code", 200)
            if status == 200:
                return
            code = refused_as_too_big(str(getattr(answered, "body", "") or ""))
            # Slack refused the answer; unless a smaller one may do, the person sees nothing
            why = f" ({code})" if code else ""
            log.warning("Slack refused an answer at the response_url: HTTP %s%s", status, why)
            if code is None:
                return

    return reply


def register(app: AsyncApp, services: Services, guard: Any) -> None:
    @app.command("/overage", middleware=[guard])
    async def on_overage_command(
        ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond
    ) -> None:
        request = grammar.parse_overage_text(command.get("text") or "")
        await ack(**_ack_for(request))  # stops Slack's 3 s clock; the work below may take longer
        meter = logs.Meter()
        async with answering_errors(ephemeral_reply(respond)) as outcome:
            with in_their_channel(command.get("channel_id", "")):
                await answer(request, services, command=command, reply=ephemeral_reply(respond))
        logs.event(
            log,
            "command /overage",
            subcommand=type(request).__name__.lower(),
            user=command.get("user_id"),
            channel=command.get("channel_id"),
            **meter.fields(),
            outcome=outcome["outcome"],
        )


def _ack_for(request: grammar.Request) -> dict[str, Any]:
    """Slow answers get a short 'working on it' at once; quick ones answer in full later."""
    if isinstance(request, grammar.Export):
        what = "the platform's export" if request.native else f"the {request.fmt} file"
        note = render_slack.render_working(f"Preparing {what}: it will appear in this channel.")
    elif isinstance(request, grammar.ExportInvoice):
        note = render_slack.render_working("Preparing the invoice CSV: it will appear here.")
    elif isinstance(request, grammar.Digest):
        note = render_slack.render_working("Building the digest for this channel.")
    else:
        return {}
    return {"response_type": "ephemeral", "text": note.text, "blocks": note.blocks}


async def answer(
    request: grammar.Request, services: Services, *, command: dict[str, Any], reply: Reply
) -> None:
    """Carry out one parsed /overage request and reply to the person who asked."""
    channel, user = command.get("channel_id", ""), command.get("user_id", "")
    now = services.now
    match request:
        case grammar.Summary():
            await reply(render_slack.render_summary(await services.report(), now=now()))
        case grammar.Top(count=count):
            await reply(render_slack.render_top(await services.report(), count, now=now()))
        case grammar.Find(text=text):
            await reply(render_slack.render_find(await services.report(), text, now=now()))
        case grammar.Export(fmt=fmt, native=native):
            await services.upload_export(channel, fmt=fmt, native=native, user=user)
        case grammar.ExportInvoice():
            await services.upload_invoice(channel, user=user)
        case grammar.Digest():
            ts = await services.post_digest_now(channel)
            if ts is None:
                await reply(render_slack.render_working("A digest for this channel is on its way."))
        case grammar.Help(problem=problem):
            await reply(render_slack.render_help(problem))
        case grammar.Subscribe():
            await reply(await services.subscribe(request, channel=channel, user=user))
        case grammar.Unsubscribe():
            await reply(await services.unsubscribe(channel=channel, user=user))
        case grammar.Subscriptions():
            await reply(await services.list_subscriptions())
        case grammar.Cases(which=which):
            await reply(await services.case_listing(which, user=user))
        case grammar.OneCase(text=text):
            await reply(await services.case_card(text))
