"""Slack's wording as templates: the defaults say exactly what the messages said before
templates existed, an operator's template changes the headline, and a bad template is a
config error naming its key."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from tests.sinks.receiver import Receiver
from tests.sinks.runs import failures, sink_config, sink_runner
from tests.sinks.slack_cases import batches, digest
from tests.support import Harness
from watcher.core.events import (
    DATA_KEYS,
    EVENT_TYPES,
    RUN_STUCK,
    SOURCE_FAILING,
    WORKFLOW_DEGRADED,
    WORKFLOW_RECOVERED,
    run_event,
    source_event,
    to_json,
)
from watcher.core.reminders import Episode, reminder, take
from watcher.errors import ConfigError
from watcher.model import RunDetails, Status
from watcher.simulator import Simulator
from watcher.sinks.slack.message import compose
from watcher.sinks.templates import Template, TemplateError
from watcher.state.journal import entry_of
from watcher.testing import FrozenClock

pytestmark = pytest.mark.anyio

GOLDEN = Path(__file__).with_name("slack_golden.json")


def test_default_templates_give_exactly_the_messages_of_before() -> None:
    """120 varied batches render byte for byte as the builder rendered them before
    templates (digests recorded from that code)."""
    expected = orjson.loads(GOLDEN.read_bytes())
    got = [digest([m.payload for m in compose(b)]) for b in batches()]
    assert got == expected


def config_problems(templates: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        sink_config({"type": "slack", "webhook_url": "https://hooks.example/x",
                     "templates": templates})
    return exc.value.problems


async def test_an_operators_template_is_the_headline_slack_receives(
        sim: Simulator, clock: FrozenClock) -> None:
    """A template for run.status_changed becomes the header and the start of the text of
    the message a real receiver gets; the detail blocks stay."""
    template = "{emoji} {data.workflow_name}: run {data.run_id} {data.status} ({type})"
    with Receiver() as receiver:
        async with Harness(sim, clock=clock) as h:
            runner = await sink_runner(h, {"type": "slack", "webhook_url": receiver.url,
                                           "group_wait": "0s",
                                           "templates": {"run.status_changed": template}},
                                       clock=FrozenClock(clock()))
            [entry] = await failures(h, 1)
            await runner.run(until_idle=True)
            await runner.sink.aclose()
    [message] = [orjson.loads(hit.body) for hit in receiver.delivered()]
    run_id = entry.run_id
    head = f":x: Invoice Processing: run {run_id} failed (watcher.run.status_changed)"
    assert message["blocks"][0]["text"]["text"] == head
    assert message["text"].startswith(head + ": ")
    assert any("*Workflow*" in f["text"] for f in message["blocks"][1]["fields"])


def test_an_unknown_placeholder_is_a_config_error_naming_the_key_path() -> None:
    """A typo'd field is refused at load, at sinks[0].templates.<type>, with a suggestion."""
    [problem] = config_problems({"run.status_changed": "{data.workflow_nme} failed"})
    assert problem.startswith("sinks[0].templates.run.status_changed: {data.workflow_nme} "
                              "is no field of this event (did you mean 'data.workflow_name'?)")


def test_a_field_of_another_event_type_is_unknown_for_this_one() -> None:
    """source.failing has no run: {data.run_id} in its template is refused."""
    [problem] = config_problems({"source.failing": "{data.run_id}"})
    assert problem.startswith("sinks[0].templates.source.failing: {data.run_id} is no field")


@pytest.mark.parametrize("text", [
    "{type!r}", "{type:>999999}", "{data[error]}", "{0}", "{data.error.__class__.__mro__}",
    "{__import__('os')}", "{ data.error }x{", "}",
])
def test_format_tricks_and_attribute_paths_are_refused(text: str) -> None:
    """Conversions, format specs, indexing, positional fields, dunder paths and lone braces
    are config errors, never evaluated."""
    [problem] = config_problems({"run.status_changed": text})
    assert problem.startswith("sinks[0].templates.run.status_changed: ")


def test_an_unknown_event_type_key_is_a_config_error() -> None:
    """A template for a type that does not exist is refused, with a suggestion."""
    [problem] = config_problems({"run.status_changd": "{type}"})
    assert problem == ('sinks[0].templates.run.status_changd: "run.status_changd" is not an '
                       "event type (did you mean 'run.status_changed'?)")


def test_rendering_reads_only_the_events_json() -> None:
    """Fields render as text (null and absent as nothing, tables as JSON, booleans as
    true/false), vendor fields under data.run, and doubled braces as braces."""
    t = Template("{{{data.status}}} {data.error}|{data.terminal} {data.run.batch} "
                 "{data.run} {data.url}", "watcher.run.status_changed")
    event = {"type": "watcher.run.status_changed",
             "data": {"status": "failed", "error": None, "terminal": True,
                      "run": {"batch": 7, "tags": ["a"]}}}
    assert t.render(event) == '{failed} |true 7 {"batch":7,"tags":["a"]} '
    with pytest.raises(TemplateError):
        Template("{data.run_id}", "watcher.source.recovered")


async def test_templates_know_exactly_the_fields_real_events_carry(
        sim: Simulator, clock: FrozenClock) -> None:
    """Events of every type a poll makes, really polling the simulator (and reminders of
    the failing and stuck ones), carry exactly the data fields templates are checked
    against (health rules' events: tests/core/test_episodes.py)."""
    async with Harness(sim, clock=clock, baseline="emit", failure_threshold=1,
                       stuck_after="10m") as h:
        run = h.world.add_run("extend", "PROCESSING")
        await h.poll()  # created
        clock.advance(11 * 60)
        await h.poll()  # stuck
        h.world.set_status(run.id, "FAILED", error="boom")
        clock.advance(15)
        await h.poll()  # status_changed
        token = h.world.tokens["extend"]
        h.world.tokens["extend"] = "rotated"
        clock.advance(15)
        await h.poll()  # failing
        h.world.tokens["extend"] = token
        clock.advance(15)
        await h.poll()  # recovered
    episodes: dict[str, Episode] = {}
    for e in h.entries:
        if e.type in (RUN_STUCK, SOURCE_FAILING):
            take(episodes, e)
    events = [orjson.loads(e.body) for e in h.entries]
    events += [orjson.loads(to_json(reminder(ep, 60.0, 1, clock() + 60)))
               for ep in episodes.values()]
    seen = {ev["type"]: set(ev["data"]) for ev in events}
    assert set(seen) == set(EVENT_TYPES) - {WORKFLOW_DEGRADED, WORKFLOW_RECOVERED}
    for t, keys in seen.items():
        assert keys == set(DATA_KEYS[t]), t


def test_reminders_read_as_reminders_in_slack() -> None:
    """A source reminder and two run reminders of one workflow say "still failing" /
    "still stuck" and for how long; the run reminders are one message."""
    t0 = 1_800_000_000.0
    failing = source_event(SOURCE_FAILING, source="extend-prod", provider="extend", now=t0,
                           since=t0, data={"error": "401", "kind": "auth"})
    stuck = [run_event(RUN_STUCK, source="extend-prod", provider="extend", run_id=f"r{i}",
                       status=Status.RUNNING, raw_status="PROCESSING", previous=None,
                       details=RunDetails(workflow_name="Invoice Processing"), now=t0,
                       id_key=i, extra={"stuck_for_s": 600}) for i in (1, 2)]
    entries = []
    for ev in (failing, *stuck):
        eps: dict[str, Episode] = {}
        take(eps, entry_of(ev))
        [ep] = eps.values()
        entries.append(entry_of(reminder(ep, 3600.0, 2, t0 + 7200)))
    heads = [m.payload["blocks"][0]["text"]["text"] for m in compose(entries)]
    assert heads == [":alarm_clock: Reminder: Source extend-prod is still failing (2h 0m)",
                     ":alarm_clock: Reminder: 2 runs are still stuck in Invoice Processing "
                     "(2h 0m)"]
