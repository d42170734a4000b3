"""The page projection as one Python comprehension, for the JMESPath most sources use.

Fields written as names, dotted paths, ``a || b`` and literals (GitHub's ``conclusion
|| status``, ``pipeline.name``) are compiled, once per source, from their parsed
JMESPath into a single list comprehension over the page's items: the page's rows cost
a dict lookup per field instead of a walk of JMESPath's interpreter (a quarter of the
decode of a GitHub page, measured by ``bench/json_hot_path.py``).  Any other JMESPath
(functions, filters, projections) has no such form: :func:`compile_rows` gives
``None`` and the interpreter reads the page.

The comprehension gives what JMESPath gives, or raises: an item that is not an object
fails at its first lookup, and the page is then read by JMESPath (which skips just
that item).  Only names and literals reach the generated source, as ``repr`` of a
string or of a JSON scalar: nothing of the config is code.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jmespath

#: a page's items -> their rows
Rows = Callable[[list[Any]], list[list[Any]]]


def _get(value: Any, key: str) -> Any:
    """JMESPath's field lookup on what may be no object."""
    return value.get(key) if value.__class__ is dict else None


def _or(left: Any, right: Any) -> Any:
    """JMESPath's ``||``: the left value unless it is false-like (null, false, empty)."""
    return right if left is None or left is False or left == "" or left == [] or left == {} \
        else left


def _source(node: Mapping[str, Any], top: bool) -> str | None:
    kind = node["type"]
    if kind == "field":
        return f"it.get({node['value']!r})" if top else None
    if kind == "literal":
        v = node["value"]
        return repr(v) if v is None or isinstance(v, bool | int | float | str) else None
    if kind == "subexpression":
        first, *rest = node["children"]
        out = _source(first, top)
        for child in rest:
            if out is None or child["type"] != "field":
                return None
            out = f"_get({out}, {child['value']!r})"
        return out
    if kind == "or_expression":
        left, right = (_source(c, top) for c in node["children"])
        return None if left is None or right is None else f"_or({left}, {right})"
    return None


def compile_rows(expressions: Sequence[str]) -> Rows | None:
    """One comprehension for ``[*].[e1, e2, ...]``, or ``None`` when an expression is
    beyond names, dotted paths, ``||`` and literals."""
    cols = [_source(jmespath.compile(e).parsed, True) for e in expressions]
    if any(c is None for c in cols):
        return None
    code = f"lambda items: [[{', '.join(c for c in cols if c)}] for it in items]"
    made: Rows = eval(code, {"__builtins__": {}, "_get": _get, "_or": _or})
    return made
