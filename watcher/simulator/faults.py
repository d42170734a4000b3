"""Fault injection for the simulator: the seam tests use to make vendors misbehave.

Request faults answer instead of the API: ``status`` (any code, 500 by default,
optional ``retry_after``), ``slow`` (sleep ``delay`` seconds first), ``malformed`` (a 200
whose body is not JSON), ``endless`` (a 200 JSON listing streamed with chunked transfer
that never ends, as from a proxy gone wrong or a hostile host; with ``status`` set, an
error answer that never ends) and ``huge`` (a 200 with ``Content-Length: size`` and that
many bytes of valid JSON, streamed: over a client's cap it must be refused, under it
parsed).

Page faults alter a listing page: ``missing_field`` (drop ``field`` from one item),
``unknown_status`` (one item's status becomes ``value``), ``duplicate`` (the previous
page's last item again at the top of this page), ``shift`` (between two page requests a
run from a later page moves to the head; see each vendor's ``move_to_head``), ``reorder``
(one page comes in the opposite order, as if the vendor's undocumented ordering had
changed) and ``hostile`` (one item is replaced by ``value``, any JSON: an object of other
fields, a string, null).

Each fault fires ``times`` times after letting ``after`` matching requests through;
``path`` narrows it to requests whose path contains that text.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

REQUEST_KINDS = ("status", "slow", "malformed", "endless", "huge")
PAGE_KINDS = ("missing_field", "unknown_status", "duplicate", "shift", "reorder", "hostile")


@dataclass
class Fault:
    kind: str
    times: int = 1
    after: int = 0
    path: str | None = None
    #: ``status``: the error answered (500 when unset); ``endless``/``huge``: 200 unless set
    status: int | None = None
    retry_after: float | None = None
    delay: float = 0.0
    field: str = "status"
    value: Any = "ARCHIVED_SOMEHOW"
    #: the error message a ``status`` fault answers with
    message: str = "Simulated failure"
    #: bytes of a ``huge`` body (its Content-Length)
    size: int = 100 * 1000**2
    #: how many times it fired
    fired: int = dataclasses.field(default=0, compare=False)
    #: bytes an ``endless`` or ``huge`` body got written before the client hung up
    sent: int = dataclasses.field(default=0, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in REQUEST_KINDS + PAGE_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}")


#: what a flooded listing repeats: a plausible run, so a client cannot tell early
FLOOD_ITEM = b'{"id":"run_flood","status":"PROCESSING","createdAt":"2026-01-01T00:00:00Z"}'
FLOOD_HEAD, FLOOD_TAIL = b'{"data":[', b"]}"
#: bytes per write
FLOOD_CHUNK = 64 * 1024


def endless_listing() -> Iterator[bytes]:
    """``{"data":[item,item,...`` without end."""
    yield FLOOD_HEAD + FLOOD_ITEM
    block = (b"," + FLOOD_ITEM) * (FLOOD_CHUNK // (len(FLOOD_ITEM) + 1))
    while True:
        yield block


def sized_listing(size: int) -> Iterator[bytes]:
    """A JSON listing of exactly ``size`` bytes (padded with whitespace), in chunks."""
    room = size - len(FLOOD_HEAD) - len(FLOOD_TAIL)
    if room < 0:
        yield b" " * size
        return
    item = len(FLOOD_ITEM) + 1
    count = (room + 1) // item  # count items and count-1 commas fit in room
    yield FLOOD_HEAD
    per_chunk, sent = FLOOD_CHUNK // item, 0
    while sent < count:
        k = min(per_chunk, count - sent)
        yield (b"," if sent else b"") + b",".join([FLOOD_ITEM] * k)
        sent += k
    pad = room - max(count * item - 1, 0)
    while pad > 0:
        yield b" " * min(pad, FLOOD_CHUNK)
        pad -= FLOOD_CHUNK
    yield FLOOD_TAIL


class Faults:
    def __init__(self) -> None:
        self._by_vendor: dict[str, list[Fault]] = {}

    def add(self, vendor: str, fault: Fault | None = None, /, **kw: Any) -> Fault:
        f = fault or Fault(**kw)
        self._by_vendor.setdefault(vendor, []).append(f)
        return f

    def clear(self, vendor: str | None = None) -> None:
        if vendor is None:
            self._by_vendor.clear()
        else:
            self._by_vendor.pop(vendor, None)

    def take(self, vendor: str, path: str, kinds: tuple[str, ...]) -> Fault | None:
        """The fault to apply to this request, if one is due (consumes one firing)."""
        for f in self._by_vendor.get(vendor, []):
            if f.kind not in kinds or f.times <= 0 or (f.path and f.path not in path):
                continue
            if f.after > 0:
                f.after -= 1
                continue
            f.times -= 1
            f.fired += 1
            return f
        return None
