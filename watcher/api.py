"""HTTP listener (``http_listen``): /metrics, /healthz, /readyz, /events. Not built yet."""

from __future__ import annotations

from typing import Any

import structlog


async def start(daemon: Any, listen: str) -> Any:
    structlog.get_logger("watcher.api").info("http listener not available in this version",
                                             http_listen=listen)
    return None
