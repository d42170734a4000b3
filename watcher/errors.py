"""Errors as values with a kind, decided once at the edge; every error watcher raises on
purpose is in this one tree.

The tree::

    WatcherError
    ├── ConfigError(problems)          bad configuration, exit 78
    ├── PluginError                    a plugin that cannot be loaded or is none: a config problem
    ├── StoreUnavailable               the state cannot be opened, exit 69
    │   ├── StoreAbsent                there is no state there yet (``watcher run`` creates it)
    │   ├── StateHeld(state_path, holder)  another process holds the state file's lock
    │   └── LeasesHeld(held)           live replicas hold leases ``watcher once`` needs
    ├── StoreError                     a read or write of the state failed at runtime
    │   └── Fenced(lease)              a write under a lease this replica no longer holds
    ├── TargetNotEmpty                 ``watcher migrate``: the database already holds a state
    ├── PollError                      a poll failed; the poller's policy is a table on ``kind``
    │   ├── ProviderError(message, status)  the vendor's side of it
    │   │   ├── AuthError              401/403: credentials or permissions
    │   │   ├── RateLimited(retry_after)  429: wait at least ``retry_after`` seconds
    │   │   ├── TransientError         5xx, resets, timeouts: back off and retry
    │   │   └── BadPayload             the vendor answered something we cannot trust
    │   └── InternalError              not the vendor: a bug, or a plugin that raised
    └── DeliveryError                  a sink could not deliver
        └── Retryable(retry_after)     try again later
"""

from __future__ import annotations

from collections.abc import Mapping


class WatcherError(Exception):
    """Base of every error watcher raises on purpose."""


class ConfigError(WatcherError):
    """The configuration is invalid; ``problems`` lists every one found."""

    def __init__(self, problems: list[str], *, path: str | None = None) -> None:
        self.problems = problems
        self.path = path
        head = f"{path}: " if path else ""
        super().__init__("\n".join(head + p for p in problems))


class PluginError(WatcherError):
    """What a provider or sink name loads is unusable: an import error, or not a class
    with what the protocol requires.  The config loader reports it as a problem of the
    key that named the plugin."""


class StoreUnavailable(WatcherError):
    """The state store cannot be opened or written at start."""


class StoreAbsent(StoreUnavailable):
    """``open_store(..., create=False)``: there is no store there yet."""


class StateHeld(StoreUnavailable):
    """Another process holds the state file's lock."""

    def __init__(self, state_path: str, holder: dict[str, object] | None) -> None:
        self.state_path = state_path
        self.holder = holder
        who = (f"another watcher process: pid {holder.get('pid')} on {holder.get('host')} "
               f"(`{holder.get('command')}`, since {holder.get('since')})" if holder
               else "another watcher process (its pid is not recorded)")
        super().__init__(f"{state_path} is in use by {who}")

    @property
    def pid(self) -> int | None:
        pid = (self.holder or {}).get("pid")
        return pid if isinstance(pid, int) else None


class LeasesHeld(StoreUnavailable):
    """Live replicas hold leases ``watcher once`` needs."""

    def __init__(self, held: Mapping[str, str | None]) -> None:
        self.held = dict(held)
        who = ", ".join(f"{lease} ({holder or 'being handed over'})"
                        for lease, holder in sorted(held.items()))
        super().__init__(f"leases held by running replicas: {who}")


class StoreError(WatcherError):
    """A read or write of the state failed at runtime (disk full, I/O error, a damaged
    file, a lost connection); a failed write kept nothing of itself.  Every backend
    error leaves the store as this, so callers handle one kind."""


class Fenced(StoreError):
    """A write made under a lease this replica no longer holds at its epoch (another
    replica took it over): refused, nothing of it kept."""

    def __init__(self, lease: str, message: str) -> None:
        self.lease = lease
        super().__init__(message)


class TargetNotEmpty(WatcherError):
    """The database ``watcher migrate`` copies into already holds a watcher state."""


class PollError(WatcherError):
    """A poll cycle failed; ``kind`` names how, for the poller's policy and metrics."""

    kind = "error"


class ProviderError(PollError):
    """A poll of a vendor API failed."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


class AuthError(ProviderError):
    kind = "auth"


class RateLimited(ProviderError):
    kind = "rate_limited"

    def __init__(self, message: str, *, status: int | None = 429,
                 retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message, status=status)


class TransientError(ProviderError):
    kind = "transient"


class BadPayload(ProviderError):
    kind = "bad_payload"


class InternalError(PollError):
    """A poll cycle ended in an unexpected exception (see :mod:`watcher.runtime.supervisor`);
    its message starts ``internal error:``.  Not a :class:`ProviderError`: the vendor did
    nothing wrong."""

    kind = "internal"


class DeliveryError(WatcherError):
    """A sink could not deliver."""


class Retryable(DeliveryError):
    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)
