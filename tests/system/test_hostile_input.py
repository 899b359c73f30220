"""Hostile input against one running `serve`: fuzzed commands, hostile company names, forged
and replayed signatures, oversized bodies."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from bot.sandbox.data import HOSTILE_NAMES
from tests.slack_requests import signed_headers
from tests.system.conftest import (
    TALLY,
    Processes,
    SlackSide,
    everything_sent,
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
    "help " + "x" * 2990,
]
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
                assert plain_sentence(answer.get("text", "")) or answer.get("blocks"), answer

            answered()
            TALLY.hostile_inputs += tried[0]
            TALLY.used = True

            # every surface that shows company names, and every file the bot uploads
            for text in ("", "top 100", "find acme", "find evil", "find channel", "digest"):
                sent = side.command(text)
                assert sent.status == 200
            for text in ("export xlsx", "export csv", "export native xlsx"):
                assert side.command(text).status == 200
            # the digest's attached workbook and the three exports
            wait_for(lambda: len(slack.uploads) >= 4, timeout_s=30, what="4 uploads")
            time.sleep(1)
            TALLY.hostile_inputs += 9

            sent_json = everything_sent(slack)
            assert "<!channel>" not in sent_json
            assert "<https://evil" not in sent_json
            assert "&lt;!channel&gt;" in sent_json or "‹!channel›" in sent_json

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
