"""Configuration: TOML validated once at the edge into typed, frozen objects."""
