"""The one matcher agrees with the two it replaced: a sink's route (exact values) and a
silence's (``*`` globs), on generated events; both spellings of every key work."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st
from multidict import MultiDict

from watcher.config.match import check_match
from watcher.core.events import EVENT_TYPES, REMINDS
from watcher.core.matching import Match, Routable
from watcher.core.silences import Silence, stored_form
from watcher.model import JournalEntry, Status
from watcher.server.sse import parse_filter

# -- the old semantics, kept here as the oracle ---------------------------------------


def old_route(types: frozenset[str] | None, statuses: frozenset[str] | None,
              sources: frozenset[str] | None, workflows: frozenset[str] | None,
              e: Routable) -> bool:
    """``core/routing.py`` ``Match.__call__`` as it was: exact values, full type names."""
    if types is not None and e.type not in types and REMINDS.get(e.type) not in types:
        return False
    if statuses is not None and e.status not in statuses:
        return False
    if sources is not None and e.source not in sources:
        return False
    return workflows is None or (e.workflow_id in workflows or e.workflow_name in workflows)


def old_glob(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.DOTALL)


def old_silence(values: Mapping[str, Sequence[str]], e: Routable) -> bool:
    """``core/silences.py`` ``Matcher`` over ``normalise``'s output as it was: singular
    keys (plural aliases), ``*`` globs, short type names made full."""
    aliases = {"types": "type", "statuses": "status", "sources": "source",
               "workflows": "workflow"}
    for raw_key, pats in values.items():
        key = aliases.get(raw_key, raw_key)
        if key == "type":
            pats = [p if p.startswith("watcher.") or p == "*" else f"watcher.{p}" for p in pats]
            seen: tuple[str | None, ...] = (e.type, REMINDS.get(e.type))
        elif key == "status":
            seen = (e.status,)
        elif key == "source":
            seen = (e.source,)
        else:
            seen = (e.workflow_id, e.workflow_name)
        exact = {p for p in pats if "*" not in p}
        globs = [old_glob(p).fullmatch for p in pats if "*" in p]
        if not any(v is not None and (v in exact or any(g(v) for g in globs)) for v in seen):
            return False
    return True


# -- generated events and matchers ----------------------------------------------------

SHORT = [t.removeprefix("watcher.") for t in EVENT_TYPES]
STATUSES = [s.value for s in Status]
#: names with the characters a glob might treat specially, to show they mean themselves;
#: mostly from a few, so that a matcher's values and an event's often meet
NAME = st.sampled_from(["a", "b", "ab", "a.b", "a[b]", "a?", "b-a"]) | st.text(
    alphabet="ab.-[?", min_size=1, max_size=4)


def globs_of(names: st.SearchStrategy[str], alphabet: str) -> st.SearchStrategy[str]:
    """Globs that often match: a name with a ``*`` put in place of some of it, or any."""
    cut = st.tuples(names, st.integers(0, 8), st.integers(0, 8)).map(
        lambda t: t[0][:min(t[1], t[2])] + "*" + t[0][max(t[1], t[2]):])
    return cut | st.text(alphabet=alphabet + "*", min_size=1, max_size=6).filter(
        lambda p: "*" in p)


events = st.builds(
    lambda t, src, status, wid, wname: JournalEntry(1, "id", 0.0, t, src, "run", status, wid,
                                                    wname, b"{}"),
    st.sampled_from(EVENT_TYPES), NAME, st.none() | st.sampled_from(STATUSES),
    st.none() | NAME, st.none() | NAME)


def _values(draw: st.DrawFn, key: str, globs: bool) -> list[str]:
    if key in ("types", "type"):
        exact: st.SearchStrategy[str] = st.sampled_from(SHORT) | st.sampled_from(EVENT_TYPES)
        glob = globs_of(exact, "runsocetaild.")
    elif key in ("statuses", "status"):
        exact = st.sampled_from(STATUSES)
        glob = globs_of(exact, "faildsucer")
    else:
        exact, glob = NAME, globs_of(NAME, "ab.-[?")
    return draw(st.lists(exact | glob if globs else exact, min_size=1, max_size=3))


@st.composite
def route_tables(draw: st.DrawFn) -> dict[str, list[str]]:
    """A sink's ``match`` as the README wrote it: ``types``, ``status``, ``sources``,
    ``workflows``, exact values."""
    keys = draw(st.lists(st.sampled_from(["types", "status", "sources", "workflows"]),
                         unique=True))
    return {k: _values(draw, k, globs=False) for k in keys}


@st.composite
def silence_tables(draw: st.DrawFn) -> dict[str, list[str]]:
    """A silence's match in either spelling of each key, exact values and globs."""
    keys = draw(st.lists(st.sampled_from(["type", "status", "source", "workflow"]),
                         unique=True, min_size=1))
    spelt = [draw(st.sampled_from([k, f"{k}es" if k == "status" else f"{k}s"])) for k in keys]
    return {k: _values(draw, k, globs=True) for k in spelt}


@settings(max_examples=500, deadline=None)
@given(route_tables(), st.lists(events, min_size=1, max_size=10))
def test_the_matcher_routes_as_a_sinks_match_did(table: dict[str, list[str]],
                                                 evs: list[JournalEntry]) -> None:
    """A sink's match, checked by the config, selects exactly what the old route did."""
    match, problems = check_match(table)
    assert problems == []

    def key(name: str) -> frozenset[str] | None:
        vals = table.get(name)
        if vals is None:
            return None
        return frozenset(v if v.startswith("watcher.") else f"watcher.{v}" for v in vals) \
            if name == "types" else frozenset(vals)

    for e in evs:
        assert match(e) == old_route(key("types"), key("status"), key("sources"),
                                     key("workflows"), e)


@settings(max_examples=500, deadline=None)
@given(silence_tables(), st.lists(events, min_size=1, max_size=10))
def test_the_matcher_holds_what_a_silence_held(table: dict[str, list[str]],
                                               evs: list[JournalEntry]) -> None:
    """A silence's match, in either spelling and with globs, holds exactly what the old
    silence matcher held, also after the stored form is read back."""
    match, problems = check_match(table)
    assert problems == []
    stored = Silence(id="s", match=stored_form(match), starts=0.0, ends=1.0)
    again = Match(Silence.decode(stored.encode()).match)
    for e in evs:
        assert match(e) == again(e) == old_silence(table, e)


def test_a_stored_silence_with_a_key_no_matcher_has_is_damaged() -> None:
    """A stored silence naming an unknown key is refused as damaged (it would hold
    nothing, or the wrong events), and a good one reads back with its keys as stored."""
    good = {"id": "s", "match": {"source": ["extend-*"], "types": ["watcher.run.*"]},
            "starts": 0.0, "ends": 1.0}
    assert Silence.decode(orjson.dumps(good)).match == {"source": ("extend-*",),
                                                        "types": ("watcher.run.*",)}
    try:
        Silence.decode(orjson.dumps({**good, "match": {"sorce": ["extend-prod"]}}))
    except ValueError as e:
        assert '"sorce" is not a match key' in str(e)
    else:
        raise AssertionError("a silence with an unknown key was read")


def test_every_problem_of_a_match_is_listed_at_its_key() -> None:
    """One check lists every misspelt key and value, each under the key it was written as,
    with a suggestion."""
    _, problems = check_match({"statuz": "failed", "type": ["run.stuk", "run.*"],
                               "statuses": ["faild"], "sources": ["extend-prd"],
                               "workflow": []}, sources=["extend-prod"])
    assert problems == [
        ("statuz", "unknown key (did you mean 'status'?) (expected one of types, statuses, "
                   "sources, workflows, or type, status, source, workflow)"),
        ("type", "\"run.stuk\" is not an event type (did you mean 'run.stuck'?)"),
        ("statuses", "\"faild\" is not a canonical status (did you mean 'failed'?)"),
        ("sources", "\"extend-prd\" is not a configured source (did you mean 'extend-prod'?)"),
        ("workflow", "is empty: it would match nothing (remove the key to match all)"),
    ]


def test_the_events_filter_takes_globs_like_every_match() -> None:
    """``/events?type=run.*`` follows every run event; a misspelt status is refused."""
    match = parse_filter(MultiDict([("type", "run.*"), ("status", "failed,rejected")]))
    assert match.values == {"types": ("watcher.run.*",), "statuses": ("failed", "rejected")}
    try:
        parse_filter(MultiDict([("status", "faild")]))
    except ValueError as e:
        assert "is not a canonical status (did you mean 'failed'?)" in str(e)
    else:
        raise AssertionError("a misspelt status was accepted")
