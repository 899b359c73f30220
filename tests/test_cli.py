"""`python -m bot` as a user runs it: a real process against the sandbox and the fake Slack."""

from __future__ import annotations

import csv
import io
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import httpx
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


def test_the_installed_command_runs_from_any_directory(sandbox: Sandbox, tmp_path: Path) -> None:
    """No PYTHONPATH and a directory far from the checkout: `make` installs the project."""
    done = subprocess.run(
        [sys.executable, "-m", "bot", "export", "--format", "csv"],
        cwd=tmp_path,
        env={"PYTHONIOENCODING": "utf-8", **keepnet_env(sandbox)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / f"license-overage-{today()}.csv").is_file()


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


def half_an_hour_ago_hourly() -> str:
    """An hourly crontab whose latest slot was about 30 minutes ago: two runs a few seconds
    apart share that slot, whenever they start."""
    return f"{(datetime.now(UTC).minute - 30) % 60} * * * *"


def test_digest_posts_once_per_slot(sandbox: Sandbox, slack: FakeSlack, tmp_path: Path) -> None:
    env = {**keepnet_env(sandbox), **slack_env(slack), **SIGNING,
           "DIGEST_SCHEDULE": half_an_hour_ago_hourly(),
           "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}"}  # fmt: skip
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


def _session_of(pid: int) -> int | None:
    """The session id of a running process (field 6 of /proc/PID/stat), None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[3])


def _left_in_session(session: int) -> list[int]:
    """Processes still in the session the demo led, whoever adopted them meanwhile."""
    pids = (int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit())
    return [pid for pid in pids if _session_of(pid) == session]


def _refuses_connections(url: str) -> bool:
    try:
        httpx.get(url, timeout=5)
    except httpx.ConnectError:
        return True
    return False


def run_demo(cwd: Path, env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], int]:
    """`python -m bot demo` as the leader of its own session, so that anything it started can
    be found by the session id afterwards; returns the finished run and that id."""
    demo = subprocess.Popen(
        [sys.executable, "-m", "bot", "demo"],
        cwd=cwd,
        env={"PYTHONPATH": str(ROOT), "PYTHONIOENCODING": "utf-8", **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    stdout, stderr = demo.communicate(timeout=120)
    return subprocess.CompletedProcess(demo.args, demo.returncode, stdout, stderr), demo.pid


def test_demo_finishes_quickly_writes_a_workbook_and_leaves_nothing_running(
    tmp_path: Path,
) -> None:
    started = time.monotonic()
    done, session = run_demo(tmp_path, env={})
    took_s = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert took_s < 60
    workbooks = sorted((tmp_path / "demo-output").glob("license-overage-*.xlsx"))
    assert workbooks
    assert len(first_sheet_rows(workbooks[0])) > 2
    digests = [line for line in done.stdout.splitlines() if line == "Weekly license overage digest"]
    # the first digest, the one a week later, and the one that resolves the case walked through
    assert len(digests) == 3
    walked = done.stdout.split("One overage case, worked from Slack: ", 1)[1]
    company = walked.split("\n", 1)[0]
    assert walked.count(":bell: *Reminder:* ") == 1  # asked twice, posted once
    resolved = walked.split("*Resolved since last digest* (1)\n", 1)[1]
    assert resolved.startswith(f"{company} · back under its limit on ")
    assert "Left out: 1 already invoiced in " in walked
    assert len(list((tmp_path / "demo-output").glob("license-overage-invoice-*.csv"))) == 1
    assert "Traceback" not in done.stderr
    assert _left_in_session(session) == []
    found = re.search(r"Sandbox Keepnet API on (http://127\.0\.0\.1:\d+)", done.stdout)
    assert found is not None
    assert _refuses_connections(found.group(1))  # the sandbox went with the demo


def test_demo_runs_whatever_the_environment_and_dotenv_hold(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("DIGEST_TIMEZONE=Mars/Olympus\nSLACK_BOT_TOKEN=not-a-token\n")
    bad = {"KEEPNET_PAGE_SIZE": "ten", "DATABASE_URL": "mysql://nowhere", "LOG_LEVEL": "LOUD"}
    done, _ = run_demo(tmp_path, env=bad)
    assert done.returncode == 0, done.stderr
    assert "Demo finished" in done.stdout and "Configuration error" not in done.stderr


def test_demo_replaces_its_own_files_and_leaves_the_others(tmp_path: Path) -> None:
    folder = tmp_path / "demo-output"
    (folder / "notes").mkdir(parents=True)
    kept = [folder / "my-notes.txt", folder / "notes" / "license-overage-2020-01-01.xlsx"]
    for path in kept:
        path.write_text("mine")
    stale = folder / "license-overage-2020-01-01.csv"
    stale.write_text("from an earlier run")
    done, _ = run_demo(tmp_path, env={})
    assert done.returncode == 0, done.stderr
    assert all(path.read_text() == "mine" for path in kept)
    assert not stale.exists()
    listed = done.stdout.split("Files in", 1)[1].split("Demo finished", 1)[0]
    assert "my-notes.txt" not in listed and str(stale) not in listed
    assert "license-overage-" in listed
    shown = [line.strip() for line in listed.splitlines()[1:] if line.strip()]
    assert shown == sorted(str(path) for path in folder.glob("license-overage-*"))
    assert {Path(path).suffix for path in shown} == {".xlsx", ".csv"}


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


# values the built-in token shapes would not catch, so only the known-secret list can hide them
PROBE_SECRETS = {
    "KEEPNET_CLIENT_SECRET": "kn_probe_client_secret_51",
    "SLACK_BOT_TOKEN": "xoxb-12_probe_bot_token_52",
    "SLACK_SIGNING_SECRET": "probe_signing_secret_53",
    "SLACK_APP_TOKEN": "xapp-12_probe_app_token_54",
}
DB_PASSWORD = "probe@db pass!55"


def test_every_configured_secret_is_redacted_from_the_log(sandbox: Sandbox, tmp_path: Path) -> None:
    # The Slack client logs each request's URL at DEBUG; this URL carries every secret (the
    # password URL-encoded, as it would be in a URL), so each must be redacted on its way out.
    secrets = [*PROBE_SECRETS.values(), DB_PASSWORD]
    carried = "/".join(quote(secret, safe="") for secret in secrets)
    env = {
        "KEEPNET_BASE_URL": sandbox.url,
        "KEEPNET_CLIENT_ID": sandbox.client_id,
        **PROBE_SECRETS,
        "DATABASE_URL": f"postgresql+psycopg://bot:{quote(DB_PASSWORD, safe='')}@127.0.0.1:1/bot",
        "SLACK_API_URL": f"{sandbox.url}/probe/{carried}/",
        "LOG_LEVEL": "DEBUG",
    }
    done = run_bot("check", cwd=tmp_path, env=env)
    assert done.returncode == 1  # Slack and the database cannot be reached
    assert "probe/" + "/".join(["[redacted]"] * len(secrets)) + "/auth.test" in done.stderr
    output = done.stdout + done.stderr
    for secret in secrets:
        assert secret not in output and quote(secret, safe="") not in output
    assert "db pass" not in output and "probe%40db" not in output
