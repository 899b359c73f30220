"""The bot-token scopes each Web API method needs, as each method's page on docs.slack.dev
lists them; a conversation method needs the scope of the conversation's type."""

from __future__ import annotations

# method → the scope a bot token needs for it; None: no scope (auth.test, views.publish)
METHOD_SCOPES: dict[str, str | None] = {
    "auth.test": None,
    "chat.postMessage": "chat:write",
    "chat.postEphemeral": "chat:write",
    "chat.update": "chat:write",
    "conversations.join": "channels:join",
    "conversations.open": "im:write",  # one person; several would need mpim:write
    "files.getUploadURLExternal": "files:write",
    "files.completeUploadExternal": "files:write",
    "views.publish": None,
    "views.open": None,
    "views.update": None,
}

# conversations.info and conversations.history: the scope follows the conversation's type
CONVERSATION_SCOPES: dict[str, dict[str, str]] = {
    "conversations.info": {"public": "channels:read", "private": "groups:read", "im": "im:read"},
    "conversations.history": {
        "public": "channels:history",
        "private": "groups:history",
        "im": "im:history",
    },
}
