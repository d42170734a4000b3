"""One outside monitor pinged every ``interval`` while the watcher is well.

At start (each time this replica takes the heartbeat on) a start signal where the kind
has one; then each interval the watcher's health is judged
(:mod:`watcher.core.heartbeat`): well, a ping; unwell, the kind's fail signal with the
one-line reason, or nothing (a plain URL, or a quiet verdict).

The URL is a secret: it is never logged, nor put in an error text.  Before each request
the worker's permit is checked, so a replica paused past its lease wakes up without
pinging.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode, urlsplit, urlunsplit

import aiohttp
import structlog

from watcher.config.heartbeats import HeartbeatConfig
from watcher.core.heartbeat import HeartbeatStats, Verdict
from watcher.infra import permit
from watcher.infra.clock import Clock
from watcher.runtime.claim import Claim
from watcher.runtime.supervisor import Boundary
from watcher.server.logs import redactor

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
        #: the last request failed (logged once per run of failures)
        self.failing = False

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
        if error is None:
            if self.failing:
                log.info("heartbeat taken again", heartbeat=self.cfg.name, signal=signal)
            self.failing = False
            return True
        self.stats.failures += 1
        self.stats.last_error = error
        if not self.failing:
            log.warning("heartbeat not taken", heartbeat=self.cfg.name, signal=signal,
                        error=error)
        self.failing = True
        return False
