"""The Slack Web API methods the bot calls, answered from the fake's state."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tests.fakes.slack_api.checks import (
    MAX_VIEW_BLOCKS,
    _check_blocks,
    _check_message,
    _check_metadata,
    _Refusal,
)
from tests.fakes.slack_api.records import Channel, Params, Upload, _PendingFile
from tests.fakes.slack_api.scopes import CONVERSATION_SCOPES, METHOD_SCOPES
from tests.fakes.slack_api.state import SlackState


class WebApiMethods(SlackState):
    """One handler per Web API method, called with the lock held."""

    def _handlers(self) -> dict[str, Callable[[Params], Params]]:
        return {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.postEphemeral": self._post_ephemeral,
            "chat.update": self._update,
            "conversations.info": self._conversation_info,
            "conversations.join": self._join,
            "conversations.history": self._history,
            "conversations.open": self._open,
            "files.getUploadURLExternal": self._get_upload_url,
            "files.completeUploadExternal": self._complete_upload,
            "views.publish": self._publish_view,
            "views.open": self._open_view,
            "views.update": self._update_view,
        }

    def _auth_test(self, params: Params) -> Params:
        return {
            "url": "https://fake-workspace.slack.com/",
            "team": "Fake Workspace",
            "user": "overage_bot",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": "B0BOT",
            "is_enterprise_install": False,
        }

    def _require_scope(self, method: str, channel: Channel | None = None) -> None:
        """missing_scope, as Slack answers it, unless the token has the scope the method needs
        (a conversation method: the scope of the conversation's type)."""
        if channel is None:
            needed = METHOD_SCOPES.get(method)
        else:
            needed = CONVERSATION_SCOPES[method][channel.kind]
        if needed is not None and needed not in self.scopes:
            raise _Refusal("missing_scope", needed=needed, provided=",".join(self.scopes))

    def _channel(self, params: Params, key: str = "channel") -> Channel:
        """The channel named by `key`; a private one the bot is not in is hidden from it."""
        channel = self._channels.get(str(params.get(key) or ""))
        if channel is None or (channel.private and not channel.member):
            raise _Refusal("channel_not_found")
        return channel

    def _member_channel(self, params: Params, key: str = "channel") -> Channel:
        channel = self._channel(params, key)
        if not channel.member:
            raise _Refusal("not_in_channel")
        return channel

    def _open_channel(self, params: Params, key: str = "channel") -> Channel:
        """A channel the bot may post in: it is a member, and the channel is not archived."""
        channel = self._member_channel(params, key)
        if channel.archived:
            raise _Refusal("is_archived")
        return channel

    def _post_message(self, params: Params) -> Params:
        channel = self._open_channel(params)
        _check_message(params)
        metadata = params.get("metadata")
        if metadata is not None:
            _check_metadata(metadata)
        message = self._store(channel.id, params, metadata=metadata)
        return {"channel": channel.id, "ts": message["ts"], "message": dict(message)}

    def _store(self, channel: str, params: Params, *, metadata: Any = None) -> Params:
        ts = self._next_ts()
        message: Params = {"type": "message", "user": self.bot_user_id, "ts": ts}
        message["text"] = params.get("text") or ""
        for key in ("blocks", "attachments", "thread_ts", "files"):
            if params.get(key):
                message[key] = params[key]
        if metadata is not None:
            message["metadata"] = metadata
        self._messages[channel].append(message)
        return message

    def _next_ts(self) -> str:
        # whole microseconds, so that every ts is unique and later than the one before
        self._last_us = max(time.time_ns() // 1000, self._last_us + 1)
        seconds, micros = divmod(self._last_us, 1_000_000)
        return f"{seconds}.{micros:06d}"

    def _post_ephemeral(self, params: Params) -> Params:
        self._open_channel(params)
        if not params.get("user"):
            raise _Refusal("user_not_in_channel")
        _check_message(params)
        return {"message_ts": self._next_ts()}

    def _update(self, params: Params) -> Params:
        channel = self._open_channel(params)
        _check_message(params)
        ts = str(params.get("ts") or "")
        for message in self._messages[channel.id]:
            if message["ts"] == ts:
                message["text"] = params.get("text") or ""
                message["blocks"] = params.get("blocks") or []
                return {"channel": channel.id, "ts": ts, "text": message["text"]}
        raise _Refusal("message_not_found")

    def _conversation_info(self, params: Params) -> Params:
        channel = self._channel(params)
        self._require_scope("conversations.info", channel)
        return {"channel": _channel_json(channel)}

    def _join(self, params: Params) -> Params:
        channel = self._channel(params)
        if channel.kind != "public":
            raise _Refusal("method_not_supported_for_channel_type")
        if channel.archived:
            raise _Refusal("is_archived")
        channel.member = True
        return {"channel": _channel_json(channel)}

    def _open(self, params: Params) -> Params:
        """A direct message with one user: the same D-channel each time, the bot a member."""
        users = [u for u in str(params.get("users") or "").split(",") if u]
        if not users:
            raise _Refusal("users_list_not_supplied")
        if len(users) > 1:
            raise _Refusal("not_implemented", "the fake opens direct messages with one user only")
        already_open = users[0] in self._dms
        return {"channel": {"id": self._dm_of(users[0])}, "already_open": already_open}

    def _history(self, params: Params) -> Params:
        channel = self._channel(params)
        self._require_scope("conversations.history", channel)
        if not channel.member:
            raise _Refusal("not_in_channel")
        oldest = float(params.get("oldest") or 0)
        latest = float(params.get("latest") or "inf")
        inclusive = _truthy(params.get("inclusive"))
        with_metadata = _truthy(params.get("include_all_metadata"))

        def within(ts: float) -> bool:
            if inclusive:
                return oldest <= ts <= latest
            return oldest < ts < latest

        top_level = [
            m
            for m in reversed(self._messages[channel.id])
            if within(float(m["ts"])) and m.get("thread_ts", m["ts"]) == m["ts"]
        ]
        start = int(params.get("cursor") or 0)
        limit = min(int(params.get("limit") or 100), 1000)
        page = top_level[start : start + limit]
        more = start + limit < len(top_level)
        messages = [_without_metadata(m) if not with_metadata else dict(m) for m in page]
        return {
            "messages": messages,
            "has_more": more,
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }

    def _get_upload_url(self, params: Params) -> Params:
        filename = params.get("filename")
        length = str(params.get("length") or "")
        if not filename or not length.isdigit():
            raise _Refusal("invalid_arguments")
        file_id = f"F{next(self._ids):08d}"
        self._pending[file_id] = _PendingFile(str(filename), int(length))
        return {"upload_url": f"{self._root}upload/v1/{file_id}", "file_id": file_id}

    def _complete_upload(self, params: Params) -> Params:
        files = params.get("files")
        if not isinstance(files, list) or not files or not all(isinstance(f, dict) for f in files):
            raise _Refusal("invalid_arguments")
        channel_id = params.get("channel_id") or None
        if channel_id is not None:
            self._open_channel(params, "channel_id")
        for item in files:
            self._check_pending(str(item.get("id")))
        uploads = [self._finish_upload(item, params) for item in files]
        self._uploads.extend(uploads)
        shared = [{"id": u.file_id, "name": u.filename, "title": u.title} for u in uploads]
        if channel_id is not None:
            comment = {"text": params.get("initial_comment"), "thread_ts": params.get("thread_ts")}
            self._store(channel_id, {**comment, "files": shared})
        return {"files": shared}

    def _check_pending(self, file_id: str) -> None:
        pending = self._pending.get(file_id)
        if pending is None or pending.content is None:
            raise _Refusal("file_not_found")
        if len(pending.content) != pending.length:
            raise _Refusal("file_upload_size_mismatch")

    def _finish_upload(self, item: Params, params: Params) -> Upload:
        file_id = str(item.get("id"))
        pending = self._pending.pop(file_id)
        return Upload(
            file_id=file_id,
            channel_id=params.get("channel_id") or None,
            filename=pending.filename,
            title=str(item.get("title") or pending.filename),
            initial_comment=str(params.get("initial_comment") or ""),
            thread_ts=params.get("thread_ts") or None,
            content=pending.content or b"",
        )

    def _publish_view(self, params: Params) -> Params:
        view = params.get("view")
        if not params.get("user_id"):
            raise _Refusal("invalid_arguments")
        if not isinstance(view, dict) or view.get("type") != "home":
            raise _Refusal("invalid_arguments")
        _check_blocks(view.get("blocks", []), limit=MAX_VIEW_BLOCKS)  # a view holds no table
        return {"view": {"id": f"V{next(self._ids):08d}", **view}}

    def _open_view(self, params: Params) -> Params:
        """A modal, opened with the trigger_id of a click (Slack's expire after 3 s: a test
        refuses one with fail_next("views.open", "expired_trigger_id"))."""
        if not params.get("trigger_id"):
            raise _Refusal("invalid_arguments")
        view = _checked_modal(params.get("view"))
        view_id = f"V{next(self._ids):08d}"
        self._views[view_id] = view
        return {"view": {"id": view_id, **view}}

    def _update_view(self, params: Params) -> Params:
        view_id = str(params.get("view_id") or "")
        if view_id not in self._views:
            raise _Refusal("not_found")
        view = _checked_modal(params.get("view"))
        self._views[view_id] = view
        return {"view": {"id": view_id, **view}}


def _checked_modal(view: Any) -> Params:
    """A modal as Slack takes it: a title of at most 24 characters, at most 100 blocks,
    private_metadata within 3000 characters; any other is invalid_arguments."""
    if not isinstance(view, dict) or view.get("type") != "modal":
        raise _Refusal("invalid_arguments", "view type must be modal")
    for key, most in (("title", 24), ("submit", 24), ("close", 24)):
        text = view.get(key)
        if key == "title" or text is not None:
            if not isinstance(text, dict) or text.get("type") != "plain_text":
                raise _Refusal("invalid_arguments", f"{key} must be plain_text")
            if not 0 < len(str(text.get("text") or "")) <= most:
                raise _Refusal("invalid_arguments", f"{key} must be 1 to {most} characters")
    if len(str(view.get("private_metadata") or "")) > 3000:
        raise _Refusal("invalid_arguments", "private_metadata must be at most 3000 characters")
    _check_blocks(view.get("blocks", []), limit=MAX_VIEW_BLOCKS)
    return dict(view)


def _truthy(value: Any) -> bool:
    return value in (True, 1, "1", "true", "True")


def _channel_json(channel: Channel) -> Params:
    if channel.im_user is not None:  # Slack's im object: no name, no is_member
        return {
            "id": channel.id,
            "is_im": True,
            "user": channel.im_user,
            "is_user_deleted": False,
            "is_archived": False,
        }
    return {
        "id": channel.id,
        "name": channel.name,
        "is_channel": not channel.private,
        "is_group": channel.private,
        "is_private": channel.private,
        "is_member": channel.member,
        "is_archived": channel.archived,
    }


def _without_metadata(message: Params) -> Params:
    return {k: v for k, v in message.items() if k != "metadata"}
