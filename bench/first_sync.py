"""First sync: the first poll of 100,000 runs, against fetching and parsing the same pages.

    python -m bench.first_sync [--runs 100000]

The simulator runs in its own process.  "fetch+parse" is a bare aiohttp
client paging the Extend listing (1,000 a page) and ``orjson.loads``-ing each
page; "watcher" is the real first poll: the provider pages the same listing,
the diff records a silent baseline and the journal commits it to a SQLite
file.  Each runs three times paced at Extend's documented 10 GET/s, as any
client of the real API must be, and three times as fast as the simulator
answers, bare and watcher alternating; the least CPU (this process) of each
is compared.  The headline ratio is paced watcher against unpaced bare, as
it has always been measured; paced against paced and unpaced against
unpaced are shown beside it (idling 0.1 s between pages costs watcher, with
its larger working set, more CPU than the bare client).
"""

from __future__ import annotations

import argparse
import tempfile
import time

import aiohttp
import anyio
import orjson

from bench._sim import SimProcess
from tests.support import LiftedBuckets
from watcher.config.settings import SourceConfig
from watcher.infra.clock import wall
from watcher.infra.ratelimit import Buckets, Limit, RateLimiter
from watcher.providers.extend import API_VERSION, ExtendOptions, ExtendProvider
from watcher.providers.protocol import ProviderContext
from watcher.runtime.loop import tune_gc
from watcher.runtime.poller import Poller, SourceState
from watcher.state.backends import open_store
from watcher.state.journal import Journal


async def bare(sim: SimProcess, token: str, paced: bool = False) -> tuple[float, float, int]:
    headers = {"Authorization": f"Bearer {token}", "x-extend-api-version": API_VERSION}
    n = 0
    limiter = RateLimiter(ExtendProvider.rate, ExtendProvider.burst, clock=wall) if paced else None
    w, c = time.perf_counter(), time.process_time()
    async with aiohttp.ClientSession() as s:
        params = {"maxPageSize": "1000", "sortBy": "updatedAt", "sortDir": "desc"}
        token_ = None
        while True:
            q = {**params, **({"nextPageToken": token_} if token_ else {})}
            if limiter:
                await limiter.acquire()
            async with s.get(sim.url("extend") + "/workflow_runs", params=q,
                             headers=headers) as r:
                body = orjson.loads(await r.read())
            n += len(body["data"])
            token_ = body.get("nextPageToken")
            if not token_:
                break
    return time.perf_counter() - w, time.process_time() - c, n


async def watcher_first_poll(sim: SimProcess, token: str, state: str, paced: bool = True
                             ) -> tuple[float, float, int]:
    return await _first_poll(sim, token, state,
                             LiftedBuckets(clock=wall, limit=None if paced else Limit(1e6, 1e6)))


async def _first_poll(sim: SimProcess, token: str, state: str, buckets: Buckets
                      ) -> tuple[float, float, int]:
    cfg = SourceConfig(name="bench", provider="extend", token=token, base_url=sim.url("extend"),
                       lookback=7 * 86400,
                       options=ExtendOptions(api_version=API_VERSION, page_size=1000))
    store = await open_store(state)
    journal = Journal(store)
    await journal.start()
    w, c = time.perf_counter(), time.process_time()
    async with aiohttp.ClientSession() as s:
        st = SourceState()
        poller = Poller(cfg, ExtendProvider(cfg, ProviderContext(s, wall, buckets)), st, journal, retention=7 * 86400,
                        emit_baseline=False, clock=wall)
        assert await poller.poll_once()
    elapsed = time.perf_counter() - w, time.process_time() - c
    await store.close()
    return elapsed[0], elapsed[1], len(st.runs)


async def main_async(runs: int, as_json: bool = False) -> None:
    tune_gc()  # as the daemon does
    with SimProcess() as sim, tempfile.TemporaryDirectory() as tmp:
        sim.admin("POST", "/_sim/seed", {"vendor": "extend", "count": runs, "spread_s": 3600})
        token = sim.token("extend")
        await bare(sim, token)  # warm the simulator's sorted listing
        # each the least CPU of three, bare and watcher alternating, so both see the same machine
        bare_u, bare_p, mine_u, mine_p = [], [], [], []
        for i in range(3):
            bare_u.append(await bare(sim, token))
            mine_u.append(await watcher_first_poll(sim, token, f"{tmp}/u{i}.db", paced=False))
            bare_p.append(await bare(sim, token, paced=True))
            mine_p.append(await watcher_first_poll(sim, token, f"{tmp}/p{i}.db"))
    r = {"runs": mine_p[0][2], "bare_wall": min(bare_u)[0], "paced_wall": min(bare_p)[0],
         "wall": min(mine_p)[0], "unpaced_wall": min(mine_u)[0]}
    for name, runs in (("bare_cpu", bare_u), ("paced_bare_cpu", bare_p),
                       ("unpaced_cpu", mine_u), ("cpu", mine_p)):
        r[name] = min(c for _, c, _ in runs)
    r |= {"cpu_ratio": r["cpu"] / r["bare_cpu"],
          "unpaced_cpu_ratio": r["unpaced_cpu"] / r["bare_cpu"],
          "paced_cpu_ratio": r["cpu"] / r["paced_bare_cpu"],
          "paced_wall_ratio": r["wall"] / r["paced_wall"], "wall_ratio": r["wall"] / r["bare_wall"]}
    if as_json:
        print(orjson.dumps(r).decode())
        return
    print(f"{'':>20} {'wall s':>8} {'cpu s':>8}   ({r['runs']:,} runs)")
    for label, wall_s, cpu in (("fetch+parse", r["bare_wall"], r["bare_cpu"]),
                               ("watcher", r["unpaced_wall"], r["unpaced_cpu"]),
                               ("fetch+parse 10/s", r["paced_wall"], r["paced_bare_cpu"]),
                               ("watcher 10/s", r["wall"], r["cpu"])):
        print(f"{label:>20} {wall_s:>8.2f} {cpu:>8.2f}")
    print(f"cpu ratio {r['cpu_ratio']:.2f}x (watcher at 10 GET/s against bare unpaced; "
          f"{r['unpaced_cpu_ratio']:.2f}x both unpaced, {r['paced_cpu_ratio']:.2f}x both paced); "
          f"wall {r['paced_wall_ratio']:.2f}x at 10 GET/s   (target <= 1.3x)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=100_000)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    anyio.run(main_async, a.runs, a.json)


if __name__ == "__main__":
    main()
