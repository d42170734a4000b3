"""A vendor page decoded into the few fields the diff reads; an item in full only on need.

A provider declares the fields its hot path reads (id, status, version stamp, and
what its status mapping or scan needs) as a :class:`Run` subclass, and a
:class:`Listing` of them decodes each page with msgspec: every other field of
every item is skipped, not built.  Each run keeps where it came from, so
:meth:`Run.whole` gives the item in full, as ``orjson.loads`` of the page would
have (the same bytes decoded), for the few runs that produce an event.

A page that does not fit (a field of another type, a missing id, not JSON as
msgspec reads it, not the documented shape) is decoded the tolerant way instead,
``orjson.loads`` of the whole page, and its items are plain dicts that the
provider's careful loop checks item by item: the struct path is only ever a
faster way to the same observations, never a stricter one.

A :class:`Run` answers ``get(key)`` for its declared fields like the dict it
stands for, so code that reads an item's stamp works on both.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextvars import ContextVar
from itertools import count
from typing import Any

import msgspec
import orjson

from watcher.errors import BadPayload

__all__ = ["Listing", "Run", "items_of"]


class _Page:
    """One page's bytes; its items' raw JSON is cut out on the first :meth:`raw`.
    ``first``: the number the decoder gave the page's first run (see :class:`Run`)."""

    __slots__ = ("_raws", "data", "first", "split")

    def __init__(self, data: bytes, split: Any) -> None:
        self.data = data
        self.split = split
        self.first = 0
        self._raws: Sequence[msgspec.Raw] | None = None

    def raw(self, at: int) -> memoryview:
        if self._raws is None:
            self._raws = self.split(self.data)
        return memoryview(self._raws[at])


class _Decoder:
    """The type of the fields only the decoder sets: no JSON value decodes to it, so an
    item with a key of the same name does not fit the struct (its page is read the
    tolerant way) and cannot point a run at another item's bytes."""


#: the page being decoded (a run's ``_page`` is set from it, in C, as the run is built)
_DECODING: ContextVar[_Page | None] = ContextVar("decoding", default=None)
#: every run decoded in this process is numbered: a page's runs take consecutive numbers
_NUMBER = count()
#: the two factories, C callables (typed loosely: they fill fields typed :class:`_Decoder`)
_PAGE: Any = _DECODING.get
_PLACE: Any = _NUMBER.__next__


class Run(msgspec.Struct, kw_only=True, gc=False):
    """One vendor item as the hot path reads it.  A subclass declares the fields (their
    JSON names as attribute names, the types the tolerant path would accept as they
    are; a field it may lack needs a default).  ``gc=False``: a run holds no container
    the cyclic collector would need to see."""

    #: the page's bytes and this run's number (its place: ``_at - _page.first``), given by
    #: the decoder through C-level default factories: no Python loop over a page's runs
    _page: _Decoder = msgspec.field(default_factory=_PAGE)
    _at: _Decoder = msgspec.field(default_factory=_PLACE)

    def get(self, key: str, default: Any = None) -> Any:
        """A declared field's value (``default`` for one not declared)."""
        return getattr(self, key, default)

    def whole(self) -> Any:
        """The item in full, as the page's JSON holds it (raises if it is not JSON)."""
        page: Any = self._page
        at: Any = self._at
        return orjson.loads(page.raw(at - page.first))


def items_of(body: Any, key: str | None) -> list[Any]:
    """The list of run items of a parsed page, or BadPayload naming what is wrong."""
    if key is not None and not isinstance(body, dict):
        # callers read the page's other fields next (cursor, totals) and may not crash
        raise BadPayload(f"the body is a {type(body).__name__}, not an object with "
                         f'"{key}"')
    items = body.get(key) if key is not None else body
    if not isinstance(items, list):
        where = f'"{key}"' if key else "the body"
        raise BadPayload(f"{where} is not a list of runs")
    return items


class Listing:
    """How one listing's pages decode: its items (under ``key``, or the body itself when
    ``None``) as ``run`` structs, and the page's other fields named in ``extras``."""

    def __init__(self, run: type[Run], key: str | None, extras: Sequence[str] = ()) -> None:
        self.key = key
        self.extras = tuple(extras)
        runs: Any = list[run]  # type: ignore[valid-type]  # a class given at run time
        self._split: Callable[[bytes], Any]
        if key is None:
            self._runs: msgspec.json.Decoder[Any] = msgspec.json.Decoder(runs)
            raws: msgspec.json.Decoder[Any] = msgspec.json.Decoder(list[msgspec.Raw])
            self._split = raws.decode
            return
        fields: list[Any] = [("runs", runs, msgspec.field(name=key))]
        fields += [(f"x{i}", Any, msgspec.field(default=None, name=k))
                   for i, k in enumerate(self.extras)]
        self._runs = msgspec.json.Decoder(msgspec.defstruct("Page", fields, gc=False))
        split: Callable[[bytes], Any] = msgspec.json.Decoder(msgspec.defstruct(
            "RawPage", [("runs", list[msgspec.Raw], msgspec.field(name=key))], gc=False)).decode

        def runs_of(data: bytes) -> Any:
            return split(data).runs

        self._split = runs_of

    def read(self, data: bytes) -> tuple[Any, list[Any]]:
        """``(body, items)`` of one page: ``body`` gives the extras by name (a dict), and
        ``items`` are :class:`Run` structs, or, for a page that does not fit them, the
        parsed body and its items as ``orjson.loads`` gives them."""
        at = _Page(data, self._split)
        token = _DECODING.set(at)
        try:
            page = self._runs.decode(data)
        except (msgspec.ValidationError, msgspec.DecodeError):
            return self.tolerant(data)
        finally:
            _DECODING.reset(token)
        if self.key is None:
            runs, body = page, page
        else:
            runs = page.runs
            body = {k: getattr(page, f"x{i}") for i, k in enumerate(self.extras)}
        if runs:
            at.first = first = runs[0]._at
            if runs[-1]._at - first != len(runs) - 1:  # numbered apart (another decode ran
                for i, r in enumerate(runs):  # in between, from a finaliser): number them here
                    r._at = first + i
        return body, runs

    def tolerant(self, data: bytes) -> tuple[Any, list[Any]]:
        """The page as ``orjson.loads`` reads it (BadPayload when it is not JSON or not a
        listing)."""
        try:
            body = orjson.loads(data)
        except orjson.JSONDecodeError as e:
            raise BadPayload(f"200 OK but the body is not JSON: {e}", status=200) from None
        return body, items_of(body, self.key)
