"""One supervised task of the daemon with its own cancel scope, so it can be stopped alone.

A worker runs a poller, a sink runner, a journal reader or a heartbeat's pinger:
anything with a ``run``, a ``boundary`` (where its errors are counted) and a ``claim``
(its lease with several replicas).  Under a claim its cancel scope ends at the claim's
deadline, so a replica that could not renew stops on its own clock.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Generic, Protocol, TypeVar

import anyio
from anyio.abc import TaskGroup

from watcher.infra import permit
from watcher.infra.clock import Clock
from watcher.runtime.claim import Claim
from watcher.runtime.supervisor import Boundary, supervise


class Job(Protocol):
    @property
    def boundary(self) -> Boundary: ...
    @property
    def claim(self) -> Claim | None: ...
    async def run(self) -> None: ...


W = TypeVar("W", bound=Job)


class Worker(Generic[W]):
    def __init__(self, obj: W, *, clock: Clock) -> None:
        self.obj: W = obj
        self.clock = clock
        self.scope = anyio.CancelScope()
        self.done = anyio.Event()

    def bound(self, claim: Claim) -> None:
        """End the worker when ``claim`` runs out (moved on at each renewal)."""
        self.clock.cancel_at(self.scope, self.clock.monotonic() + claim.remaining())

    def start(self, tg: TaskGroup | None) -> Worker[W]:
        """Run the object's ``run`` in ``tg``; the worker itself, started."""
        assert tg is not None
        boundary: Boundary = self.obj.boundary
        if self.obj.claim is not None:
            self.bound(self.obj.claim)

        async def body() -> None:
            permit.enter(self.obj.claim)  # its HTTP requests check the lease first
            try:
                with self.scope:
                    await supervise(boundary, self.obj.run, clock=self.clock)
            finally:
                self.done.set()
        tg.start_soon(body)
        return self

    async def stop(self) -> None:
        self.scope.cancel()
        await self.done.wait()


async def stop_worker(workers: MutableMapping[str, Worker[W]], name: str) -> Worker[W] | None:
    """Stop and drop the worker of ``name`` (if it runs); the worker stopped."""
    worker = workers.pop(name, None)
    if worker is not None:
        await worker.stop()
    return worker
