"""``watcher silence add|list|expire``: silences kept in the state store, so the running
daemon (every replica, and after a restart) applies them within a second.

Like ``deadletters retry``, these commands write beside a running daemon: a
silence is one small record the daemon only reads.  Bad input is a usage
error (exit 64) saying what is wrong; an unusable store exits 69, and no state
where the config points exits 66 (never creating one the daemon would not see).
"""

from __future__ import annotations

import argparse
import getpass
import os
import secrets
import socket
import sys
from dataclasses import replace
from datetime import datetime

import anyio

from watcher.cli.daemon_state import absent
from watcher.cli.silence_view import held_counts, show
from watcher.config.settings import Config
from watcher.config.units import parse_duration
from watcher.core.silences import Silence, hint, parse_pairs
from watcher.errors import StoreUnavailable
from watcher.sinks import sink_class
from watcher.state import silences as stored
from watcher.state.backends import open_store
from watcher.state.store import Store, StoreAbsent, StoreError

EX_USAGE, EX_UNAVAILABLE = 64, 69


class Usage(Exception):
    """Bad input: the message says what is wrong (exit 64)."""


def command(args: argparse.Namespace, config: Config, now: float) -> int:
    path = config.watcher.state_path
    if path == ":memory:":
        print('watcher: state_path is ":memory:": there is no state a silence could be '
              "kept in", file=sys.stderr)
        return EX_UNAVAILABLE
    try:
        silence = _new(args, config, now) if args.action == "add" else None
        return anyio.run(_act, args, config, now, silence)
    except Usage as e:
        print(f"watcher silence {args.action}: {e}", file=sys.stderr)
        return EX_USAGE
    except StoreAbsent as e:
        return absent(config, e)
    except (StoreUnavailable, StoreError) as e:
        print(f"watcher: {e}", file=sys.stderr)
        return EX_UNAVAILABLE


async def _act(args: argparse.Namespace, config: Config, now: float,
               silence: Silence | None) -> int:
    store = await open_store(config.watcher.state_path, existing=True)
    try:
        if silence is not None:
            return await _add(store, silence, now, keep=config.watcher.retention)
        if args.action == "expire":
            return await _expire(store, args.id, now)
        silences, _ = await stored.stored(store)
        counts = await held_counts(store, config, silences)
    finally:
        await store.close()
    show(config, silences, counts, now, every=args.all, as_json=args.json)
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
        d = parse_duration(args.duration)
        if d is None or d <= 0:
            raise Usage(f'--for: "{args.duration}" is not a duration (e.g. 2h, 30m, 1h30m)')
        return now + d
    try:
        until = datetime.fromisoformat(args.until)
    except ValueError:
        raise Usage(f'--until: "{args.until}" is not an RFC 3339 time '
                    "(e.g. 2026-11-22T18:00:00+01:00)") from None
    ends = (until if until.tzinfo else until.astimezone()).timestamp()
    if ends <= now:
        raise Usage(f'--until: "{args.until}" is in the past')
    return ends


def _check_sinks(names: list[str], config: Config) -> None:
    sinks = {s.name: s for s in config.sinks}
    for name in names:
        sink = sinks.get(name)
        if sink is None:
            raise Usage(f'--sink: "{name}" is not a configured sink{hint(name, sinks)}')
        if getattr(sink_class(sink.type), "record", False):
            raise Usage(f'--sink: "{name}" is a complete record ({sink.type}): silences '
                        "never hold its events back")


async def _add(store: Store, silence: Silence, now: float, *, keep: float) -> int:
    old, _ = await stored.stored(store)
    for s in old:  # ended long ago: no backlog is judged against them any more
        if s.ends < now - keep:
            await stored.forget(store, s.id)
    await stored.save(store, silence)
    print(silence.id)
    print(f"silence {silence.id} holds back {_what(silence)} until "
          f"{datetime.fromtimestamp(silence.ends).astimezone().isoformat(timespec='seconds')}"
          " (a running daemon applies it within a second)", file=sys.stderr)
    return 0


def _what(s: Silence) -> str:
    match = " ".join(f"{k}={'|'.join(v)}" for k, v in s.match.items())
    return f"{match} from {', '.join(s.sinks) if s.sinks else 'every notification sink'}"


async def _expire(store: Store, silence_id: str, now: float) -> int:
    silences, _ = await stored.stored(store)
    found = next((s for s in silences if s.id == silence_id), None)
    if found is None:
        raise Usage(f'no silence "{silence_id}"{hint(silence_id, [s.id for s in silences])}')
    if found.ends <= now:
        print(f"silence {silence_id} had already ended", file=sys.stderr)
        return 0
    await stored.save(store, replace(found, ends=now, expired=now))
    print(f"silence {silence_id} expired (a running daemon lets events through within a "
          "second)", file=sys.stderr)
    return 0

