"""A source's ``rate_limit`` (a number, or ``{rate, burst}``) read with clear errors, and
``watcher check`` showing each rate-limit bucket, its rate and its sources, never a key,
with a warning when a bucket cannot serve its sources at their intervals."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.support import parse_config, run_cli, toml
from watcher.errors import ConfigError
from watcher.infra.ratelimit import Limit

EXTEND = {"name": "a", "provider": "extend", "token": "k3y-one-SECRET"}


@pytest.mark.parametrize(("given", "limit"), [
    (25, Limit(25.0)), (2.5, Limit(2.5)), ({"rate": 25}, Limit(25.0)),
    ({"rate": 0.5, "burst": 3}, Limit(0.5, 3.0))])
def test_rate_limit_reads_a_number_or_a_table(given: object, limit: Limit) -> None:
    """rate_limit = 25 and rate_limit = { rate = 25, burst = 50 } are both a limit."""
    assert parse_config(toml({}, [{**EXTEND, "rate_limit": given}])).sources[0].rate_limit \
        == limit


@pytest.mark.parametrize(("given", "problem"), [
    (0, "sources[0].rate_limit: 0 must be above 0 and at most 1000000 (requests per second)"),
    ("fast", 'sources[0].rate_limit: "fast" must be a number of requests per second, or a '
             "table { rate = ..., burst = ... }"),
    ({"rate": 5, "brust": 2}, "sources[0].rate_limit.brust: unknown key (did you mean "
                              "'burst'?)"),
    ({"burst": 2}, "sources[0].rate_limit.rate: is required (requests per second)"),
    ({"rate": 5, "burst": 0.5}, "sources[0].rate_limit.burst: 0.5 must be at least 1 and at "
                                "most 1000000 (requests at once)"),
    ({"rate": "5"}, 'sources[0].rate_limit.rate: "5" must be a number (requests per second)'),
])
def test_a_bad_rate_limit_says_what_is_wrong_where(given: object, problem: str) -> None:
    """Each malformed rate_limit is reported once, at its own key path, saying the form."""
    with pytest.raises(ConfigError) as exc:
        parse_config(toml({}, [{**EXTEND, "rate_limit": given}]))
    assert exc.value.problems == [problem]


def check(tmp_path: Path, sources: list[dict[str, Any]]) -> tuple[int, str, str]:
    path = tmp_path / "w.toml"
    path.write_text(toml({"state_path": ":memory:"}, sources))
    r = run_cli("check", "-c", str(path))
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def test_a_bad_rate_limit_exits_78(tmp_path: Path) -> None:
    """watcher check refuses a config with a bad rate_limit with exit 78, naming the key."""
    code, out, err = check(tmp_path, [{**EXTEND, "rate_limit": -3}])
    assert code == 78 and "sources[0].rate_limit: -3 must be above 0" in err and out == ""


def test_check_shows_each_bucket_its_rate_and_its_sources_but_no_key(tmp_path: Path) -> None:
    """Two sources on one key share a bucket at the smaller rate; another key has its own;
    the output (valid TOML, as comments) names sources and rates, never the keys."""
    code, out, err = check(tmp_path, [
        {**EXTEND, "rate_limit": 25}, {**EXTEND, "name": "b", "rate_limit": 40},
        {**EXTEND, "name": "c", "token": "k3y-two-SECRET", "interval": "30s"}])
    assert code == 0 and err == ""
    assert "rate_limit = 25.0" in out
    assert ("#   extend bucket of a, b: 25 requests/s, burst 25; 2 sources need 0.133/s at "
            "their intervals") in out
    assert "#   extend bucket of c: 10 requests/s, burst 10; 1 source needs 0.0333/s" in out
    assert "SECRET" not in out


def test_check_warns_when_a_bucket_cannot_serve_its_sources(tmp_path: Path) -> None:
    """Thirty sources of one Extend key every second need 30 GET/s of a 10/s bucket: check
    warns which bucket and sources, and the interval they can actually get (3 s), and
    lists every source of the bucket."""
    sources = [{**EXTEND, "name": f"s{i:02d}", "interval": "1s"} for i in range(30)]
    code, out, err = check(tmp_path, sources)
    assert code == 0
    assert err.startswith("watcher: warning: rate limit too low: extend bucket of s00, s01, "
                          "s02 (+27 more): 10 requests/s, burst 10; 30 sources need 30/s at "
                          "their intervals: too many, s00, s01, s02 (+27 more) can poll only "
                          "every 3 s instead of every 1 s")
    assert "too many" in out and "SECRET" not in out + err
    listed = " ".join(line for line in out.splitlines()
                      if line.startswith(("#     sources: ", "#       ")))
    assert re.findall(r"\bs\d\d\b", listed) == [f"s{i:02d}" for i in range(30)]  # every one
