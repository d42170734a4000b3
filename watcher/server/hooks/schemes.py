"""The platforms' webhook signatures, checked over the raw body in constant time.

Each scheme is a pure function ``(headers, body, secret, now) -> Verified`` that raises
:class:`Refused` saying why (never echoing the secret or the signature).  Where the
platform sends a timestamp it must be within :data:`WINDOW` of ``now`` (either way);
GitHub and GitLab send none, so their delivery id is what stops a replay.

- Extend: ``x-extend-request-signature`` = hex HMAC-SHA256 of ``v0:{timestamp}:{body}``,
  timestamp in ``x-extend-request-timestamp`` (seconds); delivery id: the body's ``eventId``.
- GitHub: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of body>``; ``X-GitHub-Delivery``.
- GitLab: ``X-Gitlab-Token`` = the secret as is; ``X-Gitlab-Event-UUID``.
- Standard Webhooks (``json`` sources): ``webhook-signature: v1,<base64 HMAC-SHA256 of
  "{webhook-id}.{webhook-timestamp}.{body}">`` (several, space-separated), keyed with the
  base64 after ``whsec_``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Mapping
from typing import NamedTuple

from watcher.core.events import parsed
from watcher.providers import provider_class
from watcher.sinks.webhook import signing_key

#: how far a signed timestamp may be from now, either way (the platforms' SDKs use 5 min)
WINDOW = 300.0
#: a delivery id longer than this is not one (GUIDs are 36 characters)
MAX_DELIVERY = 200


class Refused(Exception):
    """The delivery is not the platform's: 401, nothing stored."""


class Verified(NamedTuple):
    #: the platform's id of this delivery (a retry carries the same)
    delivery: str
    #: when the platform signed it (None: it sends no timestamp)
    sent: float | None


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if not value:
        raise Refused(f"missing {name} header")
    return value


def _timestamp(value: str, now: float) -> float:
    try:
        ts = float(int(value))
    except (ValueError, OverflowError):  # OverflowError: more digits than a float holds
        raise Refused("the timestamp is not a number of seconds") from None
    if abs(now - ts) > WINDOW:
        raise Refused("the timestamp is more than 5 minutes from now")
    return ts


def _delivery(value: object, body: bytes) -> str:
    """The platform's delivery id, or the body's hash where it gives none usable."""
    if isinstance(value, str) and 0 < len(value) <= MAX_DELIVERY:
        return value
    return "sha256:" + hashlib.sha256(body).hexdigest()


def _hmac_hex(secret: str, msg: bytes) -> bytes:
    return hmac.new(secret.encode(), msg, hashlib.sha256).hexdigest().encode()


def extend(headers: Mapping[str, str], body: bytes, secret: str, now: float) -> Verified:
    ts_text = _header(headers, "x-extend-request-timestamp")
    given = _header(headers, "x-extend-request-signature")
    ts = _timestamp(ts_text, now)
    want = _hmac_hex(secret, b"v0:%s:%s" % (ts_text.encode(), body))
    if not hmac.compare_digest(given.strip().lower().encode(), want):
        raise Refused("signature mismatch")
    return Verified(_delivery(parsed(body).get("eventId"), body), ts)


def github(headers: Mapping[str, str], body: bytes, secret: str, now: float) -> Verified:
    given = _header(headers, "x-hub-signature-256")
    scheme, _, digest = given.partition("=")
    if scheme != "sha256" or not hmac.compare_digest(digest.strip().lower().encode(),
                                                     _hmac_hex(secret, body)):
        raise Refused("signature mismatch")
    return Verified(_delivery(headers.get("x-github-delivery"), body), None)


def gitlab(headers: Mapping[str, str], body: bytes, secret: str, now: float) -> Verified:
    given = _header(headers, "x-gitlab-token")
    if not hmac.compare_digest(given.encode(), secret.encode()):
        raise Refused("token mismatch")
    return Verified(_delivery(headers.get("x-gitlab-event-uuid"), body), None)


def standard(headers: Mapping[str, str], body: bytes, secret: str, now: float) -> Verified:
    msg_id = _header(headers, "webhook-id")
    ts_text = _header(headers, "webhook-timestamp")
    given = _header(headers, "webhook-signature")
    ts = _timestamp(ts_text, now)
    key = signing_key(secret) or secret.encode()
    signed = b"%s.%s.%s" % (msg_id.encode(), ts_text.encode(), body)
    want = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest())
    ok = False
    for part in given.split():  # compare each: a rotation sends old and new
        version, _, sig = part.partition(",")
        ok |= version == "v1" and hmac.compare_digest(sig.encode(), want)
    if not ok:
        raise Refused("signature mismatch")
    return Verified(_delivery(msg_id, body), ts)


Scheme = Callable[[Mapping[str, str], bytes, str, float], Verified]

#: each scheme by the name a provider gives as its ``push_scheme``
SCHEMES: dict[str, Scheme] = {"extend": extend, "github": github, "gitlab": gitlab,
                              "standard": standard}


def scheme_of(provider: str) -> Scheme | None:
    """The scheme of the provider named ``provider`` (None: it takes no pushes)."""
    return SCHEMES.get(getattr(provider_class(provider), "push_scheme", None) or "")
