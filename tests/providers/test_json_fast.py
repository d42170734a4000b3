"""The page projection compiled to a comprehension (``providers/json/fast.py``) gives
exactly what JMESPath gives, for any items, or hands the page to JMESPath."""

from __future__ import annotations

from typing import Any

import jmespath
from hypothesis import given, settings
from hypothesis import strategies as st

from watcher.providers.json.fast import compile_rows
from watcher.providers.json.spec import Spec

EXPRESSIONS = ["id", "conclusion || status", "pipeline.name", "a.b.c", "`null`",
               "x || `\"none\"`"]
KEYS = st.sampled_from(["id", "conclusion", "status", "pipeline", "name", "a", "b", "c", "x"])
scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=4) | st.floats(
    allow_nan=False)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(KEYS, inner, max_size=4), max_leaves=12)
items = st.lists(st.dictionaries(KEYS, values, max_size=6), max_size=5)


@settings(max_examples=150, deadline=None)
@given(items)
def test_compiled_rows_equal_jmespath_rows(page: list[dict[str, Any]]) -> None:
    """For objects of any JSON, the comprehension's rows are JMESPath's rows."""
    fast = compile_rows(EXPRESSIONS)
    assert fast is not None
    inner = ", ".join(f"({e})" for e in EXPRESSIONS)
    assert fast(page) == jmespath.search(f"[*].[{inner}]", page)


@settings(max_examples=50, deadline=None)
@given(st.lists(values, max_size=5))
def test_a_page_with_items_that_are_no_objects_reads_as_jmespath_reads_it(page: list[Any]
                                                                          ) -> None:
    """Items that are not objects make the comprehension give way: each item's row is
    JMESPath's (nothing for what has no id)."""
    spec = Spec({"items": "@", "id": "id", "status": "status", "updated_at": "a.b"})
    assert spec.fast is not None
    expected = [spec.row_of(it) for it in page]
    assert spec.rows_of(page) == expected


def test_functions_and_filters_are_left_to_jmespath() -> None:
    """An expression beyond names, paths, || and literals has no compiled form."""
    assert compile_rows(["id", "join('/', [a, b])"]) is None
    assert compile_rows(["items[0]"]) is None
