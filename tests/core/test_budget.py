"""How a shared rate limit divides between sources: enough for all keeps every interval;
too little is shared max-min fairly, the sources needing least keeping theirs."""

from __future__ import annotations

import pytest

from watcher.core.budget import demand, fair_periods


def test_a_bucket_that_suffices_keeps_every_interval() -> None:
    """Ten sources polling once every 15 s need 0.67 requests/s of a 10/s bucket."""
    needs = {f"s{i}": (1.0, 15.0) for i in range(10)}
    assert demand(needs) == pytest.approx(10 / 15)
    assert set(fair_periods(needs, 10.0).values()) == {15.0}


def test_an_oversubscribed_bucket_shares_out_equally() -> None:
    """A thousand sources every 15 s on a 10/s bucket each poll every 100 s."""
    needs = {f"s{i}": (1.0, 15.0) for i in range(1000)}
    assert list(fair_periods(needs, 10.0).values()) == pytest.approx([100.0] * 1000)


def test_sources_needing_less_than_a_share_keep_their_interval() -> None:
    """100 slow sources (every 15 s) keep their interval beside five that want one request
    a second; the five share what is left (3.33/s) and poll every 1.5 s."""
    needs = {**{f"slow{i}": (1.0, 15.0) for i in range(100)},
             **{f"fast{i}": (1.0, 1.0) for i in range(5)}}
    periods = fair_periods(needs, 10.0)
    assert {periods[f"slow{i}"] for i in range(100)} == {15.0}
    assert [periods[f"fast{i}"] for i in range(5)] == pytest.approx([1.5] * 5)
