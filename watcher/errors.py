"""Errors as values with a kind, decided once at the edge.

The tree::

    WatcherError
    ├── ConfigError(problems)          bad configuration, exit 78
    ├── PluginError                    a plugin that cannot be loaded or is none: a config problem
    ├── StoreUnavailable               state file cannot be opened, exit 69
    ├── StoreError (watcher.state)     a read or write of the state file failed at runtime
    ├── ProviderError(message, status) a poll went wrong; the poller's policy is a table on the kind
    │   ├── AuthError                  401/403: credentials or permissions
    │   ├── RateLimited(retry_after)   429: wait at least ``retry_after`` seconds
    │   ├── TransientError             5xx, resets, timeouts: back off and retry
    │   ├── BadPayload                 the vendor answered something we cannot trust
    │   └── InternalError              not the vendor: a bug, or a plugin that raised
    └── DeliveryError                  a sink could not deliver
        └── Retryable(retry_after)     try again later
"""

from __future__ import annotations


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


class ProviderError(WatcherError):
    """A poll of a vendor API failed."""

    kind = "error"

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


class InternalError(ProviderError):
    """A poll cycle ended in an unexpected exception (see :mod:`watcher.runtime.supervisor`);
    its message starts ``internal error:``."""

    kind = "internal"


class DeliveryError(WatcherError):
    """A sink could not deliver."""


class Retryable(DeliveryError):
    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)
