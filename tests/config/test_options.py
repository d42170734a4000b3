"""Plugin options as pydantic models: declared once with typed fields, validated by the
loader like every other key, built into the object the plugin reads, shown by check."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, Self

import pytest
from pydantic import model_validator

from tests.support import parse_config, toml
from watcher import (
    BaseProvider,
    Check,
    Duration,
    Field,
    Options,
    PollResult,
    PollView,
    RunDetails,
    Secret,
    StrList,
)
from watcher.errors import ConfigError
from watcher.providers import PROVIDERS
from watcher.runtime.configuration import resolved


def _at_most_200(v: int) -> str | None:
    return None if v <= 200 else f"{v} is more than 200"


class RadarOptions(Options):
    region: Literal["eu", "us"] = "eu"
    api_key: Secret
    window: Annotated[float, Duration(min=60)] = 3600.0
    page_size: Annotated[int, Field(ge=1), Check(_at_most_200)] = 50
    labels: StrList = ()

    @model_validator(mode="after")
    def _allowed(self) -> Self:
        if "forbidden" in self.labels:
            raise ValueError("the label forbidden is reserved")
        return self


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
    """A source's options are an instance of its provider's model, defaults filled in;
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
                   "sources[1].labels: must be a list of strings",
                   "sources[1].api_key: is required"]


def test_an_error_the_options_class_raises_is_a_problem_of_the_table() -> None:
    """Options the plugin's model refuses (its validator raises) are a problem of the
    source's table, not a crash."""
    assert problems(toml({}, [{**RADAR, "labels": ["forbidden"]}])) == \
        ["sources[0]: ValueError: the label forbidden is reserved"]


def test_a_problem_with_a_secret_option_never_quotes_its_value() -> None:
    """A secret given as the wrong type is a problem at its key path that does not echo
    the value, unlike any other key."""
    got = problems(toml({}, [{**RADAR, "api_key": 123456789, "window": 123456789}]))
    assert got == ["sources[0].api_key: must be a string",
                   "sources[0].window: 123456789 is above the maximum of 366d"]


def test_check_shows_plugin_options_masked_and_formatted_like_the_built_ins() -> None:
    """check prints a plugin's options after the common keys: secrets as ***, durations
    as strings, defaults filled in."""
    out = resolved(parse_config(toml({}, [{**RADAR, "window": 7200}])))
    table = out.split("[[sources]]\n")[1].split("\n\n# Rate limits")[0].splitlines()
    assert table[-4:] == ['region = "eu"', 'api_key = "***"', 'window = "2h"', "page_size = 50"]
    assert "k3y-value" not in out


class PostInitOptions(Options):
    """A dataclass habit: a check across keys in __post_init__, which a model never runs."""

    region: Literal["eu", "us"] = "eu"

    def __post_init__(self) -> None:
        if self.region == "us":
            raise ValueError("us needs a key of its own")


class PostInitProvider(RadarProvider):
    """A provider whose options keep a __post_init__."""

    kind: ClassVar[str] = "post-init"
    Options = PostInitOptions  # type: ignore[assignment]


def test_options_with_a_post_init_are_refused_not_left_unchecked(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """An Options model with a __post_init__ (never run by pydantic) is an unusable plugin,
    said at its key, rather than a check across keys silently skipped."""
    monkeypatch.setitem(PROVIDERS.builtin, "post-init", f"{__name__}:PostInitProvider")
    got = problems(toml({}, [{"name": "p", "provider": "post-init", "token": "t",
                              "region": "us"}]))
    assert got == ['sources[0].provider: "post-init" is not a usable provider: '
                   "PostInitProvider.Options: PostInitOptions has a __post_init__, which an "
                   'Options model never runs: check across keys in a '
                   '@model_validator(mode="after")']
