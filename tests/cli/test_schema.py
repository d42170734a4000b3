"""``watcher schema``: the shipped JSON Schema of the events, whole or of one type, and
that it says what the code emits."""

from __future__ import annotations

import re
import tomllib
from typing import Any

import orjson
import pytest
from jsonschema import Draft202012Validator

from tests.event_schema import EXAMPLE, event_errors
from tests.support import ROOT, run_cli
from watcher.core.events import DATA_KEYS, EVENT_TYPES


def printed(*args: str) -> dict[str, Any]:
    r = run_cli("schema", *args)
    assert r.returncode == 0, r.stderr
    doc: dict[str, Any] = orjson.loads(r.stdout)
    return doc


def test_watcher_schema_prints_a_valid_json_schema_of_every_event_type() -> None:
    """The whole schema is valid draft 2020-12 and names every type the code can emit."""
    doc = printed()
    Draft202012Validator.check_schema(doc)
    assert sorted(doc["$defs"]["envelope"]["properties"]["type"]["enum"]) == sorted(EVENT_TYPES)
    assert not event_errors(EXAMPLE)


@pytest.mark.parametrize("name", ["run.status_changed", "watcher.run.status_changed"])
def test_one_types_schema_by_its_short_or_full_name_stands_alone(name: str) -> None:
    """``--type`` prints a valid schema of that type alone: its events pass, others fail."""
    doc = printed("--type", name)
    Draft202012Validator.check_schema(doc)
    one = Draft202012Validator(doc)
    assert one.is_valid(EXAMPLE)
    assert not one.is_valid({**EXAMPLE, "type": "watcher.run.created"})
    assert not one.is_valid({**EXAMPLE, "data": {**EXAMPLE["data"], "updated_at": "yesterday"}})


def test_an_unknown_type_exits_64_naming_the_known_ones() -> None:
    """A typo is a usage error that lists every type there is."""
    r = run_cli("schema", "--type", "run.failed")
    assert r.returncode == 64 and r.stdout == b""
    err = r.stderr.decode()
    assert "run.failed" in err
    assert all(t.removeprefix("watcher.") in err for t in EVENT_TYPES)


def _allowed(node: dict[str, Any], defs: dict[str, Any]) -> set[str]:
    """The property names a ``data`` schema allows, through its ``allOf`` references."""
    names = set(node.get("properties", {}))
    for part in node.get("allOf", []):
        names |= _allowed(defs[part["$ref"].removeprefix("#/$defs/")], defs)
    return names


@pytest.mark.parametrize("type_", EVENT_TYPES)
def test_each_types_data_fields_are_the_ones_the_code_makes(type_: str) -> None:
    """The schema and the code's list of each type's data keys never drift apart."""
    defs = printed()["$defs"]
    data = defs[f"data.{type_.removeprefix('watcher.')}"]
    assert _allowed(data, defs) == set(DATA_KEYS[type_])


def test_the_schema_file_ships_in_the_package() -> None:
    """It is package data (a wheel without it would make ``watcher schema`` fail)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "events.schema.json" in project["tool"]["setuptools"]["package-data"]["watcher"]


def test_every_event_shown_in_the_docs_holds_the_schema() -> None:
    """The examples users copy from docs/events.md and the README are valid events."""
    shown = 0
    for doc in ("docs/events.md", "README.md"):
        for block in re.findall(r"```json\n(.*?)```", (ROOT / doc).read_text(), re.S):
            if '"specversion"' in block:
                event = orjson.loads(block)
                assert not event_errors(event), (doc, event_errors(event))
                shown += 1
    assert shown >= 3
