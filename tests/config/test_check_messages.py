"""What `watcher check` says: every problem of a source whose provider is misspelt, a
webhook secret judged as receiving libraries judge it, and the duration forms."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from standardwebhooks.webhooks import Webhook

from tests.support import parse_config, run_cli, toml
from watcher.errors import ConfigError

EXTEND = {"name": "a", "provider": "extend", "token": "t0ken-value"}


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        parse_config(text)
    return exc.value.problems


def secret(n: int) -> str:
    return "whsec_" + base64.b64encode(bytes(range(7, 7 + n))).decode()


def test_a_misspelt_provider_hides_none_of_the_sources_other_problems() -> None:
    """provider = "extnd" is reported with a guess, and the source's other keys are still
    judged: a bad interval, a typo'd key, a bad value of the guessed provider's own key."""
    got = problems(toml({}, [{**EXTEND, "provider": "extnd", "interval": "15 seconds",
                              "intervall": "1s", "page_size": 0}]))
    assert got[0].startswith('sources[0].provider: "extnd" is not a known provider '
                             "(did you mean 'extend'? known: ")
    rest = sorted(got[1:])
    assert rest[0].startswith('sources[0].interval: "15 seconds" is not a duration')
    assert rest[1] == "sources[0].intervall: unknown key (did you mean 'interval'?)"
    assert rest[2] == "sources[0].page_size: 0 must be at least 1"


def test_an_unguessable_provider_still_gets_its_common_keys_checked() -> None:
    """With no known provider near the name, the common keys are judged and the others,
    which may be that provider's own, are left alone."""
    got = problems(toml({}, [{**EXTEND, "provider": "acme-corp-internal",
                              "interval": "fast", "acme_region": "eu"}]))
    assert len(got) == 2, got
    assert got[0].startswith('sources[0].provider: "acme-corp-internal" is not a known '
                             "provider (known: airflow, cortex, extend")
    assert got[1].startswith('sources[0].interval: "fast" is not a duration')


def test_a_bad_duration_lists_the_forms_a_duration_takes() -> None:
    """The duration message names the accepted forms, so the fix is in the message."""
    got, = problems(toml({}, [{**EXTEND, "interval": "15 seconds"}]))
    assert got == ('sources[0].interval: "15 seconds" is not a duration: a number of seconds, '
                   'or numbers with a unit (ms, s, m, h, d), e.g. "500ms", "15s", "10m", "2h", '
                   '"7d", "1h30m"')


@pytest.mark.parametrize(("value", "why"), [
    ("hunter2", "it does not start with whsec_"),
    ("c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0", "it does not start with whsec_"),
    ("whsec_hunter2!", "the part after whsec_ is not valid base64"),
    (secret(16), "it decodes to 16 bytes"),
    (secret(65), "it decodes to 65 bytes"),
])
def test_a_webhook_secret_receiving_libraries_would_refuse_is_a_config_error(
        value: str, why: str, tmp_path: Path) -> None:
    """A webhook secret must be whsec_ + base64 of 24-64 bytes; check says which part is
    wrong and never echoes the secret."""
    cfg = tmp_path / "w.toml"
    cfg.write_text(toml({"state_path": ":memory:"}, sinks=[{
        "name": "ops", "type": "webhook", "url": "https://hooks.example.com/x",
        "secret": value}]))
    out = run_cli("check", "-c", str(cfg))
    err = out.stderr.decode()
    assert out.returncode == 78
    assert "sinks[0].secret: must be a Standard Webhooks secret: whsec_ followed by the " \
        "base64 of 24 to 64 random bytes" in err and why in err
    assert value not in err


@pytest.mark.parametrize("n", [24, 32, 64])
def test_a_secret_receiving_libraries_accept_is_accepted(n: int) -> None:
    """Secrets of 24 to 64 bytes pass check, and the Standard Webhooks library takes them."""
    value = secret(n)
    Webhook(value)  # the receiving side's constructor
    cfg = parse_config(toml({"state_path": ":memory:"}, sinks=[{
        "name": "ops", "type": "webhook", "url": "https://hooks.example.com/x",
        "secret": value}]))
    assert cfg.sinks[0].name == "ops"


SOURCE = '[[sources]]\nname = "a"\nprovider = "extend"\ntoken = "t0ken-value"\n'


@pytest.mark.parametrize(("line", "said"), [
    ("interval = true", "sources[0].interval: true is not a duration: "),
    ("lookback = false", "sources[0].lookback: false is not a duration: "),
    ('timeout = [1, "s"]', 'sources[0].timeout: [1, "s"] is not a duration: '),
    ("max_backoff = { s = 1 }", "sources[0].max_backoff: { s = 1 } is not a duration: "),
    ("stuck_after = 1979-05-27T07:32:00Z",
     "sources[0].stuck_after: 1979-05-27T07:32:00+00:00 is not a duration: "),
    ("base_url = true", "sources[0].base_url: true must be a string"),
    ("max_response_size = false", "sources[0].max_response_size: false is not a size: "),
    ("rate_limit = true", "sources[0].rate_limit: true must be a number of requests per second"),
    ("rate_limit = { rate = false }", "sources[0].rate_limit.rate: false must be a number"),
    ('params = { a = ["x"] }', 'sources[0].params.a: ["x"] must be a string or number'),
])
def test_a_value_of_the_wrong_type_is_quoted_as_toml_spells_it(line: str, said: str) -> None:
    """A problem quotes the value as the file has it: true, not Python's True; a list, a
    table or a date-time in TOML's syntax."""
    got, = problems(f"{SOURCE}{line}\n")
    assert got.startswith(said), got


@pytest.mark.parametrize(("line", "said"), [
    ('interval = "2d"', 'sources[0].interval: "2d" is above the maximum of 1d'),
    ('lookback = "999999d"', 'sources[0].lookback: "999999d" is above the maximum of 366d'),
    ("lookback = 1e300", "sources[0].lookback: 1e+300 is above the maximum of 366d"),
    ("timeout = inf", "sources[0].timeout: inf is above the maximum of 10m"),
    ('max_backoff = "25h"', 'sources[0].max_backoff: "25h" is above the maximum of 1d'),
    ('stuck_after = "400d"', 'sources[0].stuck_after: "400d" is above the maximum of 366d'),
])
def test_a_duration_past_its_sane_maximum_is_a_config_error(line: str, said: str) -> None:
    """Durations have a maximum (a year unless the key says less), so a typo of a few
    digits cannot set a poll to run once a millennium or overflow a timer."""
    assert problems(f"{SOURCE}{line}\n") == [said]


def test_a_plugin_duration_without_a_maximum_of_its_own_stops_at_a_year() -> None:
    """A sink's duration key gets the same one-year bound; a year itself is accepted."""
    sink = '[[sinks]]\nname = "ops"\ntype = "webhook"\nurl = "https://hooks.example.com/x"\n'
    assert problems(f'{sink}max_age = "367d"\n') == [
        'sinks[0].max_age: "367d" is above the maximum of 366d']
    cfg = parse_config(f'{SOURCE}lookback = "366d"\n{sink}max_age = "366d"\n')
    assert cfg.sources[0].lookback == 366 * 86400


@pytest.mark.parametrize("source", [
    {"name": "n", "provider": "noxus", "token": "t0ken-value"},
    {"name": "d", "provider": "airflow", "token": "t0ken-value", "base_url": "http://127.0.0.1:1"},
])
def test_push_secret_on_a_provider_that_sends_no_webhooks_is_a_config_error(
        source: dict[str, str]) -> None:
    """A push_secret where no verifiable webhook exists is refused at its key, not left to
    answer every push with 404, and the secret itself is never quoted."""
    got = problems(toml({}, [{**source, "push_secret": "s3cret-value"}]))
    assert got == [f"sources[0].push_secret: provider {source['provider']} sends no webhooks "
                   "watcher can verify (push: extend, github, gitlab, json)"]
    assert not any("s3cret-value" in p for p in got)


@pytest.mark.parametrize("provider", ["extend", "github", "gitlab", "json"])
def test_push_secret_is_accepted_where_the_provider_has_a_scheme(provider: str) -> None:
    """extend, github, gitlab and json sources take push_secret."""
    source = {"name": "p", "provider": provider, "token": "t0ken-value",
              "push_secret": "s3cret-value"}
    if provider == "github":
        source["repository"] = "acme/api"
    if provider == "gitlab":
        source["project"] = "acme/api"
    if provider == "json":
        source.update(base_url="http://127.0.0.1:1", path="/runs", run_path="/runs/{id}",
                      fields={"items": "runs", "id": "id", "status": "state"})
    parse_config(toml({}, [source]))


def test_push_secret_on_a_json_source_without_run_path_is_a_config_error() -> None:
    """A json push names its run by id, read at run_path: without one a push could change
    nothing (only slow the polling), so check refuses it at push_secret."""
    got = problems(toml({}, [{"name": "j", "provider": "json", "base_url": "http://127.0.0.1:1",
                              "path": "/runs", "token": "t0ken-value",
                              "push_secret": "s3cret-value",
                              "fields": {"items": "runs", "id": "id", "status": "state"}}]))
    assert got == ['sources[0].push_secret: a push names its run by id: set run_path '
                   '(e.g. "/api/runs/{id}") to read it']


def test_a_misspelt_choice_gets_a_guess_beside_the_choices() -> None:
    """pagination.mode = "cursr" lists the modes and guesses 'cursor', as a misspelt key does."""
    got = problems(toml({}, [{"name": "j", "provider": "json", "base_url": "http://127.0.0.1:1",
                              "path": "/runs", "token": "t0ken-value",
                              "fields": {"items": "runs", "id": "id", "status": "state"},
                              "pagination": {"mode": "cursr"}}]))
    assert got == ["sources[0].pagination.mode: 'cursr' must be one of none, link, cursor, "
                   "page, offset (did you mean 'cursor'?)"]
