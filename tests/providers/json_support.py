"""A json-made source (``json``, ``github``, ``gitlab``, ``airflow``, ``prefect``) polled
in-process against :mod:`tests.providers.platforms`, like :class:`tests.support.Harness`."""

from __future__ import annotations

from typing import Any

from tests.providers.platforms import TOKEN, Platforms
from tests.support import Harness, parse_config, toml
from watcher.config.settings import SourceConfig
from watcher.testing import FrozenClock

#: the base URL of each provider under the platforms' server
PREFIX = {"prefect": "/api"}


class JsonHarness(Harness):
    """One source of ``provider`` against the platforms' server: ``events = await h.poll()``
    (a key given as ``None`` is left out of the source)."""

    def __init__(self, platforms: Platforms, provider: str, *, clock: FrozenClock,
                 baseline: str = "silent", **source: Any) -> None:
        super().__init__(None, provider, clock=clock, baseline=baseline)  # type: ignore[arg-type]
        self.platforms = platforms
        self.table: dict[str, Any] = {
            "name": f"{provider}-test", "provider": provider, "token": TOKEN,
            "base_url": platforms.url + PREFIX.get(provider, ""), "interval": "15s",
            **source}
        self.table = {k: v for k, v in self.table.items() if v is not None}

    def source_config(self) -> SourceConfig:
        text = toml({"state_path": self.state_path, "baseline": self.baseline}, [self.table])
        return parse_config(text).sources[0]

    def asked(self, part: str) -> int:
        """Requests the platforms' server has had whose path holds ``part``."""
        return len(self.platforms.asked(part))
