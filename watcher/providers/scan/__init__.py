"""Scanning strategies shared by providers whose listings lack a usable sort."""
