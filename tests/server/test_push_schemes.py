"""The platforms' webhook signatures: a good delivery is accepted; a bad, missing or old
one is refused, whatever the scheme."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook

from watcher.server.hooks.schemes import Refused, extend, github, gitlab, standard

NOW = 1_800_000_000.0
BODY = b'{"eventId":"evt_1","eventType":"workflow_run.completed","payload":{"id":"r"}}'
SECRET = "wss_test_secret"
WHSEC = "whsec_" + base64.b64encode(b"k" * 32).decode()


def extend_headers(body: bytes = BODY, ts: float = NOW, secret: str = SECRET) -> dict[str, str]:
    t = str(int(ts))
    sig = hmac.new(secret.encode(), f"v0:{t}:".encode() + body, hashlib.sha256).hexdigest()
    return {"x-extend-request-timestamp": t, "x-extend-request-signature": sig}


def github_headers(body: bytes = BODY, secret: str = SECRET) -> dict[str, str]:
    sig = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"x-hub-signature-256": f"sha256={sig}", "x-github-delivery": "d-1"}


def standard_headers(body: bytes = BODY, ts: float = NOW, secret: str = WHSEC
                     ) -> dict[str, str]:
    """Signed by the Standard Webhooks reference library (an oracle, not our code)."""
    sig = Webhook(secret).sign("msg_1", datetime.fromtimestamp(ts, UTC), body)
    return {"webhook-id": "msg_1", "webhook-timestamp": str(int(ts)), "webhook-signature": sig}


def test_extend_accepts_a_good_signature_and_takes_the_event_id() -> None:
    """Extend: the hex HMAC of v0:{timestamp}:{body} is accepted; eventId is the delivery."""
    v = extend(extend_headers(), BODY, SECRET, NOW + 10)
    assert v == ("evt_1", NOW)


def test_github_accepts_a_good_signature_and_takes_the_delivery_header() -> None:
    """GitHub: sha256=<hex HMAC of the body> is accepted; X-GitHub-Delivery is the id."""
    assert github(github_headers(), BODY, SECRET, NOW) == ("d-1", None)


def test_gitlab_accepts_its_token_and_takes_the_event_uuid() -> None:
    """GitLab: X-Gitlab-Token equal to the secret is accepted; X-Gitlab-Event-UUID the id."""
    headers = {"x-gitlab-token": SECRET, "x-gitlab-event-uuid": "u-1"}
    assert gitlab(headers, BODY, SECRET, NOW) == ("u-1", None)


def test_standard_webhooks_accepts_a_good_signature_among_several() -> None:
    """Standard Webhooks: one good v1 signature among several (a key rotation) is enough."""
    headers = standard_headers()
    headers["webhook-signature"] = "v1,AAAA " + headers["webhook-signature"]
    assert standard(headers, BODY, WHSEC, NOW) == ("msg_1", NOW)


@pytest.mark.parametrize("scheme,headers,secret", [
    (extend, extend_headers(secret="other"), SECRET),
    (github, github_headers(secret="other"), SECRET),
    (gitlab, {"x-gitlab-token": "other"}, SECRET),
    (standard, standard_headers(secret="whsec_" + base64.b64encode(b"o" * 32).decode()),
     WHSEC),
])
def test_a_bad_signature_is_refused(scheme: object, headers: dict[str, str],
                                    secret: str) -> None:
    """A signature made with another secret is refused by every scheme."""
    with pytest.raises(Refused):
        scheme(headers, BODY, secret, NOW)  # type: ignore[operator]


@pytest.mark.parametrize("scheme,headers,secret", [
    (extend, extend_headers(), SECRET), (github, github_headers(), SECRET),
    (gitlab, {"x-gitlab-token": SECRET}, SECRET), (standard, standard_headers(), WHSEC)])
def test_a_changed_body_is_refused(scheme: object, headers: dict[str, str],
                                   secret: str) -> None:
    """A body changed after signing (one byte) is refused where the body is signed."""
    if scheme is gitlab:  # GitLab signs nothing: its token is the whole credential
        return
    with pytest.raises(Refused):
        scheme(headers, BODY.replace(b"r", b"s"), secret, NOW)  # type: ignore[operator]


@pytest.mark.parametrize("scheme,secret", [(extend, SECRET), (github, SECRET),
                                           (gitlab, SECRET), (standard, WHSEC)])
def test_a_missing_signature_is_refused(scheme: object, secret: str) -> None:
    """No signature headers at all: refused, by every scheme."""
    with pytest.raises(Refused, match="missing"):
        scheme({}, BODY, secret, NOW)  # type: ignore[operator]


@pytest.mark.parametrize("scheme,headers,secret", [
    (extend, extend_headers(ts=NOW - 301), SECRET),
    (extend, extend_headers(ts=NOW + 301), SECRET),
    (standard, standard_headers(ts=NOW - 301), WHSEC)])
def test_a_timestamp_over_five_minutes_off_is_refused(scheme: object, headers: dict[str, str],
                                                      secret: str) -> None:
    """A correctly signed delivery whose timestamp is over 5 minutes off is a replay."""
    with pytest.raises(Refused, match="5 minutes"):
        scheme(headers, BODY, secret, NOW)  # type: ignore[operator]


@pytest.mark.parametrize("scheme,header,secret", [
    (extend, "x-extend-request-timestamp", SECRET),
    (standard, "webhook-timestamp", WHSEC)])
@pytest.mark.parametrize("ts", ["9" * 400, "1e3", "-", "9" * 5000])
def test_a_timestamp_that_is_no_number_of_seconds_is_refused(
        scheme: object, header: str, secret: str, ts: str) -> None:
    """A timestamp too long for a float (or no integer at all) is refused, not an error."""
    headers = {**(extend_headers() if scheme is extend else standard_headers()), header: ts}
    with pytest.raises(Refused, match="not a number of seconds"):
        scheme(headers, BODY, secret, NOW)  # type: ignore[operator]


def test_a_delivery_without_an_id_is_known_by_its_body() -> None:
    """A GitHub delivery with no X-GitHub-Delivery is deduplicated by its body's hash."""
    headers = github_headers()
    del headers["x-github-delivery"]
    assert github(headers, BODY, SECRET, NOW).delivery == (
        "sha256:" + hashlib.sha256(BODY).hexdigest())
