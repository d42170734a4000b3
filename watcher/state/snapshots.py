"""How a source's runs are laid out in any store: a snapshot plus rows changed since.

A source's runs are stored as a snapshot (its whole state as a few JSON
blobs of up to ``snapshot_part`` runs) plus one row per run changed since (a
removal is a row with the status :data:`GONE` while the snapshot still holds
the run).  A commit whose changes, with the rows already there, would
outnumber the snapshot writes a new snapshot instead (the poller passes its
state as ``Commit.base``): a first sync of 100,000 runs is then ~0.1 s of
CPU instead of ~0.8 s of row inserts, and the rows never grow past the size
of the state they amend.

This module decides and encodes; a backend only stores blobs and rows, so
every backend makes the same decision and reads the others' blobs.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import islice
from typing import Any

import orjson

from watcher.model import TERMINAL, RunDetails, RunState, Settled, Status, Tracked
from watcher.state.store import Commit, SourceRow

#: runs per snapshot blob (bounds the memory a snapshot write or load holds at once)
SNAPSHOT_PART = 20_000
#: run rows a source may collect before its next commit writes a snapshot instead
SNAPSHOT_MIN = 1_000
#: a run row with this status records that the run was forgotten
GONE = ""

#: ``(status, raw_status, version, since, stuck, detail JSON)``: one run as a row
RunRow = tuple[str, str, "str | None", float, bool, "bytes | None"]


#: a source's sizes as stored: runs in its snapshot, rows written since
Sizes = tuple[int, int]


class SizeBook:
    """What both stores' runs keep: the layout, and each source's sizes, read on first use
    and updated only once a write committed (so a failed transaction leaves them as stored)."""

    def __init__(self, layout: Layout | None) -> None:
        self.layout = layout or Layout()
        self.sizes: dict[str, Sizes] = {}

    def loaded(self, sources: Collection[str] | None, sizes: dict[str, Sizes]) -> None:
        """The sizes ``sources`` (None: every source) were just read with."""
        if sources is None:
            self.sizes = sizes
            return
        for source in sources:
            self.sizes.pop(source, None)
        self.sizes.update(sizes)

    def committed(self, source: str | None, sizes: Sizes | None) -> None:
        if sizes is not None and source is not None:
            self.sizes[source] = sizes


@dataclass(frozen=True)
class Layout:
    """The snapshot thresholds; tests make them small to reach every layout."""

    snapshot_min: int = SNAPSHOT_MIN
    snapshot_part: int = SNAPSHOT_PART

    def snapshot_of(self, c: Commit, snap: int, rows: int) -> Mapping[str, Tracked] | None:
        """The runs to write as the source's new snapshot, or None to write the commit's
        changes as rows; ``snap`` and ``rows`` are the source's sizes as stored."""
        changed = len(c.upserts) + len(c.removals)
        if c.base is None or rows + changed <= max(self.snapshot_min, snap):
            return None
        if not c.base:
            return c.upserts  # a first sync: nothing to merge
        runs = {**c.base, **c.upserts}
        for rid in c.removals:
            runs.pop(rid, None)
        return runs

    def parts(self, runs: Mapping[str, Tracked]) -> Iterator[tuple[int, bytes]]:
        """The snapshot's blobs, in order, each as ``(runs in it, blob)``."""
        items = iter(runs.items())
        while chunk := list(islice(items, self.snapshot_part)):
            # orjson writes a Status as its value and a bool as true/false; a finished
            # run's Settled is read by index (most runs: a first sync's whole snapshot)
            yield len(chunk), orjson.dumps(
                [(rid, st[0], st[1], None, st[2], False, None) if st.__class__ is Settled
                 else (rid, st.status, st.raw_status, st.version, st.since, st.stuck,
                       st.detail.to_dict() if st.detail else None)
                 for rid, st in chunk])


#: what :func:`assemble` reads: a backend runs these with ``{where}`` its clause keeping the
#: sources asked for (or nothing: every source)
LOAD = ("SELECT source, cursor, baselined, failures, failing_since FROM sources{where}",
        "SELECT source, count, runs FROM snapshots{where} ORDER BY source, part",
        "SELECT source, run_id, status, raw_status, version, since, stuck, detail "
        "FROM runs{where}")


def assemble(sources: Iterable[Iterable[Any]], snapshots: Iterable[Iterable[Any]],
             runs: Iterable[Iterable[Any]]) -> tuple[dict[str, SourceRow], dict[str, Sizes]]:
    """The source rows with their runs, and the sizes they were read with, from the rows of
    the three :data:`LOAD` statements."""
    out: dict[str, SourceRow] = {}
    for name, cur, baselined, failures, failing_since in sources:
        out[name] = SourceRow(orjson.loads(cur) if cur else {}, bool(baselined), failures,
                              failing_since)
    sizes: dict[str, list[int]] = {}
    state = _reader()
    for source, count, blob in snapshots:
        held = _runs_of(out, source)
        for rid, status, raw, version, since, stuck, detail in orjson.loads(blob):
            held[rid] = state(status, raw, version, since, stuck, detail)
        sizes.setdefault(source, [0, 0])[0] += count
    for source, rid, status, raw, version, since, stuck, detail in runs:
        held = _runs_of(out, source)
        if status == GONE:  # a removal
            held.pop(rid, None)
        else:
            held[rid] = state(status, raw, version, since, stuck,
                              orjson.loads(detail) if detail else None)
        sizes.setdefault(source, [0, 0])[1] += 1
    return out, {source: (snap, rows) for source, (snap, rows) in sizes.items()}


def _runs_of(rows: dict[str, SourceRow], source: str) -> dict[str, Tracked]:
    """The runs of ``source``'s row (made up for a source with runs but no row of its own)."""
    row = rows.get(source)
    if row is None:
        row = rows[source] = SourceRow()
    return row.runs


def run_row(st: Tracked) -> RunRow:
    """One run as a row (a Status is a str, so a backend binds it as is)."""
    return (st.status, st.raw_status, st.version, st.since, st.stuck,
            orjson.dumps(st.detail.to_dict()) if st.detail else None)


def _reader() -> Callable[[str, str, str | None, float, Any, dict[str, Any] | None], Tracked]:
    """A run state from its fields, sharing equal raw statuses (a hundred thousand runs
    carry a handful of distinct strings)."""
    statuses = {s.value: s for s in Status}
    interned: dict[str, str] = {}

    def state(status: str, raw: str, version: str | None, since: float, stuck: Any,
              detail: dict[str, Any] | None) -> Tracked:
        st = statuses.get(status, Status.UNKNOWN)
        raw = interned.setdefault(raw, raw)
        if st in TERMINAL and version is None and not stuck and not detail:
            return Settled((st, raw, since))
        return RunState(st, raw, version, since, bool(stuck),
                        RunDetails.from_dict(detail) if detail else None)

    return state
