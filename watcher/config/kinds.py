"""The kinds of value a config key takes beyond pydantic's own, read as a TOML file spells
them: ``Annotated`` metadata (``Annotated[float, Duration(min=60)]``) giving pydantic the
validator and ``watcher check`` the way to show a value (``"15s"``, secrets as ``***``).
A problem quotes the value as the file has it, and never a secret's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import AfterValidator, GetCoreSchemaHandler, ValidationError
from pydantic_core import PydanticCustomError, core_schema

from watcher.config.hints import hint
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
from watcher.infra.ratelimit import Limit
from watcher.infra.secrets import MASK

#: the error type of every problem a kind or a check raises: its message is the problem
PROBLEM = "watcher"
#: more requests per second than any vendor allows: a larger number is a typo
MOST = 1e6
Found = Sequence[tuple[tuple[str, ...], str]]


class At(str):
    """What a check returns about one entry inside the value (a table's key): the
    problem is reported at ``path.key`` rather than at the table."""

    key: str

    def __new__(cls, key: str, message: str) -> At:
        made = super().__new__(cls, message)
        made.key = key
        return made


def fail(found: Found) -> ValidationError:
    """The problems ``(sub-key path, message)`` of one value, for a validator to raise."""
    return ValidationError.from_exception_data(PROBLEM, [
        {"type": PydanticCustomError(PROBLEM, "{message}", {"message": m}), "loc": loc,
         "input": None} for loc, m in found])


@dataclass(frozen=True)
class Kind:
    """A kind: ``parse`` reads a raw value (raising :func:`fail`), ``show`` gives it back
    for ``watcher check``; a ``secret`` one is masked and kept out of reprs."""

    parse: Callable[[Any], Any]
    show: Callable[[Any], Any] = lambda value: value
    secret: bool = False

    def __get_pydantic_core_schema__(self, source: Any,
                                     handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            self.parse, serialization=core_schema.plain_serializer_function_ser_schema(
                self.show, when_used="json"))


def _bounded(raw: object, n: float | None, what: str, low: float | None, high: float | None,
             fmt: Callable[[Any], str]) -> Any:
    if n is None:
        raise fail([((), f"{toml_value(raw)} is not a {what}")])
    for bound, out, word in ((low, low is not None and n < low, "below the minimum"),
                             (high, high is not None and n > high, "above the maximum")):
        if out:
            raise fail([((), f"{toml_value(raw)} is {word} of {fmt(bound)}")])
    return n


def Duration(min: float | None = None, max: float = LONGEST) -> Kind:
    """Seconds, from ``"500ms"``, ``"1h30m"`` or a number; at most a year unless ``max``."""
    return Kind(lambda raw: _bounded(raw, parse_duration(raw), f"duration: {DURATION_FORMS}",
                                     min, max, format_duration), format_duration)


def Size(min: int | None = None) -> Kind:
    """Bytes, from ``"64MB"``, ``"512KiB"`` or an integer."""
    return Kind(lambda raw: _bounded(raw, parse_size(raw), f"size: {SIZE_FORMS}", min, None,
                                     format_size), format_size)


def _secret(raw: object) -> str:
    if not isinstance(raw, str):
        raise fail([((), "must be a string")])
    return raw


def _table(secret: bool) -> Callable[[object], dict[str, str]]:
    def parse(raw: object) -> dict[str, str]:
        if not isinstance(raw, dict):
            raise fail([((), "must be a table")])
        bad = [((str(k),), ("" if secret else f"{toml_value(v)} ") + "must be a string or number")
               for k, v in raw.items() if not isinstance(v, str | int | float)]
        if bad:
            raise fail(bad)
        return {str(k): toml_value(v) if isinstance(v, bool) else str(v) for k, v in raw.items()}
    return parse


def _strings(raw: object) -> tuple[str, ...]:
    if not isinstance(raw, list | tuple) or not all(isinstance(x, str) for x in raw):
        raise fail([((), "must be a list of strings")])
    return tuple(raw)


def _number(raw: object, at: tuple[str, ...], found: list[Any], least: float = 0.0,
            unit: str = "requests per second") -> float | None:
    """Above zero (``least`` and up when given) and at most :data:`MOST`."""
    if isinstance(raw, bool) or not isinstance(raw, int | float) or raw != raw:
        found.append((at, f"{toml_value(raw)} must be a number ({unit})"))
    elif raw <= 0 or raw < least or raw > MOST:
        bound = f"at least {least:g}" if least else "above 0"
        found.append((at, f"{raw:g} must be {bound} and at most {MOST:.0f} ({unit})"))
    else:
        return float(raw)
    return None


def _rate(raw: object) -> Limit:
    """Requests per second, or ``{ rate = ..., burst = ... }``."""
    found: list[tuple[tuple[str, ...], str]] = []
    if not isinstance(raw, dict):
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise fail([((), f"{toml_value(raw)} must be a number of requests per second, "
                             "or a table { rate = ..., burst = ... }")])
        rate, burst = _number(raw, (), found), None
    else:
        found += [((k,), "unknown key" + hint(k, ("rate", "burst")))
                  for k in raw if k not in ("rate", "burst")]
        if "rate" not in raw:
            raise fail([*found, (("rate",), "is required (requests per second)")])
        rate = _number(raw["rate"], ("rate",), found)
        burst = _number(raw["burst"], ("burst",), found, 1.0, "requests at once") \
            if "burst" in raw else None
    if found or rate is None:
        raise fail(found)
    return Limit(rate, burst)


SECRET = Kind(_secret, lambda v: MASK, secret=True)
TABLE = Kind(_table(False), dict)
SECRET_TABLE = Kind(_table(True), lambda v: dict.fromkeys(v, MASK), secret=True)
STRINGS = Kind(_strings, list)
SECRET_STRINGS = Kind(_strings, lambda v: [MASK] * len(v), secret=True)
RATE = Kind(_rate, lambda v: v.rate if v.burst is None else {"rate": v.rate, "burst": v.burst})


class Check(AfterValidator):
    """A check of a well-formed value: ``check(value)`` returns what is wrong (a string,
    or an :class:`At` for an entry inside it), or ``None``."""

    def __init__(self, check: Callable[[Any], str | None]) -> None:
        def run(value: Any) -> Any:
            msg = check(value)
            if msg:
                raise fail([((msg.key,) if isinstance(msg, At) else (), str(msg))])
            return value
        super().__init__(run)


def is_secret(annotation: object) -> bool:
    """Whether a field's type holds a secret kind (also inside ``X | None``)."""
    if isinstance(annotation, Kind):
        return annotation.secret
    extras = getattr(annotation, "__metadata__", ())
    return any(is_secret(a) for a in (*extras, *getattr(annotation, "__args__", ())))
