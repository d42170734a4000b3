"""Hot-path cost of the ``json`` provider: a page of 1,000 GitHub-shaped workflow runs read
by the ``github`` built-in (JMESPath fields, one projection per page) + diff, against
``orjson.loads`` of the same bytes alone.

    python -m bench.json_hot_path [--pages 20] [--instructions]

Pages are rendered by the simulator in GitHub's shape (``--lean`` also runs the
smaller items of the generic provider's own shape), state is warm (every run known,
all live), and two cases run: nothing changed, and 1% of runs completed with a
failure.  The timed ratio interleaves bare and full rounds and keeps the best of
each; ``--instructions`` also counts instructions under callgrind, a ratio that holds
on a busy machine.
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

from tests.support import diff
from watcher.config.settings import SourceConfig
from watcher.core.diff import Policy
from watcher.infra.clock import wall
from watcher.model import TERMINAL, Observation, RunState
from watcher.providers.json.presets import GithubOptions, GithubProvider
from watcher.providers.protocol import ProviderContext
from watcher.runtime.loop import tune_gc
from watcher.simulator.github import workflow_run
from watcher.simulator.world import World
from watcher.testing import FrozenClock

RUNS = 1000
ROUNDS = 9
ROOT = Path(__file__).resolve().parent.parent


def provider() -> GithubProvider:
    cfg = SourceConfig(name="bench", provider="github", token="x",
                       base_url="http://127.0.0.1:1", options=GithubOptions(repository="a/b"))
    return GithubProvider(cfg, ProviderContext(None, wall))  # type: ignore[arg-type]


def make_pages(n_pages: int) -> tuple[list[bytes], list[bytes]]:
    clock = FrozenClock()
    world = World(clock=clock, seed=5)
    runs = [world.add_run("github", "in_progress", created=clock() - i) for i in range(RUNS)]
    base = "https://api.github.com"
    same = orjson.dumps({"total_count": RUNS, "workflow_runs": [workflow_run(r, base)
                                                                for r in runs]})
    for r in runs[::100]:  # 1% changed: completed, failure
        world.set_status(r, "failure")
    moved = orjson.dumps({"total_count": RUNS, "workflow_runs": [workflow_run(r, base)
                                                                 for r in runs]})
    return [same] * n_pages, [moved] * n_pages


def read(p: GithubProvider, page: bytes) -> list[Observation]:
    """What a poll does with a page's bytes: decode, one projection, the row loop."""
    items = p.spec.items_of(orjson.loads(page))
    obs: list[Observation] = []
    p.observe_rows(items, p.spec.rows_of(items), obs)
    return obs


def warm_state(p: GithubProvider, page: bytes) -> tuple[dict[str, RunState], set[str]]:
    runs = {o[0]: RunState(o[2], o[1], o[3], 0.0) for o in read(p, page)}
    return runs, {r for r, s in runs.items() if s.status not in TERMINAL}


def bare(pages: list[bytes]) -> float:
    t = time.perf_counter()
    for page in pages:
        orjson.loads(page)
    return time.perf_counter() - t


def full(pages: list[bytes], p: GithubProvider, runs: dict[str, RunState], live: set[str]
         ) -> tuple[float, int]:
    policy = Policy(source="bench", provider="github")
    events = 0
    t = time.perf_counter()
    for page in pages:
        obs = read(p, page)
        events += len(diff(runs, live, obs, now=1.0, policy=policy, describe=p.describe).events)
        del obs
    return time.perf_counter() - t, events


def measure(n_pages: int) -> dict[str, float]:
    same, changed = make_pages(n_pages)
    p = provider()
    results: dict[str, float] = {"run_bytes": len(same[0]) / RUNS}
    for label, pages in (("0%", same), ("1%", changed)):
        b, f, events = float("inf"), float("inf"), 0
        for _ in range(ROUNDS):
            runs, live = warm_state(p, same[0])  # each round starts from the same state
            gc.collect()
            b = min(b, bare(pages))
            ft, events = full(pages, p, runs, live)
            f = min(f, ft)
        results[f"ratio_{label}"] = f / b
        results[f"bare_{label}"] = len(pages) * RUNS / b
        results[f"full_{label}"] = len(pages) * RUNS / f
        results[f"events_{label}"] = events / len(pages)
    return results


SCRIPT = """
import sys, orjson
from bench.json_hot_path import make_pages, provider, warm_state, read
from watcher.runtime.loop import tune_gc
from tests.support import diff
from watcher.core.diff import Policy
mode, changed, n = sys.argv[1], sys.argv[2] == "1", int(sys.argv[3])
tune_gc()
same, moved = make_pages(n)
pages = moved if changed else same
p = provider()
runs, live = warm_state(p, same[0])
policy = Policy(source="b", provider="github")
if mode == "bare":
    for page in pages:
        orjson.loads(page)
elif mode == "full":
    for page in pages:
        diff(runs, live, read(p, page), now=1.0, policy=policy, describe=p.describe)
"""


def instructions(mode: str, changed: str, pages: int, tmp: str) -> int:
    out = os.path.join(tmp, f"cg.{mode}.{changed}")
    r = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                        sys.executable, "-c", SCRIPT, mode, changed, str(pages)],
                       cwd=ROOT, capture_output=True, text=True, timeout=900,
                       env={"PYTHONPATH": str(ROOT), "PYTHONHASHSEED": "0",
                            "PATH": "/usr/bin:/bin"})
    m = re.search(r"Collected : (\d+)", r.stderr)
    if r.returncode != 0 or not m:
        raise RuntimeError(f"callgrind failed: {r.stderr[-2000:]}")
    return int(m.group(1))


def counted(pages: int) -> dict[str, float]:
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for c in ("0", "1"):
            base = instructions("setup", c, pages, tmp)
            b = instructions("bare", c, pages, tmp) - base
            f = instructions("full", c, pages, tmp) - base
            out[f"instructions_{'1%' if c == '1' else '0%'}"] = f / b
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--pages", type=int, default=20, help="pages per round")
    ap.add_argument("--instructions", action="store_true", help="also count under callgrind")
    ap.add_argument("--json", action="store_true", help="one JSON line for bench/__main__")
    a = ap.parse_args()
    tune_gc()
    r = measure(a.pages)
    if a.instructions and shutil.which("valgrind"):
        r.update(counted(max(1, a.pages // 4)))
    if a.json:
        print(orjson.dumps(r).decode())
        return
    print(f"GitHub-shaped page of {RUNS:,} runs, {r['run_bytes']:.0f} B a run "
          "(target <= 1.5x orjson.loads)")
    for label in ("0%", "1%"):
        extra = f", {r[f'instructions_{label}']:.2f}x instructions" \
            if f"instructions_{label}" in r else ""
        print(f"  {label} changed: {r[f'ratio_{label}']:.2f}x time{extra} "
              f"({r[f'full_{label}']:,.0f} runs/s vs {r[f'bare_{label}']:,.0f}; "
              f"{r[f'events_{label}']:.0f} events a page)")


if __name__ == "__main__":
    main()
