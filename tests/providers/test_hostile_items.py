"""Hostile vendor items: any JSON in any documented field, or no object at all, never raises
through observe, describe, the diff and event building; what is skipped leaves state as it was.

Items are the simulator's renderings of each vendor's real shape, with fields replaced by
arbitrary JSON or dropped (hypothesis), fed to the provider and the diff the way a poll does.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
import structlog
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.event_schema import assert_valid_event
from tests.support import Harness, diff, parse_config, sim_source, toml
from watcher.core.diff import Changeset, Policy
from watcher.core.events import to_json
from watcher.core.timestamps import parse_ts
from watcher.infra.clock import wall
from watcher.model import TERMINAL, Event, Observation, RunState, Status
from watcher.providers import provider_class
from watcher.providers.base import BaseProvider
from watcher.providers.items import MAX_ID, MAX_STATUS
from watcher.providers.protocol import ProviderContext
from watcher.simulator import Simulator
from watcher.simulator.app import APIS
from watcher.simulator.world import World
from watcher.testing import FrozenClock

VENDORS = ("extend", "noxus", "cortex", "knock")
NOW = 1_800_000_000.0
#: documented fields single-run GETs add to the listing's, fuzzed too
DETAIL_FIELDS = {"extend": ("failureMessage", "failureReason", "metadata", "stepRuns"),
                 "knock": ("events",), "noxus": ("output", "progress_details"), "cortex": ()}
BIG = "x" * 1_000_000
DEEP: Any = []
for _ in range(300):  # deeper than orjson will write (254), as deep as it reads
    DEEP = [DEEP]
DELETE = object()


class Vendor:
    """One vendor's provider (fresh per example) and good items in its real shape."""

    def __init__(self, vendor: str) -> None:
        self.vendor = vendor
        clock = FrozenClock(NOW)
        world = World(clock=clock, seed=7)
        api = APIS[vendor](world)
        self.src = sim_source(lambda v: f"http://127.0.0.1:1/{v}", world, vendor)
        stages = api.stages
        runs = [world.add_run(vendor, stages[s][0], created=NOW - 100 * (i + 1),
                              **stages[s][1])
                for i, s in enumerate(("pending", "running", "succeeded", "failed") * 2)]
        self.items = [api.render(r) for r in runs]
        if vendor == "knock":
            for item, run in zip(self.items, runs, strict=True):
                item["events"] = api.events(run)  # type: ignore[attr-defined]
        self.fields = sorted({k for i in self.items for k in i} | set(DETAIL_FIELDS[vendor]))

    def provider(self) -> BaseProvider[Any]:
        cfg = parse_config(toml({}, [self.src])).sources[0]
        cls = provider_class(self.vendor)
        assert cls is not None
        p = cls(cfg, ProviderContext(None, wall))  # type: ignore[arg-type]  # no request is sent
        assert isinstance(p, BaseProvider)
        return p


SHAPES = {v: Vendor(v) for v in VENDORS}

#: what orjson.loads can return (beyond 64 bits it returns floats)
scalars = (st.none() | st.booleans() | st.integers(-2**63, 2**64 - 1) | st.text(max_size=12)
           | st.floats(allow_nan=False, allow_infinity=False))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=6), inner, max_size=3),
                           max_leaves=6)
#: values known to have hurt, drawn as often as arbitrary ones
nasty = st.sampled_from([BIG, "", "9999-99-99", "9999-12-31T23:59:59-23:59", 1.8e9, -1, 0,
                         DEEP, {"id": BIG, "name": BIG}, [BIG], "x" * (MAX_ID + 1),
                         "PROCESSING", "completed", "running", "COMPLETED", True])
values = nasty | json_values


@st.composite
def hostile_item(draw: st.DrawFn, vendor: str) -> Any:
    shape = SHAPES[vendor]
    if draw(st.integers(0, 9)) == 0:
        return draw(json_values.filter(lambda v: not isinstance(v, dict)) | st.just(BIG))
    item = dict(draw(st.sampled_from(shape.items)))
    changes = draw(st.dictionaries(st.sampled_from(shape.fields), values | st.just(DELETE),
                                   min_size=1, max_size=len(shape.fields)))
    for k, v in changes.items():
        if v is DELETE:
            item.pop(k, None)
        else:
            item[k] = v
    return item


def pages(vendor: str) -> st.SearchStrategy[list[Any]]:
    good = st.sampled_from(SHAPES[vendor].items)
    return st.lists(hostile_item(vendor) | good, min_size=1, max_size=6)


def usable(item: Any, id_key: str = "id", status_key: str = "status") -> bool:
    """What no provider may skip: an object with a sane id and a status string."""
    if not isinstance(item, dict):
        return False
    rid, raw = item.get(id_key), item.get(status_key)
    return (isinstance(rid, str) and 0 < len(rid) <= MAX_ID
            and isinstance(raw, str) and 0 < len(raw) <= MAX_STATUS)


def known_state(p: BaseProvider, vendor: str) -> dict[str, RunState]:
    """Every good run known as running, as after a baseline."""
    out: list[Observation] = []
    p.observe(list(SHAPES[vendor].items), out)
    return {o[0]: RunState(Status.RUNNING, "RUNNING", None, NOW - 1000) for o in out}


def check_changes(ch: Changeset) -> None:
    """Events serialise small and sane; state rows are what the store can write."""
    for e in ch.events:
        line = to_json(e)
        assert len(line) < 200_000
        assert_valid_event(orjson.loads(line))
        d = e.data
        for k in ("workflow_id", "workflow_name", "created_at", "updated_at", "url", "error"):
            assert d[k] is None or isinstance(d[k], str), k
        assert isinstance(d["run"], dict) and isinstance(d["raw_status"], str)
        assert isinstance(e.subject, str) and 0 < len(e.subject) <= MAX_ID
    for rid, s in ch.upserts.items():
        assert isinstance(rid, str) and 0 < len(rid) <= MAX_ID
        assert s.version is None or (isinstance(s.version, str) and len(s.version) <= 128)
        orjson.dumps([(rid, s.status, s.raw_status, s.version, s.since, s.stuck,
                       s.detail.to_dict() if s.detail else None)])


@pytest.mark.parametrize("vendor", VENDORS)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_json_in_any_field_never_raises_and_skips_leave_state_alone(
        vendor: str, data: st.DataObject) -> None:
    """observe + diff + describe + to_json survive any item; skipped runs do not move."""
    page = data.draw(pages(vendor))
    with structlog.testing.capture_logs():
        p = SHAPES[vendor].provider()
        runs = known_state(p, vendor)
        live = {r for r, s in runs.items() if s.status not in TERMINAL}
        obs: list[Observation] = []
        p.observe(page, obs)
        assert {o[0] for o in obs} >= {i["id"] for i in page if usable(i)}
        for o in obs:
            assert isinstance(o[0], str) and isinstance(o[1], str) and isinstance(o[2], Status)
        for baseline, emit in ((False, False), (True, False), (True, True)):
            policy = Policy(source="s", provider=vendor, emit_baseline=emit, stuck_after=60.0)
            state = {} if baseline else runs
            ch = diff(state, set() if baseline else live, obs, now=NOW, policy=policy,
                      describe=p.describe, changed_at=p.changed_at, baseline=baseline)
            check_changes(ch)
        # a known run whose item has no usable status is skipped: its state stays
        ch = diff(runs, live, obs, now=NOW, policy=Policy(source="s", provider=vendor),
                  describe=p.describe, changed_at=p.changed_at)
        for item in page:
            rid = item.get("id") if isinstance(item, dict) else None
            if isinstance(rid, str) and rid in runs and not usable(item) and not any(
                    usable(i) and i["id"] == rid for i in page):
                assert rid not in ch.upserts
                assert rid not in {e.subject for e in ch.events}
        assert p.skipped["undescribable"] == 0  # describe handled every field itself
        if any(not usable(i) for i in page):
            assert sum(p.skipped.values()) > 0


#: vendor -> (its field behind data.created_at, behind data.updated_at, its workflow id's path)
FIELDS = {"extend": ("createdAt", "updatedAt", ("workflow", "id")),
          "noxus": ("created_at", "finished_at", ("workflow_id",)),
          "cortex": ("created_at", "updated_at", ("workflow_id",)),
          "knock": ("inserted_at", "updated_at", ("workflow",))}


def first_sight(vendor: str, item: Any) -> Event:
    """The one event of ``item`` seen by ``vendor``'s provider for the first time."""
    p = SHAPES[vendor].provider()
    with structlog.testing.capture_logs():
        obs: list[Observation] = []
        p.observe([item], obs)
        ch = diff({}, set(), obs, now=NOW, policy=Policy(source="s", provider=vendor),
                  describe=p.describe)
    (event,) = ch.events
    return event


def described(vendor: str, **fields: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The data of the run.created of a failed item of ``vendor`` with these fields set
    (a dotted path: ``workflow.id``), and the item as the vendor sent it."""
    shape = SHAPES[vendor]
    item = orjson.loads(orjson.dumps(shape.items[3]))
    for path, value in fields.items():
        outer, _, inner = path.partition(".")
        if inner:
            item[outer] = {**(item.get(outer) or {}), inner: value}
        else:
            item[outer] = value
    sent = orjson.loads(orjson.dumps(item))
    body = orjson.loads(to_json(first_sight(vendor, item)))
    assert_valid_event(body)
    return body["data"], sent


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize("word", ["yesterday", "soon"])
def test_a_timestamp_that_is_a_word_is_null_in_data_and_kept_in_data_run(
        vendor: str, word: str) -> None:
    """``updatedAt = "yesterday"`` (each vendor's field): data.updated_at null, the word in
    data.run as received; the same for the creation time."""
    created, updated, _ = FIELDS[vendor]
    data, sent = described(vendor, **{created: word, updated: word})
    assert data["updated_at"] is None and data["created_at"] is None
    assert data["run"][updated] == data["run"][created] == word == sent[updated]


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_numeric_workflow_id_is_its_string_in_data_and_a_number_in_data_run(
        vendor: str) -> None:
    """A vendor numbering its workflows: data.workflow_id "42", data.run keeps 42."""
    *_, path = FIELDS[vendor]
    data, _ = described(vendor, **{".".join(path): 42})
    assert data["workflow_id"] == "42"
    at = data["run"]
    for key in path:
        at = at[key]
    assert at == 42


@pytest.mark.parametrize("url", ["javascript:alert(1)", "/relative/path", "yesterday", 42,
                                 "https://exa mple.com/x", "https://"])
def test_a_dashboard_url_that_is_no_http_url_is_null(url: Any) -> None:
    """Extend's dashboardUrl reaches data.url only as an absolute http(s) URL."""
    data, _ = described("extend", dashboardUrl=url)
    assert data["url"] is None and data["run"]["dashboardUrl"] == url


def test_a_vendors_rfc3339_timestamps_and_urls_reach_data_unchanged() -> None:
    """Well-formed values are not rewritten (offsets and precision kept)."""
    data, _ = described("extend", createdAt="2027-01-15T13:29:51.5+05:30",
                        updatedAt="2027-01-15T07:59:51Z",
                        dashboardUrl="https://dashboard.extend.ai/workflows/r?x=1")
    assert (data["created_at"], data["updated_at"], data["url"]) == (
        "2027-01-15T13:29:51.5+05:30", "2027-01-15T07:59:51Z",
        "https://dashboard.extend.ai/workflows/r?x=1")


@settings(max_examples=300, deadline=None)
@given(value=values | st.text())
def test_parse_ts_never_raises(value: Any) -> None:
    """Any JSON value, also absurd dates and megabyte strings, parses to a time or None."""
    t = parse_ts(value)
    assert t is None or isinstance(t, float)


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_megabyte_field_makes_a_small_event(vendor: str) -> None:
    """A 1 MB string in every text field is cut: the event stays a few KB."""
    shape = SHAPES[vendor]
    item = {k: BIG for k in shape.fields}
    item.update(id="run_1", status=shape.items[3]["status"])
    event = first_sight(vendor, item)
    assert len(to_json(event)) < 64 * 1024
    assert event.data["error"] is None or len(event.data["error"]) <= 4096


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_bad_item_is_warned_once_per_run_and_field_and_counted_every_time(
        vendor: str) -> None:
    """Three polls of the same bad items: one warning per run and field, three skips each."""
    shape = SHAPES[vendor]
    bad_status = {**shape.items[0], "status": ["x"]}
    bad_id = {**shape.items[1], "id": 12345}
    p = shape.provider()
    with structlog.testing.capture_logs() as logs:
        for _ in range(3):
            out: list[Observation] = []
            p.observe([bad_status, bad_id, "not a run", shape.items[2]], out)
            assert [o[0] for o in out] == [shape.items[2]["id"]]
    warned = [(e["run_id"], e["field"], e["reason"]) for e in logs
              if e["event"] == "skipped a malformed run item"]
    assert sorted(warned, key=repr) == sorted([(bad_status["id"], "status", "bad_status"),
                                               (None, "id", "bad_id"),
                                               (None, "item", "not_an_object")], key=repr)
    assert p.skipped == {"bad_status": 3, "bad_id": 3, "not_an_object": 3}


@pytest.mark.parametrize("vendor", VENDORS)
@settings(max_examples=200, deadline=None)
@given(body=values | st.dictionaries(st.sampled_from(["detail", "message", "errors", "error",
                                                      "code"]), values | st.lists(values)))
def test_any_error_body_gives_a_message_or_none(vendor: str, body: Any) -> None:
    """A vendor's error body, whatever its JSON, reads as a message or nothing, never raises."""
    cls = provider_class(vendor)
    assert cls is not None
    msg = cls.error_message(body)  # type: ignore[attr-defined]
    assert msg is None or isinstance(msg, str)


@pytest.mark.anyio
async def test_a_far_future_updated_at_does_not_lift_extends_watermark(
        sim: Simulator, world: World, clock: FrozenClock) -> None:
    """A run stamped year 9999 once at the head: a burst of updates bigger than an idle
    page is still read to its end, not cut at the first page."""
    ids = [world.add_run("extend", "PROCESSING", created=clock() - 1000 - i).id
           for i in range(40)]
    world.add_run("extend", "PROCESSING", overrides={"updatedAt": "9999-12-30T00:00:00Z"})
    async with Harness(sim, clock=clock) as h:
        await h.poll()
        clock.advance(15)
        for rid in ids[:30]:
            world.set_status(rid, "PROCESSED")
        events = await h.poll()
    assert sorted(e["subject"] for e in events) == sorted(ids[:30])
