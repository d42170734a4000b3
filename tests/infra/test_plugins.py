"""The plugin registries: what a name loads is checked, a bad plugin is a config problem
naming it, and a class lacking optional members is completed with their defaults."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest

from tests.support import ROOT, parse_config, run_cli, toml
from watcher import JournalEntry, NoOptions, PollResult, PollView, RunDetails, SinkContext
from watcher.errors import ConfigError
from watcher.infra.clock import wall
from watcher.providers import PROVIDERS, provider_class
from watcher.providers.protocol import ProviderContext
from watcher.sinks import SINKS, sink_class

#: installed as a package: entry points that load nothing usable, each differently
BAD = '''
class NoOptions:
    kind = "no-options"
    default_base_url = "http://127.0.0.1:9"

    async def poll(self, view):
        return None

    def describe(self, item):
        return None


class NotAModel(NoOptions):
    Options = dict


class NoDeliver:
    kind = "no-deliver"
    Options = None


def not_a_class():
    return None
'''

ENTRY_POINTS = """[watcher.providers]
broken = missing_dependency_plugin:Provider
function = bad_plugins:not_a_class
no-options = bad_plugins:NoOptions
bad-options = bad_plugins:NotAModel

[watcher.sinks]
no-deliver = bad_plugins:NoDeliver
"""


def install(site: Path) -> dict[str, str]:
    """The bad plugins installed into ``site``; the environment a CLI needs to see them."""
    (site / "bad_plugins.py").write_text(BAD)
    (site / "missing_dependency_plugin.py").write_text("import a_module_nobody_installed\n")
    dist = site / "bad_plugins-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: bad-plugins\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(ENTRY_POINTS)
    return {"PYTHONPATH": os.pathsep.join([str(ROOT), str(site)])}


def bad_config() -> str:
    return toml({}, [{"name": f"s{i}", "provider": p, "token": "t", "colour": "red"}
                     for i, p in enumerate(("broken", "function", "no-options", "bad-options"))],
                [{"name": "k", "type": "no-deliver"}])


def test_a_plugin_that_is_unusable_is_a_problem_of_the_key_naming_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An entry point that fails to import, names no class, or a class without what the
    protocol requires, is reported at the key that named it, saying why (its other keys
    are not judged)."""
    install(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ConfigError) as exc:
        parse_config(bad_config())
    got = exc.value.problems
    assert len(got) == 5, got
    assert got[0] == ('sources[0].provider: "broken" is not a usable provider: '
                      "missing_dependency_plugin:Provider cannot be loaded: "
                      "ModuleNotFoundError: No module named 'a_module_nobody_installed'")
    assert got[1].startswith('sources[1].provider: "function" is not a usable provider: '
                             "<function not_a_class")
    assert got[1].endswith("is not a class")
    assert got[2] == ('sources[2].provider: "no-options" is not a usable provider: NoOptions '
                      "is no provider: it declares no Options")
    assert got[3] == ('sources[3].provider: "bad-options" is not a usable provider: '
                      "NotAModel.Options: <class 'dict'> is not an Options model")
    assert got[4] == ('sinks[0].type: "no-deliver" is not a usable sink type: NoDeliver is '
                      "no sink: it has no deliver() method")


def test_check_refuses_an_unusable_plugin_with_78_and_no_traceback(tmp_path: Path) -> None:
    """watcher check exits 78 over unusable plugins, listing them, with no traceback."""
    env = install(tmp_path)
    cfg = tmp_path / "w.toml"
    cfg.write_text(bad_config())
    out = run_cli("check", "-c", str(cfg), env=env)
    err = out.stderr.decode()
    assert out.returncode == 78, err
    assert "is not a usable provider" in err and "Traceback" not in err


class BareProvider:
    """Only what the protocol requires: no changed_at, enrich, skipped or requests."""

    kind: ClassVar[str] = "bare"
    default_base_url: ClassVar[str] = "http://127.0.0.1:9"
    Options = NoOptions

    def __init__(self, source: Any, context: ProviderContext) -> None:
        self.context = context

    async def poll(self, view: PollView) -> PollResult:
        return PollResult([], {})

    def describe(self, item: Any) -> RunDetails:
        return RunDetails(changed_at=item["at"])


class BareSink:
    """Only what the protocol requires: no linger, reopen or aclose."""

    kind: ClassVar[str] = "bare"
    Options = NoOptions

    def __init__(self, config: Any, context: SinkContext) -> None:
        return None

    async def deliver(self, batch: Sequence[JournalEntry]) -> Sequence[Any]:
        return ()


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(PROVIDERS.builtin, "bare", f"{__name__}:BareProvider")
    monkeypatch.setitem(SINKS.builtin, "bare", f"{__name__}:BareSink")


@pytest.mark.anyio
async def test_a_class_lacking_optional_members_gets_their_defaults(registered: None) -> None:
    """A provider without changed_at, enrich, skipped, requests and a sink without linger,
    reopen, aclose are given the documented defaults (changed_at from describe)."""
    cls = provider_class("bare")
    assert cls is not None and issubclass(cls, BareProvider)
    p = cls(parse_config(toml({}, [{"name": "b", "provider": "bare", "token": "t"}])).sources[0],
            ProviderContext(None, wall))  # type: ignore[arg-type]
    assert p.changed_at({"at": 5.0}) == 5.0
    assert (dict(p.skipped), p.requests, await p.enrich([])) == ({}, 0, None)
    scls = sink_class("bare")
    assert scls is not None and issubclass(scls, BareSink)
    cfg = parse_config(toml({}, [], [{"name": "k", "type": "bare"}])).sinks[0]
    s = scls(cfg, SinkContext(clock=wall))
    assert (s.linger, s.reopen(), await s.aclose()) == (0.0, None, None)
