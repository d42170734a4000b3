"""The daemon: the store, workers, HTTP listener and chores in one task group, start to stop.

Stopping (SIGTERM/SIGINT) halts the heartbeats and pollers first, gives the sinks a
deadline to deliver what is journaled, then exits; a second stop signal cuts the drain
short.  SIGHUP reloads the config (see :meth:`Workers.apply`); one that arrives while
stopping is ignored.  Every task runs under a supervised boundary: a bug in one is
counted, logged once and retried or restarted with backoff, and never ends the process.
Only a bad config or an unusable store at start, and signals, do.  Time: its clock."""

from __future__ import annotations

import gc
import signal
from collections.abc import Awaitable, Callable
from dataclasses import replace
from functools import partial
from typing import IO

import aiohttp
import anyio
import structlog
from anyio.abc import TaskGroup

from watcher.config.settings import Config
from watcher.core.failures import FailureWindow
from watcher.core.status import ConfigInfo, DaemonStatus, ReplicaInfo
from watcher.errors import ConfigError, StoreError, StoreUnavailable
from watcher.infra.clock import Clock
from watcher.providers import limits
from watcher.runtime import chores, signals, told
from watcher.runtime import configuration as config_mod
from watcher.runtime.loop import tune_gc
from watcher.runtime.once import once
from watcher.runtime.replicas import Replication, status_document, user_agent
from watcher.runtime.supervisor import Boundary, supervise
from watcher.runtime.worker import stop_worker
from watcher.runtime.workers import READERS, Workers
from watcher.server import listener
from watcher.server.hooks.receiver import Receiver
from watcher.server.logs import redactor
from watcher.server.notify import Notifier
from watcher.state.backends import default_replica, open_store
from watcher.state.journal import Journal
from watcher.state.store import Store
from watcher.version import __version__

log = structlog.get_logger("watcher.daemon")

#: how long sinks may keep delivering after a stop was asked for
DRAIN_DEADLINE = 10.0
#: the daemon's own tasks, each with a boundary (the ``task`` label of internal errors)
CHORES = ("signals", "housekeeping", "status", "watchdog", "http", "failures", "silences",
          "leases", "journal")


class Daemon:
    def __init__(self, config: Config, *, stdout: IO[bytes] | None = None, clock: Clock) -> None:
        self.config = config
        self.stdout = stdout
        self.clock = clock
        self.notifier = Notifier()
        self.store: Store | None = None
        self.journal: Journal | None = None
        self.workers: Workers | None = None
        #: this replica's part among several (None: the only process of its state)
        self.replication: Replication | None = None
        self.stopping = False
        self.started_at = clock()
        self.stop = signals.Stop(clock=clock)
        #: set once every source is scheduled (when READY=1 goes to systemd)
        self.started = anyio.Event()
        self._http: listener.HttpListener | None = None
        self.chores = {name: Boundary(name) for name in CHORES}
        self.replica = ReplicaInfo(default_replica(), self.started_at, __version__)
        #: the config's hash and how the last (re)load went, for /status and /metrics
        self.config_info = ConfigInfo(config_mod.config_hash(config), True, self.started_at)
        #: failed runs per workflow over the last 24 h (the status page's chart)
        self.failures = FailureWindow()
        #: what ``once`` did, per source
        self.summary: list[dict[str, object]] = []

    async def open(self, command: str, *, replica: str | None = None) -> Workers:
        """Open the state with this process as its one writer (or one replica), and load
        it; StoreUnavailable (StateHeld if another process writes it) when impossible."""
        tune_gc()
        w = self.config.watcher
        replica = replica or w.replica or default_replica()
        self.replica = replace(self.replica, id=replica)
        self.store = await open_store(w.state_path, writer=command, replica=replica,
                                      listen_url=w.listen_url)
        cluster = self.store.cluster
        try:
            self.journal = Journal(self.store)
            await self.journal.start()
            # with replicas a source's state is loaded when its lease is taken
            rows = await self.store.load() if cluster is None else {}
        except StoreError as e:
            await self.close()
            raise StoreUnavailable(str(e)) from e
        except BaseException:
            await self.close()
            raise
        # The loaded state lives as long as the process and holds no cycles: keep the
        # collector from walking it on every full pass.
        gc.freeze()
        self.workers = Workers(self.config, self.store, self.journal, rows=rows,
                               clock=self.clock, stdout=self.stdout,
                               replica=replica if cluster is not None else None)
        if cluster is not None:
            self.replication = Replication(cluster, self.workers, ttl=w.lease_ttl,
                                           clock=self.clock)
        return self.workers

    async def close(self) -> None:
        if self.store is not None:
            await self.store.close()  # and with it the state's lock

    async def run(self) -> int:
        """Run until SIGTERM/SIGINT; StoreUnavailable propagates (exit 69)."""
        workers = await self.open("watcher run")
        log.info("watcher starting", sources=len(self.config.sources),
                 sinks=len(self.config.sinks), state=workers.store.path,
                 replica=workers.replica, journal_head=workers.journal.head)
        limits.warn(self.config.sources, log)
        async with aiohttp.ClientSession(headers=user_agent(workers.replica)) as workers.session, \
                anyio.create_task_group() as tg:
            workers.tg = tg
            await chores.first_look(workers.silencer, workers.reminders)
            for sink in self.config.sinks:
                if workers.local(sink):  # the others once their lease is held
                    await workers.start_sink(sink)
            if self.replication is None:  # else the readers and sources that it leases
                for reader in READERS:
                    await workers.start_reader(reader)
                for source in self.config.sources:
                    workers.start_source(source)
                for beat in self.config.heartbeats:
                    workers.heartbeats.start(beat)
            signals.hold(signal.SIGTERM, signal.SIGINT)  # a stop before follow() is not a kill
            self._start_chores(tg, workers)
            await self._start_http(workers)
            self.notifier.ready(self.status_line())
            self.started.set()
            log.info("watcher running")
            await self.stop.asked.wait()
            await self._shutdown(workers)
            tg.cancel_scope.cancel()
        # The signal receiver is gone: a late signal must not kill the final close.
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        await self.close()
        log.info("watcher stopped")
        return 0

    async def once(self) -> int:
        """One poll cycle of every source, delivered; 75 if any source failed.  StateHeld if
        a daemon (or another ``once``) has the state file, LeasesHeld if replicas hold it."""
        workers = await self.open("watcher once", replica=f"{default_replica()} once")
        try:
            return await once(workers, self.replication, lines=self.summary)
        finally:
            await self.close()

    async def wait_watching(self) -> None:
        """Return once every source has polled successfully at least once."""
        assert self.workers is not None
        for worker in list(self.workers.pollers.values()):
            await worker.obj.watching.wait()

    def request_stop(self) -> None:
        self.stop.asked.set()

    async def _shutdown(self, workers: Workers) -> None:
        self.stopping = True
        self.notifier.stopping()
        for name in list(workers.heartbeats.pingers):  # a watcher stopping is not well
            await stop_worker(workers.heartbeats.pingers, name)
        log.info("stopping: polling halted, delivering what is journaled",
                 deadline_s=DRAIN_DEADLINE)
        for name in list(workers.pollers):
            await workers.stop_source(name)
        for reader in READERS:  # what it had not committed, it works out again on start
            await workers.stop_reader(reader)
        if self.replication is not None:
            await self.replication.stop_polling()
        journal = workers.journal
        target = journal.head  # other replicas journal on: deliver what was there now
        with self.stop.draining(DRAIN_DEADLINE) as drain:
            # A sink that is failing keeps its backlog in the journal; do not wait for it.
            while any(journal.cursors.get(w.obj.consumer, 0) < target and not w.obj.failing
                      for w in workers.runners.values()):
                await journal.wait_acked()
        if drain.cancelled_caught:
            log.warning("stop deadline reached; undelivered events stay journaled",
                        backlog={n: journal.backlog(w.obj.consumer)
                                 for n, w in workers.runners.items()})
        for name in list(workers.runners):
            await workers.stop_sink(name)
        if self.replication is not None:
            await self.replication.stop_delivering()
        if self._http is not None:
            await self._http.stop()

    # -- signals and reload ------------------------------------------------------------

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
                self.config_info = replace(self.config_info, last_reload_ok=False,
                                           last_reload_at=self.clock())
                return
            await self._apply(new)
            self.config_info = ConfigInfo(config_mod.config_hash(new), True, self.clock())
        finally:
            if not self.stop.asked.is_set():  # never READY=1 once a stop has begun
                self.notifier.ready(self.status_line())

    async def _apply(self, new: Config) -> None:
        old = self.config
        redactor.update(new.secrets | old.secrets)
        if new.watcher != old.watcher:
            log.warning("[watcher] settings change on restart only; kept the running ones")
        self.config = replace(new, watcher=old.watcher)  # every other section as reloaded
        assert self.workers is not None
        await self.workers.apply(self.config)
        if self.replication is not None:
            self.replication.keeper.wake()  # take or give back what the change moved
        log.info("config reloaded", sources=len(new.sources), sinks=len(new.sinks))
        limits.warn(self.config.sources, log)  # the new sources', as at start

    # -- chores and status -------------------------------------------------------------

    def _start_chores(self, tg: TaskGroup, workers: Workers) -> None:
        def chore(name: str, fn: Callable[[], Awaitable[None]]) -> None:
            tg.start_soon(partial(supervise, self.chores[name], fn, clock=self.clock))

        keep = self.config.watcher.retention if workers.store.persistent else 600
        chore("signals", partial(signals.follow, self.stop, self.reload,
                                 on_error=self.chores["signals"].caught))
        chore("silences", workers.silencer.run)
        chore("housekeeping", partial(chores.housekeeping, workers.journal, keep=keep,
                                      clock=self.clock))
        every = self.notifier.watchdog_interval
        if every:
            chore("watchdog", partial(chores.watchdog, self.notifier, every, clock=self.clock))
        chore("status", partial(chores.report_status, self.notifier, self.status_line,
                                workers.store_failing, clock=self.clock))
        chore("failures", partial(chores.tally, workers.journal, self.failures,
                                  clock=self.clock))
        if self.replication is not None:
            chore("leases", self.replication.keeper.run)
            chore("journal", self.replication.follow)

    async def _start_http(self, workers: Workers) -> None:
        if not (listen := self.config.watcher.http_listen):
            return
        try:
            self._http = await listener.start(listen, self.snapshot, lambda: self.journal,
                token=self.config.watcher.http_token, on_error=self.chores["http"].caught,
                status=lambda: status_document(workers, self.snapshot()),
                store=lambda: self.store, hooks=Receiver(
                    lambda: self.config.sources, lambda: self.store, workers.push,
                    clock=self.clock))
        except Exception as e:  # watching matters more than the listener
            self.chores["http"].caught(e)

    def snapshot(self) -> DaemonStatus:
        """The daemon as /metrics, /readyz and ``STATUS=`` show it, taken now."""
        workers, now, me = self.workers, self.clock(), self.replica.id
        assert workers is not None  # the listener and the chores start after the workers
        runners = [w.obj for w in workers.runners.values()]
        return DaemonStatus(
            now=now, started_at=self.started_at, stopping=self.stopping,
            store_failing=workers.store_failing(), journal_head=workers.journal.head,
            events=workers.journal.counts,
            sources=[w.obj.status(me) for w in workers.pollers.values()],
            sinks=[r.status() for r in runners],
            chores={**{name: b.errors for name, b in self.chores.items()},
                    **workers.reader_errors()},
            replica=self.replica, config=self.config_info, failures=self.failures.counts(now),
            silences=workers.silencer.active(now), heartbeats=workers.heartbeats.status(),
            inhibitions=told.inhibitions([r.told for r in runners], self.config.inhibit),
            push=workers.push.stats, **(self.replication.snapshot() if self.replication else {}))

    def status_line(self) -> str:
        return self.snapshot().line()
