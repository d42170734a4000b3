"""watcher: turn workflow-run status changes on SaaS platforms into events.

The names below are the plugin API: what a provider or sink package imports
(``from watcher import BaseProvider, Options``).  They load on first use, so
``import watcher`` (every CLI start) costs nothing; :mod:`watcher.testing`
has the test helpers.
"""

from __future__ import annotations

from watcher.version import __version__

TYPE_CHECKING = False  # typing itself costs a few ms at start; mypy reads this name as typing's
if TYPE_CHECKING:
    from watcher.config.options import (
        Check,
        Duration,
        Field,
        NoOptions,
        Options,
        Secret,
        SecretList,
        SecretTable,
        Size,
        StrList,
        Table,
    )
    from watcher.config.settings import SinkConfig, SourceConfig
    from watcher.errors import (
        AuthError,
        BadPayload,
        ConfigError,
        DeliveryError,
        PluginError,
        ProviderError,
        RateLimited,
        Retryable,
        TransientError,
        WatcherError,
    )
    from watcher.infra.clock import Clock
    from watcher.model import Event, JournalEntry, Observation, RunDetails, SkipItem, Status
    from watcher.providers.base import BaseProvider
    from watcher.providers.protocol import PollResult, PollView, Provider, ProviderContext
    from watcher.sinks.base import (
        BaseSink,
        Outcomes,
        Rejected,
        Retry,
        RetryOptions,
        Sink,
        SinkContext,
    )
    from watcher.sinks.http import HttpSink, Outcome, check_http_url, post

#: public name -> the module that defines it
_WHERE = {
    **dict.fromkeys(("Check", "Duration", "Field", "NoOptions", "Options", "Secret",
                     "SecretList", "SecretTable", "Size", "StrList", "Table"),
                    "watcher.config.options"),
    **dict.fromkeys(("SinkConfig", "SourceConfig"), "watcher.config.settings"),
    **dict.fromkeys(("AuthError", "BadPayload", "ConfigError", "DeliveryError", "PluginError",
                     "ProviderError", "RateLimited", "Retryable", "TransientError",
                     "WatcherError"), "watcher.errors"),
    "Clock": "watcher.infra.clock",
    **dict.fromkeys(("Event", "JournalEntry", "Observation", "RunDetails", "SkipItem",
                     "Status"), "watcher.model"),
    "BaseProvider": "watcher.providers.base",
    **dict.fromkeys(("PollResult", "PollView", "Provider", "ProviderContext"),
                    "watcher.providers.protocol"),
    **dict.fromkeys(("BaseSink", "Outcomes", "Rejected", "Retry", "RetryOptions", "Sink",
                     "SinkContext"), "watcher.sinks.base"),
    **dict.fromkeys(("HttpSink", "Outcome", "check_http_url", "post"), "watcher.sinks.http"),
}

__all__ = [
    "AuthError", "BadPayload", "BaseProvider", "BaseSink", "Check", "Clock", "ConfigError",
    "DeliveryError", "Duration", "Event", "Field", "HttpSink", "JournalEntry", "NoOptions",
    "Observation", "Options", "Outcome", "Outcomes", "PluginError", "PollResult", "PollView",
    "Provider", "ProviderContext", "ProviderError", "RateLimited", "Rejected", "Retry",
    "RetryOptions", "Retryable", "RunDetails", "Secret", "SecretList", "SecretTable", "Sink",
    "SinkConfig", "SinkContext", "Size", "SkipItem", "SourceConfig", "Status", "StrList", "Table",
    "TransientError", "WatcherError", "__version__", "check_http_url", "post",
]


def __getattr__(name: str) -> object:
    import importlib

    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'watcher' has no attribute {name!r}")
    value = vars(importlib.import_module(module))[name]
    globals()[name] = value  # once: later lookups do not come here
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
