"""Providers are plugins: the built-ins by name, third parties through the
``watcher.providers`` entry-point group, found like any installed package's."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.support import ROOT, Harness, parse_config, run_cli, statuses, toml
from watcher.providers import BUILTIN, provider_class, provider_names
from watcher.simulator import Simulator, World
from watcher.testing import FrozenClock

#: a complete third-party provider, written against the documented protocol only
TOY = '''
from typing import Any, ClassVar

from watcher.config.options import NoOptions
from watcher.model import Observation, RunDetails, Status
from watcher.providers.base import PollResult, PollView


class ToyProvider:
    """Reads the simulated Extend listing under another name, in one request."""

    kind: ClassVar[str] = "toy"
    default_base_url: ClassVar[str] = "http://127.0.0.1:9"
    Options = NoOptions

    def __init__(self, source: Any, context: Any) -> None:
        self.source = source
        self.session = context.session
        self.requests = 0

    async def poll(self, view: PollView) -> PollResult:
        headers = {"Authorization": f"Bearer {self.source.token}",
                   "x-extend-api-version": "2026-02-09"}
        self.requests += 1
        async with self.session.get(self.source.base_url + "/workflow_runs",
                                    params={"maxPageSize": "1000"}, headers=headers) as r:
            body = await r.json()
        obs: list[Observation] = [
            (i["id"], i["status"],
             Status.SUCCEEDED if i["status"] == "PROCESSED" else Status.RUNNING,
             i["updatedAt"], i) for i in body["data"]]
        return PollResult(obs, {})

    def describe(self, item: Any) -> RunDetails:
        return RunDetails(workflow_name=item["workflow"]["name"], run=item)

    async def enrich(self, events: list[Any]) -> None:
        return None
'''


#: the same, written against the typed API a package imports from ``watcher``
TYPED = '''
from typing import Annotated, Any

from watcher import BaseProvider, Field, Options, PollResult, PollView, RunDetails, Status


class TypedOptions(Options):
    page_size: Annotated[int, Field(ge=1)] = 1000


class TypedProvider(BaseProvider[TypedOptions]):
    kind = "typed"
    default_base_url = "http://127.0.0.1:9"
    Options = TypedOptions
    statuses = {"PROCESSING": Status.RUNNING, "PROCESSED": Status.SUCCEEDED}

    def headers(self) -> dict[str, str]:
        return {**super().headers(), "x-extend-api-version": "2026-02-09"}

    async def poll(self, view: PollView) -> PollResult:
        body, _ = await self.http.get("/workflow_runs", {"maxPageSize": self.options.page_size})
        observations = []
        self.observe(self.items_of(body, "data"), observations)
        return PollResult(observations, {})

    def details(self, item: Any) -> RunDetails:
        return RunDetails(workflow_name=item["workflow"]["name"], run=item)
'''


@pytest.fixture
def toy_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``toy-watcher-provider`` (both providers) installed into a directory on ``sys.path``."""
    (tmp_path / "toy_watcher_provider.py").write_text(TOY)
    (tmp_path / "typed_watcher_provider.py").write_text(TYPED)
    dist = tmp_path / "toy_watcher_provider-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-watcher-provider\n"
                                   "Version: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[watcher.providers]\ntoy = toy_watcher_provider:ToyProvider\n"
        "typed = typed_watcher_provider:TypedProvider\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_the_vendors_and_platforms_are_built_in() -> None:
    """Extend, Noxus, Cortex, Knock, the json provider and its built-ins (GitHub, GitLab,
    Airflow, Prefect) are built in, each under its own name."""
    assert set(BUILTIN) == {"extend", "noxus", "cortex", "knock", "json", "github", "gitlab",
                            "airflow", "prefect"}
    assert all(provider_class(name).kind == name for name in BUILTIN)


def test_an_installed_plugin_is_listed_and_loaded(toy_package: Path) -> None:
    """A provider installed under the watcher.providers entry point is listed and loaded."""
    assert "toy" in provider_names()
    cls = provider_class("toy")
    assert cls is not None and cls.kind == "toy"


def test_check_accepts_a_plugin_provider(toy_package: Path, tmp_path: Path) -> None:
    """check accepts a plugin's source with the plugin's defaults, and refuses it uninstalled."""
    cfg = tmp_path / "watcher.toml"
    cfg.write_text(toml({"state_path": ":memory:"},
                        [{"name": "mine", "provider": "toy", "token": "t"}],
                        [{"name": "out", "type": "stdout"}]))
    env = {"PYTHONPATH": os.pathsep.join([str(ROOT), str(toy_package)])}
    ok = run_cli("check", "-c", str(cfg), env=env)
    assert ok.returncode == 0, ok.stderr.decode()
    assert b'provider = "toy"' in ok.stdout
    assert b'base_url = "http://127.0.0.1:9"' in ok.stdout  # the plugin's own default
    without = run_cli("check", "-c", str(cfg))
    assert without.returncode == 78 and b'"toy" is not a known provider' in without.stderr


@pytest.mark.anyio
async def test_a_plugin_provider_polls_like_a_built_in(toy_package: Path, sim: Simulator,
                                                       world: World, clock: FrozenClock) -> None:
    """A plugin provider's polls turn into events like a built-in's."""
    run = world.add_run("extend", "PROCESSING")
    async with Harness(sim, "extend", clock=clock, provider="toy") as h:
        assert await h.poll() == []
        clock.advance(15)
        world.set_status(run, "PROCESSED")
        events = await h.poll()
    assert statuses(events) == [("run.status_changed", "succeeded", "running")]
    assert events[0]["data"]["provider"] == "toy"


@pytest.mark.anyio
async def test_a_plugin_of_the_typed_api_polls_with_its_options(
        toy_package: Path, sim: Simulator, world: World, clock: FrozenClock) -> None:
    """A package's provider built on watcher's public API reads its typed options and
    its polls turn into events like a built-in's."""
    run = world.add_run("extend", "PROCESSING")
    async with Harness(sim, "extend", clock=clock, provider="typed", page_size=7) as h:
        assert await h.poll() == []
        clock.advance(15)
        world.set_status(run, "PROCESSED")
        events = await h.poll()
    assert statuses(events) == [("run.status_changed", "succeeded", "running")]
    assert "maxPageSize=7" in world.requests[-1].query


def plausible(var: str) -> str:
    """A value of the kind the variable names (sinks validate URLs and signing secrets)."""
    if var.endswith("URL"):
        return "https://hooks.example.com/services/T000/B000/x"
    if "SECRET" in var:
        return "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    return "x"


def test_the_example_config_shows_a_valid_source_of_every_built_in_provider() -> None:
    """The example config holds a valid source for every built-in provider."""
    text = (ROOT / "config" / "watcher.example.toml").read_text()
    # the vendors other than the first are commented out, as an operator would find them
    text = re.sub(r"^# (\[\[sources\]\]|[a-z_]+ = .*)$", r"\1", text, flags=re.M)
    env = {name: plausible(name) for name in re.findall(r"\$\{([A-Z_]+)\}", text)}
    sources = parse_config(text, env=env).sources
    assert {s.provider for s in sources} == set(BUILTIN)
