"""What the daemon shows the outside: the HTTP listener, health, metrics, SSE, logs,
systemd notifications."""
