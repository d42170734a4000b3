"""A scripted, lively world for the demo and for soak tests.

Runs appear every few seconds on each vendor and walk a path of canonical
stages (mostly to success; some fail, some wait for review, one stays
running long enough to be stuck), each step after a short random delay.
The first runs are fixed so a demo shows a failure and a stuck run quickly.
With ``burst``, one workflow of the first vendor fails in a burst soon after
watching begins and then recovers, so a health rule reports it degraded and
recovered within the demo's first minute.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Sequence

import anyio

from watcher.simulator.app import APIS
from watcher.simulator.world import SimRun, World

PATHS: list[tuple[float, tuple[str, ...]]] = [
    (50, ("pending", "running", "succeeded")),
    (20, ("pending", "running", "failed")),
    (10, ("pending", "running", "needs_review", "succeeded")),
    (5, ("pending", "running", "needs_review", "rejected")),
    (5, ("pending", "running", "cancelling", "cancelled")),
    (5, ("pending", "running", "paused", "running", "succeeded")),
]
#: the first runs of each vendor: a failure early, then a run that never finishes
OPENING = (("pending", "running", "failed"), ("pending", "running"),
           ("pending", "running", "needs_review", "succeeded"))

#: a final stage a vendor lacks becomes this one, so every such run still ends
#: (a vendor without human review cannot reject; its run fails instead)
STAND_IN = {"rejected": "failed"}

WORKFLOWS = ("Invoice Processing", "Contract Review", "Onboarding Emails")
#: the workflow that fails in a burst, then recovers
BURST_WORKFLOW = "Payment Sync"
#: its runs: (seconds after watching begins, how the run ends); four failures, then enough
#: successes to bring the failure rate well below half
BURST = ((2.0, "failed"), (3.0, "failed"), (4.0, "failed"), (5.0, "failed"),
         (12.0, "succeeded"), (14.0, "succeeded"), (16.0, "succeeded"), (18.0, "succeeded"),
         (20.0, "succeeded"), (22.0, "succeeded"), (24.0, "succeeded"))
ERRORS = ("Extraction failed: page 3 is unreadable", "Upstream model timed out after 120s",
          "Validation failed: total does not match line items")


class Scenario:
    def __init__(self, world: World, *, vendors: Sequence[str], spawn_every: float = 3.0,
                 step: tuple[float, float] = (1.0, 3.0), history: int = 20,
                 burst: bool = False) -> None:
        self.world = world
        self.vendors = list(vendors)
        self.spawn_every = spawn_every
        self.step_range = step
        self.history = history
        self.rng = world.rng
        self._queue: list[tuple[float, int, SimRun, tuple[str, ...]]] = []
        self._tie = itertools.count()
        self._next_spawn: dict[str, float] = {}
        self._spawned: dict[str, int] = {}
        self.burst = burst
        self._burst: list[tuple[float, str]] = []

    def setup(self) -> None:
        """History before watching starts: finished runs, and one already stuck."""
        now = self.world.clock()
        for vendor in self.vendors:
            stages = APIS[vendor].stages
            wfs = [self.world.workflow(vendor, name) for name in WORKFLOWS]
            for i in range(self.history):
                end = self.rng.choice(["succeeded"] * 4 + ["failed"])
                raw, extra = stages[end]
                t = now - 3600 + i * 60
                self.world.add_run(vendor, raw, workflow=wfs[i % len(wfs)], created=t,
                                   updated=t + 30, started=t + 1, finished=t + 30, **extra)
            raw, extra = stages["running"]
            self.world.add_run(vendor, raw, workflow=wfs[1], created=now - 900, updated=now - 890,
                               started=now - 890, **extra)

    def begin(self) -> None:
        """Start the clock of new runs now: the first comes about a second later."""
        now = self.world.clock()
        for i, vendor in enumerate(self.vendors):
            # staggered so the vendors do not all speak at once
            self._next_spawn[vendor] = now + 1.0 + 0.4 * i
        if self.burst and self.vendors:
            self._burst = [(now + after, end) for after, end in BURST]

    def tick(self) -> None:
        """Apply every step that is due and spawn runs that are due."""
        if not self._next_spawn:
            self.begin()
        now = self.world.clock()
        for vendor in self.vendors:
            while self._next_spawn[vendor] <= now:
                self._spawn(vendor, self._next_spawn[vendor])
                self._next_spawn[vendor] += self.spawn_every * self.rng.uniform(0.6, 1.4)
        while self._burst and self._burst[0][0] <= now:
            at, end = self._burst.pop(0)
            self._spawn_path(self.vendors[0], BURST_WORKFLOW, ("pending", "running", end), at)
        while self._queue and self._queue[0][0] <= now:
            at, _, run, path = heapq.heappop(self._queue)
            self._advance(run, path, at)

    async def run(self, every: float = 0.2) -> None:
        while True:
            self.tick()
            await anyio.sleep(every)

    def _spawn(self, vendor: str, at: float) -> None:
        n = self._spawned.get(vendor, 0)
        self._spawned[vendor] = n + 1
        path = OPENING[n] if n < len(OPENING) else self._pick()
        self._spawn_path(vendor, WORKFLOWS[n % len(WORKFLOWS)], path, at)

    def _spawn_path(self, vendor: str, workflow: str, path: tuple[str, ...], at: float) -> None:
        stages = APIS[vendor].stages
        path = tuple(s if s in stages else STAND_IN.get(s, "") for s in path)
        path = tuple(s for s in path if s in stages)
        wf = self.world.workflow(vendor, workflow)
        raw, extra = stages[path[0]]
        run = self.world.add_run(vendor, raw, workflow=wf, created=at, **extra)
        self._schedule(run, path[1:], at)

    def _pick(self) -> tuple[str, ...]:
        return self.rng.choices([p for _, p in PATHS], weights=[w for w, _ in PATHS])[0]

    def _schedule(self, run: SimRun, path: tuple[str, ...], after: float) -> None:
        if path:
            at = after + self.rng.uniform(*self.step_range)
            heapq.heappush(self._queue, (at, next(self._tie), run, path))

    def _advance(self, run: SimRun, path: tuple[str, ...], at: float) -> None:
        if run.id not in self.world.runs[run.vendor]:
            return
        stage, rest = path[0], path[1:]
        raw, extra = APIS[run.vendor].stages[stage]
        if stage == "running" and run.started is None:
            run.started = at
        if not rest:
            run.finished = at
        error = self.rng.choice(ERRORS) if stage in ("failed", "rejected") else None
        self.world.set_status(run, raw, at=at, error=error,
                              error_count=extra.get("error_count"))
        self._schedule(run, rest, at)
