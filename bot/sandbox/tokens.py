"""The sandbox's access tokens: HS256 JWTs whose claims read like the platform's."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

# what a token answer lists for a role the search serves, and for any other role
PERMISSIONS = (
    "companies/search|POST",
    "companies/search/export|POST",
    "companies|GET",
    "target-users/search|POST",
)
OTHER_PERMISSIONS = ("companies|GET", "target-users/search|POST")


def permissions(served: bool) -> list[str]:
    return list(PERMISSIONS if served else OTHER_PERMISSIONS)


def jwt(claims: Mapping[str, Any], key: bytes) -> str:
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signature = hmac.new(key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(signature)}"


def signed(token: str, key: bytes) -> bool:
    head, _, signature = token.rpartition(".")
    expected = _b64(hmac.new(key, head.encode(), hashlib.sha256).digest())
    return hmac.compare_digest(expected, signature)


def same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
