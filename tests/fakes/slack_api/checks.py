"""Slack's checks on messages and views: block, attachment, table and length limits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.fakes.slack_api.records import Params

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_TEXT_CHARS = 40_000
# Slack refuses a message whose blocks carry too much text in all (msg_blocks_too_long), well
# below the per-block limits. Slack documents no number; reports put it between 11,000 and
# 13,000 characters. The fake refuses above 12,000 UTF-16 units of text in the blocks and
# attachments together, the middle of that range (and the cumulative limit Slack documents for
# markdown blocks). The bot budgets 10,000 a message.
MAX_MESSAGE_TEXT = 12_000
MAX_BLOCK_TEXT_CHARS = MAX_MESSAGE_TEXT
# docs.slack.dev/reference/block-kit/blocks/table-block: "Maximum 100 rows. Each row object is
# an array with a max of 20 table cells." and, of column_settings, "Maximum 20 items."
MAX_TABLE_ROWS = 100
MAX_TABLE_CELLS = 20  # in one row
MAX_TABLE_COLUMN_SETTINGS = 20
# the same page: "A single table's character count across all cells cannot exceed 10,000
# characters. Additionally, the aggregate character count across all table cells for a single
# message cannot exceed 10,000 characters." (with one table a message, one check is both)
MAX_TABLE_CHARS = 10_000
# the same page: "Table cells can have a type of `rich_text`, `raw_text`, or `raw_number`."
_TABLE_CELL_TYPES = frozenset({"raw_text", "raw_number", "rich_text"})


class _Refusal(Exception):
    """Slack's `{"ok": false, "error": code}`, with the detail Slack gives for block errors
    and any fields of its own (missing_scope's `needed` and `provided`)."""

    def __init__(self, code: str, detail: str | None = None, **fields: str) -> None:
        super().__init__(code)
        self.code = code
        self.detail = detail
        self.fields = fields


def _check_message(params: Params) -> None:
    text = params.get("text")
    blocks = params.get("blocks")
    if not text and not blocks and not params.get("attachments"):
        raise _Refusal("no_text")
    if isinstance(text, str) and len(text) > MAX_TEXT_CHARS:
        raise _Refusal("msg_too_long")
    units = _text_units([blocks, params.get("attachments")])
    if units > MAX_MESSAGE_TEXT:
        raise _Refusal(
            "msg_blocks_too_long",
            f"the blocks carry {units} characters of text, more than {MAX_MESSAGE_TEXT}",
        )
    if blocks is not None:
        _check_blocks(blocks, limit=MAX_MESSAGE_BLOCKS)
    if params.get("attachments") is not None:
        _check_attachments(params["attachments"])
    _check_tables(params)


def _check_tables(params: Params) -> None:
    """Where a table may go. The table-block page, as of 2026: "Apps can programmatically
    publish messages that include a table by providing a table block in the `attachments` or
    `blocks` fields of a chat.postMessage request. [...] You must include a value for one of
    either the top-level blocks or text arguments in the message payload." (An earlier text
    of the page named attachments only; a public example posts a table among the top-level
    blocks.) One table a message: Slack refuses a second with only_one_table_allowed."""
    in_blocks = [block for block in params.get("blocks") or [] if _is_table(block)]
    in_attachments = [
        block
        for attachment in params.get("attachments") or []
        for block in attachment.get("blocks") or []
        if _is_table(block)
    ]
    if len(in_blocks) + len(in_attachments) > 1:
        code = "invalid_attachments" if in_attachments else "invalid_blocks"
        raise _Refusal(code, "only_one_table_allowed")
    if in_attachments and not params.get("text") and not params.get("blocks"):
        raise _Refusal("no_text")


def _text_units(value: Any) -> int:
    """Every string under a "text" key, anywhere in value, summed in UTF-16 code units; a
    table's cells have a limit of their own (MAX_TABLE_CHARS) and are not counted here."""
    if _is_table(value):
        return 0
    if isinstance(value, dict):
        return sum(
            len(item.encode("utf-16-le", "surrogatepass")) // 2
            if key == "text" and isinstance(item, str)
            else _text_units(item)
            for key, item in value.items()
        )
    if isinstance(value, list):
        return sum(_text_units(item) for item in value)
    return 0


def _check_attachments(attachments: Any) -> None:
    """Attachments may carry blocks (a table among them), each checked as in `blocks`."""
    if not isinstance(attachments, list) or not all(isinstance(a, dict) for a in attachments):
        raise _Refusal("invalid_attachments")
    blocks = [block for a in attachments for block in (a.get("blocks") or [])]
    for index, block in enumerate(blocks):
        problem = _block_problem(block)
        if problem is not None:
            raise _Refusal(
                "invalid_attachments", f"{problem} [json-pointer:/attachments/blocks/{index}]"
            )


def _check_metadata(metadata: Any) -> None:
    if not isinstance(metadata, dict) or not isinstance(metadata.get("event_type"), str):
        raise _Refusal("invalid_metadata_format")
    if not isinstance(metadata.get("event_payload"), dict):
        raise _Refusal("invalid_metadata_format")


def _check_blocks(blocks: Any, *, limit: int) -> None:
    """A message's or a view's blocks. A table is a block like any other here: the published
    Block Kit schema (../shared/reference/slack/block-kit.subset.schema.json) lets a home view
    hold any block of its union, the table included, and the table-block page names no
    surface it is refused on."""
    if not isinstance(blocks, list):
        raise _Refusal("invalid_blocks_format")
    if len(blocks) > limit:
        raise _Refusal(
            "invalid_blocks", f"no more than {limit} items allowed [json-pointer:/blocks]"
        )
    for index, block in enumerate(blocks):
        problem = _block_problem(block)
        if problem is not None:
            raise _Refusal("invalid_blocks", f"{problem} [json-pointer:/blocks/{index}]")


def _block_problem(block: Any) -> str | None:
    if not isinstance(block, dict) or not isinstance(block.get("type"), str):
        raise _Refusal("invalid_blocks_format")
    if len(str(block.get("block_id", ""))) > 255:
        return "block_id must be at most 255 characters"
    check = _BLOCK_CHECKS.get(block["type"])
    return check(block) if check is not None else None


def _too_long(obj: Any, limit: int) -> bool:
    return isinstance(obj, dict) and len(str(obj.get("text", ""))) > limit


def _section_problem(block: Params) -> str | None:
    fields = block.get("fields") or []
    if not block.get("text") and not fields:
        return "section needs text or fields"
    if _too_long(block.get("text"), 3000):
        return "section text must be at most 3000 characters"
    if len(fields) > 10:
        return "section fields must be at most 10 items"
    if any(_too_long(f, 2000) for f in fields):
        return "section field text must be at most 2000 characters"
    accessory = block.get("accessory")
    return _element_problem(accessory) if isinstance(accessory, dict) else None


def _header_problem(block: Params) -> str | None:
    text = block.get("text")
    if not isinstance(text, dict) or text.get("type") != "plain_text":
        return "header text must be plain_text"
    return "header text must be at most 150 characters" if _too_long(text, 150) else None


def _context_problem(block: Params) -> str | None:
    elements = block.get("elements") or []
    if not elements or len(elements) > 10:
        return "context needs 1 to 10 elements"
    return None


def _actions_problem(block: Params) -> str | None:
    elements = block.get("elements") or []
    if not elements or len(elements) > 25:
        return "actions needs 1 to 25 elements"
    return next((p for p in map(_element_problem, elements) if p is not None), None)


def _element_problem(element: Any) -> str | None:
    if not isinstance(element, dict):
        return "element must be an object"
    if len(str(element.get("action_id", ""))) > 255:
        return "action_id must be at most 255 characters"
    if element.get("type") == "button" and _too_long(element.get("text"), 75):
        return "button text must be at most 75 characters"
    return None


def _table_problem(block: Params) -> str | None:
    rows = block.get("rows")
    if not isinstance(rows, list) or not rows:
        return "table needs rows"
    if len(rows) > MAX_TABLE_ROWS:
        return f"table must have at most {MAX_TABLE_ROWS} rows"
    if any(not isinstance(row, list) or not row or len(row) > MAX_TABLE_CELLS for row in rows):
        return f"table rows must have 1 to {MAX_TABLE_CELLS} cells"
    settings = block.get("column_settings")
    if settings is not None and (
        not isinstance(settings, list) or len(settings) > MAX_TABLE_COLUMN_SETTINGS
    ):
        return f"table column_settings must have at most {MAX_TABLE_COLUMN_SETTINGS} items"
    if any(_type_of(cell) not in _TABLE_CELL_TYPES for row in rows for cell in row):
        return "table cells must be raw_text, raw_number or rich_text"
    chars = _text_chars(rows)
    if chars > MAX_TABLE_CHARS:
        return f"table cells must hold at most {MAX_TABLE_CHARS} characters in all, not {chars}"
    return None


def _is_table(block: Any) -> bool:
    return _type_of(block) == "table"


def _type_of(value: Any) -> Any:
    return value.get("type") if isinstance(value, dict) else None


def _text_chars(value: Any) -> int:
    """The characters of every text in blocks, rows or cells: text objects, fields, buttons,
    options and rich text alike, each a string under a "text" key."""
    if isinstance(value, list):
        return sum(_text_chars(item) for item in value)
    if not isinstance(value, dict):
        return 0
    return sum(
        len(item) if key == "text" and isinstance(item, str) else _text_chars(item)
        for key, item in value.items()
    )


def _input_problem(block: Params) -> str | None:
    label = block.get("label")
    if not isinstance(label, dict) or label.get("type") != "plain_text":
        return "input label must be plain_text"
    if _too_long(label, 2000):
        return "input label must be at most 2000 characters"
    element = block.get("element")
    if not isinstance(element, dict) or not element.get("action_id"):
        return "input needs an element with an action_id"
    return _element_problem(element)


_BLOCK_CHECKS: dict[str, Callable[[Params], str | None]] = {
    "input": _input_problem,
    "section": _section_problem,
    "header": _header_problem,
    "context": _context_problem,
    "actions": _actions_problem,
    "table": _table_problem,
}
