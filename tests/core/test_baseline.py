"""A first sync's finished runs kept as bare ``Settled`` tuples, a page at a time in bulk
where the versions are change times, with exactly the careful path's outcome on any page."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from watcher.core.diff import Changeset, Policy, Session
from watcher.core.timestamps import parse_ts
from watcher.model import Observation, RunDetails, RunState, Settled, SkipItem, Status

NOW = 1_800_000_000.0
POLICY = Policy(source="s", provider="extend", horizon=7 * 86400.0)
STAMP = "2027-01-15T08:00:00.000Z"


def describe(item: Any) -> RunDetails:
    return RunDetails(workflow_id="wf", changed_at=parse_ts(item["updatedAt"]))


def changed_at(item: Any) -> float | None:
    if not 0 < len(item["id"]) <= 256:
        raise SkipItem(None)
    return parse_ts(item["updatedAt"])


def obs(rid: str, status: Status, version: Any = STAMP) -> Observation:
    raw = "PROCESSING" if status is Status.RUNNING else status.value.upper()
    return (rid, raw, status, version, {"id": rid, "updatedAt": version})


def first_sync(pages: list[list[Observation]], *, bulk: bool) -> Changeset:
    """A silent baseline of a new source fed these pages: with versions read as change
    times (the bulk path), or through each item (the careful path)."""
    session = Session({}, set(), now=NOW, policy=POLICY, describe=describe,
                      changed_at=changed_at, baseline=True, version_time=bulk)
    for page in pages:
        session.feed(page)
    return session.finish()


def test_finished_runs_become_bare_tuples_that_read_like_run_states() -> None:
    """A finished run is kept as Settled(status, raw, since) at its exact change time, with
    no version, details or stuck flag; a live run keeps its RunState and details."""
    ch = first_sync([[obs("a", Status.SUCCEEDED), obs("b", Status.RUNNING)]], bulk=True)
    a, b = ch.upserts["a"], ch.upserts["b"]
    assert isinstance(a, Settled) and a == (Status.SUCCEEDED, "SUCCEEDED", parse_ts(STAMP))
    assert (a.status, a.raw_status, a.since, a.version, a.stuck, a.detail) == \
        (Status.SUCCEEDED, "SUCCEEDED", parse_ts(STAMP), None, False, None)
    assert isinstance(b, RunState) and b.detail is not None and b.version == STAMP
    assert ch.events == []


ODD = [
    obs("naive", Status.SUCCEEDED, "2027-01-15T08:00:00"),
    obs("offset", Status.FAILED, "2027-01-15T09:00:00+01:00"),
    obs("number", Status.SUCCEEDED, 12345),
    obs("none", Status.CANCELLED, None),
    obs("", Status.SUCCEEDED),
    obs("x" * 300, Status.SUCCEEDED),
    obs("ancient", Status.SUCCEEDED, "2020-01-01T00:00:00Z"),
    obs("garbage", Status.REJECTED, "not a time"),
]


def test_an_odd_page_has_exactly_the_careful_outcome() -> None:
    """Naive and offset stamps, stamps that are no time, ids out of bounds, a run older
    than the horizon: a page holding any of them settles just as the careful path does."""
    for odd in ODD:
        page = [obs("ok", Status.SUCCEEDED), odd, obs("live", Status.RUNNING)]
        bulk, careful = first_sync([page], bulk=True), first_sync([page], bulk=False)
        assert {k: tuple(v) if isinstance(v, Settled) else v.status
                for k, v in bulk.upserts.items()} == \
            {k: tuple(v) if isinstance(v, Settled) else v.status
             for k, v in careful.upserts.items()}, odd[0]


def test_a_run_met_again_on_a_later_page_keeps_its_newer_copy() -> None:
    """A run listed live on one page and finished on the next ends finished; one listed
    finished and then, stale, live on the next page stays finished."""
    later = first_sync([[obs("a", Status.RUNNING, "2027-01-15T07:00:00Z")],
                        [obs("a", Status.SUCCEEDED)]], bulk=True)
    stale = first_sync([[obs("a", Status.SUCCEEDED)],
                        [obs("a", Status.RUNNING, "2027-01-15T07:00:00Z")]], bulk=True)
    assert later.upserts["a"].status is Status.SUCCEEDED
    assert stale.upserts["a"].status is Status.SUCCEEDED


STATUSES = st.sampled_from([Status.SUCCEEDED, Status.FAILED, Status.RUNNING, Status.PENDING])
VERSIONS = st.one_of(st.sampled_from([STAMP, "2027-01-15T07:59:59.5Z", None, "x",
                                      "2027-01-15T08:00:00", "2019-01-01T00:00:00Z"]))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.tuples(st.sampled_from("abcdef"), STATUSES, VERSIONS),
                         max_size=8), max_size=4))
def test_bulk_and_careful_paths_agree_on_any_pages(pages: list[list[Any]]) -> None:
    """On any pages (duplicates, odd stamps, live and finished runs), the bulk first sync
    keeps the same runs in the same statuses at the same times as the careful one."""
    fed = [[obs(rid, status, version) for rid, status, version in page] for page in pages]
    bulk, careful = first_sync(fed, bulk=True), first_sync(fed, bulk=False)
    assert {k: (v.status, v.since) for k, v in bulk.upserts.items()} == \
        {k: (v.status, v.since) for k, v in careful.upserts.items()}
