"""Issue 18's figures: a thousand sources in one process, and the first sync near the floor.

    python -m bench.accounts [--quick] [--before DIR] [--sources 1000] [--only F,...] [--json]

Runs, each in its own processes (see each script):

* ``idle --sources 1000 --keys distinct``: 1,000 Extend sources, each on a key
  (an account) of its own, every 15 s, nothing changing: requests per source
  per cycle (target 1.0), CPU (<= 6% of a core), RSS (<= 150 MB); with
  ``--sources 3000`` (and ``--only distinct,latency``): 3,000 of them, CPU <= 20%,
  RSS <= 300 MB;
* ``latency --sources 1000 --keys distinct``: the same fleet, a run changing
  every 100 ms: detection latency p99 (<= interval + 1 s);
* ``idle --sources 1000 --keys one``: 1,000 sources on one key, a bucket
  needing 67 GET/s of Extend's 10: CPU (<= 5%) and each source's actual poll
  period (all within 10% of each other);
* ``first_sync`` (CPU against a bare fetch+parse, <= 1.3x) and ``memory``
  (bytes per tracked run, <= 300 B).

``--before DIR``: also measure the checkout in DIR (an earlier version), each
figure right after this one's, so both see the same machine.  Its daemon runs
against this checkout's simulator (which has the accounts); its first sync and
memory benchmarks are its own scripts.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent


def run(module: str, *args: str, root: Path = ROOT) -> Any:
    out = subprocess.run([sys.executable, "-m", f"bench.{module}", "--json", *args],
                         cwd=root, capture_output=True, check=True, timeout=1800,
                         env={"PYTHONPATH": str(root), "PATH": os.environ.get("PATH", "")})
    return orjson.loads(out.stdout.strip().splitlines()[-1])


#: sources of the distinct-key fleet -> its CPU (% of a core) and RSS (MB) targets
TARGETS = {1000: (6.0, 150.0), 3000: (20.0, 300.0)}


def figure(name: str, root: Path, quick: bool, sources: int = 1000) -> Any:
    """One figure of one checkout (``root``), as its script reports it."""
    daemon = ("--daemon-root", str(root))
    if name == "distinct":
        return run("idle", "--sources", str(sources), "--keys", "distinct",
                   "--seconds", "30" if quick else "60", *daemon)
    if name == "latency":
        return run("latency", "--sources", str(sources), "--keys", "distinct",
                   "--seconds", "20" if quick else "60", *daemon)
    if name == "one":  # a source's period is 100 s: two of them and some
        return run("idle", "--sources", "1000", "--keys", "one",
                   "--seconds", "210" if quick else "300", *daemon)
    if name == "first_sync":
        return run("first_sync", *(["--runs", "20000"] if quick else []), root=root)
    return run("memory", *(["--runs", "200000"] if quick else []), root=root)


FIGURES = ("distinct", "latency", "one", "first_sync", "memory")


def measure(quick: bool, before: Path | None, *, sources: int = 1000,
            only: tuple[str, ...] = FIGURES) -> dict[str, Any]:
    """Every figure of this checkout, and of ``before`` right after each."""
    out: dict[str, Any] = {"after": {}, "before": {}, "sources": sources}
    for name in only:
        out["after"][name] = figure(name, ROOT, quick, sources)
        if before is not None:
            out["before"][name] = figure(name, before, quick, sources)
    return out


def rows(r: dict[str, Any], sources: int = 1000) -> list[tuple[str, str, str, bool]]:
    """(figure, measured, target, met) for one checkout's figures."""
    out: list[tuple[str, str, str, bool]] = []
    cpu, rss = TARGETS.get(sources, TARGETS[1000])
    n = f"{sources:,} keys"
    if "distinct" in r:
        d = r["distinct"]
        out += [(f"{n}: requests per source per cycle", f"{d['requests_per_cycle']:.2f}", "1.0",
                 d["requests_per_cycle"] >= 0.97),
                (f"{n}: CPU", f"{d['cpu_pct']:.1f}%", f"<= {cpu:g}%", d["cpu_pct"] <= cpu),
                (f"{n}: RSS", f"{d['rss_mb']:.0f} MB", f"<= {rss:g} MB", d["rss_mb"] <= rss)]
    if "latency" in r:
        lat = r["latency"]
        out.append((f"{n}: detection latency", f"p50 {lat['p50']:.2f} s, p99 {lat['p99']:.2f} s"
                    + (f" ({lat['missed']} of {lat['samples'] + lat['missed']} changes unseen)"
                       if lat["missed"] else ""), "p99 <= 16 s",
                    lat["p99"] <= 16 and not lat["missed"]))
    if not {"one", "first_sync", "memory"} <= r.keys():
        return out
    one, fs, mem = r["one"], r["first_sync"], r["memory"]
    spread = one["period_max"] / one["period_min"] - 1 if one["period_min"] else float("inf")
    timed = one["sources_timed"]
    return [*out,
        ("1,000 sources, one key: CPU", f"{one['cpu_pct']:.1f}%", "<= 5%", one["cpu_pct"] <= 5),
        ("1,000 sources, one key: poll periods",
         f"{one['period_min']:.1f}-{one['period_max']:.1f} s ({spread:.1%} apart; "
         f"{timed:.0f} of 1,000 sources polled twice)", "within 10%",
         spread <= 0.1 and timed == 1000),
        ("first sync CPU", f"{fs['cpu_ratio']:.2f}x fetch+parse"
         + (f" ({fs['unpaced_cpu_ratio']:.2f}x both unpaced, {fs['paced_cpu_ratio']:.2f}x "
            "both paced)" if "paced_cpu_ratio" in fs else ""), "<= 1.3x",
         fs["cpu_ratio"] <= 1.3),
        ("memory per tracked run", f"{mem['per_run']:.0f} B", "<= 300 B", mem["per_run"] <= 300),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="shorter runs (smoke test)")
    ap.add_argument("--before", type=Path, help="an earlier checkout to measure too")
    ap.add_argument("--sources", type=int, default=1000, help="the distinct-key fleet's size")
    ap.add_argument("--only", default=",".join(FIGURES), help="figures, comma-separated")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    only = tuple(f for f in a.only.split(",") if f)
    if unknown := set(only) - set(FIGURES):
        ap.error(f"unknown figures: {', '.join(sorted(unknown))} (known: {', '.join(FIGURES)})")
    r = measure(a.quick, a.before, sources=a.sources, only=only)
    if a.json:
        print(orjson.dumps(r).decode())
        return
    before = rows(r["before"], a.sources) if r["before"] else None
    print("| figure | measured | before | target | |\n|---|---|---|---|---|")
    for i, (figure, measured, target, ok) in enumerate(rows(r["after"], a.sources)):
        was = before[i][1] if before else ""
        print(f"| {figure} | {measured} | {was} | {target} | {'met' if ok else 'NOT met'} |")


if __name__ == "__main__":
    main()
