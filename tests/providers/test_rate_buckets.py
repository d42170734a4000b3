"""Rate limits where the vendors put them: a bucket per account as each vendor counts
requests (Extend key and workspace, Knock key and branch, Noxus key, Cortex the process),
``rate_limit`` overriding the documented default, and a 429 holding its own bucket only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.support import Harness, parse_config, toml
from watcher.infra.clock import Clock, wall
from watcher.infra.ratelimit import Buckets, RateLimiter
from watcher.providers import limits, provider_class
from watcher.providers.protocol import ProviderContext
from watcher.simulator import Simulator, World
from watcher.testing import FakeClock, FrozenClock

pytestmark = pytest.mark.anyio

CORTEX = {"app_id": "app", "workflow_id": "wf"}


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def limiters(session: aiohttp.ClientSession, *sources: dict[str, Any],
             clock: Clock = wall) -> list[RateLimiter]:
    """The bucket each of these ``[[sources]]`` tables draws from, their providers built
    by one daemon (one registry of buckets) on ``clock``."""
    tables = [{"name": f"s{i}", "token": "key-a", **s} for i, s in enumerate(sources)]
    buckets = Buckets(clock=clock)
    out = []
    for cfg in parse_config(toml({}, tables)).sources:
        cls = provider_class(cfg.provider)
        assert cls is not None
        out.append(cls(cfg, ProviderContext(session, clock, buckets)).http.limiter)
    return out


async def test_each_daemons_buckets_run_on_its_own_clock(
        session: aiohttp.ClientSession) -> None:
    """Two daemons in one process (two registries) each give a source of the same account
    a bucket of their own, waiting on their own clock: the first one's is not kept."""
    first, second = FakeClock(), FakeClock()
    a, = limiters(session, {"provider": "extend"}, clock=first)
    b, = limiters(session, {"provider": "extend"}, clock=second)
    assert a is not b
    assert (a.clock, b.clock) == (first, second)


async def test_extend_sources_share_a_bucket_only_when_they_share_a_key(
        session: aiohttp.ClientSession) -> None:
    """Two Extend sources with different keys draw from two buckets; two with the same key
    (and workspace) from one, as Extend counts requests per organisation."""
    a, b, c, d = limiters(session, {"provider": "extend"}, {"provider": "extend"},
                          {"provider": "extend", "token": "key-b"},
                          {"provider": "extend", "workspace_id": "ws-2"})
    assert a is b
    assert c is not a and d is not a and c is not d


async def test_each_vendor_scopes_its_bucket_as_it_counts_requests(
        session: aiohttp.ClientSession) -> None:
    """Knock: per key and branch; Noxus: per key; Cortex: one bucket for the process
    whatever the key (its limit is per IP); another API host is another bucket."""
    k1, k2, k3 = limiters(session, {"provider": "knock"}, {"provider": "knock"},
                          {"provider": "knock", "branch": "staging"})
    n1, n2 = limiters(session, {"provider": "noxus"}, {"provider": "noxus", "token": "key-b"})
    c1, c2, c3 = limiters(session, {"provider": "cortex", **CORTEX},
                          {"provider": "cortex", "token": "key-b", **CORTEX},
                          {"provider": "cortex", "base_url": "http://elsewhere", **CORTEX})
    assert k1 is k2 and k3 is not k1
    assert n1 is not n2
    assert c1 is c2 and c3 is not c1


@pytest.mark.real_rate_limits
async def test_rate_limit_overrides_the_documented_default_and_the_smaller_one_wins(
        session: aiohttp.ClientSession) -> None:
    """A source on Extend's Scale plan says rate_limit = 25 and gets 25 GET/s (burst 25);
    a second source on the same key saying 20 with a burst of 5 brings the shared bucket to
    20/s, burst 5; a source of another key keeps the documented 10/s."""
    alone, = limiters(session, {"provider": "extend", "rate_limit": 25})
    assert (alone.rate, alone.burst) == (25.0, 25.0)
    shared, _, other = limiters(
        session, {"provider": "extend", "token": "key-s", "rate_limit": 25},
        {"provider": "extend", "token": "key-s", "rate_limit": {"rate": 20, "burst": 5}},
        {"provider": "extend", "token": "key-t"})
    assert (shared.rate, shared.burst) == (20.0, 5.0)
    assert (other.rate, other.burst) == (10.0, 10.0)


@pytest.mark.real_rate_limits
async def test_a_rate_limit_without_burst_keeps_the_vendors_burst(
        session: aiohttp.ClientSession) -> None:
    """Knock spaces requests (burst 1): a source raising its rate keeps that spacing."""
    knock, = limiters(session, {"provider": "knock", "rate_limit": 20})
    assert (knock.rate, knock.burst) == (20.0, 1.0)


async def test_a_429_holds_only_the_bucket_of_its_account(sim: Simulator, world: World,
                                                          clock: FrozenClock) -> None:
    """Account A is over its limit at the vendor (429, Retry-After): its source's bucket is
    held, while the source of account B polls at once, its bucket untouched."""
    busy = world.add_account("extend", rate_limit=0.01)
    assert busy.admit(None) == 0.0  # its one token, spent: the next comes in 100 s
    calm = world.add_account("extend")
    world.add_run("extend", "PROCESSED", account=calm)
    buckets = Buckets(clock=clock)
    async with Harness(sim, clock=clock, name="a", token=busy.token, buckets=buckets) as a, \
            Harness(sim, clock=clock, name="b", token=calm.token, buckets=buckets) as b:
        await a.poll()
        assert a.poller is not None and not a.ok
        assert (a.poller.stats.last_error or "").startswith("429")
        assert a.provider.http.limiter.held() > 30
        await b.poll()
        assert b.ok and b.provider.http.limiter.held() == 0.0
    assert a.provider.http.limiter is not b.provider.http.limiter
    assert busy.refused == 1 and calm.refused == 0



def test_a_bucket_barely_over_its_rate_is_not_worth_a_warning() -> None:
    """Ten Extend sources of one key every second need a hair over a rate_limit of 9.999:
    no source would poll 0.1% later, so no warning; eleven every second need 11 of 10
    GET/s, and the warning names every source and the 1.1 s they can get."""
    def bucket(n: int, **keys: Any) -> limits.Bucket:
        tables = [{"name": f"s{i:02d}", "provider": "extend", "token": "k", "interval": "1s",
                   **keys} for i in range(n)]
        buckets = limits.plan(parse_config(toml({}, tables)).sources)
        assert len(buckets) == 1
        return buckets[0]
    assert not bucket(10).over and not bucket(10, rate_limit=9.999).over
    over = bucket(11)
    assert over.over
    assert "s00, s01, s02 (+8 more) can poll only every 1.1 s instead of every 1 s" in \
        limits.verdict(over)
