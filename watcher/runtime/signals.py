"""Signals: SIGTERM/SIGINT ask for a stop (a second one hurries it), SIGHUP reloads.

A stop is asked once; the daemon then drains its sinks within a deadline
(:meth:`Stop.draining`), which a second stop signal cuts short.  A SIGHUP while stopping
is ignored: a reload then would start sources and sinks in the middle of the drain.  A
reload that raises is reported to the signal task's boundary.  A signal that arrives
while the daemon starts (a slow state store, logrotate's timing, a supervisor stopping
a daemon that just said it runs) would end the process by default: :func:`hold` keeps
it for :func:`follow`, which acts on it once it runs (a SIGHUP reloads: the config may
have changed since it was read).
"""

from __future__ import annotations

import signal
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

import anyio
import structlog

from watcher.infra.clock import Clock, move_on_after

log = structlog.get_logger("watcher.daemon")

#: signals that came before :func:`follow` took them over
_early: list[int] = []


def hold(*sigs: int) -> None:
    """Until :func:`follow` runs, keep these signals (default SIGHUP) for it rather than
    let them end the process."""
    for sig in sigs or (signal.SIGHUP,):
        signal.signal(sig, lambda got, frame: _early.append(got))


class Stop:
    """A stop asked for, and whether the drain that follows must hurry."""

    def __init__(self, *, clock: Clock) -> None:
        self.clock = clock
        self.asked = anyio.Event()
        #: a second stop signal came: do not wait for sinks any longer
        self.hurry = False
        self._drain: anyio.CancelScope | None = None

    @contextmanager
    def draining(self, deadline: float) -> Iterator[anyio.CancelScope]:
        """The scope of the wait for sinks: ``deadline`` seconds, none once hurried."""
        with move_on_after(self.clock, 0 if self.hurry else deadline) as drain:
            self._drain = drain
            yield drain

    def hurry_up(self) -> None:
        self.hurry = True
        if self._drain is not None:
            self._drain.cancel()


async def follow(stop: Stop, reload: Callable[[], Awaitable[None]], *,
                 on_error: Callable[[Exception], object]) -> None:
    async def reloading() -> None:
        if stop.asked.is_set():
            log.info("reload ignored: the daemon is stopping", signal="SIGHUP")
            return
        try:
            await reload()
        except Exception as e:  # half applied at worst; the next reload retries
            on_error(e)

    def stopping(sig: int) -> None:
        if not stop.asked.is_set():
            log.info("stop requested", signal=signal.Signals(sig).name)
            stop.asked.set()
        else:
            log.warning("second stop signal: not waiting for sinks any longer")
            stop.hurry_up()

    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as sigs:
        early, _early[:] = list(_early), []
        for sig in early:
            if sig != signal.SIGHUP:
                stopping(sig)
        if signal.SIGHUP in early:
            log.info("reload asked while starting", signal="SIGHUP")
            await reloading()
        async for sig in sigs:
            if sig == signal.SIGHUP:
                await reloading()
            else:
                stopping(sig)
