"""manifest.yml: a pasteable manifest whose scopes cover every Web API method the code calls."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]

# Slack Web API method (as slack_sdk names it) → the bot scopes it needs (any one of each set)
SCOPES_FOR = {
    "chat_postMessage": [{"chat:write"}],
    "chat_postEphemeral": [{"chat:write"}],
    "chat_update": [{"chat:write"}],
    "files_upload_v2": [{"files:write"}],
    "files_getUploadURLExternal": [{"files:write"}],
    "files_completeUploadExternal": [{"files:write"}],
    "conversations_info": [{"channels:read"}, {"groups:read"}],
    "conversations_join": [{"channels:join"}],
    "conversations_history": [{"channels:history"}, {"groups:history"}],
    "conversations_open": [{"im:write"}],
    "views_publish": [],
    "auth_test": [],
}


def manifest() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "manifest.yml").read_text())


def methods_called() -> set[str]:
    pattern = re.compile(r"\.(\w+_\w+)\(")
    found: set[str] = set()
    for path in [*(ROOT / "bot").rglob("*.py"), *(ROOT / "handlers").rglob("*.py")]:
        found.update(m for m in pattern.findall(path.read_text()) if m in SCOPES_FOR)
    return found


def test_every_method_the_code_calls_has_its_scope() -> None:
    scopes = set(manifest()["oauth_config"]["scopes"]["bot"])
    called = methods_called()
    assert {"chat_postMessage", "files_upload_v2", "views_publish"} <= called
    for method in called:
        for needed in SCOPES_FOR[method]:
            assert needed <= scopes, f"{method} needs {needed}"


def test_no_scope_is_asked_for_that_no_call_needs() -> None:
    scopes = set(manifest()["oauth_config"]["scopes"]["bot"])
    needed = {"commands"}
    for method in methods_called():
        for group in SCOPES_FOR[method]:
            needed |= group
    assert scopes == needed


def test_command_interactivity_and_events_point_at_one_url() -> None:
    data = manifest()
    command = data["features"]["slash_commands"][0]
    assert command["command"] == "/overage"
    assert command["usage_hint"]
    settings = data["settings"]
    urls = {
        command["url"],
        settings["interactivity"]["request_url"],
        settings["event_subscriptions"]["request_url"],
    }
    assert len(urls) == 1 and urls.pop().endswith("/slack/events")
    assert settings["socket_mode_enabled"] is False
    assert "app_home_opened" in settings["event_subscriptions"]["bot_events"]
    assert data["features"]["app_home"]["home_tab_enabled"] is True
