"""Options as frozen dataclasses: one declaration gives a table's keys, their kinds, bounds
and defaults, and the typed object the code reads.

::

    @dataclass(frozen=True)
    class ExtendOptions:
        api_version: str = option("str", API_VERSION)
        workspace_id: str | None = option("str", None)
        page_size: int = option("int", MAX_PAGE, min=1, check=_page_size)

:func:`option` is :func:`dataclasses.field` with a :class:`~watcher.config.schema.Field`
in its metadata.  The loader reads the fields back as the table's schema
(:func:`fields_of`), validates the TOML against it, collecting every problem with
its key path, then builds the dataclass from the validated values (:func:`build`);
``watcher check`` prints it back (:func:`values_of`).  Option fields are keyword-only,
so a required one (no default) may follow defaulted ones.  A field declared without
:func:`option` is no config key: it keeps its default.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from watcher.config.schema import KINDS, REQUIRED, Field
from watcher.errors import PluginError

#: the metadata key under which :func:`option` keeps a field's :class:`Field`
OPTION = "watcher.option"


def option(kind: str, default: Any = REQUIRED, *, choices: tuple[str, ...] = (),
           min: float | None = None, max: float | None = None,
           check: Callable[[Any], str | None] | None = None,
           factory: Callable[[], Any] | None = None, resolved: bool = False) -> Any:
    """A config key as a dataclass field: its kind (see :class:`Field`), default, bounds
    (``min``; ``max`` for a duration, which is otherwise at most a year).

    ``default`` omitted: the key is required.  ``factory``: the default is made when
    the config is read (it depends on the environment).  ``resolved``: the loader
    works out the value of an absent key itself, so the field has no default of its own.
    """
    if kind not in KINDS:  # at class definition, not when a config first names the plugin
        raise ValueError(f"unknown option kind {kind!r} (kinds: {', '.join(KINDS)})")
    spec = Field(kind, default, choices=choices, min=min, max=max, check=check,
                 factory=factory)
    # a secret stays out of the repr, so out of tracebacks and debug output
    kw: dict[str, Any] = {"kw_only": True, "repr": not spec.secret, "metadata": {OPTION: spec}}
    if resolved or spec.required:
        return dataclasses.field(**kw)
    if factory is not None:
        return dataclasses.field(default_factory=factory, **kw)
    if isinstance(default, dict | list | set):  # a dataclass refuses a shared mutable default
        return dataclasses.field(default_factory=lambda: copy.copy(default), **kw)
    return dataclasses.field(default=default, **kw)


@dataclasses.dataclass(frozen=True)
class NoOptions:
    """The options of a plugin that has no keys of its own."""


def declared(cls: type, what: str) -> type[Any]:
    """The options type plugin class ``cls`` declares; :class:`PluginError` when it
    declares none usable."""
    options = getattr(cls, "Options", None)
    if options is None:
        raise PluginError(f"{cls.__qualname__} is no {what}: it declares no Options")
    try:
        fields_of(options)
    except TypeError as e:
        raise PluginError(f"{cls.__qualname__}.Options: {e}") from None
    return options  # type: ignore[no-any-return]  # a class, checked above


def fields_of(options: type[Any]) -> Mapping[str, Field]:
    """The config keys an options type declares, in order; TypeError when it is none.

    Accepts a dataclass (keys declared with :func:`option`); every field without
    :func:`option` must have a default, since nothing in the config sets it.
    """
    known = _fields.get(options)
    if known is not None:
        return known
    if not (isinstance(options, type) and dataclasses.is_dataclass(options)):
        raise TypeError(f"{options!r} is not a dataclass")
    out: dict[str, Field] = {}
    for f in _own_first(options):
        spec = f.metadata.get(OPTION)
        if isinstance(spec, Field):
            out[f.name] = spec
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise TypeError(f"{options.__name__}.{f.name} is no option() and has no default")
    _check_kinds(out)
    _fields[options] = out
    return out


#: options type -> its keys (read on every config load and ``watcher check``)
_fields: dict[type[Any], Mapping[str, Field]] = {}


def _own_first(cls: type) -> list[dataclasses.Field[Any]]:
    """A dataclass's fields, those it declares itself before those it inherits (a table
    shows its own keys before the shared ones, e.g. a sink's retry keys)."""
    depth: dict[str, int] = {}
    for i, klass in enumerate(cls.__mro__):
        for name in vars(klass).get("__annotations__", {}):
            depth.setdefault(name, i)
    return sorted(dataclasses.fields(cls), key=lambda f: depth.get(f.name, len(cls.__mro__)))


def _check_kinds(fields: Mapping[str, Field]) -> None:
    for name, f in fields.items():
        if f.kind not in KINDS:
            raise TypeError(f"option {name}: unknown kind {f.kind!r} (kinds: {', '.join(KINDS)})")


def build(options: type[Any], values: Mapping[str, Any]) -> object:
    """The options object of validated ``values`` (any exception: the plugin refused them)."""
    return options(**values)


def ensure(options: type[Any], value: object) -> Any:
    """``value`` as an instance of ``options``: ``None`` gives every default."""
    if value is None:
        return options()
    if not isinstance(value, options):
        raise TypeError(f"options are a {type(value).__name__}, not {options.__name__}")
    return value


def values_of(options: object) -> dict[str, Any]:
    """An options object's config keys and values, in declaration order."""
    if dataclasses.is_dataclass(options) and not isinstance(options, type):
        return {name: getattr(options, name) for name in fields_of(type(options))}
    return {}
