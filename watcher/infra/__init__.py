"""Infrastructure with no domain knowledge: the clock, rate limits, the plugin registry."""
