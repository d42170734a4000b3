"""The running daemon: pollers, sink runners, supervision, reload."""
