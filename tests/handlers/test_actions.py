"""Buttons and menus over signed HTTP: export, post to channel, details, refusals, Home export."""

from __future__ import annotations

import re
from io import BytesIO
from typing import Any

import pytest
from openpyxl import load_workbook

from bot.render_slack import (
    DETAILS_SELECT,
    EXPORT_BUTTON,
    EXPORT_CSV_BUTTON,
    POST_TO_CHANNEL_BUTTON,
)
from bot.sandbox import is_flagged
from tests.handlers.conftest import (
    Bot,
    StartBot,
    all_text,
    answer_to,
    check_export_upload,
    eventually,
    flagged,
)
from tests.runtime import settled


async def click_and_answer(bot: Bot, action_id: str, **kwargs: Any) -> dict[str, Any]:
    response = await bot.action(action_id, **kwargs)
    assert response.status_code == 200
    answers = await eventually(bot.answers)
    return answers[-1]


@pytest.mark.parametrize(
    ("action_id", "suffix"), [(EXPORT_BUTTON, ".xlsx"), (EXPORT_CSV_BUTTON, ".csv")]
)
async def test_export_buttons_upload_the_file_into_the_channel(
    start_bot: StartBot, action_id: str, suffix: str
) -> None:
    bot = await start_bot()
    response = await bot.action(action_id, value=suffix[1:], user="U42")
    assert response.status_code == 200
    upload = (await eventually(lambda: bot.slack.uploads))[0]
    check_export_upload(bot, upload, suffix, user="U42")
    assert not bot.slack.calls_to("conversations.open")


async def test_post_to_channel_shares_the_summary_without_buttons(start_bot: StartBot) -> None:
    bot = await start_bot()
    await bot.action(POST_TO_CHANNEL_BUTTON, value="summary", user="U7")
    post = (await eventually(lambda: bot.slack.posts))[0]
    assert post.params["channel"] == "C0GENERAL"
    blocks = post.params["blocks"]
    assert f"{len(flagged(bot)):,}" in all_text(blocks)
    assert "Shared by <@U7>" in all_text(blocks)
    assert [b for b in blocks if b["type"] == "actions"] == []
    assert post.params["text"]
    assert bot.slack.messages("C0GENERAL")[-1]["ts"] == post.response["ts"]


async def test_details_select_answers_with_the_license_details(start_bot: StartBot) -> None:
    bot = await start_bot()
    company = next(c for c in flagged(bot) if str(c["numberOfUsers"]).isdigit())
    answer = await click_and_answer(bot, DETAILS_SELECT, selected=company["companyResourceId"])
    assert answer["response_type"] == "ephemeral"
    assert answer.get("replace_original") is False
    text = all_text(answer["blocks"])
    for label in ("License type", "License limit", "Target users", "License end date"):
        assert label in text
    assert "Licence expired" in text
    assert f"{int(company['numberOfUsers']):,}" in text
    assert f"{company['targetUserCount']:,}" in text
    assert company["companyResourceId"] in text


async def test_details_of_a_company_no_longer_over_is_one_sentence(start_bot: StartBot) -> None:
    bot = await start_bot()
    calm = next(c for c in bot.sandbox.companies if not is_flagged(c))
    answer = await click_and_answer(bot, DETAILS_SELECT, selected=calm["companyResourceId"])
    assert answer["response_type"] == "ephemeral"
    assert "no longer over its limit" in answer["text"]
    assert "Traceback" not in all_text(answer)


@pytest.mark.parametrize(
    ("action_id", "kwargs"),
    [
        (EXPORT_BUTTON, {"value": "xlsx"}),
        (POST_TO_CHANNEL_BUTTON, {"value": "summary"}),
        (DETAILS_SELECT, {"selected": "any-company"}),
    ],
)
async def test_a_click_by_someone_not_allowed_is_refused_before_any_fetch(
    start_bot: StartBot, action_id: str, kwargs: dict[str, Any]
) -> None:
    bot = await start_bot(ALLOWED_USER_IDS="U9")
    answer = await click_and_answer(bot, action_id, user="U1", **kwargs)
    assert "isn't available" in answer["text"]
    assert answer["response_type"] == "ephemeral"
    await settled()
    assert bot.sandbox.token_requests == 0 and bot.sandbox.search_requests == 0
    assert bot.slack.uploads == [] and bot.slack.posts == []


async def test_export_from_the_home_tab_lands_in_the_direct_message(start_bot: StartBot) -> None:
    bot = await start_bot()
    response = await bot.action(EXPORT_BUTTON, value="xlsx", user="U5", channel=None)
    assert response.status_code == 200
    upload = (await eventually(lambda: bot.slack.uploads))[0]
    opened = bot.slack.calls_to("conversations.open")
    assert [call.params["users"] for call in opened] == ["U5"]
    dm = opened[0].response["channel"]["id"]
    assert dm.startswith("D")
    assert upload.channel_id == dm
    assert upload.filename.endswith(".xlsx")
    assert load_workbook(BytesIO(upload.content), read_only=True).worksheets[0].max_row > 2
    assert bot.slack.messages(dm)  # the file's message is in the conversation
    assert not [a for a in bot.answers() if "only works in a channel" in all_text(a)]


async def test_a_second_home_export_uses_the_same_direct_message(start_bot: StartBot) -> None:
    bot = await start_bot()
    await bot.action(EXPORT_BUTTON, value="xlsx", user="U5", channel=None)
    await eventually(lambda: len(bot.slack.uploads) == 1)
    await bot.action(EXPORT_CSV_BUTTON, value="csv", user="U5", channel=None)
    uploads = await eventually(lambda: len(bot.slack.uploads) == 2 and bot.slack.uploads)
    assert uploads[0].channel_id == uploads[1].channel_id
    assert uploads[1].filename.endswith(".csv")


async def test_home_export_when_slack_refuses_the_direct_message_says_so_on_the_tab(
    start_bot: StartBot,
) -> None:
    bot = await start_bot()
    bot.slack.fail_next("conversations.open", "user_disabled")
    response = await bot.action(EXPORT_BUTTON, value="xlsx", user="U5", channel=None)
    assert response.status_code == 200
    views = await eventually(lambda: bot.slack.home_views)
    assert views[-1].params["user_id"] == "U5"
    top = views[-1].params["view"]["blocks"][1]["text"]["text"]
    assert "direct message" in top and "user_disabled" in top
    assert "reference" not in top
    assert bot.slack.uploads == [] and bot.slack.responses == []


async def test_home_export_that_fails_to_upload_says_so_on_the_tab(start_bot: StartBot) -> None:
    bot = await start_bot()
    bot.slack.fail_next("files.getUploadURLExternal", "invalid_auth")
    await bot.action(EXPORT_BUTTON, value="xlsx", user="U5", channel=None)
    views = await eventually(lambda: bot.slack.home_views)
    assert "SLACK_BOT_TOKEN" in views[-1].params["view"]["blocks"][1]["text"]["text"]
    assert bot.slack.uploads == []


@pytest.mark.parametrize(
    ("action_id", "value"), [(EXPORT_BUTTON, "xlsx"), (POST_TO_CHANNEL_BUTTON, "summary")]
)
async def test_a_click_in_a_private_channel_the_bot_is_not_in_asks_for_an_invite(
    start_bot: StartBot, action_id: str, value: str
) -> None:
    bot = await start_bot()
    bot.slack.add_channel("G0PRIVATE", name="secret", private=True, member=False)
    answer = await click_and_answer(bot, action_id, value=value, channel="G0PRIVATE")
    assert "/invite @Overage Bot" in answer["text"] and "G0PRIVATE" in answer["text"]
    assert "DIGEST_CHANNEL" not in answer["text"]
    assert bot.slack.uploads == [] and bot.slack.posts == []


async def test_an_unexpected_failure_gives_a_reference_that_the_log_explains(
    start_bot: StartBot, caplog: pytest.LogCaptureFixture
) -> None:
    bot = await start_bot()
    # Slack's answer to the first step of the upload says ok but holds no upload URL
    bot.slack.answer_next("files.getUploadURLExternal", {})
    answer = await click_and_answer(bot, EXPORT_BUTTON, value="xlsx")
    found = re.search(
        r"Something went wrong on our side \(reference ([0-9a-f]{8})\)", answer["text"]
    )
    assert found is not None, answer["text"]
    assert "Traceback" not in all_text(answer) and "TypeError" not in all_text(answer)
    logged = [r for r in caplog.records if found.group(1) in r.getMessage()]
    assert len(logged) == 1
    assert logged[0].levelname == "ERROR" and logged[0].exc_info is not None
    assert "Traceback" in caplog.text and "TypeError" in caplog.text
    assert bot.slack.uploads == []


# --- the company picker's options, served as the person types ----------------------------------


def u16(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


async def test_the_picker_is_served_the_companies_matching_what_is_typed(
    start_bot: StartBot,
) -> None:
    bot = await start_bot()
    await answer_to(bot, "")  # the summary whose picker the person opens
    fetches = bot.sandbox.search_requests
    response = await bot.suggest(DETAILS_SELECT, "GLASS")
    assert response.status_code == 200
    options = response.json()["options"]
    over = {c["companyResourceId"]: c["companyName"] for c in flagged(bot)}
    wanted = [i for i, name in over.items() if "glass" in " ".join(name.casefold().split())]
    assert wanted and sorted(o["value"] for o in options) == sorted(wanted)
    for option in options:
        assert "glass" in option["text"]["text"].casefold()
        assert option["text"]["type"] == "plain_text" and u16(option["text"]["text"]) <= 75
    assert bot.sandbox.search_requests == fetches  # served from the report the summary used
    assert (await bot.suggest(DETAILS_SELECT, "zzzz no such")).json()["options"] == []


async def test_the_picker_opens_on_the_biggest_hundred(start_bot: StartBot) -> None:
    bot = await start_bot(companies=1000, over_limit=150)
    response = await bot.suggest(DETAILS_SELECT, "")  # nothing fetched yet: it fetches
    options = response.json()["options"]
    assert len(options) == 100 and len(flagged(bot)) == 150
    biggest = max(
        (c for c in flagged(bot) if str(c["numberOfUsers"]).isdigit()),
        key=lambda c: c["targetUserCount"] - int(c["numberOfUsers"]),
    )
    assert options[0]["value"] == biggest["companyResourceId"]
    assert len({o["value"] for o in options}) == 100
    assert all(0 < u16(o["text"]["text"]) <= 75 for o in options)


async def test_an_emoji_heavy_name_is_offered_within_75_units_and_whole(
    start_bot: StartBot,
) -> None:
    bot = await start_bot()
    [option] = (await bot.suggest(DETAILS_SELECT, "emoji heavy")).json()["options"]
    name = next(c["companyName"] for c in flagged(bot) if "Emoji Heavy" in c["companyName"])
    text = option["text"]["text"]
    assert u16(text) <= 75 < u16(name) and option["text"]["emoji"] is False
    cut = text[: text.index("…")]
    assert name.startswith(cut) and not cut.endswith(("\u200d", "\U0001f1f9"))
    # the option's value opens that company's details, its header within 150 units
    answer = await click_and_answer(bot, DETAILS_SELECT, selected=option["value"])
    header = answer["blocks"][0]["text"]
    assert header["type"] == "plain_text" and u16(header["text"]) <= 150 < u16(name)
    assert name.startswith(header["text"][:-1]) and header["text"].endswith("…")


async def test_a_person_not_allowed_is_offered_nothing(start_bot: StartBot) -> None:
    bot = await start_bot(ALLOWED_USER_IDS="U9")
    response = await bot.suggest(DETAILS_SELECT, "a", user="U1")
    assert response.status_code == 200
    assert "options" not in (response.json() if response.content else {})
    assert bot.sandbox.search_requests == 0
