"""Learning that another replica journaled: ``LISTEN``, with reading the head as a fallback.

Each commit that journals notifies the store's channel with the new head (at
commit), and a replica giving leases back notifies ``leases``, so a rolling
restart hands over at once.  A replica listens on a dedicated connection (a session: ``LISTEN``
does not survive PgBouncer in transaction mode, hence ``listen_url``) and
also reads the head now and then, so a notification lost while that
connection was down costs a few seconds, never an event: every few seconds
while listening, every second without.  Nothing here is needed for
correctness; it only wakes the sink runners and ``/events`` of this replica.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import asyncpg
import structlog

from watcher.infra.clock import Clock, move_on_after
from watcher.infra.secrets import Masker, masked_url, password_of
from watcher.state.inbox import NOTIFY
from watcher.state.postgres import journal
from watcher.state.postgres.connection import CONNECT_TIMEOUT, ERRORS, Database

log = structlog.get_logger("watcher.state")

#: how often the head is read while LISTEN works, and while it does not
CHECK_LISTENING, CHECK_POLLING = 5.0, 1.0
#: the wait before connecting the listener again
RECONNECT = 2.0
#: the payload saying a replica gave leases back (others take them without waiting)
LEASES = "leases"


class Follower:
    def __init__(self, db: Database, listen_url: str | None, channel: str) -> None:
        self._db = db
        self._url = listen_url
        self._channel = channel
        self._listening = False
        self._checked = anyio.Event()

    async def run(self, on_head: Callable[[int], None], on_leases: Callable[[], None], *,
                  clock: Clock, on_push: Callable[[str], None]) -> None:
        """:meth:`~watcher.state.cluster.Cluster.follow`, forever."""
        async with anyio.create_task_group() as tg:
            if self._url:
                tg.start_soon(self._listen, self._url, on_head, on_leases, clock, on_push)
            await self._poll(on_head, clock)

    async def _poll(self, on_head: Callable[[int], None], clock: Clock) -> None:
        while True:
            try:
                on_head(await self._db.read(journal.head))
            except Exception as e:  # the store's own callers report it; the next check retries
                log.debug("journal head check failed", error=str(e))
            with move_on_after(clock, CHECK_LISTENING if self._listening else CHECK_POLLING):
                await self._checked.wait()
            self._checked = anyio.Event()

    async def _listen(self, url: str, on_head: Callable[[int], None],
                      on_leases: Callable[[], None], clock: Clock,
                      on_push: Callable[[str], None]) -> None:
        while True:
            try:
                await self._session(url, on_head, on_leases, on_push)
            except (*ERRORS, ValueError) as e:
                if self._listening:
                    log.warning("LISTEN connection lost; reading the journal head every "
                                "second until it is back", url=masked_url(url),
                                error=Masker([password_of(url)]).redact(str(e)))
            self._listening = False
            await clock.sleep(RECONNECT)

    async def _session(self, url: str, on_head: Callable[[int], None],
                       on_leases: Callable[[], None], on_push: Callable[[str], None]
                       ) -> None:
        """One listening connection, until the server drops it."""
        gone = anyio.Event()

        def notified(_c: Any, _pid: int, _channel: str, payload: object) -> None:
            if isinstance(payload, str) and payload.isdigit():
                on_head(int(payload))
            elif payload == LEASES:
                on_leases()
            elif isinstance(payload, str) and payload.startswith(NOTIFY):
                on_push(payload[len(NOTIFY):])

        conn = await asyncpg.connect(url, timeout=CONNECT_TIMEOUT,
                                     server_settings=self._db.settings)
        try:
            conn.add_termination_listener(lambda _c: gone.set())
            await conn.add_listener(self._channel, notified)
            self._listening = True
            self._checked.set()  # what was missed while not listening: read the head now
            await gone.wait()
        finally:
            with anyio.CancelScope(shield=True):
                try:
                    await conn.close(timeout=1.0)
                except ERRORS:
                    conn.terminate()
