"""Notices: what a notification says, built once from events, rendered by each notifier."""
