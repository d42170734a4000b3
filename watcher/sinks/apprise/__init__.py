"""Apprise: notifications to a hundred services (the sink; reading its URLs)."""
