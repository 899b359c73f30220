"""Every rendered message and Home tab is valid under Slack's published Block Kit schema (the
subset in the shared reference, with the external select this bot now sends)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from bot.render_slack import Block, render_home
from tests.render_slack.conftest import (
    HOSTILE,
    NOW,
    all_renders,
    company,
    digest_with_everything,
    hostile_companies,
    report_of,
)

ROOT = Path(__file__).resolve().parents[2]
SUBSET = ROOT.parent / "shared" / "reference" / "slack" / "block-kit.subset.schema.json"
# the subset keeps, among the elements of an actions block, only the types the bot sent when
# it was transcribed; this is the same source's definition of the external select
# (TightknitAI/slack-block-kit-validator, src/slack-block-kit.schema.json, unchanged)
EXTERNAL_SELECT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["type"],
    "properties": {
        "type": {"const": "external_select"},
        "action_id": {"$ref": "#/$defs/action_id"},
        "initial_option": {"$ref": "#/$defs/option_object_plain_text"},
        "min_query_length": {"type": "integer", "minimum": 0},
        "confirm": {"$ref": "#/$defs/confirm_object"},
        "focus_on_load": {"type": "boolean"},
        "placeholder": {"$ref": "#/$defs/placeholder_object"},
    },
}


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    if not SUBSET.exists():
        pytest.skip(f"the shared reference is not at {SUBSET}")
    loaded: dict[str, Any] = json.loads(SUBSET.read_text())
    extended = copy.deepcopy(loaded)
    extended["$defs"]["external_select_element"] = EXTERNAL_SELECT
    elements = extended["$defs"]["actions_block_element"]["oneOf"]
    elements.append({"$ref": "#/$defs/external_select_element"})
    return extended


def validator(schema: dict[str, Any], definition: str) -> Draft202012Validator:
    """A validator of one definition of the schema (its top level is an array of blocks)."""
    return Draft202012Validator({"$defs": schema["$defs"], "$ref": f"#/$defs/{definition}"})


def test_every_message_and_the_home_tab_are_valid_block_kit(schema: dict[str, Any]) -> None:
    companies = hostile_companies() + [company(n + 50) for n in range(120)]
    before = [company(n + 100, name=name) for n, name in enumerate(HOSTILE)]
    report = report_of(companies, price="2")
    messages = all_renders(report, digest_with_everything(companies, before), "<!here>")
    blocks = validator(schema, "block")
    for message in messages:
        for version in (message, *message.smaller):
            everything: list[Block] = list(version.blocks)
            everything += [b for a in version.attachments for b in a["blocks"]]
            for block in everything:
                blocks.validate(block)
    home = render_home(report, now=NOW, last_digest=NOW, next_digest=None, error="<!here>")
    validator(schema, "home_view").validate({"type": "home", "blocks": home})


def test_the_extended_schema_still_refuses_what_slack_refuses(schema: dict[str, Any]) -> None:
    actions = validator(schema, "actions_block")
    picker = {"type": "external_select", "action_id": "a", "min_query_length": 0}
    assert actions.is_valid({"type": "actions", "elements": [picker]})
    assert not actions.is_valid({"type": "actions", "elements": [{**picker, "options": []}]})
    assert not actions.is_valid(
        {"type": "actions", "elements": [{**picker, "min_query_length": -1}]}
    )
    header = validator(schema, "header_block")
    assert not header.is_valid({"type": "header", "text": {"type": "mrkdwn", "text": "x"}})
