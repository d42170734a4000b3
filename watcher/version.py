"""The version, in a leaf module: the User-Agent, ``--version`` and ``watcher_build_info``
read it without importing the package root (which names the plugin API)."""

__version__ = "0.1.0"
