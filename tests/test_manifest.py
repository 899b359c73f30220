"""manifest.yml: a pasteable manifest whose scopes cover every Web API method the code calls."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema.validators import validator_for
from slack_sdk.web.async_client import AsyncWebClient

from bot.grammar import WORDS

ROOT = Path(__file__).resolve().parents[1]

# Slack Web API method (as slack_sdk names it) → the bot scopes it needs (any one of each set)
SCOPES_FOR = {
    "chat_postMessage": [{"chat:write"}],
    "chat_update": [{"chat:write"}],  # a message showing a case, after someone changed it
    "views_open": [],  # the forms of a case's changes
    "views_update": [],
    "files_getUploadURLExternal": [{"files:write"}],
    "files_completeUploadExternal": [{"files:write"}],
    # a public or a private channel; the bot never looks up a direct message (im:read)
    "conversations_info": [{"channels:read"}, {"groups:read"}],
    "conversations_join": [{"channels:join"}],
    "conversations_history": [{"channels:history"}, {"groups:history"}],
    "conversations_open": [{"im:write"}],
    "views_publish": [],
    "auth_test": [],
    "apps_connections_open": [],  # Socket Mode: the app-level token (connections:write)
}
# every Web API method slack_sdk's client has, as it names them (chat_postMessage, ...)
WEB_API = frozenset(
    name for name, value in vars(AsyncWebClient).items() if callable(value) and name[0] != "_"
)
_ATTRIBUTE = re.compile(r"\.([A-Za-z_]\w*)\b")
_API_CALL = re.compile(r"""api_call\(\s*["']([\w.]+)["']""")


def manifest() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "manifest.yml").read_text())


def web_api_methods_in(source: str) -> set[str]:
    """Every Web API method a piece of code calls or hands on (`client.auth_test`), by
    slack_sdk's name for it, whether or not the scope table knows it."""
    found = {name for name in _ATTRIBUTE.findall(source) if name in WEB_API}
    found |= {method.replace(".", "_") for method in _API_CALL.findall(source)}
    return found


def methods_called() -> set[str]:
    found: set[str] = set()
    for path in [*(ROOT / "bot").rglob("*.py"), *(ROOT / "handlers").rglob("*.py")]:
        found |= web_api_methods_in(path.read_text())
    return found


def test_every_method_the_code_calls_is_in_the_scope_table() -> None:
    unknown = methods_called() - set(SCOPES_FOR)
    assert not unknown, f"add these to SCOPES_FOR (and their scopes to manifest.yml): {unknown}"


def test_the_walk_finds_a_method_the_table_does_not_know() -> None:
    code = 'await client.users_info(user=u)\nf = self._client.reactions_add\napi_call("pins.add")'
    assert web_api_methods_in(code) - set(SCOPES_FOR) == {"users_info", "reactions_add", "pins_add"}
    assert web_api_methods_in("asyncio.to_thread(store.close); app.add_post(x)") == set()


def test_no_method_in_the_table_is_left_uncalled() -> None:
    assert set(SCOPES_FOR) == methods_called()


def test_every_method_the_code_calls_has_its_scope() -> None:
    scopes = set(manifest()["oauth_config"]["scopes"]["bot"])
    called = methods_called()
    assert {"chat_postMessage", "files_completeUploadExternal", "views_publish"} <= called
    for method in called:
        for needed in SCOPES_FOR[method]:
            assert needed <= scopes, f"{method} needs {needed}"


def test_no_scope_is_asked_for_that_no_call_needs() -> None:
    scopes = set(manifest()["oauth_config"]["scopes"]["bot"])
    needed = {"commands"}
    for method in methods_called():
        for group in SCOPES_FOR.get(method, []):
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
        settings["interactivity"]["message_menu_options_url"],
        settings["event_subscriptions"]["request_url"],
    }
    assert len(urls) == 1 and urls.pop().endswith("/slack/events")
    assert settings["socket_mode_enabled"] is False
    assert "app_home_opened" in settings["event_subscriptions"]["bot_events"]
    assert data["features"]["app_home"]["home_tab_enabled"] is True


def test_usage_hint_names_every_word_the_command_understands() -> None:
    hint = manifest()["features"]["slash_commands"][0]["usage_hint"]
    words = set(hint.strip("[]").replace("|", " ").split())
    assert set(WORDS) <= words, sorted(set(WORDS) - words)


MANIFEST_SCHEMA = ROOT.parent / "shared" / "reference" / "slack" / "manifest.schema.2.0.0.json"


def test_the_manifest_is_valid_under_slacks_published_schema() -> None:
    if not MANIFEST_SCHEMA.exists():
        pytest.skip(f"the shared reference is not at {MANIFEST_SCHEMA}")
    schema = json.loads(MANIFEST_SCHEMA.read_text())
    validator_for(schema)(schema).validate(manifest())
    # the company picker's options are asked of the bot at the one request URL
    options_url = manifest()["settings"]["interactivity"]["message_menu_options_url"]
    assert options_url == manifest()["settings"]["interactivity"]["request_url"]
