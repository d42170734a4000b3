"""``[[heartbeats]]``: the kind follows from the URL unless given, the URL is a secret (never
in a problem's text, masked by ``watcher check``), and each problem has its key path."""

from __future__ import annotations

import pytest

from tests.support import parse_config, toml
from watcher.errors import ConfigError
from watcher.runtime.configuration import resolved

HC = "https://hc-ping.com/3f1c2a9e-5d7b-4e8f-a1b2-c3d4e5f60718"


def config(*tables: str) -> str:
    return toml({"state_path": ":memory:"}) + "".join(
        f"\n[[heartbeats]]\n{t.strip()}\n" for t in tables)


def test_the_kind_follows_from_the_url_and_the_defaults_are_a_minute_and_ten_seconds() -> None:
    """hc-ping.com and a self-hosted healthchecks host are healthchecks, cronitor.link is
    cronitor, any other host a plain url; a kind given wins; interval 1m, timeout 10s."""
    beats = parse_config(config(
        f'name = "hc"\nurl = "{HC}"',
        'name = "self"\nurl = "https://healthchecks.example.org/ping/abc"',
        'name = "cr"\nurl = "https://cronitor.link/p/KEY/watcher"',
        'name = "dms"\nurl = "https://nosnch.in/abc123"',
        'name = "given"\nurl = "https://example.org/hc/abc"\nkind = "healthchecks"\n'
        'interval = "30s"\ntimeout = "2s"')).heartbeats
    assert [(b.name, b.kind) for b in beats] == [
        ("hc", "healthchecks"), ("self", "healthchecks"), ("cr", "cronitor"), ("dms", "url"),
        ("given", "healthchecks")]
    assert (beats[0].interval, beats[0].timeout) == (60.0, 10.0)
    assert (beats[4].interval, beats[4].timeout) == (30.0, 2.0)


def test_problems_name_their_key_and_never_show_the_url() -> None:
    """A missing url, a URL that is not http(s), an unknown kind, a too short interval and
    a duplicate name are each reported at their key; the bad URL's text is not echoed."""
    with pytest.raises(ConfigError) as exc:
        parse_config(config('name = "a"',
                            'name = "b"\nurl = "ftp://secret-check-id@host/x"',
                            f'name = "c"\nurl = "{HC}"\nkind = "pingdom"\ninterval = "100ms"',
                            f'name = "c"\nurl = "{HC}"'))
    problems = exc.value.problems
    assert any(p.startswith("heartbeats[0].url: is required") for p in problems), problems
    assert any(p.startswith("heartbeats[1].url: must be an http") for p in problems), problems
    assert any(p.startswith("heartbeats[2].kind: ") for p in problems), problems
    assert any(p.startswith("heartbeats[2].interval: ") for p in problems), problems
    assert any(p.startswith("heartbeats[3].name: ") for p in problems), problems
    assert not any("secret-check-id" in p for p in problems), problems


def test_check_masks_the_url_and_shows_the_kind_it_will_use() -> None:
    """``watcher check`` prints each heartbeat with its URL as *** and its defaults."""
    cfg = parse_config(config(f'name = "hc"\nurl = "{HC}"'))
    text = resolved(cfg)
    assert "[[heartbeats]]" in text and 'url = "***"' in text
    assert 'kind = "healthchecks"' in text and 'interval = "1m"' in text
    assert HC not in text and HC in cfg.secrets
