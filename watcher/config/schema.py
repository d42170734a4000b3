"""A small declarative schema for configuration tables.

Every key is a :class:`Field` (kind, default, bounds, check), attached to a
dataclass field with :func:`watcher.config.options.option`; the loader
validates every table against its fields, collecting *every* problem with
its key path instead of stopping at the first.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from watcher.config.rates import parse_rate
from watcher.config.toml_text import toml_value
from watcher.config.units import (
    DURATION_FORMS,
    LONGEST,
    SIZE_FORMS,
    format_duration,
    format_size,
    parse_duration,
    parse_size,
)
from watcher.config.variables import expand_vars, unset_vars
from watcher.infra.ratelimit import Limit

REQUIRED: Any = object()



class At(str):
    """What a ``check`` returns about one entry inside the value (a table's key): the
    problem is reported at ``path.key`` rather than at the table."""

    key: str

    def __new__(cls, key: str, message: str) -> At:
        made = super().__new__(cls, message)
        made.key = key
        return made


class Problems:
    """Collects ``key.path: what is wrong`` lines."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.items.append(f"{path}: {message}")

    def __bool__(self) -> bool:
        return bool(self.items)


#: what a :class:`Field` may hold
KINDS = ("str", "secret", "duration", "size", "int", "float", "bool", "enum", "table",
         "secret_table", "strlist", "secret_list", "rate")


@dataclass(frozen=True)
class Field:
    """One configuration key: its kind, default and bounds.

    Kinds: ``str``, ``secret`` (a string never shown or logged), ``duration``, ``size``
    (bytes, from ``"64MB"`` or an integer), ``int``, ``float``, ``bool``, ``enum``,
    ``table`` (string keys to scalar values), ``secret_table`` (same, values secret),
    ``strlist``, ``secret_list`` (each item expanded and secret), ``rate`` (requests per
    second, or a table ``{rate, burst}``: a :class:`~watcher.infra.ratelimit.Limit`).
    ``check(value)``
    returns what is wrong with a well-formed value, or ``None``; ``factory()``, when
    given, makes the default (one that depends on the environment).
    """

    kind: str
    default: Any = None
    choices: tuple[str, ...] = ()
    min: float | None = None
    #: a duration's maximum (default :data:`~watcher.config.units.LONGEST`)
    max: float | None = None
    check: Callable[[Any], str | None] | None = None
    factory: Callable[[], Any] | None = None

    @property
    def required(self) -> bool:
        return self.default is REQUIRED and self.factory is None

    def default_value(self) -> Any:
        """The value of an absent key (``None`` when it is required)."""
        if self.factory is not None:
            return self.factory()
        return None if self.default is REQUIRED else self.default

    @property
    def secret(self) -> bool:
        return self.kind in ("secret", "secret_table", "secret_list")


class Resolver:
    """Turns raw TOML values into typed ones, expanding ``${VAR}`` from ``env``.

    ``needs``: the key paths the command at hand uses (None: every one, as ``run``
    and ``check``).  A ``${VAR}`` left unset elsewhere is no problem then: that key
    is taken as not given (``watcher status`` needs no ``replica``, whose variable
    only the daemon's unit sets)."""

    def __init__(self, env: Mapping[str, str], problems: Problems,
                 needs: Collection[str] | None = None) -> None:
        self.env = env
        self.problems = problems
        self.secrets: set[str] = set()
        self.needs = needs
        #: the key paths left unexpanded, not needed by this command
        self.deferred: set[str] = set()

    def expand(self, value: str, path: str) -> str | None:
        missing = unset_vars(value, self.env)
        if missing and self.needs is not None and path not in self.needs:
            self.deferred.add(path)
            return None
        for name in missing:
            self.problems.add(path, f"${{{name}}} is not set in the environment")
        return None if missing else expand_vars(value, self.env)

    def left_out(self, path: str) -> bool:
        """Whether ``path`` or a key under it was left unexpanded (not needed)."""
        return any(p == path or p.startswith((f"{path}.", f"{path}[")) for p in self.deferred)

    def table(self, raw: object, fields: Mapping[str, Field], path: str,
              *, ignore: tuple[str, ...] = ()) -> dict[str, Any]:
        """Validate a table: unknown keys, required keys, each value's kind."""
        out: dict[str, Any] = {}
        if not isinstance(raw, dict):
            self.problems.add(path, "must be a table")
            return out
        for key in raw:
            if key not in fields and key not in ignore:
                hint = _closest(key, fields)
                self.problems.add(f"{path}.{key}" if path else key,
                                  "unknown key" + (f" (did you mean {hint!r}?)" if hint else ""))
        for key, field in fields.items():
            kpath = f"{path}.{key}" if path else key
            if key not in raw:
                if field.required:
                    self.problems.add(kpath, "is required")
                out[key] = field.default_value()
                continue
            out[key] = self.value(raw[key], field, kpath)
            if self.left_out(kpath):  # not needed by this command: as if not given
                out[key] = field.default_value()
        return out

    def value(self, raw: object, field: Field, path: str) -> Any:
        v = self._coerce(raw, field, path)
        if v is not None and field.check is not None:
            msg = field.check(v)
            if msg:
                self.problems.add(f"{path}.{msg.key}" if isinstance(msg, At) else path, msg)
        return v

    def _coerce(self, raw: object, field: Field, path: str) -> Any:
        coerce = _COERCE.get(field.kind)
        if coerce is None:
            raise AssertionError(f"unknown field kind {field.kind}")
        return coerce(self, raw, field, path)

    def _string(self, raw: object, field: Field, path: str) -> str | None:
        if not isinstance(raw, str):
            self.problems.add(path, f"{toml_value(raw)} must be a string")
            return None
        s = self.expand(raw, path)
        if s is None:
            return None
        if field.kind == "secret" and s:
            self.secrets.add(s)
        if field.kind == "enum" and s not in field.choices:
            self.problems.add(path, f"{toml_value(raw)} must be one of {', '.join(field.choices)}")
            return None
        return s

    def _duration(self, raw: object, field: Field, path: str) -> float | None:
        given = self.expand(raw, path) if isinstance(raw, str) else raw
        if given is None:  # an unset variable: said already, or not needed here
            return None
        d = parse_duration(given)
        if d is None:
            self.problems.add(path, f"{toml_value(raw)} is not a duration: {DURATION_FORMS}")
            return None
        if field.min is not None and d < field.min:
            self.problems.add(path, f"{toml_value(raw)} is below the minimum of "
                                    f"{format_duration(field.min)}")
            return None
        top = LONGEST if field.max is None else field.max
        if d > top:
            self.problems.add(path, f"{toml_value(raw)} is above the maximum of "
                                    f"{format_duration(top)}")
            return None
        return d

    def _size(self, raw: object, field: Field, path: str) -> int | None:
        given = self.expand(raw, path) if isinstance(raw, str) else raw
        if given is None:  # an unset variable: said already, or not needed here
            return None
        n = parse_size(given)
        if n is None:
            self.problems.add(path, f"{toml_value(raw)} is not a size: {SIZE_FORMS}")
            return None
        if field.min is not None and n < field.min:
            self.problems.add(path, f"{toml_value(raw)} is below the minimum of "
                                    f"{format_size(int(field.min))}")
            return None
        return n

    def _int(self, raw: object, field: Field, path: str) -> int | None:
        if isinstance(raw, bool) or not isinstance(raw, int):
            self.problems.add(path, f"{toml_value(raw)} must be an integer")
            return None
        if field.min is not None and raw < field.min:
            self.problems.add(path, f"{raw} must be at least {int(field.min)}")
            return None
        return raw

    def _float(self, raw: object, field: Field, path: str) -> float | None:
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            self.problems.add(path, f"{toml_value(raw)} must be a number")
            return None
        if field.min is not None and raw < field.min:
            self.problems.add(path, f"{raw} must be at least {field.min:g}")
            return None
        return float(raw)

    def _bool(self, raw: object, field: Field, path: str) -> bool | None:
        if not isinstance(raw, bool):
            self.problems.add(path, f"{toml_value(raw)} must be true or false")
            return None
        return raw

    def _table(self, raw: object, field: Field, path: str) -> dict[str, str] | None:
        if not isinstance(raw, dict):
            self.problems.add(path, "must be a table")
            return None
        table: dict[str, str] = {}
        for k, v in raw.items():
            if isinstance(v, bool):
                v = "true" if v else "false"
            if not isinstance(v, str | int | float):
                self.problems.add(f"{path}.{k}", f"{toml_value(v)} must be a string or number")
                continue
            s = self.expand(v, f"{path}.{k}") if isinstance(v, str) else str(v)
            if s is not None:
                table[str(k)] = s
                if field.kind == "secret_table" and s:
                    self.secrets.add(s)
        return table

    def _rate(self, raw: object, field: Field, path: str) -> Limit | None:
        return parse_rate(raw, path, self.problems.add)

    def _strlist(self, raw: object, field: Field, path: str) -> tuple[str, ...] | None:
        if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
            self.problems.add(path, "must be a list of strings")
            return None
        if field.kind == "strlist":
            return tuple(raw)
        items = [self.expand(x, f"{path}[{i}]") for i, x in enumerate(raw)]
        out = tuple(x for x in items if x is not None)
        self.secrets.update(x for x in out if x)
        return out if len(out) == len(items) else None


#: how each field kind is read from TOML
_COERCE: dict[str, Callable[[Resolver, object, Field, str], Any]] = {
    "str": Resolver._string, "secret": Resolver._string, "enum": Resolver._string,
    "duration": Resolver._duration, "size": Resolver._size, "int": Resolver._int,
    "float": Resolver._float, "bool": Resolver._bool, "table": Resolver._table,
    "secret_table": Resolver._table, "strlist": Resolver._strlist, "secret_list": Resolver._strlist,
    "rate": Resolver._rate,
}




def _closest(key: str, fields: Mapping[str, Field]) -> str | None:
    import difflib

    m = difflib.get_close_matches(key, list(fields), n=1, cutoff=0.75)
    return m[0] if m else None


def state_dir_default() -> str:
    """``$STATE_DIRECTORY/state.db`` under systemd, else ``./watcher-state.db``."""
    sd = os.environ.get("STATE_DIRECTORY")
    if sd:
        return os.path.join(sd.split(":")[0], "state.db")
    return "watcher-state.db"
