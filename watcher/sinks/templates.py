"""Message templates: an operator's wording over an event, with no code in it.

A template is text with placeholders naming fields of the event as it is
journaled (its CloudEvents JSON): ``{type}``, ``{time}``, ``{subject}``,
``{id}``, ``{data.workflow_name}``, ``{data.error}``, ``{data.url}``,
``{data.run.<vendor field>}`` ... plus the *words* a sink computes for its
messages (Slack: ``{emoji}``, ``{runs}``, ``{where}`` ...).  ``{{`` and ``}}``
are literal braces.

Safe by construction: a placeholder is a dotted path of names looked up in
the event's JSON mappings, nothing else.  No attribute access, no indexing, no
format specs or conversions (``{x:>10}``, ``{x!r}``, ``{x[0]}`` are refused),
so a template cannot reach anything but the event and cannot run code.  Each
placeholder is checked when the config is read against the fields the event
type has (``watcher.core.events.DATA_KEYS``), so a typo is a config error
naming the key, not an empty message at 3 a.m.  A field that is absent or
null in an event renders as nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from typing import Any

import orjson

from watcher.config.hints import hint
from watcher.config.kinds import At
from watcher.core.events import DATA_KEYS, EVENT_TYPES, full_type

#: the CloudEvent's own fields
ENVELOPE = ("specversion", "id", "source", "type", "subject", "time", "datacontenttype")
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")


class TemplateError(ValueError):
    """A template that cannot be used, and why; ``key``: the table key it was under."""

    def __init__(self, message: str, key: str = "") -> None:
        super().__init__(message)
        self.key = key


def fields_of(event_type: str) -> frozenset[str]:
    """The placeholders an event of this type offers (besides ``data.run.*``)."""
    data = DATA_KEYS.get(event_type, ())
    return frozenset((*ENVELOPE, "data", *(f"data.{k}" for k in data)))


class Template:
    """A checked template for events of one type (``event_type``; None: of ``words`` only,
    as a bus's subject or key is)."""

    __slots__ = ("parts", "text")

    def __init__(self, text: str, event_type: str | None = None, *,
                 words: Collection[str] = ()) -> None:
        self.text = text
        #: literal text (str) and placeholders (their path), in order
        self.parts: list[str | tuple[str, ...]] = []
        known = fields_of(event_type) if event_type else frozenset()
        pos = 0
        for m in _TOKEN.finditer(text):
            self._literal(text[pos:m.start()])
            pos = m.end()
            token = m.group(0)
            if token in ("{{", "}}"):
                self._literal(token[0])
            elif m.group(1) is None:
                raise TemplateError(f'a lone "{token}" (write {token * 2} for a brace)')
            else:
                self.parts.append(_placeholder(m.group(1), known, words))
        self._literal(text[pos:])

    def _literal(self, s: str) -> None:
        if s:
            self.parts.append(s)

    def render(self, event: Mapping[str, Any], words: Mapping[str, str] | None = None) -> str:
        out = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
            elif words is not None and len(part) == 1 and part[0] in words:
                out.append(words[part[0]])
            else:
                out.append(_show(_lookup(event, part)))
        return "".join(out)


def _placeholder(inner: str, known: frozenset[str], words: Collection[str]) -> tuple[str, ...]:
    name = inner.strip()
    if not _PATH.fullmatch(name):
        raise TemplateError(f"{{{inner}}}: a placeholder is a field name like {{type}} or "
                            "{data.workflow_name}; no format specs, conversions or indexing")
    if name in words or (known and (name in known or name.startswith("data.run."))):
        return tuple(name.split("."))
    if not known:
        raise TemplateError(f"unknown placeholder {{{name}}}{hint(name, list(words))} "
                            f"(known: {', '.join('{' + w + '}' for w in words)})")
    choices = sorted({*known, *words})
    raise TemplateError(f"{{{name}}} is no field of this event{hint(name, choices)} "
                        f"(fields: {', '.join(choices)}, data.run.<vendor field>)")


def _lookup(event: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = event
    for name in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(name)
    return value


def _show(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return orjson.dumps(value).decode()


def compile_templates(table: Mapping[str, str], defaults: Mapping[str, str],
                      words: Collection[str] = ()) -> dict[str, Template]:
    """The templates of every type that has one: ``table`` (event type, short or full
    name -> text) over ``defaults`` (full name -> text).  TemplateError naming the key."""
    out = {t: Template(text, t, words=words) for t, text in defaults.items()}
    for key, text in table.items():
        t = full_type(key)
        if t is None:
            names = [n.removeprefix("watcher.") for n in EVENT_TYPES]
            raise TemplateError(f'"{key}" is not an event type{hint(key, names)}', key)
        try:
            out[t] = Template(text, t, words=words)
        except TemplateError as e:
            raise TemplateError(str(e), key) from None
    return out


def check_templates(words: Collection[str] = ()) -> Callable[[Mapping[str, str]], str | None]:
    """A ``check`` for a ``templates`` option (a table of event type -> text)."""
    def check(table: Mapping[str, str]) -> str | None:
        try:
            compile_templates(table, {}, words)
        except TemplateError as e:
            return At(e.key, str(e))
        return None
    return check
