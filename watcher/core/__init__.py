"""The pure heart: the diff, events and their ids, routing, backoff arithmetic,
timestamps. No I/O, no clock reads, no logging."""
