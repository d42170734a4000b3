"""Hot-path cost in instructions: the same comparison as diff_throughput.py, counted
by callgrind, so the ratio is the same on a quiet machine and a busy one.

    python -m bench.hot_instructions [--pages 20]

Each case runs three processes under ``valgrind --tool=callgrind``: the set-up
alone (imports, pages, warm state), set-up + ``orjson.loads`` of every page,
and set-up + parse + normalise + diff of every page.  Instructions of the two
loops are the totals minus the set-up's.  Instruction counts miss what a cache
miss costs, so the timed ratio (diff_throughput.py) is reported beside it.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson

from bench.diff_throughput import TARGET

ROOT = Path(__file__).resolve().parent.parent
CASES = [(v, c) for v in ("extend", "knock", "noxus", "cortex") for c in ("0", "1")]

SCRIPT = """
import sys, orjson
from bench.diff_throughput import make_pages, observe, provider, warm_state
from watcher.runtime.loop import tune_gc
from tests.support import diff
from watcher.core.diff import Policy
mode, vendor, changed, n = sys.argv[1], sys.argv[2], sys.argv[3] == "1", int(sys.argv[4])
tune_gc()
same, moved = make_pages(vendor, n)
pages = moved if changed else same
p = provider(vendor)
runs, live = warm_state(vendor, same[0], p)
policy = Policy(source="b", provider=vendor)
if mode == "bare":
    for page in pages:
        orjson.loads(page)
elif mode == "full":
    for page in pages:
        obs = observe(p, page)
        diff(runs, live, obs, now=1.0, policy=policy, describe=p.describe)
"""


def instructions(mode: str, vendor: str, changed: str, pages: int, tmp: str) -> int:
    out = os.path.join(tmp, f"cg.{mode}.{vendor}.{changed}")
    r = subprocess.run(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
         sys.executable, "-c", SCRIPT, mode, vendor, changed, str(pages)],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
        env={"PYTHONPATH": str(ROOT), "PYTHONHASHSEED": "0", "PATH": "/usr/bin:/bin"})
    m = re.search(r"Collected : (\d+)", r.stderr)
    if r.returncode != 0 or not m:
        raise RuntimeError(f"callgrind failed: {r.stderr[-2000:]}")
    return int(m.group(1))


def measure(pages: int) -> dict[str, float]:
    jobs = [(mode, v, c) for v, c in CASES for mode in ("setup", "bare", "full")]
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(os.cpu_count() or 2) as ex:
        counts = dict(zip(jobs, ex.map(lambda j: instructions(*j, pages, tmp), jobs),
                          strict=True))
    out = {}
    for v, c in CASES:
        base = counts[("setup", v, c)]
        bare, full = counts[("bare", v, c)] - base, counts[("full", v, c)] - base
        out[f"{v}_{'1%' if c == '1' else '0%'}"] = full / bare
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--pages", type=int, default=20)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    if not shutil.which("valgrind"):
        print(orjson.dumps({}).decode() if a.json else "valgrind is not installed")
        return
    r = measure(a.pages)
    if a.json:
        print(orjson.dumps(r).decode())
        return
    for case, ratio in r.items():
        print(f"{case:>10}: {ratio:.2f}x the instructions of orjson.loads alone "
              f"(target <= {TARGET}x)")


if __name__ == "__main__":
    main()
