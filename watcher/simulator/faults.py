"""Fault injection for the simulator: the seam tests use to make vendors misbehave.

Request faults answer instead of the API: ``status`` (any code, optional
``retry_after``), ``slow`` (sleep ``delay`` seconds first), ``malformed``
(a 200 whose body is not JSON).  Page faults alter a listing page:
``missing_field`` (drop ``field`` from one item), ``unknown_status`` (one
item's status becomes ``value``), ``duplicate`` (the previous page's last
item again at the top of this page), ``shift`` (between two page requests
a run from a later page moves to the head; see each vendor's ``move_to_head``)
``reorder`` (one page comes in the opposite order, as if the vendor's
undocumented ordering had changed) and ``hostile`` (one item is replaced by
``value``, any JSON: an object of other fields, a string, null).  Each fault fires ``times``
times after letting ``after`` matching requests through; ``path`` narrows it
to requests whose path contains that text.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

REQUEST_KINDS = ("status", "slow", "malformed")
PAGE_KINDS = ("missing_field", "unknown_status", "duplicate", "shift", "reorder", "hostile")


@dataclass
class Fault:
    kind: str
    times: int = 1
    after: int = 0
    path: str | None = None
    status: int = 500
    retry_after: float | None = None
    delay: float = 0.0
    field: str = "status"
    value: Any = "ARCHIVED_SOMEHOW"
    #: how many times it fired
    fired: int = dataclasses.field(default=0, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in REQUEST_KINDS + PAGE_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}")


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

    def pending(self, vendor: str) -> list[Fault]:
        return [f for f in self._by_vendor.get(vendor, []) if f.times > 0]

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
