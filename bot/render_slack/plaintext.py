"""Plain text for terminals and the README: a message's blocks as readable lines."""

from __future__ import annotations

import re
import unicodedata

from bot.grammar import unescape
from bot.render_slack.blocks import Block, Message

_FIELD_LABEL = re.compile(r"\A\*([^*\n]+)\*\n")


def to_text(message: Message) -> str:
    """A readable plain-text rendering of a message's blocks."""
    attached = [b for a in message.attachments for b in a.get("blocks", [])]
    parts = [_block_text(block) for block in [*message.blocks, *attached]]
    text = "\n".join(part for part in parts if part) or message.text
    return unescape(text)


def _block_text(block: Block) -> str:
    kind = block.get("type")
    if kind == "header":
        title = str(block["text"]["text"])
        return f"{title}\n{'=' * _columns(title)}"
    if kind == "section":
        return _section_text(block)
    if kind == "table":
        return _table_text(block)
    if kind == "context":
        return "  ".join(str(e.get("text", e.get("alt_text", ""))) for e in block["elements"])
    if kind == "actions":
        return "  ".join(_element_text(e) for e in block["elements"])
    if kind == "divider":
        return "-" * 40
    return ""


def _section_text(block: Block) -> str:
    parts = [str(block["text"]["text"])] if "text" in block else []
    fields = [_FIELD_LABEL.sub(r"\1: ", str(f["text"])) for f in block.get("fields", [])]
    accessory = block.get("accessory")
    if isinstance(accessory, dict) and parts:  # a line's menu (a case's actions) after it
        first, *rest = parts[0].split("\n")
        parts[0] = "\n".join([f"{first}  {_element_text(accessory)}", *rest])
    return "\n".join([*parts, *fields])


def _element_text(element: Block) -> str:
    if element.get("type") == "button":
        return f"[ {element['text']['text']} ]"
    placeholder = element.get("placeholder", {}).get("text", "choose")
    return f"[ {placeholder} ▾ ]"


def _cell_text(cell: Block) -> str:
    if cell.get("type") == "raw_text":
        return str(cell.get("text", ""))
    found: list[str] = []
    stack = list(cell.get("elements", []))
    while stack:
        item = stack.pop(0)
        found.append(str(item.get("text", "")))
        stack[:0] = item.get("elements", [])
    return "".join(found)


def _table_text(block: Block) -> str:
    rows = [[_cell_text(cell) for cell in row] for row in block.get("rows", [])]
    if not rows:
        return ""
    width = max(len(row) for row in rows)
    rows = [row + [""] * (width - len(row)) for row in rows]
    widths = [max(_columns(row[i]) for row in rows) for i in range(width)]
    settings = list(block.get("column_settings", [])) + [{}] * width
    right = [(s or {}).get("align") == "right" for s in settings[:width]]
    lines = []
    for row in rows:
        cells = [_pad(c, w, right=r) for c, w, r in zip(row, widths, right, strict=True)]
        lines.append("  ".join(cells).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _pad(text: str, width: int, *, right: bool) -> str:
    fill = " " * (width - _columns(text))
    return fill + text if right else text + fill


def _columns(text: str) -> int:
    """The columns a terminal gives text: an emoji or a wide character two, however many code
    points make it (joined by ZWJ, a flag's pair, a skin tone), a combining mark none."""
    columns, joined, flag_half = 0, False, False
    for char in text:
        code = ord(char)
        if joined or char == "\u200d":  # the joiner, and what it joins to the emoji before
            joined = char == "\u200d"
            continue
        if unicodedata.category(char) in ("Mn", "Me") or 0x1F3FB <= code <= 0x1F3FF:
            continue  # combining marks, variation selectors, skin tones
        if 0x1F1E6 <= code <= 0x1F1FF:  # two regional indicators make one flag
            flag_half = not flag_half
            columns += 2 if flag_half else 0
            continue
        columns += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return columns
