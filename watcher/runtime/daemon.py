"""The daemon: wires providers, pollers, the journal and sink runners in one task group.

Every poller and sink runner lives in its own cancel scope inside one anyio
task group, so a reload (SIGHUP) can stop, add or restart one of them
without touching the others, and the state of a source survives its
poller being replaced.  Stopping (SIGTERM/SIGINT) cancels the pollers
first, gives the sinks a deadline to deliver what is journaled, then exits.

Each of those tasks, and the daemon's own chores (signals, housekeeping,
status, watchdog, the HTTP listener), runs under a
:func:`~watcher.runtime.supervisor.supervise` boundary: a bug in one is counted,
logged once and retried or restarted with backoff, and never ends the
process.  Only a bad config or an unusable store at start, and signals, do.
All time comes from the daemon's clock.
"""

from __future__ import annotations

import gc
import signal
from collections.abc import Awaitable, Callable
from functools import partial
from typing import IO, Any

import aiohttp
import anyio
import structlog
from anyio.abc import TaskGroup

from watcher.config.settings import Config, SinkConfig, SourceConfig
from watcher.core.status import DaemonStatus
from watcher.errors import ConfigError, StoreUnavailable
from watcher.infra.clock import Clock, wall
from watcher.providers import provider_class
from watcher.providers.protocol import ProviderContext
from watcher.runtime import configuration as config_mod
from watcher.runtime.delivery import SinkRunner
from watcher.runtime.poller import Poller, SourceState
from watcher.runtime.supervisor import Boundary, supervise
from watcher.server.logs import redactor
from watcher.server.notify import Notifier
from watcher.sinks import sink_class
from watcher.sinks.base import SinkContext
from watcher.state.journal import Journal
from watcher.state.lock import StateLock
from watcher.state.sqlite import SourceRow, Store, StoreError

log = structlog.get_logger("watcher.daemon")

#: how long sinks may keep delivering after a stop was asked for
DRAIN_DEADLINE = 10.0
HOUSEKEEPING_EVERY = 600.0
STATUS_EVERY = 10.0
#: how often the state store's health is looked at for an early STATUS= update
STATUS_CHECK = 1.0


class _Child:
    """A supervised task with its own cancel scope, so it can be stopped alone."""

    def __init__(self, obj: Any) -> None:
        self.obj = obj
        self.scope = anyio.CancelScope()
        self.done = anyio.Event()

    def start(self, tg: TaskGroup, fn: Callable[[], Awaitable[None]], *, clock: Clock) -> None:
        async def body() -> None:
            try:
                with self.scope:
                    await supervise(self.obj.boundary, fn, clock=clock)
            finally:
                self.done.set()
        tg.start_soon(body)

    async def stop(self) -> None:
        self.scope.cancel()
        await self.done.wait()


class Daemon:
    def __init__(self, config: Config, *, stdout: IO[bytes] | None = None,
                 clock: Clock = wall, notifier: Notifier | None = None) -> None:
        self.config = config
        self.stdout = stdout
        self.clock = clock
        self.notifier = notifier or Notifier()
        self.store: Store | None = None
        self.journal: Journal | None = None
        self.session: aiohttp.ClientSession | None = None
        self.states: dict[str, SourceState] = {}
        self.pollers: dict[str, _Child] = {}
        self.runners: dict[str, _Child] = {}
        self.stopping = False
        self.started_at = clock()
        self._rows: dict[str, SourceRow] = {}
        self._tg: TaskGroup | None = None
        self._stop = anyio.Event()
        #: set once every source is scheduled (when READY=1 goes to systemd)
        self.started = anyio.Event()
        #: the wait for sinks while stopping; a second stop signal cancels it
        self._drain: anyio.CancelScope | None = None
        self._hurry = False
        self._http: Any = None
        #: the boundaries of the daemon's own tasks, by ``task`` label (for /metrics)
        self.chores = {name: Boundary(name) for name in
                       ("signals", "housekeeping", "status", "watchdog", "http")}
        self._lock: StateLock | None = None

    # -- lifecycle -------------------------------------------------------------------

    async def _open(self, command: str) -> None:
        """Lock the state file for this process, then open and load it; StoreUnavailable
        (StateHeld if another process has it) when that is impossible."""
        tune_gc()
        path = self.config.watcher.state_path
        self._lock = StateLock.acquire(path, command=command)
        try:
            self.store = await Store.open(path)
            self.journal = Journal(self.store)
            await self.journal.start()
            self._rows = await self.store.load()
        except StoreError as e:
            await self._close()
            raise StoreUnavailable(str(e)) from e
        except BaseException:
            await self._close()
            raise
        # The loaded state lives as long as the process and holds no cycles: keep the
        # collector from walking it on every full pass.
        gc.freeze()

    async def run(self) -> int:
        """Run until SIGTERM/SIGINT; StoreUnavailable propagates (exit 69)."""
        await self._open("watcher run")
        assert self.journal is not None
        log.info("watcher starting", sources=len(self.config.sources),
                 sinks=len(self.config.sinks), state=self.config.watcher.state_path,
                 journal_head=self.journal.head)
        async with aiohttp.ClientSession() as self.session, anyio.create_task_group() as tg:
            self._tg = tg
            for sink in self.config.sinks:
                await self._start_sink(sink)
            for source in self.config.sources:
                self._start_source(source)
            self._chore(tg, "signals", self._signals)
            self._chore(tg, "housekeeping", self._housekeeping)
            await self._start_http(tg)
            self.notifier.ready(self.status_line())
            self.started.set()
            if self.notifier.watchdog_interval:
                self._chore(tg, "watchdog", partial(self._watchdog,
                                                    self.notifier.watchdog_interval))
            self._chore(tg, "status", self._report_status)
            log.info("watcher running")
            await self._stop.wait()
            await self._shutdown()
            tg.cancel_scope.cancel()
        # The signal receiver is gone: a late stop signal must not kill the final close.
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, signal.SIG_IGN)
        await self._close()
        log.info("watcher stopped")
        return 0

    async def once(self) -> int:
        """One poll cycle of every source, delivered; 75 if any source failed.

        StateHeld if a daemon (or another ``once``) has the state file: two writers
        would number journal entries from two different heads."""
        await self._open("watcher once")
        results: dict[str, bool] = {}
        async with aiohttp.ClientSession() as self.session:
            sinks = [self._make_runner(s) for s in self.config.sinks]
            for r in sinks:
                await r.journal.attach(r.name)
            pollers = [self._make_poller(s) for s in self.config.sources]

            async def poll(p: Poller) -> None:
                results[p.config.name] = await p.poll_once()
            async with anyio.create_task_group() as tg:
                for p in pollers:
                    tg.start_soon(poll, p)
            with anyio.move_on_after(max(DRAIN_DEADLINE, 60.0)):
                async with anyio.create_task_group() as tg:
                    for r in sinks:
                        tg.start_soon(partial(r.run, until_idle=True))
            for r in sinks:
                await _close_sink(r)
        await self._close()
        failed = [name for name, ok in results.items() if not ok]
        if failed:
            log.error("some sources failed to poll", sources=failed)
            return 75
        return 0

    async def wait_watching(self) -> None:
        """Return once every source has polled successfully at least once."""
        for child in list(self.pollers.values()):
            await child.obj.watching.wait()

    def request_stop(self) -> None:
        self._stop.set()

    async def _shutdown(self) -> None:
        self.stopping = True
        self.notifier.stopping()
        log.info("stopping: polling halted, delivering what is journaled",
                 deadline_s=DRAIN_DEADLINE)
        for child in list(self.pollers.values()):
            await child.stop()
        assert self.journal is not None
        with anyio.move_on_after(0 if self._hurry else DRAIN_DEADLINE) as self._drain:
            # A sink that is failing keeps its backlog in the journal; do not wait for it.
            while any(self.journal.cursors.get(n, 0) < self.journal.head and not c.obj.failing
                      for n, c in self.runners.items()):
                await self.journal.wait_acked()
        if self._drain.cancelled_caught:
            log.warning("stop deadline reached; undelivered events stay journaled",
                        backlog={n: self.journal.backlog(n) for n in self.runners})
        for child in list(self.runners.values()):
            await child.stop()
            await _close_sink(child.obj)
        if self._http is not None:
            await self._http.stop()

    async def _close(self) -> None:
        try:
            if self.store is not None:
                await self.store.close()
        finally:
            if self._lock is not None:
                self._lock.release()

    # -- sources and sinks -------------------------------------------------------------

    def _make_poller(self, cfg: SourceConfig) -> Poller:
        assert self.journal is not None and self.session is not None
        cls = provider_class(cfg.provider)
        assert cls is not None, cfg.provider  # config validation guarantees it
        state = self.states.get(cfg.name)
        if state is None:
            state = self.states[cfg.name] = SourceState(self._rows.pop(cfg.name, None))
        provider = cls(cfg, ProviderContext(self.session, self.clock))
        return Poller(cfg, provider, state, self.journal,
                      retention=self.config.watcher.retention,
                      emit_baseline=self.config.watcher.baseline == "emit", clock=self.clock)

    def _start_source(self, cfg: SourceConfig) -> None:
        assert self._tg is not None
        poller = self._make_poller(cfg)
        child = self.pollers[cfg.name] = _Child(poller)
        child.start(self._tg, poller.run, clock=self.clock)

    def _make_runner(self, cfg: SinkConfig) -> SinkRunner:
        assert self.journal is not None
        cls = sink_class(cfg.type)
        assert cls is not None, cfg.type
        ctx = SinkContext(stdout=self.stdout, session=self.session, clock=self.clock)
        return SinkRunner(cls(cfg, ctx), cfg, self.journal, clock=self.clock)

    async def _start_sink(self, cfg: SinkConfig) -> None:
        assert self._tg is not None and self.journal is not None
        runner = self._make_runner(cfg)
        try:
            await self.journal.attach(cfg.name)  # before any event, so none is skipped
        except StoreError as e:
            log.error("could not save a new sink's cursor; it starts anyway", sink=cfg.name,
                      error=str(e))
        child = self.runners[cfg.name] = _Child(runner)
        child.start(self._tg, runner.run, clock=self.clock)

    # -- signals and reload ------------------------------------------------------------

    async def _signals(self) -> None:
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as sigs:
            async for sig in sigs:
                if sig == signal.SIGHUP and self._stop.is_set():
                    # a reload now would start sources and sinks in the middle of the drain
                    log.info("reload ignored: the daemon is stopping", signal="SIGHUP")
                elif sig == signal.SIGHUP:
                    try:
                        await self.reload()
                    except Exception as e:  # half applied at worst; the next reload retries
                        self.chores["signals"].caught(e)
                elif not self._stop.is_set():
                    log.info("stop requested", signal=signal.Signals(sig).name)
                    self._stop.set()
                else:
                    log.warning("second stop signal: not waiting for sinks any longer")
                    self._hurry = True
                    if self._drain is not None:
                        self._drain.cancel()

    async def reload(self) -> None:
        """Re-read the config; an invalid one is refused and the old one kept."""
        path = self.config.path
        self.notifier.reloading()
        try:
            if path is None:
                log.warning("reload asked, but the config has no file to re-read")
                return
            try:
                new = config_mod.load(path)
            except ConfigError as e:
                log.error("reload refused: invalid config, keeping the running one",
                          problems=e.problems)
                return
            await self._apply(new)
        finally:
            if not self._stop.is_set():  # never READY=1 once a stop has begun
                self.notifier.ready(self.status_line())

    async def _apply(self, new: Config) -> None:
        old = self.config
        redactor.update(new.secrets | old.secrets)
        if new.watcher != old.watcher:
            log.warning("[watcher] settings change on restart only; kept the running ones")
        new = Config(watcher=old.watcher, sources=new.sources, sinks=new.sinks, path=new.path,
                     secrets=new.secrets, raw=new.raw)
        old_src = {s.name: s for s in old.sources}
        new_src = {s.name: s for s in new.sources}
        for name in old_src.keys() - new_src.keys():
            await self.pollers.pop(name).stop()
            self.states.pop(name, None)
            log.info("source removed", source=name)
        for name, cfg in new_src.items():
            before = old_src.get(name)
            if before == cfg:
                continue
            if before is not None:
                await self.pollers.pop(name).stop()
                if (before.provider, before.base_url) != (cfg.provider, cfg.base_url):
                    # another API entirely: its runs are not these runs
                    self.states.pop(name, None)
                    assert self.store is not None
                    try:
                        await self.store.forget_source(name)
                    except StoreError as e:
                        log.error("could not forget the replaced source's runs", source=name,
                                  error=str(e))
            self._start_source(cfg)
            log.info("source changed" if before else "source added", source=name)
        old_sink = {s.name: s for s in old.sinks}
        new_sink = {s.name: s for s in new.sinks}
        for name in old_sink.keys() - new_sink.keys():
            child = self.runners.pop(name)
            await child.stop()
            await _close_sink(child.obj)
            assert self.journal is not None
            try:
                await self.journal.detach(name)
            except StoreError as e:  # its cursor stays on file until the next restart
                log.error("could not drop a removed sink's cursor", sink=name, error=str(e))
            log.info("sink removed", sink=name)
        for name, scfg in new_sink.items():
            if old_sink.get(name) == scfg:
                _reopen_sink(self.runners[name].obj)
                continue
            if name in self.runners:
                child = self.runners.pop(name)
                await child.stop()
                await _close_sink(child.obj)
            await self._start_sink(scfg)
            log.info("sink changed" if name in old_sink else "sink added", sink=name)
        self.config = new
        log.info("config reloaded", sources=len(new.sources), sinks=len(new.sinks))

    # -- background chores -------------------------------------------------------------

    def _chore(self, tg: TaskGroup, name: str, fn: Callable[[], Awaitable[None]]) -> None:
        tg.start_soon(partial(supervise, self.chores[name], fn, clock=self.clock))

    async def _housekeeping(self) -> None:
        assert self.journal is not None
        while True:
            await self.clock.sleep(HOUSEKEEPING_EVERY)
            keep = self.config.watcher.retention if self.store and self.store.persistent else 600
            try:
                n = await self.journal.prune(before=self.clock() - keep)
                if n:
                    log.debug("journal pruned", entries=n)
            except Exception as e:
                log.warning("journal pruning failed", error=str(e))

    async def _watchdog(self, every: float) -> None:
        while True:
            self.notifier.watchdog()
            await self.clock.sleep(every)

    async def _report_status(self) -> None:
        # every STATUS_EVERY, and at once when state writes start or stop failing
        waited, store = 0.0, self.store_failing()
        while True:
            await self.clock.sleep(STATUS_CHECK)
            waited += STATUS_CHECK
            if waited >= STATUS_EVERY or self.store_failing() != store:
                waited, store = 0.0, self.store_failing()
                self.notifier.status(self.status_line())

    def snapshot(self) -> DaemonStatus:
        """The daemon as /metrics, /readyz and ``STATUS=`` show it, taken now."""
        journal = self.journal
        return DaemonStatus(
            now=self.clock(), started_at=self.started_at, stopping=self.stopping,
            store_failing=self.store_failing(),
            journal_head=journal.head if journal is not None else 0,
            events=journal.counts if journal is not None else {},
            sources=[c.obj.status() for c in list(self.pollers.values())],
            sinks=[c.obj.status() for c in list(self.runners.values())],
            chores={name: b.errors for name, b in self.chores.items()})

    def status_line(self) -> str:
        return self.snapshot().line()

    def store_failing(self) -> str | None:
        """Why writes to the state file are failing, whatever the cause (a full disk,
        an I/O error, another writer), or None: the last write failed, or a source's
        last cycle could not be saved and none of its cycles has been since."""
        store = self.store
        if store is None:
            return None
        if store.write_error:
            return store.write_error
        if any(c.obj.store_failing for c in self.pollers.values()):
            return store.last_write_error or "a poll cycle could not be saved"
        return None

    async def _start_http(self, tg: TaskGroup) -> None:
        listen = self.config.watcher.http_listen
        if listen:
            from watcher.server import listener as api

            try:
                self._http = await api.start(
                    listen, self.snapshot, lambda: self.journal,
                    token=self.config.watcher.http_token, on_error=self.chores["http"].caught)
            except Exception as e:  # watching matters more than the listener
                self.chores["http"].caught(e)


async def _close_sink(runner: SinkRunner) -> None:
    try:
        await runner.sink.aclose()
    except Exception as e:  # a plugin's bug must not stop a reload or a clean exit
        runner.boundary.caught(e)


def _reopen_sink(runner: SinkRunner) -> None:
    try:
        runner.sink.reopen()
    except Exception as e:
        runner.boundary.caught(e)


def tune_gc() -> None:
    """Fewer cyclic-GC passes: tracked state is acyclic (run states, parsed JSON).

    Default thresholds make the collector walk the whole heap again and again
    while a first sync grows it by a hundred thousand runs, about a third of
    that poll's CPU; objects are still freed by reference counting as usual.
    """
    gc.set_threshold(50_000, 20, 100)


def run_sync(coro_fn: Callable[[], Awaitable[int]]) -> int:
    """Run on uvloop when it is installed (faster loop, same behaviour)."""
    try:
        import uvloop  # noqa: F401

        opts: dict[str, Any] = {"use_uvloop": True}
    except ImportError:
        opts = {}
    return anyio.run(coro_fn, backend_options=opts)


