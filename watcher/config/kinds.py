"""The kinds of value a config key takes beyond pydantic's own: durations, sizes, rates,
secrets, string tables and lists, each read as a TOML file spells it.

Each is a marker for :data:`typing.Annotated` (``Annotated[float, Duration(min=60)]``)
that gives pydantic its validator (strict: ``true`` is no number, ``"5"`` no integer)
and, for ``watcher check``, its serializer (``"15s"``, ``"64MiB"``, secrets as ``***``).
A problem is raised as a ``problem`` (one message, or several at sub-keys) with the
value quoted as TOML spells it; never the value of a secret.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import GetCoreSchemaHandler, ValidationError
from pydantic_core import PydanticCustomError, core_schema

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
from watcher.infra.secrets import MASK

#: the error type of every problem a kind or a check raises: its message is the problem
PROBLEM = "watcher"


class At(str):
    """What a check returns about one entry inside the value (a table's key): the
    problem is reported at ``path.key`` rather than at the table."""

    key: str

    def __new__(cls, key: str, message: str) -> At:
        made = super().__new__(cls, message)
        made.key = key
        return made


def fail(*found: tuple[tuple[str | int, ...], str]) -> ValidationError:
    """The problems ``(sub-key path, message)`` of one value, for a validator to raise."""
    return ValidationError.from_exception_data(PROBLEM, [
        {"type": PydanticCustomError(PROBLEM, "{message}", {"message": m}), "loc": loc,
         "input": None} for loc, m in found])


class Kind:
    """A kind's validator (``parse``) and how ``watcher check`` shows a value (``show``)."""

    secret = False

    def parse(self, raw: object) -> Any:
        raise NotImplementedError

    def show(self, value: Any) -> Any:
        return value

    def __get_pydantic_core_schema__(self, source: Any,
                                     handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            self.parse, serialization=core_schema.plain_serializer_function_ser_schema(
                self.show, when_used="json"))


@dataclass(frozen=True)
class Duration(Kind):
    """Seconds, from ``"500ms"``, ``"1h30m"`` or a number; at most a year unless ``max``."""

    min: float | None = None
    max: float = LONGEST

    def parse(self, raw: object) -> float:
        d = parse_duration(raw)
        if d is None:
            raise fail(((), f"{toml_value(raw)} is not a duration: {DURATION_FORMS}"))
        if self.min is not None and d < self.min:
            raise fail(((), f"{toml_value(raw)} is below the minimum of "
                            f"{format_duration(self.min)}"))
        if d > self.max:
            raise fail(((), f"{toml_value(raw)} is above the maximum of "
                            f"{format_duration(self.max)}"))
        return d

    def show(self, value: float) -> str:
        return format_duration(value)


@dataclass(frozen=True)
class Size(Kind):
    """Bytes, from ``"64MB"``, ``"512KiB"`` or an integer."""

    min: int | None = None

    def parse(self, raw: object) -> int:
        n = parse_size(raw)
        if n is None:
            raise fail(((), f"{toml_value(raw)} is not a size: {SIZE_FORMS}"))
        if self.min is not None and n < self.min:
            raise fail(((), f"{toml_value(raw)} is below the minimum of {format_size(self.min)}"))
        return n

    def show(self, value: int) -> str:
        return format_size(value)


@dataclass(frozen=True)
class SecretKind(Kind):
    """A string never shown, logged or quoted in a problem."""

    secret = True

    def parse(self, raw: object) -> str:
        if not isinstance(raw, str):
            raise fail(((), "must be a string"))
        return raw

    def show(self, value: str) -> str:
        return MASK


@dataclass(frozen=True)
class TableKind(Kind):
    """String keys to strings (a number or boolean value is taken as its text)."""

    secret: bool = False

    def parse(self, raw: object) -> dict[str, str]:
        if not isinstance(raw, dict):
            raise fail(((), "must be a table"))
        bad = [((str(k),), "must be a string or number" if self.secret else
                f"{toml_value(v)} must be a string or number")
               for k, v in raw.items() if not isinstance(v, str | int | float)]
        if bad:
            raise fail(*bad)
        return {str(k): toml_value(v) if isinstance(v, bool) else str(v) for k, v in raw.items()}

    def show(self, value: dict[str, str]) -> dict[str, str]:
        return dict.fromkeys(value, MASK) if self.secret else dict(value)


@dataclass(frozen=True)
class ListKind(Kind):
    """A list of strings, as a tuple."""

    secret: bool = False

    def parse(self, raw: object) -> tuple[str, ...]:
        if not isinstance(raw, list | tuple) or not all(isinstance(x, str) for x in raw):
            raise fail(((), "must be a list of strings"))
        return tuple(raw)

    def show(self, value: tuple[str, ...]) -> list[str]:
        return [MASK] * len(value) if self.secret else list(value)


@dataclass(frozen=True)
class RateKind(Kind):
    """Requests per second, or ``{rate, burst}``: a :class:`~watcher.infra.ratelimit.Limit`."""

    def parse(self, raw: object) -> Any:
        found: list[tuple[tuple[str | int, ...], str]] = []
        limit = parse_rate(raw, "", lambda path, m: found.append(
            (tuple(path.lstrip(".").split(".")) if path else (), m)))
        if found:
            raise fail(*found)
        return limit

    def show(self, value: Any) -> Any:
        return value.as_toml()


@dataclass(frozen=True)
class Check:
    """A check of a well-formed value: ``check(value)`` returns what is wrong (a string,
    or an :class:`At` for an entry inside it), or ``None``."""

    check: Callable[[Any], str | None]

    def __get_pydantic_core_schema__(self, source: Any,
                                     handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self._run, handler(source))

    def _run(self, value: Any) -> Any:
        msg = self.check(value)
        if msg:
            raise fail(((msg.key,) if isinstance(msg, At) else (), str(msg)))
        return value


def is_secret(annotation: object) -> bool:
    """Whether a field's type holds a secret kind (also inside ``X | None``)."""
    if isinstance(annotation, SecretKind | TableKind | ListKind):
        return bool(annotation.secret)
    extras = getattr(annotation, "__metadata__", ())
    return any(is_secret(a) for a in (*extras, *getattr(annotation, "__args__", ())))
