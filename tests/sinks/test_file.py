"""The file sink under logrotate: reopen and write never race, so every line lands in
the rotated or the new file exactly once and whole, and nothing follows ``aclose``."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import anyio
import orjson
import pytest

from tests.sinks.runs import sink_config
from watcher.errors import Retryable
from watcher.infra.clock import wall
from watcher.model import JournalEntry
from watcher.sinks.base import SinkContext
from watcher.sinks.file import FileSink

pytestmark = pytest.mark.anyio

BATCH, BATCHES = 400, 60


def entry(seq: int) -> JournalEntry:
    body = orjson.dumps({"seq": seq, "pad": "x" * 200})
    return JournalEntry(seq, f"id{seq}", 1.8e9, "watcher.run.created", "src", f"r{seq}", "running",
                 None, None, body)


def seqs(files: list[Path]) -> Counter[int]:
    """Every line of ``files`` parsed (a torn or glued line fails here)."""
    return Counter(orjson.loads(line)["seq"] for f in files if f.exists()
                   for line in f.read_bytes().splitlines())


async def test_reopen_and_rename_during_writes_keep_every_line_exactly_once(
        tmp_path: Path) -> None:
    """Batches written while the file is renamed away and ``reopen()`` is called again
    and again: no batch fails, every line is in the rotated or the new files exactly
    once, and after ``aclose()`` (even one racing a write) nothing more is written."""
    path = tmp_path / "events.jsonl"
    sink = FileSink(sink_config({"type": "file", "path": str(path)}), SinkContext(clock=wall))
    rotated: list[Path] = []
    failures: list[str] = []
    writing = True

    async def logrotate() -> None:
        while writing:
            if path.exists():
                rotated.append(path.rename(tmp_path / f"events.jsonl.{len(rotated) + 1}"))
            sink.reopen()
            await anyio.sleep(0.0005)

    async with anyio.create_task_group() as tg:
        tg.start_soon(logrotate)
        for b in range(BATCHES):
            batch = [entry(b * BATCH + i) for i in range(BATCH)]
            while True:  # as the runner does: a batch that raised is handed again, whole
                try:
                    await sink.deliver(batch)
                    break
                except Exception as e:
                    failures.append(repr(e))
        writing = False
    assert len(rotated) > 5  # the renames really happened between the batches
    assert failures == []
    assert seqs([*rotated, path]) == Counter(range(BATCHES * BATCH))

    last = [entry(BATCHES * BATCH + i) for i in range(BATCH)]
    outcome: list[bool] = []

    async def deliver_last() -> None:
        try:
            await sink.deliver(last)
            outcome.append(True)
        except Retryable:
            outcome.append(False)
    async with anyio.create_task_group() as tg:
        tg.start_soon(deliver_last)
        await sink.aclose()
    files = [*rotated, path]
    before = {f: f.read_bytes() for f in files if f.exists()}
    with pytest.raises(Retryable, match="closed"):
        await sink.deliver([entry(-1)])
    assert {f: f.read_bytes() for f in files if f.exists()} == before

    written = BATCHES * BATCH + (BATCH if outcome == [True] else 0)
    assert seqs(files) == Counter(range(written))
