"""Logging: structlog to stderr, JSON lines under systemd or off a TTY, console on a TTY.

Every line passes :class:`Redactor`, which replaces any configured secret
(tokens, webhook URLs, signing secrets) wherever it appears, as
:mod:`watcher.infra.secrets` masks it everywhere, so a secret cannot leak
through an error message that happens to quote it.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable, MutableMapping
from datetime import UTC, datetime
from typing import IO, Any, TextIO, cast

import orjson
import structlog

from watcher.infra.secrets import Masker

#: a standard-library record longer than this is cut (aiohttp quotes what a client sent)
STDLIB_MAX = 1000


class Redactor(Masker):
    """A structlog processor that masks secrets in every string value."""

    __slots__ = ()

    def __call__(self, _logger: Any, _name: str, event: MutableMapping[str, Any]
                 ) -> MutableMapping[str, Any]:
        if not self:
            return event
        for k, v in event.items():
            if isinstance(v, str):
                event[k] = self.redact(v)
            elif v is not None and not isinstance(v, int | float | bool):
                text = str(v)
                red = self.redact(text)
                if red != text:
                    event[k] = red
        return event


redactor = Redactor()


def wants_json(fmt: str, stream: IO[str]) -> bool:
    if fmt != "auto":
        return fmt == "json"
    return _is_journal(stream) or not stream.isatty()


def _is_journal(stream: IO[str]) -> bool:
    """Is ``stream`` the journal connection systemd made? ``JOURNAL_STREAM`` names it
    by ``device:inode``; a command run from a service's shell inherits the variable
    while its stderr may be a terminal, so the variable alone is not enough."""
    dev, _, ino = os.environ.get("JOURNAL_STREAM", "").partition(":")
    if not (dev.isdigit() and ino.isdigit()):
        return False
    try:
        st = os.fstat(stream.fileno())
    except (OSError, ValueError):  # no file behind it (a StringIO in tests)
        return True
    return (st.st_dev, st.st_ino) == (int(dev), int(ino))


def _json(obj: Any, **_: Any) -> str:
    return orjson.dumps(obj, default=str).decode()


def configure(*, level: str = "info", fmt: str = "auto", secrets: Iterable[str] = ()) -> None:
    out = sys.stderr
    redactor.update(secrets)
    as_json = wants_json(fmt, out)
    renderer: Any = (structlog.processors.JSONRenderer(serializer=_json) if as_json else
                     structlog.dev.ConsoleRenderer(colors=out.isatty()))
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True, key="ts"),
            *([structlog.processors.format_exc_info] if as_json else []),
            redactor,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]),
        logger_factory=structlog.PrintLoggerFactory(file=cast(TextIO, out)),
        cache_logger_on_first_use=False,
    )
    # aiohttp and asyncio log through the standard library: keep them on stderr, quiet.
    logging.basicConfig(level=logging.WARNING, stream=out, force=True)
    for handler in logging.getLogger().handlers:
        handler.setFormatter(_StdlibLine(as_json))


class _StdlibLine(logging.Formatter):
    """A standard-library record (aiohttp's, asyncio's) as one line, a JSON one when the
    logs are JSON, its secrets masked; an exception is said by its type and message, never
    as a traceback (a malformed request from anyone on the network logs one)."""

    def __init__(self, as_json: bool) -> None:
        super().__init__()
        self.as_json = as_json

    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            e = record.exc_info[1]
            text += f": {type(e).__name__}: {e}"
        text = redactor.redact(" ".join(text.split()))[:STDLIB_MAX]
        if not self.as_json:
            return f"{record.levelname} {record.name}: {text}"
        ts = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return _json({"logger": record.name, "event": text,
                      "level": record.levelname.lower(), "ts": ts})
