"""What the fake Slack records and holds: calls, answers to response_urls, uploads,
channels, and the faults and files still pending."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Params = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Call:
    """One request to a Web API method, and how the fake answered it."""

    method: str
    params: Params
    token: str | None
    at: float
    error: str | None = None
    response: Params = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class ResponsePost:
    """One JSON body POSTed to a `response_url`, and the error Slack refused it with."""

    name: str
    body: Params
    at: float
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class Upload:
    """A file whose upload was completed with files.completeUploadExternal."""

    file_id: str
    channel_id: str | None
    filename: str
    title: str
    initial_comment: str
    thread_ts: str | None
    content: bytes


@dataclass(slots=True)
class Channel:
    id: str
    name: str
    private: bool = False
    member: bool = True
    archived: bool = False
    im_user: str | None = None  # a direct message between the bot and this person

    @property
    def kind(self) -> str:
        """Slack's conversation type, which decides the scope a look-up needs."""
        if self.im_user is not None:
            return "im"
        return "private" if self.private else "public"


@dataclass(slots=True)
class _Fault:
    error: str
    times: int
    retry_after: int | None
    http_status: int


@dataclass(frozen=True, slots=True)
class BytesReceived:
    """One POST of a file's bytes to the upload URL that files.getUploadURLExternal gave."""

    file_id: str
    length: int


@dataclass(slots=True)
class _PendingFile:
    filename: str
    length: int
    content: bytes | None = None
