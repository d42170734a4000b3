"""What a server asks a retry loop to wait."""

from __future__ import annotations

import pytest

from watcher.core.backoff import retry_after


@pytest.mark.parametrize("headers", [{"Retry-After": "inf"}, {"Retry-After": "9" * 400},
                                     {"Retry-After": "Infinity"},
                                     {"retry-after-ms": "inf"}, {"retry-after-ms": "nan"}])
def test_a_wait_float_reads_as_endless_or_nan_is_no_wait_asked(headers: dict[str, str]
                                                                ) -> None:
    """A Retry-After float() reads as infinite or NaN asks no wait (backoff applies), where
    it held the source or sink back forever; a finite one is still honoured."""
    assert retry_after(headers, 0.0) is None
    assert retry_after({**headers, "Retry-After": "30"}, 0.0) == 30.0
