"""Hostile input against one running `serve`: fuzzed commands, hostile company names, forged
and replayed signatures, oversized bodies."""

from __future__ import annotations

import csv
import io
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from bot.sandbox.data import HOSTILE_NAMES, is_flagged
from tests.fakes.slack_api import FakeSlack
from tests.handlers.conftest import all_text
from tests.slack_requests import signed_headers
from tests.system.conftest import (
    TALLY,
    Processes,
    SlackSide,
    plain_sentence,
    running_sandbox,
    running_slack,
    serve_env,
    wait_for,
)

pytestmark = pytest.mark.slow

FORMULA_NAMES = [n for n in HOSTILE_NAMES if n.startswith(("=", "@", "+", "-"))]
NAMED_SAMPLES = [
    "<!channel> hello",
    "find <!channel>",
    "find <https://evil.example|Totally Safe>",
    "<https://evil.example|click> top",
    "top 100",
    "top 99999999999999999999999999",
    "top -1",
    'find =HYPERLINK("http://evil.example")',
    "find \x00\x1b[31m\u202e",
    "subscriptions",
    "summary\n\n\n",
    "&lt;!channel&gt;",
    "find <!here> <!everyone> <@U0EVIL> <#C0SECRET>",
    "find https://evil.example <mailto:a@evil.example|mail>",
    "find & < > &amp;",
    "help " + "x" * 2990,
]
USER = "U1"  # the one person sending commands: the bot may mention them
# what the bot itself writes in mrkdwn: a mention of the person who asked, a channel link
OUR_MARKUP = re.compile(rf"<@{USER}>|<#C[A-Z0-9]+>")
RAW_MARKUP = ("<!channel>", "<!here>", "<!everyone>", "<http", "<mailto", "<@U", "<#C", "<!")
ENTITY = re.compile(r"&(?!amp;|lt;|gt;)")
UNEXPECTED = re.compile(r"Something went wrong|\(reference [0-9a-f]{8}\)")
# a search that shows each hostile name among the detailed results (in mrkdwn)
FIND_HOSTILE = (
    "find acme",
    "find evil",
    "find totally safe",
    "find &amp;amp; &amp;lt;",  # as Slack sends "&amp; &lt;" typed by a person
    "find bold",
    "find line",
    "find sum(",
    "find 555",
    "find 2+3",
    "find ünïcödé",
    "find holding",
    "find ivy",
    "find alarm",
    "find strike",
    "find emoji heavy",
)
commands = st.one_of(
    st.sampled_from(NAMED_SAMPLES),
    st.text(max_size=60),
    st.text(min_size=1000, max_size=3000),
    st.text(
        alphabet=st.characters(codec="utf-8", categories=["Cc", "Cf", "Zl", "Zp"]), max_size=200
    ),
)


def test_hostile_input_is_answered_and_never_unescaped(
    processes: Processes, tmp_path: Path
) -> None:
    with running_sandbox(companies=300) as sandbox, running_slack() as slack:
        env = serve_env(
            slack=slack,
            keepnet_url=sandbox.url,
            database_url=f"sqlite:///{tmp_path / 'hostile.db'}",
            DIGEST_CHANNEL="C0GENERAL",
            DIGEST_SCHEDULE="0 9 1 1 *",
        )
        flagged_names = {c["companyName"] for c in sandbox.companies if is_flagged(c)}
        assert set(HOSTILE_NAMES) <= flagged_names  # every one of them is in the answers
        serve = processes.make("hostile", env).start()
        side = SlackSide(serve, slack)
        tried = [0]
        try:

            @settings(
                max_examples=60,
                deadline=None,
                database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
            )
            @given(text=commands)
            def answered(text: str) -> None:
                if text.strip().lower().startswith(("export", "digest", "subscribe", "unsub")):
                    return  # these answer in the channel; they are sent once below
                tried[0] += 1
                sent = side.command(text)
                assert sent.status == 200, (text, sent.body)
                assert sent.ack_s < 3, text
                answer = side.answer(sent.name, timeout_s=30)
                text = str(answer.get("text", ""))
                assert not UNEXPECTED.search(all_text(answer)), (text, answer)
                assert plain_sentence(text) or answer.get("blocks"), answer

            answered()
            TALLY.hostile_inputs += tried[0]
            TALLY.used = True

            # every surface that shows company names, and every file the bot uploads
            for text in ("", "top 100", "find channel", *FIND_HOSTILE, "digest"):
                sent = side.command(text)
                assert sent.status == 200
            for text in ("export xlsx", "export csv", "export native xlsx"):
                assert side.command(text).status == 200
            # the digest's attached workbook and the three exports
            wait_for(lambda: len(slack.uploads) >= 4, timeout_s=30, what="4 uploads")
            wait_for(lambda: not side.unanswered(), timeout_s=30, what="every answer")
            time.sleep(1)
            TALLY.hostile_inputs += 6 + len(FIND_HOSTILE)

            checked = check_escaped(slack, HOSTILE_NAMES)
            TALLY.note(
                f"hostile input: {len(HOSTILE_NAMES)} hostile names escaped in all of "
                f"{checked} mrkdwn texts Slack received"
            )

            checked_xlsx = checked_csv = 0
            for upload in slack.uploads:
                if upload.filename.endswith(".xlsx"):
                    checked_xlsx += check_xlsx(upload.content)
                elif upload.filename.endswith(".csv"):
                    checked_csv += check_csv(upload.content)
            assert checked_xlsx >= 2 * len(FORMULA_NAMES)  # ours and the platform's own
            assert checked_csv >= len(FORMULA_NAMES)

            check_signatures(serve.url, sandbox, side)
            assert serve.health().status_code == 200
        finally:
            side.close()
        assert serve.terminate() == 0
        assert "Traceback" not in serve.log()


def slack_strings(slack: FakeSlack) -> tuple[list[str], list[str], list[str]]:
    """Every string the fake Slack received (Web API calls and response_url bodies), by how
    Slack reads it: mrkdwn (message text, mrkdwn objects, file comments), plain text (plain_text
    and raw_text objects, titles) and the rest (IDs, values, metadata)."""
    mrkdwn: list[str] = []
    plain: list[str] = []
    other: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
        if not isinstance(node, dict):
            return
        kind = node.get("type")
        for key, value in node.items():
            if not isinstance(value, str):
                walk(value)
            elif key == "text" and kind in ("plain_text", "raw_text"):
                plain.append(value)
            elif key in ("text", "initial_comment"):
                mrkdwn.append(value)
            elif key in ("title", "fallback", "alt_text"):
                plain.append(value)
            else:
                other.append(value)

    for call in slack.calls:
        walk(call.params)
    for response in slack.responses:
        walk(response.body)
    return mrkdwn, plain, other


# mrkdwn's markers have no escape: in a platform name each must reach Slack as a look-alike
LOOK_ALIKES = str.maketrans({"*": "∗", "_": "ˍ", "~": "∼", "`": "ˋ"})
EMOJI_CODE = re.compile(r":(?=[^\s:]+:)")  # the colon opening an emoji code such as :fire:
# what Slack would act on in a name: bold, italics, strike, code, an emoji code
LIVE_MARKUP = re.compile(r"\*[^*\s][^*]*\*|_[^_\s][^_]*_|~[^~\s][^~]*~|`[^`]+`|:[^\s:]+:")


def mrkdwn_escaped(name: str) -> str:
    """How a platform name must reach mrkdwn: on one line, its markers as look-alikes, with
    &, < and > as entities."""
    flat = EMOJI_CODE.sub("∶", " ".join(name.split()).translate(LOOK_ALIKES))
    return flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def live_markup(name: str) -> list[str]:
    """Each piece of markup in a name with a little of the name around it: if one reaches
    mrkdwn as it is, Slack shows it bold, in italics, struck, as code or as an emoji."""
    flat = " ".join(name.split())
    return [flat[max(0, m.start() - 3) : m.end() + 3] for m in LIVE_MARKUP.finditer(flat)]


def _units_prefix(text: str, units: int) -> str:
    """The start of text within `units` UTF-16 units (names are cut in lists by units)."""
    used = 0
    for index, char in enumerate(text):
        used += 2 if ord(char) > 0xFFFF else 1
        if used > units:
            return text[:index]
    return text


def plain_text_objects(slack: FakeSlack) -> list[dict[str, Any]]:
    """Every plain_text object in what Slack received."""
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            if node.get("type") == "plain_text":
                found.append(node)
            for value in node.values():
                walk(value)

    walk([call.params for call in slack.calls] + [r.body for r in slack.responses])
    return found


def check_escaped(slack: FakeSlack, names: tuple[str, ...]) -> int:
    """No mention, link or bare entity left raw in anything Slack received, and each hostile
    name shown escaped (never raw) in mrkdwn; returns how many mrkdwn texts were checked."""
    mrkdwn, plain, other = slack_strings(slack)
    for text in mrkdwn:
        theirs = OUR_MARKUP.sub("", text)
        assert "<" not in theirs and ">" not in theirs, f"raw markup in mrkdwn: {text!r}"
        assert not ENTITY.search(theirs), f"an & that is not an entity in mrkdwn: {text!r}"
    for text in plain:
        assert "<" not in text and ">" not in text, f"markup in plain text: {text!r}"
    for text in other:
        assert not any(raw in text for raw in RAW_MARKUP), f"raw markup in a value: {text!r}"
    for name in names:
        escaped = mrkdwn_escaped(name)
        probe = _units_prefix(escaped, 60)  # long names are cut in lists
        assert any(probe in text for text in mrkdwn), f"{name!r} never shown as {probe!r}"
        if escaped != name:
            assert not any(name in text for text in mrkdwn), f"{name!r} raw in mrkdwn"
        if " ".join(name.split()) != name:
            assert not any(name in text for text in mrkdwn + plain), f"{name!r} not on one line"
        for live in live_markup(name):
            assert not any(live in text for text in mrkdwn), f"{live!r} of {name!r} is live"
    for item in plain_text_objects(slack):  # an emoji code in plain text is shown as text
        if EMOJI_CODE.search(str(item["text"])):
            assert item.get("emoji") is False, f"emoji code live in plain text: {item!r}"
    return len(mrkdwn)


def check_xlsx(content: bytes) -> int:
    """Every cell holding a formula-like company name is a text cell; returns how many."""
    book = load_workbook(io.BytesIO(content))
    found = 0
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                value = cell.value
                if isinstance(value, str) and any(n in value for n in FORMULA_NAMES):
                    assert cell.data_type == "s", (sheet.title, cell.coordinate, value)
                    found += 1
                elif isinstance(value, str) and ("evil.example" in value or "SUM(1+1)" in value):
                    assert cell.data_type == "s", (sheet.title, cell.coordinate, value)
    return found


def check_csv(content: bytes) -> int:
    """No text cell starts with a formula trigger; the formula-like names start with '."""
    found = 0
    for row in csv.reader(io.StringIO(content.decode("utf-8-sig"))):
        for cell in row:
            if cell.startswith(("=", "@", "+", "-", "\t", "\r")):
                assert _number(cell), f"unneutralised CSV cell {cell!r}"
            if cell[1:] in FORMULA_NAMES:
                assert cell.startswith("'"), cell
                found += 1
    return found


def _number(text: str) -> bool:
    try:
        float(text.rstrip("%"))
    except ValueError:
        return False
    return True


def check_signatures(url: str, sandbox: object, side: SlackSide) -> None:
    """Forged, stale and replayed requests get 401 and reach nothing upstream; 413 when huge."""
    before = {k: v for k, v in sandbox.stats().items() if k.endswith("_requests")}  # type: ignore[attr-defined]
    events = url + "/slack/events"
    with httpx.Client(timeout=10) as http:
        _, body = side.command_body("")
        forged = http.post(events, content=body, headers=signed_headers(body, secret="x" * 30))
        stale = http.post(
            events, content=body, headers=signed_headers(body, ts=int(time.time()) - 600)
        )
        unsigned = http.post(
            events, content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
        )
        _, help_body = side.command_body("help")
        headers = signed_headers(help_body)
        first = http.post(events, content=help_body, headers=headers)
        replayed = http.post(events, content=help_body, headers=headers)
        huge = b"text=" + b"a" * (300 * 1024)
        too_big = http.post(events, content=huge, headers=signed_headers(huge))
    after = {k: v for k, v in sandbox.stats().items() if k.endswith("_requests")}  # type: ignore[attr-defined]
    TALLY.hostile_inputs += 5
    assert [forged.status_code, stale.status_code, unsigned.status_code] == [401, 401, 401]
    assert first.status_code == 200
    assert replayed.status_code == 401
    assert too_big.status_code == 413
    assert after == before, "a refused request reached the platform"
