"""Inhibition's cost at delivery: the fold a notification sink's runner makes of each batch.

    python -m bench.inhibition [--batch 1000] [--rounds 200] [--json]

Every notification sink folds every journal entry to follow the open episodes
(:func:`watcher.core.inhibition.judge`), rules or none.  Measured per entry of a
batch of run failures, against the sink's own routing (its ``match`` on the same
entries), for: no rule; one rule and no open episode; one rule, 50 episodes open on
other workflows (nothing held); one rule holding the whole batch.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import orjson

from watcher.core.events import RUN_STATUS_CHANGED, WORKFLOW_DEGRADED
from watcher.core.inhibition import InhibitRule, Opened, judge
from watcher.core.matching import Match
from watcher.model import JournalEntry

RULE = InhibitRule(name="degraded-runs", source=Match({"types": [WORKFLOW_DEGRADED]}),
                   target=Match({"types": [RUN_STATUS_CHANGED], "statuses": ["failed"]}),
                   equal=("source", "workflow_id"))
ROUTE = Match({"types": [RUN_STATUS_CHANGED], "statuses": ["failed", "rejected"]})


def batch(n: int) -> list[JournalEntry]:
    body = orjson.dumps({"type": RUN_STATUS_CHANGED, "data": {"status": "failed"}})
    return [JournalEntry(i, f"e{i}", 1_800_000_000.0 + i, RUN_STATUS_CHANGED, "extend-prod",
                         f"workflow_run_{i:021d}", "failed", "wf-invoices", "Invoice Processing",
                         body) for i in range(1, n + 1)]


def episodes(n: int, workflow: str = "wf-other") -> dict[str, Opened]:
    return {f"workflow\x1frate\x1fextend-prod\x1f{workflow}-{i}":
            Opened(WORKFLOW_DEGRADED, "extend-prod",
                   workflow if n == 1 and workflow == "wf-invoices" else f"{workflow}-{i}",
                   None, 1.0) for i in range(n)}


def per_entry(fn: Callable[[], object], n: int, rounds: int) -> float:
    """Nanoseconds per entry, the best of ``rounds`` (the least disturbed)."""
    best = float("inf")
    for _ in range(rounds):
        t = time.perf_counter_ns()
        fn()
        best = min(best, time.perf_counter_ns() - t)
    return best / n


def measure(n: int, rounds: int) -> dict[str, float]:
    entries = batch(n)
    seqs = [e.seq for e in entries]
    cases: dict[str, tuple[list[InhibitRule], Callable[[], dict[str, Opened]]]] = {
        "no rule": ([], dict),
        "1 rule, no episode": ([RULE], dict),
        "1 rule, 50 episodes elsewhere": ([RULE], lambda: episodes(50)),
        "1 rule, holding all": ([RULE], lambda: episodes(1, "wf-invoices")),
    }
    out = {"routing": per_entry(lambda: [e for e in entries if ROUTE(e)], n, rounds)}
    for name, (rules, eps) in cases.items():
        def fold(rules: list[InhibitRule] = rules,
                 eps: Callable[[], dict[str, Opened]] = eps) -> object:
            return judge(entries, seqs, eps(), rules)
        out[name] = per_entry(fold, n, rounds)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    got = measure(a.batch, a.rounds)
    if a.json:
        print(orjson.dumps(got).decode())
        return
    for name, ns in got.items():
        ratio = "" if name == "routing" else f"  ({ns / got['routing']:.2f}x routing)"
        print(f"{name:32} {ns:8.0f} ns per entry{ratio}")


if __name__ == "__main__":
    main()
