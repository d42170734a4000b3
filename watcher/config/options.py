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
``@model_validator(mode="after")``, or a ``__post_init__(self)`` as a dataclass has.
The older form, a frozen dataclass of :func:`option` fields, still works (it is read
into such a model); converting one is mechanical:

==================================  ==============================================
``option("str", x)``                ``str = x`` (required: no default)
``option("secret", None)``          ``Secret | None = None``
``option("duration", d, min=a)``    ``Annotated[float, Duration(min=a)] = d``
``option("size", n, min=a)``        ``Annotated[int, Size(min=a)] = n``
``option("int", n, min=a)``         ``Annotated[int, Field(ge=a)] = n`` (float alike)
``option("enum", x, choices=c)``    ``Literal[*c] = x``
``option("table", {})``             ``Table = {}`` (``SecretTable``: values secret)
``option("strlist", ())``           ``StrList = ()`` (``SecretList``: items secret)
``option("rate", None)``            ``Rate | None = None``
``check=f``                         ``Annotated[..., Check(f)]``
==================================  ==============================================
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from watcher.config import kinds
from watcher.config.kinds import Check, Duration, Size
from watcher.config.units import LONGEST
from watcher.errors import PluginError
from watcher.infra.ratelimit import Limit

__all__ = ["Check", "Duration", "Field", "NoOptions", "Options", "Rate", "Secret",
           "SecretList", "SecretTable", "Size", "StrList", "Table", "option"]

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

    def model_post_init(self, context: Any) -> None:
        post = getattr(self, "__post_init__", None)
        if post is not None:  # a converted dataclass's check across keys
            post()

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

#: the metadata key under which :func:`option` keeps a field's kind
OPTION = "watcher.option"
_KINDS: dict[str, object] = {
    "str": None, "bool": None, "enum": None, "secret": kinds.SECRET, "table": kinds.TABLE,
    "secret_table": kinds.SECRET_TABLE, "strlist": kinds.STRINGS,
    "secret_list": kinds.SECRET_STRINGS, "rate": kinds.RATE,
    "int": lambda lo, hi: Field(ge=lo), "float": lambda lo, hi: Field(ge=lo),
    "duration": lambda lo, hi: Duration(lo, hi or LONGEST), "size": lambda lo, hi: Size(lo)}


def option(kind: str, default: Any = ..., *, choices: tuple[str, ...] = (),
           min: float | None = None, max: float | None = None,
           check: Callable[[Any], str | None] | None = None,
           factory: Callable[[], Any] | None = None, resolved: bool = False) -> Any:
    """The older form: a key as a dataclass field of a kind (see the table above), its
    default (omitted: required), bounds and check.  ``factory`` makes the default when
    the config is read; ``resolved``: a key the loader fills in itself."""
    if kind not in _KINDS:  # at class definition, not when a config first names the plugin
        raise ValueError(f"unknown option kind {kind!r} (kinds: {', '.join(_KINDS)})")
    mark = _KINDS[kind]
    marks = [m for m in (mark(min, max) if callable(mark) else mark,
                         Check(check) if check else None) if m]
    meta = {OPTION: (kind, marks, choices)}
    kw: dict[str, Any] = {"kw_only": True, "repr": kind not in ("secret", "secret_table",
                                                                "secret_list"), "metadata": meta}
    if factory is not None:
        return dataclasses.field(default_factory=factory, **kw)
    if resolved or default is ...:
        return dataclasses.field(default=None if resolved else dataclasses.MISSING, **kw)
    if isinstance(default, dict | list | set):  # a dataclass refuses a shared mutable default
        return dataclasses.field(default_factory=lambda: type(default)(default), **kw)
    return dataclasses.field(default=default, **kw)


def model_of(options: type[Any]) -> type[Options]:
    """The model an options type is validated with: itself, or that of an :func:`option`
    dataclass; TypeError saying why neither."""
    if isinstance(options, type) and issubclass(options, Options):
        return options
    made = _models.get(options)
    if made is not None:
        return made
    if not (isinstance(options, type) and dataclasses.is_dataclass(options)):
        raise TypeError(f"{options!r} is not an Options model")
    hints = typing.get_type_hints(options)
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(options):
        kind, marks, choices = f.metadata.get(OPTION, ("", [], ()))
        if not kind:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise TypeError(f"{options.__name__}.{f.name} is no option() and has no default")
            continue
        hint = hints[f.name]
        if kind == "enum":
            hint = Literal[choices] | None if f.default is None else Literal[choices]
        default = (Field(default_factory=f.default_factory)
                   if f.default_factory is not dataclasses.MISSING else f.default)
        fields[f.name] = (Annotated[hint, *marks] if marks else hint,
                          ... if default is dataclasses.MISSING else default)
    made = _models[options] = create_model(options.__name__, __base__=Options, **fields)
    return made


_models: dict[type[Any], type[Options]] = {}


def declared(cls: type, what: str) -> type[Any]:
    """The options type plugin class ``cls`` declares; :class:`PluginError` when none."""
    options = getattr(cls, "Options", None)
    if options is None:
        raise PluginError(f"{cls.__qualname__} is no {what}: it declares no Options")
    try:
        model_of(options)
    except TypeError as e:
        raise PluginError(f"{cls.__qualname__}.Options: {e}") from None
    return typing.cast(type[Any], options)


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
    if options is None:
        return {}
    cls = type(options)
    model = model_of(cls)
    if not isinstance(options, BaseModel):
        options = model.model_construct(**{k: getattr(options, k) for k in model.model_fields})
    assert isinstance(options, BaseModel)
    values = options.model_dump(mode="json", exclude_none=True, warnings=False,
                                include=set(model.model_fields) - set(exclude))
    depth: dict[str, int] = {}
    for i, klass in enumerate(cls.__mro__):
        for name in vars(klass).get("__annotations__", {}):
            depth.setdefault(name, i)
    return dict(sorted(values.items(), key=lambda kv: depth.get(kv[0], 0)))
