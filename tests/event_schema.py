"""Every event a test sees is held to the shipped schema (``watcher schema``).

The shared readers call in here: the journal of every in-process daemon (a
fixture in ``tests/conftest.py``), the stdout of daemon subprocesses and CLI
runs, the loopback receiver's CloudEvents bodies and the file sink readers.
Readers that run beside the test (the journal inside a daemon's loop, a
subprocess's stdout pump, a receiver's loop) cannot fail the test themselves
and must not be slowed (jsonschema takes a millisecond or two an event: a
slow pump would fill a daemon's stdout pipe and stall it): they
:func:`note_body` what they saw, and the fixture validates it at the test's
end and fails the test with what is wrong.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson
from jsonschema import Draft202012Validator, FormatChecker

from watcher.event_schema import event_types, schema, type_schema

VALIDATOR = Draft202012Validator(schema(), format_checker=FormatChecker())
#: each type's own schema: a third faster than the whole one's if/then chain
_BY_TYPE = {t: Draft202012Validator(type_schema(t) or {}, format_checker=FormatChecker())
            for t in event_types()}

#: a run.status_changed as the README and docs/events.md show it, for tests that need an
#: event without a daemon
EXAMPLE: dict[str, Any] = {
    "specversion": "1.0", "id": "9f0c5d2e4b7a1c3e", "source": "/watcher/sources/extend-prod",
    "type": "watcher.run.status_changed", "subject": "workflow_run_xKm9pNv3qWsY",
    "time": "2026-11-22T14:03:00.123Z", "datacontenttype": "application/json",
    "data": {"source": "extend-prod", "provider": "extend",
             "run_id": "workflow_run_xKm9pNv3qWsY", "workflow_id": "workflow_BMdfq_yWM3sT",
             "workflow_name": "Invoice Processing", "status": "failed",
             "previous_status": "running", "raw_status": "FAILED",
             "previous_raw_status": "PROCESSING", "terminal": True,
             "created_at": "2026-11-22T13:58:10Z", "updated_at": "2026-11-22T14:02:51Z",
             "url": "https://dashboard.extend.ai/workflows/workflow_run_xKm9pNv3qWsY",
             "error": "The document could not be processed", "run": {}}}

_lock = threading.Lock()
#: bodies seen beside the test, to check at its end
_pending: list[tuple[bytes, str]] = []
#: bodies found valid during this test (a file is read again and again while a test
#: waits on it; an event journaled is often received too)
_valid: set[bytes] = set()


def event_errors(obj: Any) -> list[str]:
    """What is wrong with ``obj`` as an event (empty: it holds the schema)."""
    kind = obj.get("type") if isinstance(obj, dict) else None
    validator = _BY_TYPE.get(kind, VALIDATOR) if isinstance(kind, str) else VALIDATOR
    return [f"{'/'.join(map(str, e.absolute_path)) or '(event)'}: {e.message}"
            for e in validator.iter_errors(obj)]


def assert_valid_event(obj: Any) -> None:
    """AssertionError naming every way ``obj`` breaks the schema."""
    errors = event_errors(obj)
    assert not errors, f"event breaks the schema: {errors}\n{_short(obj)}"


def note_body(body: bytes, where: str) -> None:
    """For readers beside the test: check ``body`` at its end (:func:`take_violations`)."""
    with _lock:
        _pending.append((body, where))


def take_violations() -> list[str]:
    """What the bodies noted since the last call break (not JSON at all, too); start
    afresh."""
    with _lock:
        pending = list(_pending)
        _pending.clear()
    wrong = []
    for body, where in pending:
        if body in _valid:
            continue
        try:
            obj = orjson.loads(body)
        except orjson.JSONDecodeError:
            wrong.append(f"{where}: not JSON: {body[:200]!r}")
            continue
        errors = event_errors(obj)
        if errors:
            wrong.append(f"{where}: {errors}\n{_short(obj)}")
        else:
            _valid.add(body)
    _valid.clear()
    return wrong


def valid_events(lines: Iterable[bytes]) -> list[dict[str, Any]]:
    """JSON lines parsed, each asserted to be an event of the schema (blank lines skipped)."""
    out = []
    for line in lines:
        if line.strip():
            obj = orjson.loads(line)
            if line not in _valid:
                assert_valid_event(obj)
                _valid.add(line)
            out.append(obj)
    return out


def read_events(path: Path) -> list[dict[str, Any]]:
    """A file sink's events (a JSON line each), each asserted to hold the schema."""
    return valid_events(path.read_bytes().splitlines())


def _short(obj: Any) -> str:
    text = repr(obj)
    return text if len(text) <= 2000 else text[:2000] + "…"
