"""The access token: asked for once at a time and shared, renewed before it expires, and
the authorised calls made with it (one silent retry with a fresh token after a 401; a 403
said as precisely as the token's claims allow)."""

from __future__ import annotations

import asyncio
import base64
import json
import math
from dataclasses import dataclass, field
from typing import Any

from bot.errors import BadCredentials, NotReseller, PlatformDown, list_refused
from bot.keepnet.answers import _Answer, _json
from bot.keepnet.transport import Transport

MAX_TOKEN_LIFETIME_S = 86_400.0
# the permission each call needs, as the token answer lists them
_PERMISSIONS = {
    "/api/companies/search": "companies/search|POST",
    "/api/companies/search/export": "companies/search/export|POST",
}


@dataclass(slots=True)
class _Token:
    value: str = field(repr=False)
    renew_at: float
    claims: dict[str, Any]
    permissions: frozenset[str] | None = None  # as the token answer listed them, folded


class Tokens(Transport):
    """The token part of KeepnetClient (which sets these)."""

    _token: _Token | None
    _token_flight: asyncio.Task[_Token] | None
    _slots: asyncio.Semaphore

    async def claims(self) -> dict[str, Any]:
        """The access token's claims (role, company...), fetching a token if needed."""
        token = await self._current_token(self._deadline())
        return dict(token.claims)

    async def _current_token(self, deadline: float) -> _Token:
        token = self._token
        if token is not None and self._clock() < token.renew_at:
            return token
        flight = self._token_flight
        if flight is None:
            # single flight: every caller that arrives meanwhile shares this one request,
            # and its failure, instead of starting its own
            flight = asyncio.get_running_loop().create_task(self._fly(deadline))
            flight.add_done_callback(_settle)
            self._token_flight = flight
        return await asyncio.shield(flight)

    async def _fly(self, deadline: float) -> _Token:
        try:
            token = await self._request_token(deadline)
            self._token = token
            return token
        finally:
            self._token_flight = None

    def _forget_token(self, stale: _Token) -> None:
        if self._token is stale:
            self._token = None

    async def _request_token(self, deadline: float) -> _Token:
        form = {
            "grant_type": "client_credentials",
            "client_id": self._settings.keepnet_client_id,
            "client_secret": self._settings.keepnet_client_secret,
            "scope": "api1",
        }
        # form-encoded on purpose: the token endpoint answers 500 to JSON
        answer = await self._send("POST", "/connect/token", deadline, data=form, token=False)
        if answer.response.status_code in (400, 401):
            raise BadCredentials("Keepnet did not accept the bot's client ID and secret.")
        self._raise_for_status(answer)
        body = _json(answer)
        value = str(body.get("access_token") or "")
        if not value:
            raise PlatformDown("The Keepnet platform sent a token answer without a token.")
        lifetime = min(_finite(body.get("expires_in"), default=3600.0), MAX_TOKEN_LIFETIME_S)
        # the role claim is only a hint (custom roles exist): a 403 is what proves it wrong
        claims = _jwt_claims(value)
        margin = min(60.0, lifetime * 0.1)  # renew shortly before it expires
        renew_at = self._clock() + max(lifetime - margin, 1.0)
        return _Token(value, renew_at, claims, _permissions(body.get("permissions")))

    async def _api(self, path: str, body: dict[str, Any], deadline: float) -> _Answer:
        """An authorised call: one silent retry with a fresh token after a 401."""
        for attempt in (1, 2):
            token = await self._current_token(deadline)  # outside the slots: one shared flight
            async with self._slots:
                answer = await self._send("POST", path, deadline, json=body, token=token.value)
            if answer.response.status_code != 401:
                break
            self._forget_token(token)
            if attempt == 2:
                raise BadCredentials("Keepnet refused the bot's access token twice.")
        if answer.response.status_code == 403:
            raise _refusal(token, _PERMISSIONS.get(path, ""))
        self._raise_for_status(answer)
        return answer


def _settle(flight: asyncio.Task[_Token]) -> None:
    """Mark a token request's failure as seen even when every caller went away."""
    if not flight.cancelled():
        flight.exception()


def _finite(value: object, *, default: float) -> float:
    """A finite, non-negative JSON number; anything else (NaN, Infinity, text) is default."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    if isinstance(value, float) and not math.isfinite(value):
        return default
    return float(value) if value >= 0 else default


def _jwt_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT, read without verifying: we only need the role."""
    try:
        payload = token.split(".")[1]
        decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        claims = json.loads(decoded)
    except (IndexError, ValueError):
        return {}
    return claims if isinstance(claims, dict) else {}


def _permissions(listed: object) -> frozenset[str] | None:
    """The token answer's permissions, folded; None when it listed none."""
    if not isinstance(listed, list):
        return None
    return frozenset(str(p).strip().casefold() for p in listed if isinstance(p, str))


def _refusal(token: _Token, needed: str) -> NotReseller:
    """A 403, said as precisely as the token allows: its role claim, or its permissions."""
    claims = token.claims
    role = claims.get("role")
    roles = [str(r) for r in role] if isinstance(role, list) else [str(role)]
    shown = " ".join(", ".join(roles).split())[:60]
    odd_role = shown if role is not None and "Reseller" not in roles else None
    access = str(claims.get("reseller_access", "")).casefold()
    roleless = role is None and access == "false"
    lacking = (
        bool(needed)
        and token.permissions is not None
        and needed.casefold() not in token.permissions
    )
    return list_refused(role=odd_role, roleless=roleless, missing=needed if lacking else None)
