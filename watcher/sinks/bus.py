"""What the event-bus sinks (NATS JetStream, Redis Streams) share: where an event goes, and
:class:`BusSink`.

A NATS subject or a Redis stream key is rendered from a template with the
placeholders ``{source}``, ``{provider}``, ``{type}``, ``{status}`` and
``{workflow_id}``.  ``{type}`` is the short type (``run.status_changed``), one of
watcher's own names: its dot separates two subject tokens, so a consumer can
subscribe to ``watcher.*.run.>``.  Every other value comes from outside (a
source's name, a vendor's workflow id) and is escaped so that it is exactly one
subject token whatever it holds, and can never send an event elsewhere:

* ASCII letters, digits, ``-`` and ``_`` are kept;
* every other character is written ``%XX`` per byte of its UTF-8 form: ``.`` is
  ``%2E``, a space ``%20``, ``*`` ``%2A``, ``>`` ``%3E``, ``é`` ``%C3%A9``, and ``%``
  itself ``%25``, so the escape can be undone;
* an absent or empty value (a source event has no status) is ``~``, which no
  escaped value can be.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

import orjson
import structlog

from watcher.config.schema import secrets_of
from watcher.core.events import EVENT_TYPES
from watcher.core.status import BusStats
from watcher.errors import Retryable
from watcher.infra.secrets import Masker
from watcher.model import JournalEntry
from watcher.sinks.base import BaseSink, OptionsT, SinkContext
from watcher.sinks.templates import Template, TemplateError

if TYPE_CHECKING:
    from watcher.config.settings import SinkConfig

PLACEHOLDERS = ("source", "provider", "type", "status", "workflow_id")
ABSENT = "~"
_PLAIN = re.compile(r"[A-Za-z0-9_-]+")
#: stands for "any value" when a template is turned into a subject pattern
_ANY = "\0"


@lru_cache(maxsize=4096)
def escape(value: str | None) -> str:
    """One subject token for ``value`` (see the module docstring)."""
    if not value:
        return ABSENT
    if _PLAIN.fullmatch(value):
        return value
    return "".join(c if _PLAIN.fullmatch(c) else
                   "".join(f"%{b:02X}" for b in c.encode("utf-8", "surrogatepass"))
                   for c in value)


@lru_cache(maxsize=64)
def short_type(full: str) -> str:
    """``watcher.run.created`` -> ``run.created``, each part escaped (a type added later
    by a plugin cannot break out of its tokens either)."""
    return ".".join(escape(p) for p in full.removeprefix("watcher.").split("."))


def check_template(value: str) -> str | None:
    """What is wrong with a template's placeholders, or ``None``."""
    if not value:
        return "must not be empty"
    try:
        Template(value, words=PLACEHOLDERS)
    except TemplateError as e:
        return str(e)
    return None


def check_subject(value: str) -> str | None:
    """A subject template: valid placeholders, and literal text that is valid subject
    tokens (no empty token, no whitespace, no wildcard)."""
    why = check_template(value)
    if why:
        return why
    literal = "".join(p if isinstance(p, str) else "x"
                      for p in Template(value, words=PLACEHOLDERS).parts)
    if any(not token for token in literal.split(".")):
        return "has an empty subject token (a leading, trailing or double dot)"
    if re.search(r"[\s*>]", literal):
        return "must not hold whitespace or the wildcards * and >"
    return None


class Route(Template):
    """A subject or key :class:`~watcher.sinks.templates.Template` of the
    :data:`PLACEHOLDERS`, rendered from a journal entry with escaped values."""

    __slots__ = ("_needs_provider", "_seen", "fixed")

    def __init__(self, text: str) -> None:
        super().__init__(text, words=PLACEHOLDERS)
        self.fixed = all(isinstance(p, str) for p in self.parts)
        self._needs_provider = ("provider",) in self.parts
        #: rendered subjects by their inputs: a batch's events mostly share them
        self._seen: dict[tuple[str, str, str | None, str | None], str] = {}

    def route(self, e: JournalEntry) -> str:
        if self.fixed:
            return self.text
        if self._needs_provider:
            return self._route(e)
        key = (e.source, e.type, e.status, e.workflow_id)
        out = self._seen.get(key)
        if out is None:
            if len(self._seen) >= 4096:  # bounded, whatever names a vendor invents
                self._seen.clear()
            out = self._seen[key] = self._route(e)
        return out

    def _route(self, e: JournalEntry) -> str:
        values = {"source": escape(e.source), "status": escape(e.status),
                  "workflow_id": escape(e.workflow_id), "type": short_type(e.type)}
        if self._needs_provider:  # not a journal column: read from the event itself
            values["provider"] = escape(event_field(e.body, "data", "provider"))
        return self.render({}, values)

    def patterns(self) -> list[str]:
        """The subjects this template can give, with ``*`` for any value: one pattern per
        known event type (a NATS stream must hold them)."""
        out: set[str] = set()
        for t in EVENT_TYPES:
            text = self.render({}, dict.fromkeys(PLACEHOLDERS, _ANY) | {"type": short_type(t)})
            out.add(".".join("*" if _ANY in token else token for token in text.split(".")))
        return sorted(out)

    def stream_subjects(self) -> str | None:
        """What a stream created for this template holds: its fixed leading tokens and
        ``>``; ``None`` when it starts with a placeholder (a stream on ``>`` would take
        every subject of the account, replies included)."""
        if self.fixed:
            return self.text
        tokens = self.text.split(".")
        first = next(i for i, t in enumerate(tokens) if "{" in t)
        return ".".join([*tokens[:first], ">"]) if first else None


def event_field(body: bytes, *path: str) -> str | None:
    """A string field of the event (``"data", "provider"``), else None."""
    try:
        value = orjson.loads(body)
        for key in path:
            value = value[key]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None
    return value if isinstance(value, str) else None


def matches(filter_: str, subject: str) -> bool:
    """Does every subject of ``subject`` (a pattern, ``*`` for any token) match
    ``filter_`` (a stream's subject filter)?"""
    f, s = filter_.split("."), subject.split(".")
    for i, token in enumerate(f):
        if token == ">":
            return len(s) > i
        if i >= len(s) or s[i] == ">" or (token != "*" and token != s[i]):
            return False
    return len(f) == len(s)


def overlaps(a: str, b: str) -> bool:
    """Can one subject match both patterns?"""
    x, y = a.split("."), b.split(".")
    for i in range(min(len(x), len(y))):
        if ">" in (x[i], y[i]):
            return True
        if "*" not in (x[i], y[i]) and x[i] != y[i]:
            return False
    return len(x) == len(y)


class BusSink(BaseSink[OptionsT]):
    """An event-bus sink: a complete record of the events like stdout and file (never
    silenced), its connection and publish timings in ``/metrics``, and its failures said
    with its secrets (a token, a URL's password) masked."""

    record = True
    bus: BusStats

    def __init__(self, config: SinkConfig, context: SinkContext) -> None:
        super().__init__(config, context)
        self.bus = BusStats()
        self.log = structlog.get_logger("watcher.sink").bind(sink=self.name)
        self.masker = Masker(secrets_of(self.options))

    def unavailable(self, what: str, e: object) -> Retryable:
        """``what`` failed for now (``e``, masked): the batch is retried."""
        return Retryable(self.masker.redact(f"{what}: {str(e) or type(e).__name__}"))
