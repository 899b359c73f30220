"""`python -m bot` as a user runs it: a real process against the sandbox and the fake Slack."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook

from bot.sandbox import Sandbox, is_flagged
from tests.fakes.slack_api import FakeSlack

ROOT = Path(__file__).resolve().parents[1]
BOT_TOKEN = "xoxb-cli-test-token"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    platform = Sandbox(companies=300, seed=5)
    with platform.run_in_thread():
        yield platform


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    fake = FakeSlack(bot_token=BOT_TOKEN)
    with fake.run_in_thread():
        yield fake


def keepnet_env(sandbox: Sandbox) -> dict[str, str]:
    return {
        "KEEPNET_BASE_URL": sandbox.url,
        "KEEPNET_CLIENT_ID": sandbox.client_id,
        "KEEPNET_CLIENT_SECRET": sandbox.client_secret,
    }


def slack_env(slack: FakeSlack) -> dict[str, str]:
    return {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_API_URL": slack.base_url}


# `digest` asks for the signing secret too, although it never receives a request from Slack
# (see test_digest_needs_no_signing_secret)
SIGNING = {"SLACK_SIGNING_SECRET": "cli-test-signing-secret"}


def run_bot(
    *args: str, cwd: Path, env: dict[str, str], timeout_s: float = 60
) -> subprocess.CompletedProcess[str]:
    """`python -m bot ARGS` in cwd, with only the variables given (and PYTHONPATH)."""
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env={"PYTHONPATH": str(ROOT), "PYTHONIOENCODING": "utf-8", **env},
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def first_sheet_rows(path: Path) -> list[tuple[object, ...]]:
    book = load_workbook(io.BytesIO(path.read_bytes()), read_only=True)
    return list(book.worksheets[0].iter_rows(values_only=True))


def flagged_ids(sandbox: Sandbox) -> set[str]:
    return {str(c["companyResourceId"]) for c in sandbox.companies if is_flagged(c)}


def today() -> str:
    return datetime.now(UTC).date().isoformat()


def test_export_xlsx_writes_one_row_per_company_over_its_limit(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    target = tmp_path / "out.xlsx"
    done = run_bot("export", "--format", "xlsx", "--output", str(target),
                   cwd=tmp_path, env=keepnet_env(sandbox))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert str(target) in done.stdout
    rows = first_sheet_rows(target)
    column = rows[0].index("Company ID")
    ids = [row[column] for row in rows[1:-1]]  # the last row holds the totals
    assert len(ids) == len(set(ids))
    assert set(ids) == flagged_ids(sandbox)
    assert len(rows) == len(ids) + 2  # header, one row per company, totals


def test_export_csv_into_a_folder_uses_the_dated_name(sandbox: Sandbox, tmp_path: Path) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    done = run_bot("export", "--format", "csv", "--output", str(folder),
                   cwd=tmp_path, env=keepnet_env(sandbox))  # fmt: skip
    assert done.returncode == 0, done.stderr
    written = list(folder.iterdir())
    assert [p.name for p in written] == [f"license-overage-{today()}.csv"]
    text = written[0].read_bytes().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    column = rows[0].index("Company ID")
    ids = [row[column] for row in rows[1:] if row]
    assert len(ids) == len(set(ids)) and set(ids) == flagged_ids(sandbox)


def test_export_without_output_writes_into_the_start_directory(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    done = run_bot("export", cwd=tmp_path, env=keepnet_env(sandbox))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / f"license-overage-{today()}.xlsx").is_file()


def test_digest_dry_run_prints_the_digest_and_calls_no_slack(
    sandbox: Sandbox, slack: FakeSlack, tmp_path: Path
) -> None:
    env = {**keepnet_env(sandbox), **slack_env(slack), "DIGEST_CHANNEL": "C0GENERAL"}
    done = run_bot("digest", "--dry-run", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert "Weekly license overage digest" in done.stdout
    assert f"{len(flagged_ids(sandbox)):,}" in done.stdout
    assert "{" not in done.stdout  # text for a person, not Block Kit JSON
    assert slack.calls == []


def _wait_for_a_fresh_minute() -> None:
    # both runs must fall into the same minute-slot of "* * * * *"
    if datetime.now(UTC).second >= 50:
        time.sleep(61 - datetime.now(UTC).second)


def test_digest_posts_once_per_slot(sandbox: Sandbox, slack: FakeSlack, tmp_path: Path) -> None:
    env = {**keepnet_env(sandbox), **slack_env(slack), **SIGNING, "DIGEST_SCHEDULE": "* * * * *",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}"}  # fmt: skip
    _wait_for_a_fresh_minute()
    first = run_bot("digest", "--channel", "C0GENERAL", cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr
    assert "Digest posted to C0GENERAL" in first.stdout
    second = run_bot("digest", "--channel", "C0GENERAL", cwd=tmp_path, env=env)
    assert second.returncode == 0, second.stderr
    assert "already posted" in second.stdout
    posts = slack.posts
    assert len(posts) == 1
    assert posts[0].params["channel"] == "C0GENERAL"
    assert "digest" in str(posts[0].params["blocks"]).lower()
    uploads = slack.uploads  # the workbook, in the digest's thread
    assert len(uploads) == 1 and uploads[0].thread_ts == posts[0].response["ts"]


def test_digest_without_a_channel_is_a_config_error(sandbox: Sandbox, tmp_path: Path) -> None:
    env = {**keepnet_env(sandbox), "SLACK_BOT_TOKEN": BOT_TOKEN, **SIGNING}
    done = run_bot("digest", cwd=tmp_path, env=env)
    assert done.returncode == 2
    assert "DIGEST_CHANNEL" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_digest_needs_no_signing_secret(sandbox: Sandbox, slack: FakeSlack, tmp_path: Path) -> None:
    done = run_bot("digest", "--channel", "C0GENERAL", cwd=tmp_path,
                   env={**keepnet_env(sandbox), **slack_env(slack)})  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert len(slack.posts) == 1


def _processes_in(folder: Path) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if Path(os.readlink(entry / "cwd")) == folder:
                found.append(int(entry.name))
        except OSError:  # gone meanwhile, or not ours to look at
            continue
    return found


def test_demo_finishes_quickly_writes_a_workbook_and_leaves_nothing_running(
    tmp_path: Path,
) -> None:
    started = time.monotonic()
    done = run_bot("demo", cwd=tmp_path, env={}, timeout_s=120)
    took_s = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert took_s < 60
    workbooks = sorted((tmp_path / "demo-output").glob("license-overage-*.xlsx"))
    assert workbooks
    assert len(first_sheet_rows(workbooks[0])) > 2
    assert "Weekly license overage digest" in done.stdout
    assert "Traceback" not in done.stderr
    assert _processes_in(tmp_path.resolve()) == []


def test_dotenv_in_the_start_directory_is_read(sandbox: Sandbox, tmp_path: Path) -> None:
    lines = [f"{name}={value}" for name, value in keepnet_env(sandbox).items()]
    (tmp_path / ".env").write_text("\n".join(lines) + "\n")
    done = run_bot("export", "--output", "from-dotenv.xlsx", cwd=tmp_path, env={})
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "from-dotenv.xlsx").is_file()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = run_bot("export", cwd=elsewhere, env={})  # .env is read only where we start
    assert done.returncode == 2
    assert "KEEPNET_CLIENT_ID" in done.stderr


def test_the_environment_wins_over_dotenv(sandbox: Sandbox, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("KEEPNET_PAGE_SIZE=ten\n")
    env = {**keepnet_env(sandbox), "KEEPNET_PAGE_SIZE": "50"}
    done = run_bot("export", "--output", "x.xlsx", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"KEEPNET_PAGE_SIZE": "ten"}, "KEEPNET_PAGE_SIZE"),
        ({"DIGEST_TIMEZONE": "Mars/Olympus"}, "DIGEST_TIMEZONE"),
        ({"KEEPNET_CLIENT_ID": ""}, "KEEPNET_CLIENT_ID"),
    ],
)
def test_a_config_error_exits_2_with_one_line(
    sandbox: Sandbox, tmp_path: Path, env: dict[str, str], variable: str
) -> None:
    done = run_bot("export", cwd=tmp_path, env={**keepnet_env(sandbox), **env})
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert variable in lines[0]
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert sandbox.client_secret not in done.stderr
