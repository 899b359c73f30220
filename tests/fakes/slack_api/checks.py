"""Slack's checks on messages and views: block, attachment, table and length limits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.fakes.slack_api.records import Params

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_TEXT_CHARS = 40_000
MAX_TABLE_ROWS = 100
MAX_TABLE_CELLS = 20  # in one row
MAX_TABLE_CHARS = 10_000  # summed over every cell of the table
# msg_blocks_too_long: the text in all of a message's blocks and attachments, in UTF-16 units
# (Slack refuses from about 11,000 to 13,000, well below the per-block limits)
MAX_MESSAGE_TEXT = 12_000


class _Refusal(Exception):
    """Slack's `{"ok": false, "error": code}`, with the detail Slack gives for block errors."""

    def __init__(self, code: str, detail: str | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.detail = detail


def _check_message(params: Params) -> None:
    text = params.get("text")
    blocks = params.get("blocks")
    if not text and not blocks and not params.get("attachments"):
        raise _Refusal("no_text")
    if isinstance(text, str) and len(text) > MAX_TEXT_CHARS:
        raise _Refusal("msg_too_long")
    if _text_units([blocks, params.get("attachments")]) > MAX_MESSAGE_TEXT:
        raise _Refusal("msg_blocks_too_long")
    if blocks is not None:
        _check_blocks(blocks, limit=MAX_MESSAGE_BLOCKS)
    if params.get("attachments") is not None:
        _check_attachments(params["attachments"])


def _text_units(value: Any) -> int:
    """Every string under a "text" key, anywhere in value, summed in UTF-16 code units."""
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
    """Attachments may carry blocks; a table block is published only here, one a message."""
    if not isinstance(attachments, list) or not all(isinstance(a, dict) for a in attachments):
        raise _Refusal("invalid_attachments")
    blocks = [block for a in attachments for block in (a.get("blocks") or [])]
    tables = [b for b in blocks if isinstance(b, dict) and b.get("type") == "table"]
    if len(tables) > 1:
        raise _Refusal("invalid_attachments", "only_one_table_allowed")
    for index, block in enumerate(blocks):
        is_table = isinstance(block, dict) and block.get("type") == "table"
        problem = _table_problem(block) if is_table else _block_problem(block)
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
    if not isinstance(blocks, list):
        raise _Refusal("invalid_blocks_format")
    if len(blocks) > limit:
        raise _Refusal(
            "invalid_blocks", f"no more than {limit} items allowed [json-pointer:/blocks]"
        )
    for index, block in enumerate(blocks):
        if isinstance(block, dict) and block.get("type") == "table":
            raise _Refusal(
                "invalid_blocks",
                f"a table block goes in attachments, not blocks [json-pointer:/blocks/{index}]",
            )
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
    if any(not isinstance(row, list) or len(row) > MAX_TABLE_CELLS for row in rows):
        return f"table rows must have at most {MAX_TABLE_CELLS} cells"
    chars = sum(len(_cell_text(cell)) for row in rows for cell in row)
    if chars > MAX_TABLE_CHARS:
        return f"table cells must hold at most {MAX_TABLE_CHARS} characters in all, not {chars}"
    return None


def _cell_text(cell: Any) -> str:
    """The text of a raw_text cell, or of every element of a rich_text one."""
    if not isinstance(cell, dict):
        return ""
    nested = cell.get("elements")
    own = str(cell.get("text", "")) if isinstance(cell.get("text"), str) else ""
    return own + "".join(_cell_text(e) for e in nested) if isinstance(nested, list) else own


_BLOCK_CHECKS: dict[str, Callable[[Params], str | None]] = {
    "section": _section_problem,
    "header": _header_problem,
    "context": _context_problem,
    "actions": _actions_problem,
}
