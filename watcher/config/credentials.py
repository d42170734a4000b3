"""Where secret files are found: the config's ``token_file``-style keys and ``tail
--token-file``.  Kept free of the rest of the config so the CLI's light commands
can use it."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path


def secret_path(name: str, *, base: Path, env: Mapping[str, str]) -> Path:
    """Where a secret file is: a relative name is under ``$CREDENTIALS_DIRECTORY``
    (systemd's ``LoadCredential=``) when set, else under ``base`` (the config's folder)."""
    p = Path(name)
    if p.is_absolute():
        return p
    creds = env.get("CREDENTIALS_DIRECTORY")
    return Path(creds) / p if creds else base / p
