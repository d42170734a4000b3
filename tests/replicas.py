"""Several watcher replicas as real subprocesses on one PostgreSQL state, and what they did.

:class:`Cluster` starts and stops replicas (``r0``, ``r1`` ...) of one config
against the simulator (a background thread) and a webhook receiver, and
reads back what happened: each replica's leases from its logs, the requests
each made to the simulator (its User-Agent names the replica), the webhook
deliveries (an ``X-Replica`` header from ``${REPLICA}``) and the journal in
the database.  The checks are the invariants the README's "Running several
replicas" promises.
"""

from __future__ import annotations

import signal
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import anyio
import orjson

from tests.sinks.receiver import Receiver
from tests.support import DaemonProc, SimThread, sim_source, toml
from watcher.core.timestamps import parse_ts
from watcher.model import JournalEntry
from watcher.state.backends import open_store

VENDORS = ("extend", "noxus", "cortex", "knock")


@dataclass
class Holding:
    """A lease a replica held, from when to when (wall time; ``end`` None: still)."""

    lease: str
    start: float
    end: float | None = None


@dataclass
class Replica:
    name: str
    procs: list[DaemonProc] = field(default_factory=list)
    #: wall times a process of it ended without a word (kill -9)
    killed: list[float] = field(default_factory=list)

    @property
    def proc(self) -> DaemonProc:
        return self.procs[-1]

    def holdings(self) -> list[Holding]:
        """Every lease its processes held, from their logs."""
        out: list[Holding] = []
        for i, proc in enumerate(self.procs):
            open_: dict[str, Holding] = {}
            for line in proc.logs():
                ts = parse_ts(line.get("ts"))
                event = line.get("event")
                if ts is None:
                    continue
                if event == "leases taken":
                    for lease in line["leases"]:
                        open_[lease] = Holding(lease, ts)
                        out.append(open_[lease])
                elif event == "leases given back":
                    for lease in line["leases"]:
                        if lease in open_:
                            open_.pop(lease).end = ts
                elif event == "lease lost: stopped working on it" and line["lease"] in open_:
                    open_.pop(line["lease"]).end = ts
            end = self.killed[i] if i < len(self.killed) else None
            for h in open_.values():
                h.end = end
        return out


class Cluster:
    def __init__(self, tmp_path: Path, sim: SimThread, receiver: Receiver, state: str, *,
                 per_vendor: int = 2, ttl: float = 3.0, interval: float = 1.0,
                 vendors: tuple[str, ...] = VENDORS, read_url: str | None = None,
                 http: bool = False, extra: str = "") -> None:
        self.sim = sim
        self.receiver = receiver
        self.state = state
        #: where the test reads the state (the replicas' URL may go through a proxy)
        self.read_url = read_url or state
        self.ttl = ttl
        self.interval = interval
        self.replicas: dict[str, Replica] = {}
        self.sources = [sim_source(sim.url, sim.world, v, name=f"{v}-{i}",
                                   params={"tag": f"{v}-{i}"}, interval=f"{interval}s")
                        for v in vendors for i in range(per_vendor)]
        self.path = tmp_path / "watcher.toml"
        self.path.write_text(toml(
            {"state_path": state, "http_listen": "127.0.0.1:${PORT}" if http else "",
             "lease_ttl": f"{ttl}s", "replica": "${REPLICA}"},
            self.sources,
            [{"name": "out", "type": "stdout"},
             {"name": "hook", "type": "webhook", "url": receiver.url,
              "headers": {"X-Replica": "${REPLICA}"}}]) + extra)  # extra: more tables
        #: wall time minus the monotonic clock (receiver hits are stamped monotonic)
        self.offset = time.time() - time.monotonic()

    def start(self, name: str, *args: str, port: int = 0) -> DaemonProc:
        replica = self.replicas.setdefault(name, Replica(name))
        proc = DaemonProc(*(args or ("run",)), "-c", str(self.path),
                          env={"REPLICA": name, "PORT": str(port)})
        replica.procs.append(proc)
        return proc

    def kill(self, name: str) -> float:
        """kill -9; the wall time the signal went."""
        replica = self.replicas[name]
        at = time.time()
        replica.proc.kill()
        replica.killed.append(at)
        return at

    def signal(self, name: str, sig: int) -> float:
        at = time.time()
        self.replicas[name].proc.send(sig)
        return at

    def stop(self, name: str) -> int:
        """SIGTERM; the exit code (its stderr printed when it is not 0)."""
        replica = self.replicas[name]
        code = replica.proc.stop(signal.SIGTERM)
        replica.killed.append(time.time())  # its holdings end here at the latest
        if code != 0:
            print(f"{name} exited {code}:\n{replica.proc.err_text()[-6000:]}")
        return code

    def wait_baselined(self, timeout: float = 30.0) -> None:
        want = {s["name"] for s in self.sources}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = {line.get("source") for r in self.replicas.values() for p in r.procs
                    for line in p.logs() if line.get("event") == "baseline recorded"}
            if want <= done:
                return
            time.sleep(0.1)
        raise AssertionError(f"not every source baselined: {sorted(want - done)}")

    def wait_held(self, timeout: float = 30.0) -> None:
        """Until every source's lease is held by a running replica (by their logs)."""
        want = {f"source:{s['name']}" for s in self.sources}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            held = {h.lease for hs in self.holdings().values() for h in hs if h.end is None}
            if want <= held:
                return
            time.sleep(0.1)
        raise AssertionError(f"not every source's lease is held: {sorted(want - held)}")

    # -- what happened ---------------------------------------------------------------

    def journal(self) -> list[JournalEntry]:
        async def read() -> list[JournalEntry]:
            store = await open_store(self.read_url)
            try:
                return await store.read(0, 1_000_000)
            finally:
                await store.close()
        return anyio.run(read)

    def cursor(self, consumer: str) -> int:
        async def read() -> int:
            store = await open_store(self.read_url)
            try:
                return (await store.cursors()).get(consumer, 0)
            finally:
                await store.close()
        return anyio.run(read)

    def polls(self) -> dict[str, list[tuple[float, str]]]:
        """Source -> ``(wall time, replica)`` of each request it made, in order."""
        def read(w: Any) -> list[tuple[float, str, str]]:
            return [(r.time, r.query, r.agent) for r in w.requests]
        out: dict[str, list[tuple[float, str]]] = defaultdict(list)
        for at, query, agent in self.sim.call(read):
            tag = parse_qs(query).get("tag")
            if tag and "(replica " in agent:
                out[tag[0]].append((at, agent.split("(replica ", 1)[1].rstrip(")")))
        return out

    def deliveries(self) -> list[tuple[float, str, dict[str, Any]]]:
        """``(wall time, replica, event)`` of each webhook delivery, in order."""
        return [(h.at + self.offset, h.headers.get("X-Replica", "?"), orjson.loads(h.body))
                for h in list(self.receiver.hits)]

    def holdings(self) -> dict[str, list[Holding]]:
        return {name: r.holdings() for name, r in self.replicas.items()}
