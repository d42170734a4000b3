"""Vendor accounts in the simulated world: each its own key, runs and rate limit.

A real vendor serves many customers: a key sees its own account's runs and
spends its own account's request budget.  So does the simulator.  Every
vendor has a *main* account, whose key is ``World.tokens[vendor]`` (tests
rotate or revoke it by assigning there); :meth:`World.add_account` adds more.
An account's rate limit, when set (else the vendor's ``World.rate_limits``),
is enforced with 429 and ``Retry-After``, on its own, as the vendors do per
organisation, environment or key.
"""

from __future__ import annotations

import time
from typing import Any

#: the main account's name (each vendor has one)
MAIN = "main"


class Account:
    """One customer of a vendor: its key, its runs, its budget."""

    def __init__(self, vendor: str, name: str, token: str, *,
                 rate_limit: float | None = None) -> None:
        self.vendor = vendor
        self.name = name
        #: its key (the main account's is ``World.tokens[vendor]`` whatever this says)
        self.token = token
        #: run id -> its ``SimRun`` (typed loosely: the world's module imports this one)
        self.runs: dict[str, Any] = {}
        #: bumped on every change of its runs, so listings can be cached
        self.version = 0
        #: requests per second allowed (None: the vendor's ``World.rate_limits``)
        self.rate_limit = rate_limit
        #: tokens and when they were counted (None: full, as an idle account's is)
        self._bucket: tuple[float, float] | None = None
        #: requests it answered with 429
        self.refused = 0

    def admit(self, rate: float | None) -> float:
        """Take a token from the account's bucket (real time): 0.0, or when over its limit
        (``rate_limit``, else ``rate``) the seconds until the next token."""
        rate = self.rate_limit or rate
        if not rate:
            return 0.0
        now, depth = time.monotonic(), max(1.0, rate)
        tokens, stamp = self._bucket or (depth, now)
        tokens = min(depth, tokens + (now - stamp) * rate)
        if tokens < 1.0:
            self._bucket = (tokens, now)
            self.refused += 1
            return (1.0 - tokens) / rate
        self._bucket = (tokens - 1.0, now)
        return 0.0

    def __repr__(self) -> str:
        return f"Account({self.vendor}:{self.name}, {len(self.runs)} runs)"
