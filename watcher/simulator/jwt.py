"""Signed JSON Web Tokens (HS512) for simulated APIs that log in with one (Airflow 3)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import orjson

_SECRET = b"sim-jwt-secret"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _sign(head: str, body: str) -> str:
    return _b64(hmac.new(_SECRET, f"{head}.{body}".encode(), hashlib.sha512).digest())


def issue(claims: dict[str, Any]) -> str:
    head = _b64(orjson.dumps({"alg": "HS512", "typ": "JWT"}))
    body = _b64(orjson.dumps(claims))
    return f"{head}.{body}.{_sign(head, body)}"


def claims_of(jwt: str, now: float) -> dict[str, Any] | None:
    """The claims of a token this module signed that has not expired by ``now``, else None."""
    head, _, rest = jwt.partition(".")
    body, _, sig = rest.partition(".")
    if not sig or not hmac.compare_digest(sig, _sign(head, body)):
        return None
    try:
        claims = orjson.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        return None
    if not isinstance(claims, dict) or not isinstance(claims.get("exp"), int | float):
        return None
    return claims if claims["exp"] >= now else None
