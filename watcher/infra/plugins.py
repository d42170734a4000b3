"""Plugins found by name: the built-ins, then the packages that declare an entry point.

Providers and sinks are both looked up this way, each in its own registry and
entry-point group (``watcher.providers``, ``watcher.sinks``); a built-in is
imported only when a config names it.  A registry knows nothing of what it
holds: it is made with an ``accept`` function that checks what a name loads
(``Registry[type[Provider]]`` in :mod:`watcher.providers`) and raises
:class:`~watcher.errors.PluginError` saying what is wrong with it, which the
config loader reports against the key that named the plugin.
"""

from __future__ import annotations

import importlib
import types
from collections.abc import Callable, Mapping
from functools import cache
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from watcher.errors import PluginError

T_co = TypeVar("T_co", covariant=True)


class Registry(Generic[T_co]):
    """Plugins of one kind by name; ``get`` gives them as ``accept`` made them."""

    def __init__(self, group: str, builtin: Mapping[str, str],
                 accept: Callable[[object], T_co]) -> None:
        self.group = group
        #: name -> "module:attribute"
        self.builtin = dict(builtin)
        self._accept = accept

    def get(self, name: str) -> T_co | None:
        """The plugin registered as ``name``, or ``None``.

        Raises :class:`PluginError` when an installed package's entry point cannot be
        imported or names something that is no plugin of this kind.
        """
        ref = self.builtin.get(name)
        if ref is not None:
            module, _, attr = ref.partition(":")
            return self._accept(vars(importlib.import_module(module))[attr])
        for ep in entry_points(group=self.group, name=name):
            try:
                loaded = ep.load()
            except Exception as e:  # any error of a third party's import is its own
                raise PluginError(f"{ep.value} cannot be loaded: {type(e).__name__}: {e}") from e
            return self._accept(loaded)
        return None

    def known(self, name: str) -> T_co:
        """The plugin a loaded config names: its validation found it already."""
        plugin = self.get(name)
        assert plugin is not None, name
        return plugin

    def names(self) -> list[str]:
        return sorted({*self.builtin, *(ep.name for ep in entry_points(group=self.group))})


def plugin_class(obj: object, what: str, *, text: tuple[str, ...] = (),
                 methods: tuple[str, ...] = ()) -> type:
    """``obj`` if it is a class with non-empty string class attributes ``text`` and
    callable ``methods``; else :class:`PluginError` naming what it lacks."""
    if not isinstance(obj, type):
        raise PluginError(f"{obj!r} is not a class")
    for name in text:
        value = getattr(obj, name, None)
        if not isinstance(value, str) or not value:
            raise PluginError(f"{obj.__qualname__} is no {what}: it has no {name} (a string)")
    for name in methods:
        if not callable(getattr(obj, name, None)):
            raise PluginError(f"{obj.__qualname__} is no {what}: it has no {name}() method")
    return obj


@cache
def completed(cls: type, defaults: type) -> type:
    """``cls``, or a subclass of it that takes from ``defaults`` what ``cls`` lacks,
    made once per class."""
    members = {name: value for base in reversed(defaults.__mro__) for name, value
               in vars(base).items() if not name.startswith("__")}
    extra = {name: value for name, value in members.items() if not hasattr(cls, name)}
    if not extra:
        return cls
    extra.update(__module__=cls.__module__, __qualname__=cls.__qualname__)
    return types.new_class(cls.__name__, (cls,), exec_body=lambda ns: ns.update(extra))
