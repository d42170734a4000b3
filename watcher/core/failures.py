"""Failed runs per workflow over the last 24 hours, in hourly buckets, for the status page.

Pure: the caller says what failed and when, and what time it is now.  Memory
is bounded by the workflows seen in a day times 24 buckets, however many
runs fail.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from watcher.model import JournalEntry, Status

HOUR = 3600.0
HOURS = 24
#: workflows shown; the rest are summed under ``OTHER`` so a noisy vendor cannot grow this
MAX_WORKFLOWS = 50
OTHER = "(other workflows)"


def workflow_of(entry: JournalEntry) -> str:
    """What the chart calls a run's workflow: its name, else its id, else its source."""
    return entry.workflow_name or entry.workflow_id or entry.source


@dataclass(slots=True)
class FailureWindow:
    """``add_entry`` failures as they are journaled; ``counts(now)`` the last 24 hours of them."""

    #: workflow -> {hour number since the epoch: failed runs}
    buckets: dict[str, dict[int, int]] = field(default_factory=dict)

    def add_entry(self, entry: JournalEntry) -> None:
        """Count a journaled event if it says a run failed."""
        if entry.status == Status.FAILED:
            workflow = workflow_of(entry)
            if workflow not in self.buckets and len(self.buckets) >= MAX_WORKFLOWS:
                workflow = OTHER
            hours = self.buckets.setdefault(workflow, {})
            hour = int(entry.time // HOUR)
            hours[hour] = hours.get(hour, 0) + 1

    def counts(self, now: float) -> Mapping[str, list[int]]:
        """Per workflow, failed runs in each of the last 24 hours (oldest first, the
        current hour last); workflows with none in that time are forgotten."""
        last = int(now // HOUR)
        first = last - HOURS + 1
        out: dict[str, list[int]] = {}
        for workflow in list(self.buckets):
            hours = self.buckets[workflow]
            for h in [h for h in hours if h < first]:
                del hours[h]
            if not hours:
                del self.buckets[workflow]
                continue
            out[workflow] = [hours.get(h, 0) for h in range(first, last + 1)]
        return out
