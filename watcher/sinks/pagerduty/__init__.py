"""PagerDuty: incidents through the Events API v2 (the sink; the events it sends)."""
