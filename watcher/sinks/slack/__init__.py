"""Slack: alerts through an incoming webhook (the sink), worded and grouped (message, words,
blocks, health)."""
