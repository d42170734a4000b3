"""Options: a table's keys as a frozen pydantic model, the type of each field its kind.

A provider or sink declares its own keys as a subclass of :class:`Options`; the loader
validates them with every other key (every problem listed with its key path) and
hands the instance to the plugin (``source.options``, ``self.options``)::

    from typing import Annotated, Literal
    from watcher import Check, Duration, Field, Options, Secret, StrList

    class RadarOptions(Options):
        region: Literal["eu", "us"] = "eu"
        api_key: Secret                                        # required; shown as ***
        window: Annotated[float, Duration(min=60)] = 3600.0    # "1h", "90s" or seconds
        page_size: Annotated[int, Field(ge=1), Check(at_most_200)] = 50
        labels: StrList = ()

A check across keys that raises ``ValueError`` is a problem of the table: a
``@model_validator(mode="after")``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from watcher.config import kinds
from watcher.config.kinds import Check, Duration, Size
from watcher.errors import PluginError
from watcher.infra.ratelimit import Limit

__all__ = ["Check", "Duration", "Field", "NoOptions", "Options", "Rate", "Secret",
           "SecretList", "SecretTable", "Size", "StrList", "Table"]

Secret = Annotated[str, kinds.SECRET]
Table = Annotated[Mapping[str, str], kinds.TABLE]
SecretTable = Annotated[Mapping[str, str], kinds.SECRET_TABLE]
StrList = Annotated[tuple[str, ...], kinds.STRINGS]
SecretList = Annotated[tuple[str, ...], kinds.SECRET_STRINGS]
Rate = Annotated[Limit, kinds.RATE]


class Options(BaseModel):
    """A table's keys: frozen, strict (``true`` is no number), unknown keys refused;
    secret fields stay out of the repr, so out of tracebacks and debug output."""

    model_config = ConfigDict(frozen=True, strict=True, extra="forbid",
                              arbitrary_types_allowed=True)

    def __repr_args__(self) -> Any:
        hidden = secret_fields(type(self))
        return [(k, v) for k, v in super().__repr_args__() if k not in hidden]


class NoOptions(Options):
    """The options of a plugin that has no keys of its own."""


@functools.cache
def secret_fields(model: type[BaseModel]) -> frozenset[str]:
    """The fields of ``model`` whose values are secrets."""
    return frozenset(
        name for name, f in model.model_fields.items()
        if kinds.is_secret(f.annotation) or any(kinds.is_secret(m) for m in f.metadata))


def model_of(options: type[Any]) -> type[Options]:
    """``options`` as the model it is validated with; TypeError when it is none."""
    if not (isinstance(options, type) and issubclass(options, Options)):
        raise TypeError(f"{options!r} is not an Options model")
    if hasattr(options, "__post_init__"):  # a dataclass habit a model would silently skip
        raise TypeError(f"{options.__name__} has a __post_init__, which an Options model "
                        'never runs: check across keys in a @model_validator(mode="after")')
    return options


def declared(cls: type, what: str) -> type[Any]:
    """The options type plugin class ``cls`` declares; :class:`PluginError` when none."""
    options = getattr(cls, "Options", None)
    if options is None:
        raise PluginError(f"{cls.__qualname__} is no {what}: it declares no Options")
    try:
        return model_of(options)
    except TypeError as e:
        raise PluginError(f"{cls.__qualname__}.Options: {e}") from None


def ensure(options: type[Any], value: object) -> Any:
    """``value`` as an instance of ``options``: ``None`` gives every default."""
    if value is None:
        return options()
    if not isinstance(value, options):
        raise TypeError(f"options are a {type(value).__name__}, not {options.__name__}")
    return value


def shown(options: object, *, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    """An options object's keys and values as ``watcher check`` prints them: its class's
    own keys before those it inherits (a sink's retry keys), durations and sizes as
    strings, secrets masked, absent values left out."""
    assert isinstance(options, Options)  # the loader made it so (model_of), for every plugin
    cls = type(options)
    values = options.model_dump(mode="json", exclude_none=True, warnings=False,
                                include=set(cls.model_fields) - set(exclude))
    depth: dict[str, int] = {}
    for i, klass in enumerate(cls.__mro__):
        for name in vars(klass).get("__annotations__", {}):
            depth.setdefault(name, i)
    return dict(sorted(values.items(), key=lambda kv: depth.get(kv[0], 0)))
