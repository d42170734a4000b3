"""Silences from the command line, kept as records of the store's ``silences`` namespace
(one record per silence, its JSON), so every store keeps them the same way and every
process sharing the state (replicas, a restart, the CLI) sees the same set."""

from __future__ import annotations

from collections.abc import Mapping

from watcher.core.silences import Silence
from watcher.state.store import Store

NAMESPACE = "silences"


async def stored(store: Store) -> tuple[list[Silence], list[str]]:
    """Every stored silence, oldest first, and the keys of records that are damaged."""
    return decode_all(await store.records(NAMESPACE))


def decode_all(records: Mapping[str, bytes]) -> tuple[list[Silence], list[str]]:
    """The silences of these records, oldest first, and the keys of damaged ones."""
    silences, damaged = [], []
    for key, raw in records.items():
        try:
            silences.append(Silence.decode(raw))
        except (ValueError, KeyError, TypeError, AttributeError):
            damaged.append(key)
    silences.sort(key=lambda s: (s.created, s.id))
    return silences, damaged


async def save(store: Store, silence: Silence) -> None:
    await store.put_record(NAMESPACE, silence.id, silence.encode())


async def forget(store: Store, silence_id: str) -> None:
    await store.put_record(NAMESPACE, silence_id, None)
