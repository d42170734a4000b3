"""Slack: alerts through an incoming webhook (the sink), each notice rendered as Block Kit
(message)."""
