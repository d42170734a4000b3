"""watcher: turn workflow-run status changes on SaaS platforms into events."""

__version__ = "0.1.0"
