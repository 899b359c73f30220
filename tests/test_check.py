"""`python -m bot check` as a real process against the sandbox platform and the fake Slack."""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from bot.check import mask
from bot.sandbox import Sandbox
from bot.store import Store
from tests.fakes.slack_api import FakeSlack

ROOT = Path(__file__).resolve().parents[1]
CLIENT_SECRET = "sbx-secret-4f9c2e7a1b8d6f3e5a0c9b2d"
BOT_TOKEN = "xoxb-1111-2222-check-token-9e8d7c6b5a4f"
SIGNING_SECRET = "signing-secret-7a6b5c4d3e2f1a0b9c8d"
APP_TOKEN = "xapp-1-A0001-3333-check-app-token-1f2e3d"
DB_PASSWORD = "db-pass-5e4d3c2b1a"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    platform = Sandbox(companies=200, seed=9, client_secret=CLIENT_SECRET)
    with platform.run_in_thread():
        yield platform


@pytest.fixture(scope="module")
def slack() -> Iterator[FakeSlack]:
    fake = FakeSlack(bot_token=BOT_TOKEN, app_token=APP_TOKEN)
    with fake.run_in_thread():
        yield fake


def environment(sandbox: Sandbox, slack: FakeSlack, tmp_path: Path) -> dict[str, str]:
    return {
        "KEEPNET_BASE_URL": sandbox.url,
        "KEEPNET_CLIENT_ID": sandbox.client_id,
        "KEEPNET_CLIENT_SECRET": CLIENT_SECRET,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.base_url,
        "DIGEST_CHANNEL": "C0GENERAL",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}",
    }


def check(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "bot", "check"],
        cwd=cwd,
        env={"PYTHONPATH": str(ROOT), "PYTHONIOENCODING": "utf-8", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    given = (env.get("KEEPNET_CLIENT_SECRET"), env.get("SLACK_APP_TOKEN"))
    for secret in (CLIENT_SECRET, BOT_TOKEN, SIGNING_SECRET, APP_TOKEN, DB_PASSWORD, *given):
        assert secret is None or secret not in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    return done


def items(output: str) -> list[str]:
    """The checklist lines (✓ or ✗), without the heading, the fixes and the verdict."""
    return [line for line in output.splitlines() if line.startswith(("✓", "✗"))]


def failed(output: str) -> str:
    """The failed items with their fixes, as one text."""
    lines = output.splitlines()
    picked = [
        line
        for i, line in enumerate(lines)
        if line.startswith("✗") or (line.startswith("    fix:") and lines[i - 1].startswith("✗"))
    ]
    return "\n".join(picked)


def test_all_good_passes_every_line(sandbox: Sandbox, slack: FakeSlack, tmp_path: Path) -> None:
    done = check(environment(sandbox, slack, tmp_path), tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[-1] == "All checks passed."
    checklist = lines[1:-1]
    assert len(checklist) >= 6
    assert all(line.startswith("✓") for line in checklist), done.stdout
    assert "role Reseller" in done.stdout
    assert "C0GENERAL" in done.stdout and "next digest" in done.stdout
    assert f"KEEPNET_CLIENT_SECRET=… ({len(CLIENT_SECRET)} characters)" in done.stdout
    assert f"SLACK_BOT_TOKEN=xoxb-… ({len(BOT_TOKEN)} characters)" in done.stdout
    assert "✓ bot token scopes: all" in done.stdout
    assert "Socket Mode" not in done.stdout  # no SLACK_APP_TOKEN, nothing to check
    assert [c.method for c in slack.calls if c.method.startswith(("chat.", "files."))] == []


def test_a_bad_client_secret_points_at_the_rest_api_page(
    sandbox: Sandbox, slack: FakeSlack, tmp_path: Path
) -> None:
    env = {**environment(sandbox, slack, tmp_path), "KEEPNET_CLIENT_SECRET": "wrong-secret-123456"}
    done = check(env, tmp_path)
    assert done.returncode == 1
    problems = failed(done.stdout)
    assert "✗ Keepnet token" in problems
    assert "REST API" in problems
    assert "✓ Slack auth.test" in done.stdout  # the other side is still checked
    assert "check(s) failed" in done.stdout


def test_a_credential_without_the_reseller_role_says_so(slack: FakeSlack, tmp_path: Path) -> None:
    platform = Sandbox(companies=50, seed=9, client_secret=CLIENT_SECRET, role="Company Admin")
    with platform.run_in_thread():
        done = check(environment(platform, slack, tmp_path), tmp_path)
    assert done.returncode == 1
    problems = failed(done.stdout)
    assert "Company Admin" in problems
    assert "Client Role = Reseller" in problems
    # the role claim is a hint; the search's 403 is what fails
    assert "✓ Keepnet token" in done.stdout and "✗ Keepnet token" not in done.stdout
    assert "    warning: the token names 'Company Admin', not Reseller" in done.stdout
    assert (
        "✗ Keepnet overage search: Keepnet refused the company list to this credential (403): "
        "its role is 'Company Admin', not Reseller"
    ) in problems


def test_a_custom_role_the_api_serves_passes_with_a_warning(
    slack: FakeSlack, tmp_path: Path
) -> None:
    platform = Sandbox(companies=50, seed=9, client_secret=CLIENT_SECRET, role="Billing Partner")
    platform.switches.served_roles = ["Billing Partner"]
    with platform.run_in_thread():
        done = check(environment(platform, slack, tmp_path), tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "✓ Keepnet token from" in done.stdout and "role Billing Partner" in done.stdout
    assert (
        "    warning: the token names 'Billing Partner', not Reseller; the search below shows "
        "whether Keepnet lets this credential read the company list"
    ) in done.stdout
    assert "✓ Keepnet overage search: " in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "All checks passed."


def test_an_invalid_slack_token_asks_for_a_reinstall(sandbox: Sandbox, tmp_path: Path) -> None:
    other = FakeSlack(bot_token="xoxb-some-other-workspace-token")
    with other.run_in_thread():
        done = check(environment(sandbox, other, tmp_path), tmp_path)
    assert done.returncode == 1
    problems = failed(done.stdout)
    assert "✗ Slack auth.test" in problems
    assert "reinstall" in problems
    assert "✓ Keepnet overage search" in done.stdout


def test_a_missing_digest_channel_is_named_with_its_fix(
    sandbox: Sandbox, slack: FakeSlack, tmp_path: Path
) -> None:
    env = {**environment(sandbox, slack, tmp_path), "DIGEST_CHANNEL": "C0MISSING"}
    done = check(env, tmp_path)
    assert done.returncode == 1
    problems = failed(done.stdout)
    assert "✗ digest channel C0MISSING" in problems
    assert "DIGEST_CHANNEL" in problems
    assert len(items(done.stdout)) - problems.count("✗") >= 4  # everything else passed


def test_a_private_channel_without_the_bot_asks_for_an_invite(
    sandbox: Sandbox, slack: FakeSlack, tmp_path: Path
) -> None:
    slack.add_channel("G0BILLING", name="billing", private=True, member=False)
    env = {**environment(sandbox, slack, tmp_path), "DIGEST_CHANNEL": "G0BILLING"}
    done = check(env, tmp_path)
    assert done.returncode == 1
    assert "/invite" in failed(done.stdout)


def test_nothing_set_fails_with_fixes_and_no_traceback(tmp_path: Path) -> None:
    done = check({"DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}"}, tmp_path)
    assert done.returncode == 1
    problems = failed(done.stdout)
    assert "KEEPNET_CLIENT_ID" in problems
    assert "SLACK_BOT_TOKEN" in problems


def test_a_missing_signing_secret_fails_the_check(
    sandbox: Sandbox, slack: FakeSlack, tmp_path: Path
) -> None:
    env = environment(sandbox, slack, tmp_path)
    del env["SLACK_SIGNING_SECRET"]
    done = check(env, tmp_path)
    assert done.returncode == 1
    assert "SLACK_SIGNING_SECRET" in failed(done.stdout)


@pytest.mark.parametrize(
    ("secret", "shown"),
    [
        ("", "(not set)"),
        ("abcd", "… (4 characters)"),
        ("sbx-secret-4f9c2e7a1b8d6f3e5a0c9b2d", "… (35 characters)"),
        ("xoxb-123", "… (8 characters)"),  # too short to be a token: the prefix would tell much
        (BOT_TOKEN, f"xoxb-… ({len(BOT_TOKEN)} characters)"),
        (APP_TOKEN, f"xapp-… ({len(APP_TOKEN)} characters)"),
        ("xoxp-2222-3333-4444-5555-abcdef", "xoxp-… (31 characters)"),
    ],
)
def test_mask_shows_a_known_prefix_and_the_length_never_the_value(secret: str, shown: str) -> None:
    assert mask(secret) == shown


def test_socket_mode_opens_a_connection_with_the_app_token(
    sandbox: Sandbox, slack: FakeSlack, tmp_path: Path
) -> None:
    before = len(slack.calls_to("apps.connections.open"))
    done = check({**environment(sandbox, slack, tmp_path), "SLACK_APP_TOKEN": APP_TOKEN}, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "✓ Slack Socket Mode" in done.stdout
    assert f"SLACK_APP_TOKEN=xapp-… ({len(APP_TOKEN)} characters)" in done.stdout
    opened = slack.calls_to("apps.connections.open")[before:]
    assert [call.token for call in opened] == [APP_TOKEN]


def test_a_refused_app_token_asks_for_one_with_connections_write(
    sandbox: Sandbox, slack: FakeSlack, tmp_path: Path
) -> None:
    wrong = "xapp-1-A0001-9999-not-the-apps-token-000"
    done = check({**environment(sandbox, slack, tmp_path), "SLACK_APP_TOKEN": wrong}, tmp_path)
    assert done.returncode == 1
    problems = failed(done.stdout)
    assert "✗ Slack Socket Mode" in problems and "invalid_auth" in problems
    assert "app-level token with connections:write" in problems
    assert problems.count("✗") == 1  # the bot token and the channel still pass


def test_an_archived_digest_channel_fails(
    sandbox: Sandbox, slack: FakeSlack, tmp_path: Path
) -> None:
    slack.add_channel("C0OLD", name="old-billing", archived=True)
    env = {**environment(sandbox, slack, tmp_path), "DIGEST_CHANNEL": "C0OLD"}
    done = check(env, tmp_path)
    assert done.returncode == 1
    problems = failed(done.stdout)
    assert "✗ digest channel C0OLD" in problems and "archived" in problems
    assert "DIGEST_CHANNEL" in problems


def test_missing_bot_scopes_are_named_with_a_reinstall(sandbox: Sandbox, tmp_path: Path) -> None:
    narrow = FakeSlack(bot_token=BOT_TOKEN, scopes=("commands", "chat:write", "channels:read"))
    with narrow.run_in_thread():
        done = check(environment(sandbox, narrow, tmp_path), tmp_path)
    assert done.returncode == 1
    (line,) = [item for item in items(done.stdout) if "bot token scopes" in item]
    assert line.startswith("✗")
    for scope in ("files:write", "channels:join", "groups:read", "im:write"):
        assert scope in line
    assert "chat:write" not in line
    assert "reinstall the app" in failed(done.stdout)


def test_the_alert_channel_is_checked_like_the_digest_channel(
    sandbox: Sandbox, slack: FakeSlack, tmp_path: Path
) -> None:
    env = {**environment(sandbox, slack, tmp_path), "ALERT_CHANNEL": "C0GENERAL"}
    done = check(env, tmp_path)
    assert done.returncode == 0, done.stdout
    assert "✓ alert channel C0GENERAL: #general reachable, next alert check" in done.stdout
    slack.add_channel("C0SHUT", name="alerts-old", archived=True)
    for channel, why in (("C0NOWHERE", "cannot find"), ("C0SHUT", "archived")):
        done = check({**env, "ALERT_CHANNEL": channel}, tmp_path)
        assert done.returncode == 1
        problems = failed(done.stdout)
        assert f"✗ alert channel {channel}" in problems and why in problems
        assert "ALERT_CHANNEL" in problems and "✓ digest channel C0GENERAL" in done.stdout


# --- the database is compared, never changed ---------------------------------------------------


def digest_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def database_line(output: str) -> str:
    (line,) = [item for item in items(output) if item[2:].startswith("database:")]
    return line


def test_a_missing_sqlite_file_is_not_created(
    sandbox: Sandbox, slack: FakeSlack, tmp_path: Path
) -> None:
    done = check(environment(sandbox, slack, tmp_path), tmp_path)
    assert done.returncode == 0
    assert database_line(done.stdout).startswith("✓")
    assert "will be created at first start" in done.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_an_up_to_date_database_is_read_and_left_as_it_was(
    sandbox: Sandbox, slack: FakeSlack, tmp_path: Path
) -> None:
    store = Store(f"sqlite:///{tmp_path / 'bot.db'}")
    store.upgrade()
    store.close()
    files, before = sorted(tmp_path.iterdir()), digest_of(tmp_path / "bot.db")
    done = check(environment(sandbox, slack, tmp_path), tmp_path)
    assert done.returncode == 0, done.stdout
    assert database_line(done.stdout).startswith("✓") and "up to date" in done.stdout
    assert sorted(tmp_path.iterdir()) == files and digest_of(tmp_path / "bot.db") == before


def test_a_database_without_the_tables_is_left_for_the_start_to_upgrade(
    sandbox: Sandbox, slack: FakeSlack, tmp_path: Path
) -> None:
    with sqlite3.connect(tmp_path / "bot.db") as conn:
        conn.execute("CREATE TABLE unrelated (x INTEGER)")
    before = digest_of(tmp_path / "bot.db")
    done = check(environment(sandbox, slack, tmp_path), tmp_path)
    assert done.returncode == 0, done.stdout
    assert "they will be created at start" in database_line(done.stdout)
    with sqlite3.connect(tmp_path / "bot.db") as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert tables == {"unrelated"} and digest_of(tmp_path / "bot.db") == before


def test_a_schema_from_a_newer_version_fails(
    sandbox: Sandbox, slack: FakeSlack, tmp_path: Path
) -> None:
    with sqlite3.connect(tmp_path / "bot.db") as conn:
        conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
        conn.execute("INSERT INTO alembic_version VALUES ('9999')")
    done = check(environment(sandbox, slack, tmp_path), tmp_path)
    assert done.returncode == 1
    line = database_line(done.stdout)
    assert line.startswith("✗") and "9999" in line
    assert "newest version of the bot" in failed(done.stdout)


def test_an_unreachable_database_server_fails_without_its_password(
    sandbox: Sandbox, slack: FakeSlack, tmp_path: Path
) -> None:
    url = f"postgresql+psycopg://bot:{DB_PASSWORD}@127.0.0.1:1/overage"
    done = check({**environment(sandbox, slack, tmp_path), "DATABASE_URL": url}, tmp_path)
    assert done.returncode == 1
    line = database_line(done.stdout)
    assert line.startswith("✗ database: cannot use the PostgreSQL server at 127.0.0.1:1")
    assert "DATABASE_URL" in failed(done.stdout)


def test_the_database_of_a_running_bot_is_read_through_its_log_and_left_as_it_was(
    sandbox: Sandbox, slack: FakeSlack, tmp_path: Path
) -> None:
    store = Store(f"sqlite:///{tmp_path / 'bot.db'}")
    store.upgrade()  # its pooled connection stays open, as a serving bot's does
    try:
        wal = tmp_path / "bot.db-wal"
        assert wal.exists()  # the migrations' writes are in the log, not yet in the file
        files = sorted(tmp_path.iterdir())
        before = digest_of(tmp_path / "bot.db"), digest_of(wal)
        done = check(environment(sandbox, slack, tmp_path), tmp_path)
        assert done.returncode == 0, done.stdout
        assert database_line(done.stdout).startswith("✓") and "up to date" in done.stdout
        assert sorted(tmp_path.iterdir()) == files
        assert (digest_of(tmp_path / "bot.db"), digest_of(wal)) == before
    finally:
        store.close()


def test_a_database_of_an_older_schema_is_left_for_the_start_to_upgrade(
    sandbox: Sandbox, slack: FakeSlack, tmp_path: Path
) -> None:
    store = Store(f"sqlite:///{tmp_path / 'bot.db'}")
    store.upgrade()
    store.close()
    with closing(sqlite3.connect(tmp_path / "bot.db")) as conn, conn:
        conn.execute("UPDATE alembic_version SET version_num = '0001'")
    files, before = sorted(tmp_path.iterdir()), digest_of(tmp_path / "bot.db")
    done = check(environment(sandbox, slack, tmp_path), tmp_path)
    assert done.returncode == 0, done.stdout
    line = database_line(done.stdout)
    assert line.startswith("✓") and "has schema 0001; it will be upgraded at start" in line
    assert sorted(tmp_path.iterdir()) == files and digest_of(tmp_path / "bot.db") == before


def test_a_sqlite_file_in_a_missing_folder_fails_and_the_folder_is_not_created(
    sandbox: Sandbox, slack: FakeSlack, tmp_path: Path
) -> None:
    absent = tmp_path / "absent"
    url = f"sqlite:///{absent / 'bot.db'}"
    done = check({**environment(sandbox, slack, tmp_path), "DATABASE_URL": url}, tmp_path)
    assert done.returncode == 1
    line = database_line(done.stdout)
    assert line.startswith(f"✗ database: the folder for the SQLite file {absent}")
    assert "create the folder" in failed(done.stdout)
    assert not absent.exists()
