"""``watcher silence add|list|expire``: silences kept in the state store, so the running
daemon (every replica, and after a restart) applies them within a second.

Like ``deadletters retry``, these commands write beside a running daemon: a
silence is one small record the daemon only reads.  Bad input is a usage
error (exit 64) saying what is wrong; an unusable store exits 69.

Where the config points to no state (``state_path`` unset in a shell elsewhere
than the daemon's directory, or ``":memory:"``), they act through the running
daemon's HTTP API at ``http_listen`` instead (``/silences``, as ``amtool`` acts
through Alertmanager), so the silence lands in the state the daemon reads; with
no daemon answering there either they exit 66 (69 for ``":memory:"``), storing
nothing: a silence the daemon never reads is worse than none.
"""

from __future__ import annotations

import argparse
import getpass
import os
import secrets
import socket
import sys
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime

import anyio
import orjson

from watcher.cli.daemon_state import beside_daemon
from watcher.cli.remote import daemon_get, daemon_put
from watcher.cli.silence_view import held_counts, match_text, show, sinks_text
from watcher.config.hints import hint
from watcher.config.match import parse_pairs
from watcher.config.settings import Config
from watcher.config.units import LONGEST, format_duration, parse_duration
from watcher.core.silences import Silence
from watcher.sinks import sink_class
from watcher.state import silences as stored
from watcher.state.backends import open_store


class Usage(Exception):
    """Bad input: the message says what is wrong (exit 64)."""


def command(args: argparse.Namespace, config: Config, now: float) -> int:
    try:
        silence = _new(args, config, now) if args.action == "add" else None
        return beside_daemon(config, lambda: anyio.run(_act, args, config, now, silence),
                             lambda: _through_daemon(args, config, now, silence),
                             "there is no state a silence could be kept in, and no daemon "
                             "answers at http_listen")
    except Usage as e:
        print(f"watcher silence {args.action}: {e}", file=sys.stderr)
        return os.EX_USAGE


async def _act(args: argparse.Namespace, config: Config, now: float,
               silence: Silence | None) -> int:
    counts = None
    async with await open_store(config.watcher.state_path, existing=True) as store:
        silences, _ = await stored.stored(store)
        if args.action == "list":
            counts = await held_counts(store, config)
        elif silence is None:
            silence = _ended(silences, args.id, now)
        else:
            for s in silences:  # ended long ago: no backlog is judged against them any more
                if s.ends < now - config.watcher.retention:
                    await stored.forget(store, s.id)
        if silence is not None:
            await stored.save(store, silence)
    return _tell(args, config, now, silences, counts, silence)


def _through_daemon(args: argparse.Namespace, config: Config, now: float,
                    silence: Silence | None) -> int | None:
    """The command, acted through the daemon at ``http_listen``; None if none answers."""
    answered = daemon_get(config, "/silences")
    if answered is None or not isinstance(answered[1], list):
        return None
    url, items = answered
    print(f"watcher: no state where the config points; acting through the daemon at {url}",
          file=sys.stderr)
    silences, _ = stored.decode_all({str(i): orjson.dumps(x) for i, x in enumerate(items)})
    if args.action == "expire":
        silence = _ended(silences, args.id, now)
    if silence is not None:
        daemon_put(config, url, f"/silences/{silence.id}", silence.encode())
    return _tell(args, config, now, silences, None, silence)


def _tell(args: argparse.Namespace, config: Config, now: float, silences: list[Silence],
          counts: Mapping[str, int] | None, silence: Silence | None) -> int:
    """What the command tells: ``list`` its rows; ``add`` the new id on stdout, what it
    does on stderr; ``expire`` that it ended (``silence``: the one stored, if any)."""
    if args.action == "list":
        show(config, silences, counts, now, every=args.all, as_json=args.json)
    elif silence is not None and args.action == "expire":
        print(f"silence {silence.id} expired (a running daemon lets events through within a "
              "second)", file=sys.stderr)
    elif silence is not None:
        ends = datetime.fromtimestamp(silence.ends).astimezone().isoformat(timespec="seconds")
        print(silence.id)
        print(f"silence {silence.id} holds back {match_text(silence.match)} from "
              f"{sinks_text(silence.sinks)} until {ends} (a running daemon applies it within "
              "a second)", file=sys.stderr)
    return 0


def _new(args: argparse.Namespace, config: Config, now: float) -> Silence:
    try:
        match = parse_pairs(args.match, sources=[s.name for s in config.sources])
    except ValueError as e:
        raise Usage(f"--match: {e}") from None
    ends = _ends(args, now)
    _check_sinks(args.sink, config)
    comment = args.comment.strip()
    if not comment:
        raise Usage("--comment: say why (an empty comment helps nobody later)")
    author = args.author or f"{os.environ.get('USER') or getpass.getuser()}@{socket.gethostname()}"
    return Silence(id=secrets.token_hex(6), match=match, starts=now, ends=ends,
                   sinks=tuple(dict.fromkeys(args.sink)), author=author, comment=comment,
                   created=now)


def _ends(args: argparse.Namespace, now: float) -> float:
    if args.duration is not None:
        flag, text, too_long = "--for", args.duration, "is longer than a year"
        span = parse_duration(args.duration)
        if span is None or span <= 0:
            raise Usage(f'--for: "{args.duration}" is not a duration (e.g. 2h, 30m, 1h30m)')
        ends = now + span
    else:
        flag, text, too_long = "--until", args.until, "is more than a year away"
        try:
            until = datetime.fromisoformat(args.until)
        except ValueError:
            raise Usage(f'--until: "{args.until}" is not an RFC 3339 time '
                        "(e.g. 2026-11-22T18:00:00+01:00)") from None
        ends = (until if until.tzinfo else until.astimezone()).timestamp()
        if ends <= now:
            raise Usage(f'--until: "{args.until}" is in the past')
        span = ends - now
    if span > LONGEST and not args.force:
        raise Usage(f'{flag}: "{text}" {too_long} ({format_duration(LONGEST)}); '
                    "add --force if you mean it")
    return ends


def _check_sinks(names: list[str], config: Config) -> None:
    sinks = {s.name: s for s in config.sinks}
    for name in names:
        sink = sinks.get(name)
        if sink is None:
            raise Usage(f'--sink: "{name}" is not a configured sink{hint(name, sinks)}')
        if sink_class(sink.type).record:
            raise Usage(f'--sink: "{name}" is a complete record ({sink.type}): silences '
                        "never hold its events back")


def _ended(silences: list[Silence], silence_id: str, now: float) -> Silence | None:
    """The silence ``expire`` names, ended now; None when it had ended (said); Usage if
    there is none."""
    found = next((s for s in silences if s.id == silence_id), None)
    if found is None:
        raise Usage(f'no silence "{silence_id}"{hint(silence_id, [s.id for s in silences])}')
    if found.ends <= now:
        print(f"silence {silence_id} had already ended", file=sys.stderr)
        return None
    return replace(found, ends=now, expired=now)
