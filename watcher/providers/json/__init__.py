"""The ``json`` provider (any JSON API, described by config) and the built-ins made of it."""
