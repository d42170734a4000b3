from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.sinks.receiver import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real HTTP receiver on loopback answering 200 until told otherwise."""
    with Receiver() as r:
        yield r

