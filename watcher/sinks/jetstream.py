"""The JetStream stream a NATS sink publishes to: found, checked against the subjects the
sink's template gives, or created when the config allows it.

A stream that shares no subject with the template is an error (every publish
would find no stream); one that holds only some of them is accepted with a
warning, since a sink whose ``match`` keeps to one source may rightly use a
stream of that source's subjects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import nats.errors
import nats.js.errors
import structlog
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig, StreamInfo

from watcher.config.units import format_duration
from watcher.errors import Retryable
from watcher.sinks.bus import Route, matches, overlaps

#: the shortest duplicate window that covers a restart after a crash
MIN_WINDOW = 600.0


@dataclass
class Stream:
    """One sink's stream: ``name``, the sink's subject ``template``."""

    name: str
    template: Route
    window: float
    scrub: Callable[[str], str]
    log: structlog.typing.FilteringBoundLogger

    async def check(self, js: JetStreamContext, *, create: bool) -> StreamInfo:
        """The stream, created if allowed; Retryable when it is absent or cannot hold
        the subjects."""
        try:
            info = await js.stream_info(self.name)
        except nats.js.errors.NotFoundError:
            if not create:
                raise Retryable(f"stream {self.name} does not exist: create it holding "
                                f"{self.template.stream_subjects() or self.template.text}, "
                                "or set create_stream = true") from None
            info = await self._create(js)
        except (nats.errors.Error, OSError) as e:
            raise Retryable(self.scrub(f"cannot read stream {self.name}: {e}")) from None
        subjects = info.config.subjects or []
        wanted = self.template.patterns()
        if not any(overlaps(f, p) for f in subjects for p in wanted):
            raise Retryable(f"stream {self.name} holds {', '.join(subjects) or 'no subjects'}, "
                            f"none of {', '.join(wanted)}")
        missing = [p for p in wanted if not any(matches(f, p) for f in subjects)]
        if missing:
            self.log.warning("the stream may not hold every subject; an event on one it "
                             "does not is retried until it does", stream=self.name,
                             missing=missing)
        return info

    async def _create(self, js: JetStreamContext) -> StreamInfo:
        subjects = self.template.stream_subjects()
        assert subjects is not None  # the options refuse create_stream otherwise
        config = StreamConfig(name=self.name, subjects=[subjects], storage=StorageType.FILE,
                              duplicate_window=self.window)
        try:
            info = await js.add_stream(config)
        except (nats.errors.Error, OSError) as e:
            raise Retryable(self.scrub(f"cannot create stream {self.name}: {e}")) from None
        self.log.info("created the stream", stream=self.name, subjects=subjects,
                      dedupe_window=format_duration(self.window))
        return info


def describe(info: StreamInfo) -> str:
    """One line for ``watcher check --connect``."""
    window = info.config.duplicate_window or 0.0
    note = "" if window >= MIN_WINDOW else \
        f" (under {format_duration(MIN_WINDOW)}: a replay after a crash may get through)"
    return (f"stream {info.config.name} holds {', '.join(info.config.subjects or [])}, "
            f"{info.state.messages} messages, duplicate window {format_duration(window)}"
            f"{note}")
