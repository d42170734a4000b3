"""Vendor timestamps as events state them: RFC 3339 with an offset, or null."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watcher.core.timestamps import RFC3339, parse_ts, rfc3339


@pytest.mark.parametrize("value", ["2026-11-22T14:02:51Z", "2026-11-22T14:02:51.123456789Z",
                                   "2026-11-22T19:32:51+05:30", "2026-11-22T09:02:51-05:00"])
def test_an_rfc3339_timestamp_is_kept_as_the_vendor_wrote_it(value: str) -> None:
    """Offset and precision are the vendor's: nothing to gain by rewriting them."""
    assert rfc3339(value) == value


@pytest.mark.parametrize(("value", "stated"), [
    ("2023-12-25", "2023-12-25T00:00:00Z"),  # Cortex's documented date-only form
    ("2026-11-22T14:02:51", "2026-11-22T14:02:51Z"),  # no offset: UTC, as parse_ts reads it
    ("2026-11-22T19:32:51+0530", "2026-11-22T14:02:51Z"),
    ("20261122T140251Z", "2026-11-22T14:02:51Z"),
    ("2026-11-22 14:02:51.5+01:00", "2026-11-22T13:02:51.500000Z"),
    ("0005-03-01", "0005-03-01T00:00:00Z"),
])
def test_another_form_of_a_real_instant_is_written_in_utc(value: str, stated: str) -> None:
    """An ISO 8601 form that is not RFC 3339 with an offset becomes one, in UTC."""
    assert rfc3339(value) == stated


@pytest.mark.parametrize("value", ["yesterday", "soon", "", "9999-99-99", "2026-13-01T00:00:00Z",
                                   1.8e9, 0, None, True, ["2026-11-22T14:02:51Z"],
                                   {"at": "2026-11-22T14:02:51Z"}, "2" * 1_000_000,
                                   "9999-12-31T23:00:00-05:00"])
def test_what_is_no_instant_is_null(value: Any) -> None:
    """A word, a number, a list, an impossible date or one beyond year 9999: None."""
    assert rfc3339(value) is None


@settings(max_examples=400, deadline=None)
@given(value=st.text(max_size=40) | st.datetimes().map(str) | st.datetimes(
    timezones=st.timezones()).map(lambda d: d.isoformat()) | st.floats() | st.integers())
def test_whatever_comes_in_an_rfc3339_instant_or_none_comes_out(value: Any) -> None:
    """The result always matches the schema's pattern and is the instant parse_ts reads."""
    out = rfc3339(value)
    if out is None:
        return
    assert re.fullmatch(RFC3339, out)
    assert parse_ts(out) == pytest.approx(parse_ts(value), abs=1e-6)
