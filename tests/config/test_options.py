"""Plugin options as frozen dataclasses: declared once with option(), validated by the
loader like every other key, built into the object the plugin reads, shown by check."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import pytest

from tests.support import parse_config, toml
from watcher import BaseProvider, PollResult, PollView, RunDetails, option
from watcher.errors import ConfigError
from watcher.providers import PROVIDERS
from watcher.runtime.configuration import resolved


def _at_most_200(v: int) -> str | None:
    return None if v <= 200 else f"{v} is more than 200"


@dataclass(frozen=True)
class RadarOptions:
    region: str = option("enum", "eu", choices=("eu", "us"))
    api_key: str = option("secret")
    window: float = option("duration", 3600.0, min=60)
    page_size: int = option("int", 50, min=1, check=_at_most_200)
    labels: tuple[str, ...] = option("strlist", ())

    def __post_init__(self) -> None:
        if "forbidden" in self.labels:
            raise ValueError("the label forbidden is reserved")


class RadarProvider(BaseProvider[RadarOptions]):
    """A provider of the typed API, never polled here: its options are the subject."""

    kind: ClassVar[str] = "radar"
    default_base_url: ClassVar[str] = "https://radar.example"
    Options = RadarOptions

    async def poll(self, view: PollView) -> PollResult:
        return PollResult([], {})

    def details(self, item: Any) -> RunDetails:
        return RunDetails()


RADAR = {"name": "r", "provider": "radar", "token": "t0ken-value", "api_key": "k3y-value"}


@pytest.fixture(autouse=True)
def radar(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(PROVIDERS.builtin, "radar", f"{__name__}:RadarProvider")


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        parse_config(text)
    return exc.value.problems


def test_a_source_gets_its_providers_options_object_with_every_default() -> None:
    """A source's options are an instance of its provider's dataclass, defaults filled in;
    secrets stay out of its repr (and the source's), so out of tracebacks."""
    source = parse_config(toml({}, [{**RADAR, "page_size": 10}])).sources[0]
    assert source.options == RadarOptions(region="eu", api_key="k3y-value", window=3600.0,
                                          page_size=10, labels=())
    assert "k3y-value" not in repr(source) and "t0ken-value" not in repr(source)


def test_option_kinds_bounds_and_checks_are_problems_at_their_key_path() -> None:
    """Each option's kind, minimum, choices and check are enforced, every problem listed
    with its key path; a required option must be given."""
    got = problems(toml({}, [{**RADAR, "region": "mars", "window": "10s", "page_size": 500},
                             {"name": "s", "provider": "radar", "token": "t", "labels": "x"}]))
    assert got == ['sources[0].region: "mars" must be one of eu, us',
                   'sources[0].window: "10s" is below the minimum of 1m',
                   "sources[0].page_size: 500 is more than 200",
                   "sources[1].api_key: is required",
                   "sources[1].labels: must be a list of strings"]


def test_an_error_the_options_class_raises_is_a_problem_of_the_table() -> None:
    """Options the plugin's dataclass refuses (its __post_init__ raises) are a problem of
    the source's table, not a crash."""
    assert problems(toml({}, [{**RADAR, "labels": ["forbidden"]}])) == \
        ["sources[0]: ValueError: the label forbidden is reserved"]


def test_check_shows_plugin_options_masked_and_formatted_like_the_built_ins() -> None:
    """check prints a plugin's options after the common keys: secrets as ***, durations
    as strings, defaults filled in."""
    out = resolved(parse_config(toml({}, [{**RADAR, "window": 7200}])))
    table = out.split("[[sources]]\n")[1].split("\n\n# Rate limits")[0].splitlines()
    assert table[-4:] == ['region = "eu"', 'api_key = "***"', 'window = "2h"', "page_size = 50"]
    assert "k3y-value" not in out
