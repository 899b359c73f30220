"""PURE: Report/DigestDiff -> Block Kit messages; action_id constants; to_text()."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Block = dict[str, Any]

EXPORT_BUTTON = "overage_export"
EXPORT_CSV_BUTTON = "overage_export_csv"
POST_TO_CHANNEL_BUTTON = "overage_post_to_channel"
DETAILS_SELECT = "overage_company_details"
REFRESH_HOME_BUTTON = "overage_refresh_home"


@dataclass(frozen=True, slots=True)
class Message:
    """A Slack message: notification text plus Block Kit blocks (and attachments, rarely)."""

    text: str
    blocks: list[Block] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)
