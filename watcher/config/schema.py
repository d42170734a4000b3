"""Validating tables against their :class:`~watcher.config.options.Options` models,
every problem collected with its key path (``sources[1].interval: ...``).

The raw TOML is first read with each ``${VAR}`` expanded (:meth:`Expanded.walk`); then each
table is validated by pydantic and every error it lists is said as a config problem,
quoting the value as the file spells it, and never a secret's.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from watcher.config.hints import hint
from watcher.config.kinds import PROBLEM
from watcher.config.options import model_of, secret_fields
from watcher.config.toml_text import toml_value
from watcher.config.variables import expand_vars, unset_vars

M = TypeVar("M", bound=BaseModel)


class Problems(list[str]):
    """Collects ``key.path: what is wrong`` lines."""

    def add(self, path: str, message: str) -> None:
        self.append(f"{path}: {message}")


_DROP = object()


@dataclass
class Expanded:
    """The raw tables with every ``${VAR}`` expanded.  A value naming an unset variable
    is left out (as if not given), its problem said, unless it is not needed by the
    command at hand (``needs``: the key paths it reads; None: all): then it is only
    ``deferred`` (``watcher status`` needs no ``replica``, whose variable only the
    daemon's unit sets)."""

    env: Mapping[str, str]
    problems: Problems
    needs: Collection[str] | None = None
    #: the key paths left out, not needed by this command
    deferred: set[str] = field(default_factory=set)
    #: the key paths left out: an unset variable (said), or deferred
    unset: set[str] = field(default_factory=set)

    def walk(self, value: Any, path: str) -> Any:
        if isinstance(value, str):
            return self._string(value, path)
        if isinstance(value, dict):
            out = {k: self.walk(v, f"{path}.{k}" if path else k) for k, v in value.items()}
            return {k: v for k, v in out.items() if v is not _DROP}
        if isinstance(value, list):
            items = [self.walk(v, f"{path}[{i}]") for i, v in enumerate(value)]
            if any(v is _DROP for v in items):
                self.unset.add(path)
                return _DROP
            return items
        return value

    def _string(self, value: str, path: str) -> Any:
        missing = unset_vars(value, self.env)
        if not missing:
            return expand_vars(value, self.env)
        self.unset.add(path)
        if self.needs is not None and path not in self.needs:
            self.deferred.add(path)
        else:
            for name in missing:
                self.problems.add(path, f"${{{name}}} is not set in the environment")
        return _DROP

    def left_out(self, path: str) -> bool:
        """Whether a key under ``path`` was left out, not needed here."""
        return any(p.startswith((f"{path}.", f"{path}[")) for p in self.deferred)

    def validate(self, model: type[M], raw: Mapping[str, Any], path: str, *,
                 apart: Collection[str] = (), known: Collection[str] = ()) -> M | None:
        """``raw``, but for the keys parsed ``apart``, as a ``model``; ``None``, every problem
        said, if it is not one.  ``known``: the keys an unknown one may be a typo of (default:
        the model's and ``apart``).  A field the config does not set (``exclude``: worked out
        by the loader) is no key."""
        values = {k: v for k, v in raw.items() if k not in apart}
        own = [n for n, f in model.model_fields.items() if f.exclude and n in values]
        for name in own:
            self.problems.add(_path(path, (name,)), "unknown key")
        try:
            return model.model_validate({k: v for k, v in values.items() if k not in own})
        except ValidationError as e:
            known = known or [*(n for n, f in model.model_fields.items() if not f.exclude),
                              *apart]
            for err in e.errors(include_url=False):
                at = _path(path, err["loc"])
                if at in self.unset or (at == path and self.left_out(path)):
                    continue  # said already, or a key left out is what it misses
                self.problems.add(at, _message(err, known))
            return None


def _path(path: str, loc: tuple[str | int, ...]) -> str:
    for part in loc:
        path = f"{path}[{part}]" if isinstance(part, int) else \
            f"{path}.{part}" if path else str(part)
    return path


_CHOICE = re.compile(r"'([^']*)'")
_SAID = {"missing": "is required", "int_type": "must be an integer",
         "float_type": "must be a number", "bool_type": "must be true or false",
         "string_type": "must be a string", "dict_type": "must be a table",
         "model_type": "must be a table", "dataclass_type": "must be a table",
         "tuple_type": "must be a list", "list_type": "must be a list"}


def _message(err: ErrorDetails, known: Collection[str]) -> str:
    """A pydantic error as the config's problem, the value quoted as TOML spells it."""
    kind, ctx, given = err["type"], err.get("ctx", {}), err.get("input")
    if kind == PROBLEM:
        return err["msg"]
    if kind == "extra_forbidden":
        return "unknown key" + hint(str(err["loc"][-1]), known)
    if kind in ("value_error", "assertion_error") and "error" in ctx:
        e = ctx["error"]
        return f"{type(e).__name__}: {e}" if isinstance(e, Exception) else str(e)
    quoted = toml_value(given)
    if kind == "literal_error":
        choices = _CHOICE.findall(ctx['expected'])
        return f"{quoted} must be one of {', '.join(choices)}" + hint(str(given), choices)
    if kind == "greater_than_equal":
        return f"{quoted} must be at least {ctx['ge']:g}"
    said = _SAID.get(kind)
    if said is None:
        return f"{quoted}: {err['msg'][0].lower()}{err['msg'][1:]}"
    return said if kind == "missing" else f"{quoted} {said}"


def secrets_of(options: object) -> set[str]:
    """The secret values an options object holds (its secret fields' strings)."""
    if options is None:
        return set()
    found: set[str] = set()
    for name in secret_fields(model_of(type(options))):
        v = getattr(options, name)
        found.update(v.values() if isinstance(v, Mapping) else
                     v if isinstance(v, tuple | list) else [v] if isinstance(v, str) else [])
    return {s for s in found if s}

