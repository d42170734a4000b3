"""First sync: the first poll of 100,000 runs, against fetching and parsing the same pages.

    python bench/first_sync.py [--runs 100000]

The simulator runs in its own process.  "fetch+parse" is a bare aiohttp
client paging the Extend listing (1,000 a page) and ``orjson.loads``-ing each
page, once as fast as the simulator answers and once paced at Extend's
documented 10 GET/s, as any client of the real API must be; "watcher" is the
real first poll: the provider pages the same listing (at 10 GET/s), the diff
records a silent baseline and the journal commits it to a SQLite file.  Wall
and CPU (this process) are compared.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import aiohttp
import anyio
import orjson

from bench._sim import SimProcess
from watcher.config.settings import SourceConfig
from watcher.infra.clock import wall
from watcher.infra.ratelimit import RateLimiter
from watcher.providers.extend import API_VERSION, ExtendOptions, ExtendProvider
from watcher.providers.protocol import ProviderContext
from watcher.runtime.loop import tune_gc
from watcher.runtime.poller import Poller, SourceState
from watcher.state.backends import open_store
from watcher.state.journal import Journal


async def bare(sim: SimProcess, token: str, paced: bool = False) -> tuple[float, float, int]:
    headers = {"Authorization": f"Bearer {token}", "x-extend-api-version": API_VERSION}
    n = 0
    limiter = RateLimiter(ExtendProvider.rate, ExtendProvider.burst) if paced else None
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


async def watcher_first_poll(sim: SimProcess, token: str, state: str) -> tuple[float, float, int]:
    cfg = SourceConfig(name="bench", provider="extend", token=token, base_url=sim.url("extend"),
                       lookback=7 * 86400,
                       options=ExtendOptions(api_version=API_VERSION, page_size=1000))
    store = await open_store(state)
    journal = Journal(store)
    await journal.start()
    w, c = time.perf_counter(), time.process_time()
    async with aiohttp.ClientSession() as s:
        st = SourceState()
        poller = Poller(cfg, ExtendProvider(cfg, ProviderContext(s)), st, journal, retention=7 * 86400,
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
        bw, bc, bn = min([await bare(sim, token) for _ in range(3)])
        pw = min([await bare(sim, token, paced=True) for _ in range(2)])[0]
        ww, wc, wn = min([await watcher_first_poll(sim, token, str(Path(tmp) / f"s{i}.db"))
                          for i in range(3)])
    if as_json:
        print(orjson.dumps({"runs": wn, "bare_wall": bw, "bare_cpu": bc, "paced_wall": pw,
                            "wall": ww, "cpu": wc, "wall_ratio": ww / bw,
                            "paced_wall_ratio": ww / pw, "cpu_ratio": wc / bc}).decode())
        return
    print(f"{'':>12} {'runs':>8} {'wall s':>8} {'cpu s':>8}")
    print(f"{'fetch+parse':>12} {bn:>8,} {bw:>8.2f} {bc:>8.2f}")
    print(f"{'  at 10/s':>12} {bn:>8,} {pw:>8.2f}")
    print(f"{'watcher':>12} {wn:>8,} {ww:>8.2f} {wc:>8.2f}")
    print(f"ratio: cpu {wc / bc:.2f}x, wall {ww / pw:.2f}x at 10 GET/s ({ww / bw:.2f}x unpaced)"
          "   (target <= 1.3x)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=100_000)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    anyio.run(main_async, a.runs, a.json)


if __name__ == "__main__":
    main()
