"""Lengths as Slack counts them: UTF-16 code units, cuts that keep every character whole, and
the text a message carries in all."""

from __future__ import annotations

import unicodedata
from typing import Any

# Slack refuses a message whose blocks carry too much text in all (msg_blocks_too_long, seen
# from about 11,000 to 13,000 characters, well below the per-block limits): every message and
# the Home tab keep within this, counted by text_size
TEXT_BUDGET = 10_000

_ZWJ = "\u200d"
_MODIFIERS = range(0x1F3FB, 0x1F400)  # emoji skin tones
_TAGS = range(0xE0020, 0xE0080)  # the tag characters of subdivision flags
_REGIONAL = range(0x1F1E6, 0x1F200)  # two of these make a country flag


def units(text: str) -> int:
    """Slack's length of text: UTF-16 code units, so a character outside the Basic
    Multilingual Plane (most emoji) counts two."""
    return len(text) + sum(1 for c in text if ord(c) > 0xFFFF)


def text_size(value: Any) -> int:
    """The text a message carries in all, as Slack sums it against msg_blocks_too_long: every
    string under a "text" key anywhere in the blocks and attachments given (mrkdwn and
    plain_text objects, button, option and placeholder labels, table cells), in UTF-16 units.
    IDs, values and URLs are not text."""
    if isinstance(value, dict):
        return sum(
            units(item) if key == "text" and isinstance(item, str) else text_size(item)
            for key, item in value.items()
        )
    if isinstance(value, list | tuple):
        return sum(text_size(item) for item in value)
    return 0


def head(text: str, room: int) -> str:
    """The longest start of text within `room` UTF-16 units that ends between two whole
    characters as a person sees them: never inside a surrogate pair, an emoji sequence joined
    by ZWJ, a flag, or a letter and its combining marks."""
    used = end = 0
    for char in text:
        width = 2 if ord(char) > 0xFFFF else 1
        if used + width > room:
            break
        used += width
        end += 1
    while 0 < end < len(text) and _continues(text, end):
        end -= 1
    return text[:end]


def cut(text: str, limit: int) -> str:
    """text within `limit` UTF-16 units, cut at a whole character with "…" when too long."""
    if units(text) <= limit:
        return text
    return head(text, limit - 1).rstrip() + "…"


def _continues(text: str, index: int) -> bool:
    """Whether the character at index belongs to the one before it (cutting there would
    split what shows as one)."""
    char, before = text[index], text[index - 1]
    code = ord(char)
    if before == _ZWJ or char == _ZWJ or code in _MODIFIERS or code in _TAGS:
        return True
    if unicodedata.category(char).startswith("M"):  # combining marks, variation selectors
        return True
    if code in _REGIONAL:  # the second half of a flag: an odd count of them before it
        run = 0
        while index - run - 1 >= 0 and ord(text[index - run - 1]) in _REGIONAL:
            run += 1
        return run % 2 == 1
    return False
