"""App Home over signed HTTP: the tab published on open, refresh, refusal, platform failure."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.render_slack import EXPORT_BUTTON, REFRESH_HOME_BUTTON
from bot.sandbox import is_flagged
from tests.handlers.conftest import Bot, StartBot, all_text, eventually
from tests.runtime import settled

HOME_OPENED = {"type": "app_home_opened", "user": "U1", "channel": "D1", "tab": "home"}


def action_ids(blocks: list[dict[str, Any]]) -> list[str]:
    return [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]


def biggest_names(bot: Bot, count: int) -> list[str]:
    over = [c for c in bot.sandbox.companies if is_flagged(c) and str(c["numberOfUsers"]).isdigit()]
    over.sort(key=lambda c: c["targetUserCount"] - int(c["numberOfUsers"]), reverse=True)
    return [c["companyName"] for c in over[:count]]


async def open_home(bot: Bot, user: str = "U1") -> dict[str, Any]:
    before = len(bot.slack.home_views)
    response = await bot.event({**HOME_OPENED, "user": user})
    assert response.status_code == 200
    views = await eventually(lambda: len(bot.slack.home_views) > before and bot.slack.home_views)
    call = views[-1]
    assert call.params["user_id"] == user
    view: dict[str, Any] = call.params["view"]
    assert view["type"] == "home"
    return view


async def test_opening_the_home_tab_publishes_the_state_at_a_glance(start_bot: StartBot) -> None:
    bot = await start_bot(companies=400, over_limit=40, DIGEST_CHANNEL="C0GENERAL")
    view = await open_home(bot)
    blocks = view["blocks"]
    text = all_text(blocks)
    assert len(blocks) <= 100
    assert f"{len([c for c in bot.sandbox.companies if is_flagged(c)]):,}" in text
    assert "Seats over in total" in text
    assert "5 biggest" in text
    plain = text.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
    for name in biggest_names(bot, 5):
        assert " ".join(name.split())[:30] in plain
    assert "Data as of" in text
    assert "Last digest: none yet" in text
    assert "Next digest:" in text and "not scheduled" not in text
    assert action_ids(blocks) == [REFRESH_HOME_BUTTON, EXPORT_BUTTON]


async def test_without_a_digest_channel_the_home_tab_says_not_scheduled(
    start_bot: StartBot,
) -> None:
    bot = await start_bot()
    view = await open_home(bot)
    assert "Next digest: not scheduled" in all_text(view["blocks"])


async def test_other_tabs_publish_nothing(start_bot: StartBot) -> None:
    bot = await start_bot()
    await bot.event({**HOME_OPENED, "tab": "messages"})
    await settled()
    assert bot.slack.home_views == []
    assert bot.sandbox.search_requests == 0


async def test_refresh_fetches_fresh_within_the_cache_window(start_bot: StartBot) -> None:
    bot = await start_bot(CACHE_SECONDS="600")
    await open_home(bot)
    searches = bot.sandbox.search_requests
    assert searches >= 1
    response = await bot.action(REFRESH_HOME_BUTTON, value="refresh", channel=None)
    assert response.status_code == 200
    views = await eventually(lambda: len(bot.slack.home_views) == 2 and bot.slack.home_views)
    assert bot.sandbox.search_requests > searches
    assert views[-1].params["user_id"] == "U1"
    assert "Data as of" in all_text(views[-1].params["view"]["blocks"])


async def test_opening_again_within_the_cache_window_does_not_refetch(
    start_bot: StartBot,
) -> None:
    bot = await start_bot(CACHE_SECONDS="600")
    await open_home(bot)
    searches = bot.sandbox.search_requests
    await open_home(bot, user="U2")
    assert bot.sandbox.search_requests == searches


async def test_someone_not_allowed_sees_the_refusal_and_nothing_is_fetched(
    start_bot: StartBot,
) -> None:
    bot = await start_bot(ALLOWED_USER_IDS="U9")
    view = await open_home(bot, user="U1")
    assert "isn't available" in all_text(view["blocks"])
    assert action_ids(view["blocks"]) == []
    await settled()
    assert bot.sandbox.token_requests == 0 and bot.sandbox.search_requests == 0


async def test_refresh_by_someone_not_allowed_shows_the_refusal_and_fetches_nothing(
    start_bot: StartBot,
) -> None:
    bot = await start_bot(ALLOWED_USER_IDS="U9")
    response = await bot.action(REFRESH_HOME_BUTTON, value="refresh", user="U1", channel=None)
    assert response.status_code == 200
    views = await eventually(lambda: bot.slack.home_views)
    assert views[-1].params["user_id"] == "U1"
    assert "isn't available" in all_text(views[-1].params["view"]["blocks"])
    await settled()
    assert bot.sandbox.token_requests == 0 and bot.sandbox.search_requests == 0
    assert bot.slack.responses == []


async def test_a_refused_home_open_is_acked_before_its_view_is_published(
    start_bot: StartBot,
) -> None:
    bot = await start_bot(ALLOWED_USER_IDS="U9")
    bot.slack.hold_next("views.publish")  # Slack keeps its answer to the refusal view
    acked = asyncio.create_task(bot.event({**HOME_OPENED, "user": "U1"}))
    # the ack came back while views.publish was still waiting for its answer
    await eventually(lambda: acked.done() and bot.slack.holding("views.publish") == 1)
    assert (await acked).status_code == 200
    bot.slack.release()
    await eventually(lambda: bot.slack.holding("views.publish") == 0)
    views = bot.slack.home_views
    assert "isn't available" in all_text(views[-1].params["view"]["blocks"])


async def test_a_channel_allow_list_keeps_the_home_tab_closed_to_everyone(
    start_bot: StartBot,
) -> None:
    bot = await start_bot(ALLOWED_CHANNEL_IDS="C0GENERAL")
    view = await open_home(bot, user="U1")
    assert "isn't available" in all_text(view["blocks"])
    await bot.action(EXPORT_BUTTON, value="xlsx", user="U1", channel=None)
    await settled()
    assert bot.sandbox.token_requests == 0 and bot.sandbox.search_requests == 0
    assert bot.slack.uploads == []


async def test_with_both_lists_a_listed_user_sees_the_home_tab(start_bot: StartBot) -> None:
    bot = await start_bot(ALLOWED_CHANNEL_IDS="C0GENERAL", ALLOWED_USER_IDS="U1")
    view = await open_home(bot, user="U1")
    assert action_ids(view["blocks"]) == [REFRESH_HOME_BUTTON, EXPORT_BUTTON]
    assert bot.sandbox.search_requests >= 1


async def test_a_platform_failure_shows_the_sentence_instead_of_a_blank_tab(
    start_bot: StartBot,
) -> None:
    bot = await start_bot(role="Company Admin")
    view = await open_home(bot)
    text = all_text(view["blocks"])
    assert "Reseller" in text
    assert "Traceback" not in text and "sandbox-secret" not in text
    assert action_ids(view["blocks"]) == [REFRESH_HOME_BUTTON, EXPORT_BUTTON]


async def test_refresh_after_a_failure_keeps_the_last_good_data(start_bot: StartBot) -> None:
    bot = await start_bot(CACHE_SECONDS="600")
    await open_home(bot)
    bot.sandbox.switches.fail_next = [400]
    await bot.action(REFRESH_HOME_BUTTON, value="refresh", channel=None)
    views = await eventually(lambda: len(bot.slack.home_views) == 2 and bot.slack.home_views)
    text = all_text(views[-1].params["view"]["blocks"])
    assert "rejected" in text
    assert "Seats over in total" in text  # the earlier fetch is still shown under the warning


async def test_a_refused_home_tab_is_published_again_with_the_sentence_on_top(
    start_bot: StartBot, caplog: pytest.LogCaptureFixture
) -> None:
    bot = await start_bot()
    bot.slack.fail_next("views.publish", "invalid_blocks")  # Slack refuses the tab itself
    await bot.action(REFRESH_HOME_BUTTON, value="refresh", channel=None)
    views = await eventually(lambda: bot.slack.home_views)
    blocks = views[-1].params["view"]["blocks"]
    assert blocks[0]["type"] == "header"
    top = blocks[1]["text"]["text"]
    assert "Slack refused the App Home update (invalid_blocks)." in top
    assert "Traceback" not in all_text(blocks)
    assert [c.error for c in bot.slack.calls_to("views.publish")] == ["invalid_blocks", None]
    assert bot.slack.responses == []  # a Home tab click has no response_url
    assert "invalid_blocks" in caplog.text


async def test_the_home_tab_says_when_keepnet_counts_more_than_was_read(
    start_bot: StartBot,
) -> None:
    bot = await start_bot(companies=300, over_limit=40)
    bot.sandbox.switches.hidden_rows = 2  # counted by Keepnet, served on no page
    view = await open_home(bot)
    sentence = "Keepnet counts 40 companies over their limit; 38 could be read."
    assert sentence in all_text(view["blocks"])
