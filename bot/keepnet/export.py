"""The platform's own export of the over-limit list, as the file it sent."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.errors import PlatformDown
from bot.keepnet.answers import _envelope_data, _json
from bot.keepnet.paging import Search


@dataclass(frozen=True, slots=True)
class NativeFile:
    content: bytes
    filename: str
    content_type: str


class Export(Search):
    """The export part of KeepnetClient: the same search, asked for as a file."""

    async def export(self, fmt: str) -> NativeFile:
        """The platform's own file of the overage list, exactly as it sent it."""
        export_type = "Csv" if fmt == "csv" else "Excel"
        body = {**self._search_body(1, ""), "exportType": export_type, "reportAllPages": True}
        answer = await self._api("/api/companies/search/export", body, self._deadline())
        response = answer.response
        content_type = response.headers.get("content-type", "application/octet-stream")
        if "json" in content_type:
            # an envelope, not the file: its refusal is the sentence
            _envelope_data(_json(answer))
            raise PlatformDown("The Keepnet platform answered the export with data, not a file.")
        default = "Companies.csv" if fmt == "csv" else "Companies.xlsx"
        return NativeFile(
            content=response.content,
            filename=_filename(response.headers.get("content-disposition", ""), default),
            content_type=content_type,
        )


_FILENAME_STAR = re.compile(r"filename\*\s*=\s*(?:UTF-8'')?\"?([^\";]+)\"?", re.IGNORECASE)
_FILENAME = re.compile(r"filename\s*=\s*\"?([^\";]+)\"?", re.IGNORECASE)


def _filename(disposition: str, default: str) -> str:
    from urllib.parse import unquote

    match = _FILENAME_STAR.search(disposition) or _FILENAME.search(disposition)
    if not match:
        return default
    name = unquote(match.group(1)).strip().replace("/", "_").replace("\\", "_")
    return name[:120] or default
