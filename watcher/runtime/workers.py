"""The daemon's workers: a poller per source, a runner per sink and the journal readers
that write back, each a :class:`~watcher.runtime.worker.Worker` in the daemon's task group.

A reload stops, adds or restarts only what changed, and a source's runs in memory
outlive its poller being replaced.  With several replicas (``replica`` given) a
source's poller, a network sink's runner and a reader run only while this replica
holds their lease (:mod:`watcher.runtime.leases` starts and stops them); local sinks
(stdout, file) run on every replica, each from a cursor of its own."""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO

import aiohttp
import structlog
from anyio.abc import TaskGroup

from watcher.config.settings import Config, SinkConfig, SourceConfig
from watcher.errors import StoreError
from watcher.infra.clock import Clock
from watcher.infra.ratelimit import Buckets
from watcher.providers import provider_class
from watcher.providers.protocol import ProviderContext
from watcher.runtime.claim import Claim
from watcher.runtime.delivery import SinkRunner
from watcher.runtime.heartbeats import Heartbeats
from watcher.runtime.poller import Poller, SourceState
from watcher.runtime.push import PushDesk
from watcher.runtime.reader import JournalReader
from watcher.runtime.reminders import Reminders
from watcher.runtime.rules import READER as RULES
from watcher.runtime.rules import RuleEngine
from watcher.runtime.silencing import Silencer
from watcher.runtime.worker import Worker, stop_worker
from watcher.sinks import sink_class
from watcher.sinks.base import SinkContext
from watcher.state.journal import Journal
from watcher.state.store import SourceRow, Store

log = structlog.get_logger("watcher.daemon")

#: the leases of the journal readers that write back, one replica running each
READERS = ("reader:rules", "reader:reminders")

class Workers:
    """The pollers and sink runners of one daemon, and the run state they share."""

    def __init__(self, config: Config, store: Store, journal: Journal, *,
                 rows: dict[str, SourceRow], clock: Clock,
                 stdout: IO[bytes] | None = None, replica: str | None = None) -> None:
        self.config = config
        self.store = store
        self.journal = journal
        self.clock = clock
        #: the rate-limit buckets every provider and sink of this daemon shares
        self.buckets = Buckets(clock=clock)
        self.stdout = stdout
        self.session: aiohttp.ClientSession | None = None
        self.tg: TaskGroup | None = None
        #: source name -> its runs in memory; kept while its poller is replaced
        self.states: dict[str, SourceState] = {}
        self.pollers: dict[str, Worker[Poller]] = {}
        self.runners: dict[str, Worker[SinkRunner]] = {}
        self.silencer = Silencer(store, config.silences, config.inhibit, clock=clock,
                                 retention=config.watcher.retention)
        #: the reminder stream, for the sinks' ``repeat_interval``
        self.reminders = Reminders(
            journal, clock=clock,
            intervals=lambda: {s.repeat_interval for s in self.config.sinks
                               if s.repeat_interval is not None},
            sources=lambda: {s.name for s in self.config.sources})
        #: the journal readers that write back, by lease (``READERS``)
        self.readers: dict[str, Worker[JournalReader]] = {}
        self._rows = rows
        #: this replica's id among several; None: the only process, holding every lease
        self.replica = replica
        #: the leases this replica holds (kept by :mod:`watcher.runtime.leases`)
        self.claims: dict[str, Claim] = {}
        self.heartbeats = Heartbeats(self, clock=clock)
        self.push = PushDesk()  # the sources' push counters, and their pollers' bells

    def leased(self, lease: str) -> bool:
        """Whether this replica may run the worker of ``lease`` now."""
        return self.replica is None or lease in self.claims

    def local(self, cfg: SinkConfig) -> bool:
        """Every replica delivers this sink (no lease), from a cursor of its own."""
        return self.replica is None or sink_class(cfg.type).local

    def consumer(self, cfg: SinkConfig) -> str:
        """The sink's cursor in the journal: ``<sink>@<replica>`` for a local sink of
        one replica among several, else the sink's name."""
        if self.replica is not None and self.local(cfg):
            return f"{cfg.name}@{self.replica}"
        return cfg.name

    def store_failing(self) -> str | None:
        """Why writes to the state file are failing, whatever the cause (a full disk,
        an I/O error, another writer), or None: the last write failed, or a source's
        last cycle could not be saved and none of its cycles has been since."""
        if self.store.write_error:
            return self.store.write_error
        if any(w.obj.store_failing for w in self.pollers.values()):
            return self.store.last_write_error or "a poll cycle could not be saved"
        return None

    def reader_errors(self) -> dict[str, int]:
        """The internal errors of the journal readers and heartbeats, by task (``/metrics``)."""
        rules = self.readers.get(READERS[0])
        return {"rules": rules.obj.boundary.errors if rules else 0,
                "reminders": self.reminders.boundary.errors, **self.heartbeats.errors()}

    # -- sources -----------------------------------------------------------------------

    def make_poller(self, cfg: SourceConfig, claim: Claim | None = None,
                    phase: float | None = None) -> Poller:
        assert self.session is not None
        cls = provider_class(cfg.provider)
        state = self.states.get(cfg.name)
        if state is None:
            state = self.states[cfg.name] = SourceState(self._rows.pop(cfg.name, None))
        provider = cls(cfg, ProviderContext(self.session, self.clock, self.buckets))
        return Poller(cfg, provider, state, self.journal,
                      retention=self.config.watcher.retention,
                      emit_baseline=self.config.watcher.baseline == "emit", clock=self.clock,
                      claim=claim, phase=phase, push=self.push)

    def start_source(self, cfg: SourceConfig, *, claim: Claim | None = None,
                     row: SourceRow | None = None, phase: float | None = None) -> None:
        """Start polling ``cfg``; ``row``: its state as just loaded from the store (a
        lease taken over: memory of an earlier holding is stale)."""
        if row is not None:
            self.states[cfg.name] = SourceState(row)
        poller = self.make_poller(cfg, claim, phase)
        self.pollers[cfg.name] = Worker(poller, clock=self.clock).start(self.tg)

    async def stop_source(self, name: str, *, forget: bool = False) -> None:
        """Stop a source's poller; with ``forget`` its runs are dropped too (in memory, and
        from the store when another API replaces it: its runs are not these runs)."""
        if await stop_worker(self.pollers, name) is not None:
            self.buckets.leave(name)  # its account's bucket runs at the other sources' limits
        if forget:
            self.states.pop(name, None)

    async def forget_stored(self, name: str) -> None:
        try:
            await self.store.forget_source(name)
        except StoreError as e:
            log.error("could not forget the replaced source's runs", source=name, error=str(e))

    # -- sinks ---------------------------------------------------------------------------

    def make_runner(self, cfg: SinkConfig, claim: Claim | None = None) -> SinkRunner:
        cls = sink_class(cfg.type)
        ctx = SinkContext(stdout=self.stdout, clock=self.clock, buckets=self.buckets)
        return SinkRunner(cls(cfg, ctx), cfg, self.journal, clock=self.clock, claim=claim,
                          consumer=self.consumer(cfg), silencer=self.silencer)

    def make_engine(self, claim: Claim | None = None) -> RuleEngine:
        """The rule engine, counting what each episode held for its recovery (``[[inhibit]]``)."""
        return RuleEngine(self.config.rules, self.journal, clock=self.clock, claim=claim,
                          inhibit=self.config.inhibit)

    async def start_sink(self, cfg: SinkConfig, *, claim: Claim | None = None) -> None:
        """Start delivering ``cfg``; under a ``claim`` from the cursor as stored (another
        replica may have moved it)."""
        runner = self.make_runner(cfg, claim)
        try:
            await runner.take_up()
        except StoreError as e:
            log.error("could not save a new sink's cursor; it starts anyway", sink=cfg.name,
                      error=str(e))
        self.runners[cfg.name] = Worker(runner, clock=self.clock).start(self.tg)

    async def stop_sink(self, name: str, *, detach: bool = False) -> None:
        """Stop a sink's runner and close the sink; with ``detach`` drop its cursor too."""
        worker = await stop_worker(self.runners, name)
        if worker is None:
            return
        await worker.obj.close()
        if detach:
            try:
                await self.journal.detach(worker.obj.consumer)
            except StoreError as e:  # its cursor stays on file until the next restart
                log.error("could not drop a removed sink's cursor", sink=name, error=str(e))

    # -- journal readers that write back -------------------------------------------------

    async def start_reader(self, lease: str, *, claim: Claim | None = None) -> None:
        """Start the journal reader of ``lease`` (``READERS``): the rule engine, if there are
        rules or an earlier engine's cursor (its open episodes end once the rules are
        gone), or the reminder stream; under a ``claim`` from its cursor and what it keeps
        beside it as stored (another replica may have moved them)."""
        rules = lease == READERS[0]
        reader: JournalReader = self.make_engine(claim) if rules else self.reminders
        try:
            if claim is not None:
                await self.journal.refresh(reader.consumer)
            if rules and not self.config.rules and RULES not in self.journal.cursors:
                return
            if rules:
                await self.journal.attach(RULES)  # before any event, so none is skipped
        except StoreError as e:
            log.error("could not read or save a journal reader's cursor; it starts anyway",
                      reader=lease, error=str(e))
        if not rules:
            reader.claim = claim
            if claim is not None:
                self.reminders.unload()  # its start reads them as stored
        self.readers[lease] = Worker(reader, clock=self.clock).start(self.tg)

    async def stop_reader(self, lease: str) -> None:
        worker = await stop_worker(self.readers, lease)
        if worker is not None and worker.obj is self.reminders:
            self.reminders.unload()  # taken up again from the store if it comes back

    # -- reload --------------------------------------------------------------------------

    async def apply(self, new: Config) -> None:
        """Bring the workers in line with ``new``: only what changed is touched."""
        old, self.config = self.config, new
        self.silencer.set_windows(new.silences, new.inhibit)
        await self._apply_sources({s.name: s for s in old.sources},
                                  {s.name: s for s in new.sources})
        await self._apply_sinks({s.name: s for s in old.sinks}, {s.name: s for s in new.sinks})
        await self.heartbeats.apply(old.heartbeats, new.heartbeats)
        if (old.rules, old.inhibit) != (new.rules, new.inhibit):
            await self.stop_reader(READERS[0])
            if self.leased(READERS[0]):  # else the replica holding the lease restarts it
                await self.start_reader(READERS[0], claim=self.claims.get(READERS[0]))
            log.info("rules changed", rules=len(new.rules))

    async def _apply_sources(self, old: Mapping[str, SourceConfig],
                             new: Mapping[str, SourceConfig]) -> None:
        for name in old.keys() - new.keys():
            await self.stop_source(name, forget=True)
            log.info("source removed", source=name)
        for name, cfg in new.items():
            before = old.get(name)
            if before == cfg:
                continue
            if before is not None:
                elsewhere = (before.provider, before.base_url) != (cfg.provider, cfg.base_url)
                await self.stop_source(name, forget=elsewhere)
                if elsewhere and self.leased(f"source:{name}"):
                    await self.forget_stored(name)
            if self.leased(f"source:{name}"):  # else the lease keeper starts it if it may
                self.start_source(cfg, claim=self.claims.get(f"source:{name}"))
            log.info("source changed" if before else "source added", source=name)

    async def _apply_sinks(self, old: Mapping[str, SinkConfig],
                           new: Mapping[str, SinkConfig]) -> None:
        for name in old.keys() - new.keys():
            await self.stop_sink(name, detach=True)
            log.info("sink removed", sink=name)
        for name, cfg in new.items():
            if old.get(name) == cfg:
                if name in self.runners:  # else another replica delivers it
                    self.runners[name].obj.reopen()
                continue
            await self.stop_sink(name)
            if self.local(cfg) or self.leased(f"sink:{name}"):
                await self.start_sink(cfg, claim=self.claims.get(f"sink:{name}"))
            log.info("sink changed" if name in old else "sink added", sink=name)

