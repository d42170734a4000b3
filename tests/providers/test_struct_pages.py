"""A page decoded into each provider's structs (the diff's fields only) gives what the
tolerant path (``orjson.loads`` of the page, every item checked) gives: the same
observations, the same events byte for byte and the same state, hostile items included.

Pages are the simulator's renderings of each vendor's real shape with fields replaced by
arbitrary JSON or dropped (the generators of test_hostile_items).
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
import structlog
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.providers.test_hostile_items import NOW, SHAPES, VENDORS, known_state, pages
from tests.support import diff
from watcher.core.diff import Changeset, Policy
from watcher.core.events import to_json
from watcher.model import TERMINAL, Observation
from watcher.providers.base import BaseProvider
from watcher.providers.pages import Listing, Run


def encoded(listing: Listing, items: list[Any], **extras: Any) -> bytes | None:
    """The page's bytes as the vendor sends them (``None``: nothing orjson can write)."""
    try:
        return orjson.dumps(items if listing.key is None else {listing.key: items, **extras})
    except orjson.JSONEncodeError:  # nested deeper than orjson writes: no vendor sends it
        return None


def read(p: BaseProvider[Any], data: bytes, *, tolerant: bool) -> list[Observation]:
    listing = p.listing
    assert listing is not None
    _, items = listing.tolerant(data) if tolerant else listing.read(data)
    obs: list[Observation] = []
    p.observe(items, obs)
    return obs


def whole(item: Any) -> Any:
    return item.whole() if isinstance(item, Run) else item


def outcome(p: BaseProvider[Any], obs: list[Observation], *, baseline: bool,
            emit: bool) -> tuple[list[bytes], dict[str, Any]]:
    """The diff's events as written, and its state rows, from a fresh provider's view."""
    runs = {} if baseline else known_state(p, p.kind)
    live = {r for r, s in runs.items() if s.status not in TERMINAL}
    ch: Changeset = diff(runs, live, obs, now=NOW, describe=p.describe, changed_at=p.changed_at,
                         policy=Policy(source="s", provider=p.kind, emit_baseline=emit,
                                       stuck_after=60.0), baseline=baseline)
    rows = {rid: (s.status, s.raw_status, s.version, s.since, s.stuck,
                  s.detail.to_dict() if s.detail else None) for rid, s in ch.upserts.items()}
    return [to_json(e) for e in ch.events], rows


@pytest.mark.parametrize("vendor", VENDORS)
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_struct_path_and_the_tolerant_path_give_the_same_observations_and_events(
        vendor: str, data: st.DataObject) -> None:
    """Observations, items in full, events (bytes) and state rows are equal on both paths."""
    page = data.draw(pages(vendor))
    with structlog.testing.capture_logs():
        fast, slow = SHAPES[vendor].provider(), SHAPES[vendor].provider()
        assert fast.listing is not None
        raw = encoded(fast.listing, page)
        assume(raw is not None)
        assert raw is not None
        a, b = read(fast, raw, tolerant=False), read(slow, raw, tolerant=True)
        assert [o[:4] for o in a] == [o[:4] for o in b]
        assert [whole(o[4]) for o in a] == [o[4] for o in b]
        for baseline, emit in ((False, False), (True, False), (True, True)):
            assert outcome(fast, a, baseline=baseline, emit=emit) == outcome(
                slow, b, baseline=baseline, emit=emit)
        assert fast.skipped == slow.skipped


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_page_in_the_documented_shape_is_read_as_structs(vendor: str) -> None:
    """Good items decode as the provider's structs, each whole item as orjson reads it."""
    p = SHAPES[vendor].provider()
    assert p.listing is not None
    items = SHAPES[vendor].items
    raw = encoded(p.listing, items)
    assert raw is not None
    _, runs = p.listing.read(raw)
    assert all(isinstance(r, Run) for r in runs) and len(runs) == len(items)
    assert [r.whole() for r in runs] == items
    obs = read(p, raw, tolerant=False)
    assert [o[0] for o in obs] == [i["id"] for i in items]


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_field_of_another_type_sends_the_page_the_tolerant_way(vendor: str) -> None:
    """One item whose id is a number: the page's items are plain dicts, that one skipped."""
    p = SHAPES[vendor].provider()
    assert p.listing is not None
    items = [*SHAPES[vendor].items[:3], {**SHAPES[vendor].items[3], "id": 7}]
    raw = encoded(p.listing, items)
    assert raw is not None
    _, got = p.listing.read(raw)
    assert got == items
    with structlog.testing.capture_logs():
        obs = read(p, raw, tolerant=False)
    assert [o[0] for o in obs] == [i["id"] for i in items[:3]]
    assert p.skipped["bad_id"] == 1


def test_the_page_s_other_fields_are_read_beside_its_structs() -> None:
    """An Extend page's nextPageToken comes through by name on the struct path."""
    p = SHAPES["extend"].provider()
    assert p.listing is not None
    raw = encoded(p.listing, SHAPES["extend"].items, nextPageToken="abc")
    assert raw is not None
    body, runs = p.listing.read(raw)
    assert body == {"nextPageToken": "abc"} and isinstance(runs[0], Run)


def test_an_item_orjson_refuses_is_skipped_not_the_page() -> None:
    """A run whose full item orjson cannot read (a number past a float's range, which
    msgspec skips over unread) is skipped when described; the page's other runs are
    observed and described."""
    p = SHAPES["extend"].provider()
    assert p.listing is not None
    good, bad = SHAPES["extend"].items[:2]
    raw = orjson.dumps({"data": [good]})[:-2] + b"," + orjson.dumps(bad)[:-1] + \
        b',"big":1e999}]}'
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(raw)
    with structlog.testing.capture_logs():
        obs = read(p, raw, tolerant=False)
        events, _ = outcome(p, obs, baseline=True, emit=True)
    assert [o[0] for o in obs] == [good["id"], bad["id"]]
    subjects = {orjson.loads(e)["subject"] for e in events}
    assert subjects == {good["id"]} and p.skipped["undescribable"] == 1


@pytest.mark.parametrize("key", ["_page", "_at"])
@pytest.mark.parametrize("value", [0, 2, None, {"data": "x"}])
def test_an_item_with_a_key_named_like_a_run_s_place_is_described_from_its_own_bytes(
        key: str, value: Any) -> None:
    """A vendor key named like the fields that place a run in its page (``_page``,
    ``_at``) cannot point the run at another item: every item is read in full as sent."""
    p = SHAPES["extend"].provider()
    assert p.listing is not None
    items = [dict(i) for i in SHAPES["extend"].items[:3]]
    items[0][key] = value
    raw = encoded(p.listing, items)
    assert raw is not None
    _, got = p.listing.read(raw)
    assert [whole(i) for i in got] == items


def test_runs_of_pages_decoded_one_after_another_each_find_their_own_item() -> None:
    """Runs of two pages, both kept, are read in full from their own pages."""
    p = SHAPES["extend"].provider()
    assert p.listing is not None
    items = SHAPES["extend"].items
    first, second = encoded(p.listing, items[:2]), encoded(p.listing, items[2:4])
    assert first is not None and second is not None
    _, a = p.listing.read(first)
    _, b = p.listing.read(second)
    assert [r.whole() for r in (*b, *a)] == [*items[2:4], *items[:2]]
