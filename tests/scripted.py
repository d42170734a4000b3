"""Plugins written for tests of policy rather than of a vendor: a provider and a sink that
do what the test scripts, on the injected clock, so cadence, backoff, retries and health
run in virtual time with no real wait.

Both are plugins through the public protocols only (no watcher base class: the
provider takes the daemon's clock from its context, as documented), registered by
name with :func:`register` the way any plugin is found.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any, ClassVar

import pytest

from watcher import NoOptions, PollResult, PollView, ProviderContext, Rejected, SinkContext
from watcher.config.settings import SinkConfig, SourceConfig
from watcher.model import JournalEntry, Observation, RunDetails, Status
from watcher.providers import PROVIDERS
from watcher.sinks import SINKS


class ScriptedProvider:
    """A vendor whose runs are ``runs`` (id -> canonical status value).

    Each poll takes ``takes`` seconds of the clock, then raises the next queued
    ``answers`` item if there is one (``None`` answers normally), else ``fails_with``
    while it is set.  With ``feed_first`` a failing poll hands its observations to
    the diff before raising, as a provider failing half-way through its pages does.
    """

    kind: ClassVar[str] = "scripted"
    default_base_url: ClassVar[str] = "http://127.0.0.1:9"
    Options = NoOptions

    def __init__(self, source: SourceConfig, context: ProviderContext) -> None:
        self.source = source
        self.clock = context.clock
        self.runs: dict[str, str] = {}
        self.answers: deque[BaseException | None] = deque()
        self.fails_with: BaseException | None = None
        self.feed_first = False
        self.takes = 0.0
        #: the clock's monotonic time at the start of each poll
        self.started: list[float] = []
        self.requests = 0

    async def poll(self, view: PollView) -> PollResult:
        self.started.append(self.clock.monotonic())
        self.requests += 1
        if self.takes:
            await self.clock.sleep(self.takes)
        observations: list[Observation] = [(rid, st, Status(st), None, {"id": rid, "status": st})
                                           for rid, st in self.runs.items()]
        error = self.answers.popleft() if self.answers else self.fails_with
        if error is not None:
            if self.feed_first:
                view.feed(observations)
            raise error
        return PollResult(observations, {})

    def describe(self, item: Any) -> RunDetails:
        return RunDetails(workflow_name="Scripted", run=item)


class ScriptedSink:
    """Records each batch handed to it with the clock's time; ``fails_with`` (while set)
    is raised instead, ``answer`` (while set) is returned instead of ``()``."""

    kind: ClassVar[str] = "scripted"
    Options = NoOptions

    def __init__(self, config: SinkConfig, context: SinkContext) -> None:
        self.clock = context.clock
        self.fails_with: BaseException | None = None
        self.answer: Any = None
        #: ``(monotonic time, sequence numbers)`` of every call, failed or not
        self.calls: list[tuple[float, list[int]]] = []
        #: sequence numbers delivered, in order
        self.delivered: list[int] = []
        #: raised by ``open`` (while set), as a server that is down at start
        self.open_fails_with: BaseException | None = None
        #: monotonic time of every ``open`` call
        self.opens: list[float] = []

    async def open(self) -> None:
        self.opens.append(self.clock.monotonic())
        if self.open_fails_with is not None:
            raise self.open_fails_with

    async def deliver(self, batch: Sequence[JournalEntry]) -> Sequence[Rejected]:
        seqs = [e.seq for e in batch]
        self.calls.append((self.clock.monotonic(), seqs))
        if self.fails_with is not None:
            raise self.fails_with
        if self.answer is not None:
            return self.answer  # type: ignore[no-any-return]
        self.delivered += seqs
        return ()


def register(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``provider = "scripted"`` and ``type = "scripted"`` known, for this test."""
    monkeypatch.setitem(PROVIDERS.builtin, "scripted", f"{__name__}:ScriptedProvider")
    monkeypatch.setitem(SINKS.builtin, "scripted", f"{__name__}:ScriptedSink")
