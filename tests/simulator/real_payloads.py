"""Run objects GitHub and GitLab themselves returned, recorded by other public projects.

They are not ours to copy (their licenses differ), so they are read from the
``real-payloads`` recordings folder beside the checkout; a test that needs them
skips, saying why, where that folder is absent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

FOLDER = Path(__file__).resolve().parents[2].parent / "shared" / "real-payloads"


def real_runs(name: str) -> list[dict[str, Any]]:
    """The runs of one recording (``github/...json``), or a skip when they are not here."""
    path = FOLDER / name
    if not path.is_file():
        pytest.skip(f"the real payloads are not beside the checkout ({path})")
    runs: list[dict[str, Any]] = orjson.loads(path.read_bytes())
    return runs


def json_kind(value: Any) -> str:
    """A JSON value's type, with null apart and int and float both ``number``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return {str: "string", list: "array", dict: "object"}[type(value)]


def differences(real: dict[str, Any], ours: dict[str, Any], where: str = "") -> list[str]:
    """Fields of a real run that ours lacks or types otherwise (null matches anything: a
    field the platform leaves null on one run is set on another)."""
    out = []
    for key, value in real.items():
        if key not in ours:
            out.append(f"{where}{key} is missing")
            continue
        a, b = json_kind(value), json_kind(ours[key])
        if "null" not in (a, b) and a != b:
            out.append(f"{where}{key} is {b}, GitHub/GitLab sent {a}")
        elif a == b == "object":
            out += differences(value, ours[key], f"{where}{key}.")
    return out
