"""What a server asks a retry loop to wait."""

from __future__ import annotations

import pytest

from watcher.core.backoff import Backoff, retry_after


@pytest.mark.parametrize("headers", [{"Retry-After": "inf"}, {"Retry-After": "9" * 400},
                                     {"Retry-After": "Infinity"},
                                     {"retry-after-ms": "inf"}, {"retry-after-ms": "nan"}])
def test_a_wait_float_reads_as_endless_or_nan_is_no_wait_asked(headers: dict[str, str]
                                                                ) -> None:
    """A Retry-After float() reads as infinite or NaN asks no wait (backoff applies), where
    it held the source or sink back forever; a finite one is still honoured."""
    assert retry_after(headers, 0.0) is None
    assert retry_after({**headers, "Retry-After": "30"}, 0.0) == 30.0


def test_a_backoff_stays_at_its_cap_however_long_the_failures_last() -> None:
    """Past 1,024 failures in a row (a source or sink down for days at its cap) the
    doubling overflowed a float, and the retry loop died with OverflowError."""
    backoff = Backoff(1.0, 60.0)
    delays = [backoff.next() for _ in range(2000)]
    assert delays[:3] == pytest.approx([0.75, 1.5, 3.0], rel=0.34)
    assert all(30.0 <= d <= 60.0 for d in delays[10:])
