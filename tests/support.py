"""Test support: build configs, drive a source in-process, run the daemon for real.

Three ways to exercise watcher, from cheapest to most real:

* :class:`Harness`: one source's provider + poller + journal in the test's own
  event loop, on a frozen clock, against an in-process simulator;
* :class:`SimThread`: the simulator in a background thread, so a daemon
  *subprocess* can poll it while the test blocks on the process;
* :class:`DaemonProc`: ``python -m watcher run`` as a real subprocess, with its
  stdout collected line by line and real signals.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Collection, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import aiohttp
import orjson

from tests.event_schema import assert_valid_event, note_body
from watcher.config.settings import Config, SourceConfig
from watcher.config.toml_text import toml_value
from watcher.core.diff import ChangedAt, Changeset, Describe, Policy, Session
from watcher.infra.clock import Clock, wall
from watcher.infra.ratelimit import Buckets, Limit, RateLimiter
from watcher.model import Event, JournalEntry, Observation, Tracked
from watcher.providers import provider_class
from watcher.providers.protocol import ProviderContext
from watcher.runtime import configuration as config_mod
from watcher.runtime.poller import Poller, SourceState
from watcher.simulator import Simulator, World
from watcher.simulator.app import APIS
from watcher.state.backends import open_store
from watcher.state.journal import Journal
from watcher.testing import FrozenClock

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")
#: commands whose stdout is events, a JSON line each (unless asked for pretty text)
EVENT_COMMANDS = ("run", "once", "demo", "tail")

EXTRA_KEYS = {"cortex": ("app_id", "workflow_id")}


def toml(watcher: Mapping[str, Any] | None = None, sources: Sequence[Mapping[str, Any]] = (),
         sinks: Sequence[Mapping[str, Any]] = ()) -> str:
    """A config file's text from plain dicts."""
    out = ["[watcher]"] + [f"{k} = {toml_value(v)}" for k, v in (watcher or {}).items()]
    for s in sources:
        out += ["", "[[sources]]"] + [f"{k} = {toml_value(v)}" for k, v in s.items()]
    for k in sinks:
        out += ["", "[[sinks]]"] + [f"{key} = {toml_value(v)}" for key, v in k.items()]
    return "\n".join(out) + "\n"


def sim_source(sim_url: Callable[[str], str], world: World, vendor: str, *,
               name: str | None = None, **kw: Any) -> dict[str, Any]:
    """A ``[[sources]]`` table pointing at the simulator for ``vendor``."""
    src: dict[str, Any] = {"name": name or f"{vendor}-test", "provider": vendor,
                           "token": world.tokens[vendor], "base_url": sim_url(vendor),
                           "interval": "1s"}
    if vendor == "cortex" and "workflow_id" not in kw:
        wf = world.workflows["cortex"][0] if world.workflows["cortex"] else \
            world.workflow("cortex", "Invoice Processing")
        src.update(app_id="app_sim", workflow_id=wf.id)
    src.update(APIS[vendor].source_keys)
    src.update(kw)
    return src


def diff(runs: Mapping[str, Tracked], live: Collection[str],
         observations: Iterable[Observation], *, now: float, policy: Policy,
         describe: Describe, changed_at: ChangedAt | None = None,
         baseline: bool = False) -> Changeset:
    """One page's :class:`~watcher.core.diff.Session`: ``observations`` against the known
    ``runs`` (``live`` = non-terminal ids); without ``changed_at``, each item described."""
    session = Session(runs, live, now=now, policy=policy, describe=describe,
                      changed_at=changed_at or (lambda item: describe(item).changed_at),
                      baseline=baseline)
    session.feed(observations)
    return session.finish()


class LiftedBuckets(Buckets):
    """Buckets run at ``limit`` whatever their members ask (None: as they ask), so a test
    or benchmark is not held to a vendor's documented budget."""

    def __init__(self, *, clock: Clock, limit: Limit | None) -> None:
        super().__init__(clock=clock)
        self.limit = limit

    def join(self, key: str, member: str, limit: Limit) -> RateLimiter:
        return super().join(key, member, self.limit or limit)


def parse_config(text: str, env: Mapping[str, str] | None = None) -> Config:
    return config_mod.loads(text, env=env or {})


class Harness:
    """One source polled in-process: ``events = await h.poll()``.

    The poller and the simulator's world share ``clock`` (frozen): move time
    with ``h.clock.advance(s)``.  Its buckets are its own unless ``buckets`` is given.  The journal is a real store (``:memory:``
    unless ``state_path`` is given).
    """

    #: what every bucket of a harness runs at (None: the vendor's documented limits)
    limit: ClassVar[Limit | None] = None

    def __init__(self, sim: Simulator, vendor: str = "extend", *, clock: FrozenClock,
                 state_path: str = ":memory:", baseline: str = "silent",
                 retention: float = 7 * 86400.0, buckets: Buckets | None = None,
                 **source: Any) -> None:
        self.sim = sim
        #: the rate-limit buckets its provider draws from (shared with other harnesses)
        self.buckets = buckets or LiftedBuckets(clock=clock, limit=self.limit)
        self.vendor = vendor
        self.clock = clock
        self.state_path = state_path
        self.baseline = baseline
        self.retention = retention
        self.source_kw = source
        self.entries: list[JournalEntry] = []
        self.poller: Poller | None = None
        self._session: aiohttp.ClientSession | None = None

    @property
    def world(self) -> World:
        return self.sim.world

    def source_config(self) -> SourceConfig:
        text = toml({"state_path": self.state_path, "baseline": self.baseline},
                    [sim_source(self.sim.url, self.world, self.vendor, **self.source_kw)])
        return parse_config(text).sources[0]

    async def __aenter__(self) -> Harness:
        self._session = aiohttp.ClientSession()
        self.store = await open_store(self.state_path)
        self.journal = Journal(self.store)
        await self.journal.start()
        rows = await self.store.load()
        cfg = self.source_config()
        cls = provider_class(cfg.provider)
        assert cls is not None
        self.provider = cls(cfg, ProviderContext(self._session, self.clock, self.buckets))
        self.state = SourceState(rows.get(cfg.name))
        self.poller = Poller(cfg, self.provider, self.state, self.journal,
                             retention=self.retention, emit_baseline=self.baseline == "emit",
                             clock=self.clock)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
        await self.store.close()

    async def poll(self) -> list[dict[str, Any]]:
        """One cycle; returns the CloudEvents it journaled (parsed)."""
        assert self.poller is not None
        before = self.journal.head
        self.ok = await self.poller.poll_once()
        new = await self.journal.read(before, 1_000_000)
        self.entries.extend(new)
        return [orjson.loads(e.body) for e in new]  # each held to the schema (conftest)

    @property
    def requests(self) -> int:
        return self.provider.requests


def statuses(events: list[dict[str, Any]]) -> list[tuple[str, str, str | None]]:
    """``(short type, status, previous)`` of each event, for compact assertions."""
    return [(e["type"].removeprefix("watcher."), e["data"].get("status"),
             e["data"].get("previous_status")) for e in events]


def event_types(events: list[Event] | list[dict[str, Any]]) -> list[str]:
    return [(e["type"] if isinstance(e, dict) else e.type).removeprefix("watcher.")
            for e in events]


class SimThread:
    """The simulator served from a background thread (for daemon subprocesses).

    Touch the world only through :meth:`call`, which runs a function in the
    simulator's loop, so the server never sees a half-made change.
    """

    def __init__(self, world: World | None = None) -> None:
        self.world = world or World(clock=wall, seed=3)
        self.sim = Simulator(self.world)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def start(self) -> SimThread:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.sim.start(), self._loop).result(10)
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.sim.stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def call(self, fn: Callable[[World], T]) -> T:
        async def run() -> T:
            return fn(self.world)
        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(10)

    def url(self, vendor: str) -> str:
        return self.sim.url(vendor)

    def spawn(self, fn: Callable[[], Awaitable[Any]]) -> concurrent.futures.Future[Any]:
        """Run a coroutine (e.g. a Scenario) in the simulator's loop; cancel the future to stop."""
        return asyncio.run_coroutine_threadsafe(fn(), self._loop)


class DaemonProc:
    """``python -m watcher <args>`` as a subprocess; stdout lines are collected."""

    def __init__(self, *args: str, env: Mapping[str, str] | None = None,
                 cwd: str | Path | None = None) -> None:
        # faulthandler: a hung daemon dumps every thread's stack when stop() gives up on it
        full_env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1",
                    "PYTHONFAULTHANDLER": "1"}
        full_env.pop("NOTIFY_SOCKET", None)  # never talk to a real systemd by accident
        full_env.update(env or {})
        self.proc = subprocess.Popen([sys.executable, "-m", "watcher", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=full_env, cwd=cwd)
        self.lines: queue.Queue[bytes] = queue.Queue()
        self.stdout: list[bytes] = []
        self.stderr: list[bytes] = []
        #: where its stdout lines are events, each is held to the schema
        self._events_out = bool(args) and args[0] in EVENT_COMMANDS
        self._threads = [threading.Thread(target=self._pump, args=(self.proc.stdout, True),
                                          daemon=True),
                         threading.Thread(target=self._pump, args=(self.proc.stderr, False),
                                          daemon=True)]
        for t in self._threads:
            t.start()

    def _pump(self, stream: Any, is_out: bool) -> None:
        for line in iter(stream.readline, b""):
            if is_out:
                if self._events_out and line.startswith(b"{"):
                    note_body(line, f"stdout of watcher {self.proc.args[3]}")
                self.stdout.append(line)
                self.lines.put(line)
            else:
                self.stderr.append(line)

    def events(self) -> list[dict[str, Any]]:
        return [orjson.loads(line) for line in list(self.stdout)]

    def wait_for(self, pred: Callable[[list[dict[str, Any]]], bool], timeout: float = 20.0
                 ) -> list[dict[str, Any]]:
        """Wait until ``pred(events so far)`` holds; the events, or AssertionError."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            evs = self.events()
            if pred(evs):
                return evs
            if self.proc.poll() is not None:
                time.sleep(0.2)
                evs = self.events()
                if pred(evs):
                    return evs
                raise AssertionError(f"daemon exited {self.proc.returncode}:\n{self.err_text()}")
            time.sleep(0.05)
        raise AssertionError(f"timed out; {len(self.events())} events; stderr:\n"
                             f"{self.err_text()[-3000:]}")

    def wait_stderr(self, text: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.err_text():
                return
            time.sleep(0.05)
        raise AssertionError(f"{text!r} not in stderr:\n{self.err_text()[-3000:]}")

    def logs(self) -> list[dict[str, Any]]:
        """stderr as parsed JSON log lines (logs are JSON off a TTY)."""
        out = []
        for line in list(self.stderr):
            try:
                out.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                continue
        return out

    def wait_log(self, event: str, timeout: float = 20.0, **fields: Any) -> dict[str, Any]:
        """Wait for a log line with this ``event`` text and these fields."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for entry in self.logs():
                if entry.get("event") == event and all(entry.get(k) == v
                                                       for k, v in fields.items()):
                    return entry
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"no log {event!r} {fields}:\n{self.err_text()[-3000:]}")

    def err_text(self) -> str:
        return b"".join(self.stderr).decode(errors="replace")

    def send(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGABRT)  # faulthandler prints where it hangs
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            code = self.proc.wait()
            print(f"daemon did not stop within {timeout}s; its stderr:\n{self.err_text()[-8000:]}")
        for t in self._threads:
            t.join(5)
        return code

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()
        for t in self._threads:
            t.join(5)


def run_cli(*args: str, env: Mapping[str, str] | None = None, timeout: float = 60,
            cwd: str | Path | None = None) -> subprocess.CompletedProcess[bytes]:
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    done = subprocess.run([sys.executable, "-m", "watcher", *args], capture_output=True,
                          env=full_env, timeout=timeout, cwd=cwd)
    if args and args[0] in EVENT_COMMANDS:
        for line in done.stdout.splitlines():
            if line.startswith(b"{"):
                assert_valid_event(orjson.loads(line))
    return done


def lines_of(data: bytes) -> Iterator[dict[str, Any]]:
    for line in data.splitlines():
        if line.strip():
            yield orjson.loads(line)


def mount_tmpfs(where: Path, size: str) -> bool:
    """A real small file system at ``where`` (root only); False where that is impossible."""
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    where.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                       capture_output=True)
    return r.returncode == 0


def fill_disk(path: Path) -> None:
    """Write zeros to ``path`` until its file system is full."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        while True:
            os.write(fd, b"\0" * 65536)
    except OSError:
        pass
    finally:
        os.close(fd)
