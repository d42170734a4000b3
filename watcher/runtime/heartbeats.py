"""The daemon's heartbeats: one pinger per ``[[heartbeats]]`` entry, and the health they
report.

A pinger sends a start signal where the kind has one (each time this replica takes the
heartbeat on), then each interval judges the watcher's health, this replica's store and
sink runners (:func:`~watcher.core.heartbeat.judge`): well, a ping; unwell, the kind's
fail signal with the one-line reason, or nothing (a plain URL, or a quiet verdict).  The
URL is a secret: it is never logged, nor put in an error text.  Before each request the
worker's permit is checked, so a replica paused past its lease wakes up without pinging.

With replicas each heartbeat has a lease (``heartbeat:<name>``), started and stopped by
the lease keeper like a sink runner.  A heartbeat's counters outlive its pinger (a
reload, a lease given back and taken again).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol
from urllib.parse import urlencode, urlsplit, urlunsplit

import aiohttp
import structlog
from anyio.abc import TaskGroup

from watcher.config.heartbeats import HeartbeatConfig
from watcher.config.settings import Config
from watcher.core.heartbeat import (
    STALL_INTERVALS,
    HeartbeatStats,
    HeartbeatStatus,
    Stalls,
    Verdict,
    judge,
)
from watcher.infra import permit
from watcher.infra.clock import Clock
from watcher.runtime.claim import Claim
from watcher.runtime.delivery import SinkRunner
from watcher.runtime.supervisor import Boundary
from watcher.runtime.worker import Worker, stop_worker
from watcher.server.health import UNREACHABLE, store_trouble
from watcher.server.logs import redactor
from watcher.state.journal import Journal

log = structlog.get_logger("watcher.heartbeat")

#: Cronitor keeps at most this much of a message
MESSAGE_MAX = 2000


def request(kind: str, url: str, signal: str, reason: str = "") -> tuple[str, str, bytes]:
    """(method, URL, body) of a ``start``, ``ping`` or ``fail`` for a monitor of ``kind``;
    the URL empty when the kind has no such signal."""
    if kind == "healthchecks":
        base = url.rstrip("/")
        if signal == "fail":
            return "POST", f"{base}/fail", reason.encode()
        return "GET", f"{base}/start" if signal == "start" else url, b""
    if kind == "cronitor":
        state = {"start": "run", "ping": "complete", "fail": "fail"}[signal]
        query = {"state": state, **({"message": reason[:MESSAGE_MAX]} if reason else {})}
        parts = urlsplit(url)
        extra = urlencode(query)
        return "GET", urlunsplit(parts._replace(
            query=f"{parts.query}&{extra}" if parts.query else extra)), b""
    return "GET", url if signal == "ping" else "", b""


class Pinger:
    """One ``[[heartbeats]]`` entry, run by a worker (under its lease with replicas)."""

    def __init__(self, cfg: HeartbeatConfig, stats: HeartbeatStats, *,
                 session: aiohttp.ClientSession, judge: Callable[[float], Verdict],
                 clock: Clock, claim: Claim | None = None) -> None:
        self.cfg = cfg
        self.stats = stats
        self.session = session
        #: the watcher's health, given how long a runner may sit unmoved
        self.judge = judge
        self.clock = clock
        self.claim = claim
        self.boundary = Boundary(f"heartbeat:{cfg.name}")

    async def run(self) -> None:
        await self.send("start")
        due = self.clock.monotonic()
        while True:
            verdict = self.judge(self.cfg.interval)
            self.stats.healthy, self.stats.reason = verdict.reason is None, verdict.reason
            if verdict.reason is None:
                if await self.send("ping"):
                    self.stats.pings += 1
                    self.stats.last_ping = self.clock()
            elif not verdict.quiet and await self.send("fail", redactor.redact(verdict.reason)):
                self.stats.fail_signals += 1
            due = max(due + self.cfg.interval, self.clock.monotonic())
            await self.clock.sleep(due - self.clock.monotonic())

    async def send(self, signal: str, reason: str = "") -> bool:
        """One request; whether the monitor took it (a failure is counted, not raised)."""
        method, url, body = request(self.cfg.kind, self.cfg.url, signal, reason)
        if not url:
            return False
        await permit.checkpoint()
        try:
            async with self.session.request(
                    method, url, data=body or None,
                    timeout=aiohttp.ClientTimeout(total=self.cfg.timeout),
                    headers={"Content-Type": "text/plain; charset=utf-8"} if body else None,
                    allow_redirects=False) as resp:
                error = None if 200 <= resp.status < 300 else f"HTTP {resp.status}"
        except TimeoutError:
            error = f"timed out after {self.cfg.timeout:g} s"
        except aiohttp.ClientConnectionError as e:  # its text names the host: not kept
            error = f"connection failed ({type(e).__name__})"
        except aiohttp.ClientError as e:
            error = f"request failed ({type(e).__name__})"
        stats = self.stats
        if error is None:
            if stats.failing:
                log.info("heartbeat taken again", heartbeat=self.cfg.name, signal=signal)
            stats.failing = False
            return True
        stats.failures += 1
        stats.last_error = error
        if not stats.failing:  # logged once per run of failures
            log.warning("heartbeat not taken", heartbeat=self.cfg.name, signal=signal,
                        error=error)
        stats.failing = True
        return False


class Host(Protocol):
    """What the heartbeats need of the daemon's workers."""

    config: Config
    session: aiohttp.ClientSession | None
    tg: TaskGroup | None
    journal: Journal

    @property
    def runners(self) -> Mapping[str, Worker[SinkRunner]]: ...
    @property
    def claims(self) -> Mapping[str, Claim]: ...
    def leased(self, lease: str) -> bool: ...
    def store_failing(self) -> str | None: ...


class Heartbeats:
    def __init__(self, workers: Host, *, clock: Clock) -> None:
        self.workers = workers
        self.clock = clock
        self.pingers: dict[str, Worker[Pinger]] = {}
        self.stats: dict[str, HeartbeatStats] = {}
        #: with replicas: why the last lease round did not reach the database (None: it did)
        self.cut_off: Callable[[], str | None] | None = None
        #: with replicas: when the last lease round reached the database (monotonic)
        self.reached: Callable[[], float] | None = None
        self._stalls = Stalls()
        #: the store trouble seen, and since when (monotonic)
        self._trouble: tuple[str, float] | None = None

    def start(self, cfg: HeartbeatConfig, *, claim: Claim | None = None) -> None:
        session = self.workers.session
        assert session is not None
        stats = self.stats.setdefault(cfg.name, HeartbeatStats())
        pinger = Pinger(cfg, stats, session=session, judge=self.judge, clock=self.clock,
                        claim=claim)
        self.pingers[cfg.name] = Worker(pinger, clock=self.clock).start(self.workers.tg)

    async def apply(self, old: Sequence[HeartbeatConfig], new: Sequence[HeartbeatConfig]) -> None:
        """A reload: what changed is restarted (where this replica may run it)."""
        before, after = {h.name: h for h in old}, {h.name: h for h in new}
        for name, cfg in before.items():
            if after.get(name) != cfg:
                await stop_worker(self.pingers, name)
                if name not in after:
                    self.stats.pop(name, None)
        for name, cfg in after.items():
            if before.get(name) != cfg and self.workers.leased(f"heartbeat:{name}"):
                self.start(cfg, claim=self.workers.claims.get(f"heartbeat:{name}"))
        if before.keys() != after.keys():
            log.info("heartbeats changed", heartbeats=len(after))

    def judge(self, interval: float) -> Verdict:
        """The watcher's health now, a runner allowed ``STALL_INTERVALS * interval``."""
        workers, now = self.workers, self.clock.monotonic()
        journal = workers.journal
        runners = {n: (journal.cursors.get(w.obj.consumer, 0), journal.backlog(w.obj.consumer))
                   for n, w in workers.runners.items()}
        stalled = self._stalls.update(now, runners)
        store = self._store(now)
        return judge(store=store, stalled=stalled,
                     backlogs={n: b for n, (_, b) in runners.items()},
                     stall_after=STALL_INTERVALS * interval, replicas=self._cut_off(store))

    def _cut_off(self, store: tuple[str, float, str] | None) -> bool:
        """Whether store trouble may be this replica cut off from the shared database
        (quiet: another replica may still reach it): a lease round failed, or none has
        reached the database since writes began to fail.  Writes failing while lease
        rounds still succeed keep the lease here: then the fail signal says why."""
        if store is None or self.cut_off is None:
            return False
        since = self._trouble[1] if self._trouble is not None else 0.0
        return store[0] == UNREACHABLE or self.reached is None or self.reached() <= since

    def _store(self, now: float) -> tuple[str, float, str] | None:
        cut_off = self.cut_off() if self.cut_off is not None else None
        trouble = store_trouble(cut_off, self.workers.store_failing())
        if trouble is None:
            self._trouble = None
            return None
        what, why = trouble
        if self._trouble is None or self._trouble[0] != what:
            self._trouble = (what, now)
        return what, now - self._trouble[1], redactor.redact(why).splitlines()[0][:200]

    def errors(self) -> dict[str, int]:
        """Each running pinger's internal errors, by task (``heartbeat:<name>``)."""
        return {w.obj.boundary.task: w.obj.boundary.errors for w in self.pingers.values()}

    def status(self) -> list[HeartbeatStatus]:
        """Each configured heartbeat, for ``/status`` and ``/metrics``."""
        return [HeartbeatStatus(h.name, h.kind, h.interval,
                                self.stats.get(h.name) or HeartbeatStats(),
                                h.name in self.pingers)
                for h in self.workers.config.heartbeats]
