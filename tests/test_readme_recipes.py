"""Every jq recipe of the README does what its comment says, run with jq against a
recording of ``watcher demo`` (plus an event from yesterday and a duplicate)."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import orjson
import pytest

from tests.support import ROOT, run_cli

LOG = "/var/log/watcher/events.jsonl"
SAMPLE_RUN = "workflow_run_xKm9pNv3qWsY"


def recipes() -> dict[str, str]:
    """``{comment: command}`` of the README's jq recipes block."""
    text = (ROOT / "README.md").read_text()
    block = text.split("## jq recipes", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    out: dict[str, str] = {}
    for chunk in block.strip().split("\n\n"):
        comment, _, command = chunk.partition("\n")
        out[comment.removeprefix("# ")] = command
    return out


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    """A demo's stdout, an event from yesterday and one duplicate line appended."""
    if shutil.which("jq") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("jq missing (apt-get install jq)")
        pytest.skip("jq missing (apt-get install jq)")
    r = run_cli("demo", "--duration", "12", timeout=60)
    assert r.returncode == 0, r.stderr[-2000:]
    lines = r.stdout.splitlines()
    old = orjson.loads(lines[-1])
    yesterday = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    old.update(id="0ld0ld0ld0ld0ld0", time=yesterday.strftime("%Y-%m-%dT%H:%M:%S.000Z"))
    lines += [orjson.dumps(old), lines[0]]
    path = tmp_path_factory.mktemp("recipes") / "events.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path, [orjson.loads(x) for x in lines]


def run(command: str, path: Path, run_id: str = SAMPLE_RUN) -> list[str]:
    command = command.replace(LOG, str(path)).replace("watcher run | ", f"cat {path} | ")
    r = subprocess.run(["bash", "-o", "pipefail", "-c", command.replace(SAMPLE_RUN, run_id)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, (command, r.stderr)
    return r.stdout.splitlines()


def test_the_readme_has_the_five_recipes_and_no_other() -> None:
    """The recipes tested here are the README's, all of them."""
    assert [c.split(",")[0].split(" (")[0] for c in recipes()] == [
        "only failures", "one workflow", "a run's history", "what happened today",
        "drop duplicates"]


def test_each_recipe_does_what_its_comment_says(recording: tuple[Path, list[dict]]) -> None:
    """Failures only; one workflow across vendors (Knock's by its key); a run's history in
    order; today's events counted by type and status; duplicates dropped by id."""
    path, events = recording
    failures, workflow, history, today, dedupe = recipes().values()

    failed = [e for e in events if e["data"].get("status") == "failed"]
    out = [orjson.loads(x) for x in run(failures, path)]
    assert failed and len(out) == len(failed)
    assert {o["run"] for o in out} == {e["subject"] for e in failed}

    out = [orjson.loads(x) for x in run(workflow, path)]
    # the demo's Cortex source watches another workflow; Knock's is found by its key, and so
    # is GitLab's (its ref); Prefect's runs are named by flow and deployment ids
    assert {e["data"]["provider"] for e in out} == {"extend", "noxus", "knock", "github",
                                                    "gitlab", "airflow"}
    assert all("invoice" in (e["data"]["workflow_name"] or "").lower() for e in out)

    demo = events[:-2]
    # not a run the appended yesterday's copy or duplicate line also names: its count is the
    # demo's alone
    avoid = {demo[0]["subject"], demo[-1]["subject"]}
    subject, n = next((s, c) for s, c in Counter(e["subject"] for e in demo).most_common()
                      if s not in avoid)
    assert n >= 2
    rows = [x.split("\t") for x in run(history, path, subject)]
    assert len(rows) == n and rows == sorted(rows)

    counts = orjson.loads("".join(run(today, path)))
    assert sum(c["n"] for c in counts) == len(events) - 1  # yesterday's is not today
    assert len(run(dedupe, path)) == len(events) - 1  # the duplicate line counted once
