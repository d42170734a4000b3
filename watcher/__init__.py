"""watcher: turn workflow-run status changes on SaaS platforms into events."""

from watcher.version import __version__

__all__ = ["__version__"]
