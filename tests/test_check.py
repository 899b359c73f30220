"""`python -m bot check` as a real process against the sandbox platform and the fake Slack."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.sandbox import Sandbox
from tests.fakes.slack_api import FakeSlack

ROOT = Path(__file__).resolve().parents[1]
CLIENT_SECRET = "sbx-secret-4f9c2e7a1b8d6f3e5a0c9b2d"
BOT_TOKEN = "xoxb-1111-2222-check-token-9e8d7c6b5a4f"
SIGNING_SECRET = "signing-secret-7a6b5c4d3e2f1a0b9c8d"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    platform = Sandbox(companies=200, seed=9, client_secret=CLIENT_SECRET)
    with platform.run_in_thread():
        yield platform


@pytest.fixture(scope="module")
def slack() -> Iterator[FakeSlack]:
    fake = FakeSlack(bot_token=BOT_TOKEN)
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
    for secret in (CLIENT_SECRET, BOT_TOKEN, SIGNING_SECRET, env.get("KEEPNET_CLIENT_SECRET")):
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
    assert "sbx-… (" in done.stdout  # the secret shown masked


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
