"""Command line: parse arguments, then call into the package. Nothing else lives here.

Exit codes follow sysexits: 0 ok, 64 usage, 69 unavailable, 75 temporary
failure (``once``: a source failed, or another process holds the state file or
its leases), 78 configuration; ``migrate`` also 66 (no such file) and 73 (the
database already holds a state); ``silence``, ``status`` and ``deadletters``
also 66 (no daemon state where the config points, and for the first two no
daemon answering at ``http_listen``), ``silence`` 77 (the daemon refused its
token).  A closed stdout (``watcher check | head -2``) ends a command quietly
with 0, as ``yes | head`` does.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from watcher.cli.parser import parser
from watcher.cli.target import DEFAULT_CONFIG, fail

if TYPE_CHECKING:
    from watcher.config.settings import Config


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = parser().parse_args(argv)
        if args.command == "run":  # from here on a SIGHUP while starting reloads, never kills
            from watcher.runtime import signals

            signals.hold()
        code = _dispatch(args)
    except KeyboardInterrupt:
        code = os.EX_OK
    except BrokenPipeError:  # whoever read our stdout is done: so are we
        code = os.EX_OK
    return _flushed(code)


def _flushed(code: int) -> int:
    """``code``, once what stdout still buffers is written: a reader gone by now is not
    an error either (left to the flush at exit, it would print a traceback)."""
    from watcher.cli.pipes import stdout_gone

    try:
        sys.stdout.flush()
    except BrokenPipeError:
        stdout_gone()
    return code


def _load(args: argparse.Namespace) -> Config:
    from watcher.errors import ConfigError
    from watcher.runtime import configuration as config_mod

    try:
        path = args.config or os.environ.get("WATCHER_CONFIG") or DEFAULT_CONFIG
        return config_mod.load(path, needs=_NEEDS.get(args.command))
    except ConfigError as e:
        print(str(e), file=sys.stderr)
        print(f"watcher: {_n(len(e.problems), 'configuration problem')}", file=sys.stderr)
        raise SystemExit(os.EX_CONFIG) from None


def _dispatch(args: argparse.Namespace) -> int:
    """Run the command: those without a config first, then those that read one."""
    from watcher.server import logs

    if args.command in _PLAIN:
        level, command = _PLAIN[args.command]
        if level is not None:
            logs.configure(level=level, fmt="auto")
        return command(args)
    config = _load(args)
    w = config.watcher
    logs.configure(level=w.log_level, fmt=w.log_format, secrets=config.secrets)
    return _WITH_CONFIG[args.command](args, config)


def _demo(args: argparse.Namespace) -> int:
    from watcher.cli.demo import demo
    from watcher.runtime.loop import run_sync

    return run_sync(lambda: demo(duration=args.duration, fmt=args.format))


def _simulate(args: argparse.Namespace) -> int:
    from watcher.runtime.loop import run_sync
    from watcher.simulator.serve import serve

    return run_sync(lambda: serve(host=args.host, port=args.port, scenario=not args.quiet_world))


def _tail(args: argparse.Namespace) -> int:
    from watcher.cli.tail import tail
    from watcher.runtime.loop import run_sync

    return run_sync(lambda: tail(args))


def _schema(args: argparse.Namespace) -> int:
    from watcher.cli.schema import command

    return command(args.type)


def _migrate(args: argparse.Namespace) -> int:
    from watcher.cli.migrate import command

    return command(args.source, args.target)


def _check(args: argparse.Namespace, config: Config) -> int:
    import time

    if args.connect:
        from watcher.cli.connect import command

        return command(config)
    from watcher.runtime.configuration import resolved, warnings

    sys.stdout.write(resolved(config, now=time.time()))
    for warning in warnings(config):
        print(f"watcher: warning: {warning}", file=sys.stderr)
    return os.EX_OK


def _deadletters(args: argparse.Namespace, config: Config) -> int:
    from watcher.cli.deadletters import command

    return command(config, args.action, sink=args.sink)


def _silence(args: argparse.Namespace, config: Config) -> int:
    import time

    from watcher.cli.silence import command

    return command(args, config, time.time())


def _status(args: argparse.Namespace, config: Config) -> int:
    from watcher.cli.status import command

    return command(config, as_json=args.json)


def _daemon(args: argparse.Namespace, config: Config) -> int:
    """``run`` and ``once``: what each exits with when the state store is unusable."""
    from watcher.errors import LeasesHeld, StateHeld, StoreError, StoreUnavailable
    from watcher.infra.clock import wall
    from watcher.runtime.daemon import Daemon
    from watcher.runtime.loop import run_sync

    once = args.command == "once"
    daemon = Daemon(config, clock=wall)
    try:
        code = run_sync(daemon.once if once else daemon.run)
        _tell_summary(daemon.summary, config.watcher.log_format)
        return code
    except LeasesHeld as e:  # temporary: the replicas poll every source already
        return fail(f"not polling: {e}", os.EX_TEMPFAIL)
    except StateHeld as e:
        if once:  # temporary: it can run once that process is gone
            return fail(f"not polling: {e}; `once` must not write the state file alongside "
                        "it (a running daemon already polls every source)", os.EX_TEMPFAIL)
        return fail(f"state store unusable at start: {e}", os.EX_UNAVAILABLE)
    except StoreUnavailable as e:
        return fail(str(e), os.EX_UNAVAILABLE)
    except StoreError as e:  # `once` only: the daemon itself rides out store errors
        return fail(str(e), os.EX_TEMPFAIL)


def _n(n: object, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


def _tell_summary(summary: list[dict[str, object]], log_format: str) -> None:
    """``once``: a line per source on a terminal; a log line each where logs are JSON."""
    import structlog

    from watcher.server import logs

    as_json = logs.wants_json(log_format, sys.stderr)
    for s in summary:
        if as_json:
            structlog.get_logger("watcher.once").info("once summary", **s)
            continue
        line = (f"watcher once: {s['source']}: {_n(s['polls'], 'poll')} ({s['failed_polls']} "
                f"failed), {_n(s['new_runs'], 'new run')}, {_n(s['events'], 'event')} "
                f"({_n(s['failed_runs'], 'run')} failed)")
        print(line + (f"; error: {s['error']}" if s["error"] else ""), file=sys.stderr)


#: commands that need no config, and the level they log at (None: they do not)
_PLAIN: dict[str, tuple[str | None, Callable[[argparse.Namespace], int]]] = {
    "demo": ("info", _demo), "simulate": ("info", _simulate), "tail": ("warning", _tail),
    "migrate": ("warning", _migrate), "schema": (None, _schema)}
#: what the commands beside a daemon read of the config: a ``${VAR}`` unset elsewhere
#: (the unit's ``${WATCHER_REPLICA}``) does not stop them; the others need every key
_DAEMON = frozenset({"watcher.state_path", "watcher.http_listen", "watcher.http_token",
                     "watcher.http_token_file"})
_NEEDS: dict[str, frozenset[str]] = {
    "status": _DAEMON | {"watcher.lease_ttl"}, "silence": _DAEMON | {"watcher.retention"},
    "deadletters": frozenset({"watcher.state_path"})}
#: commands that read the config first (exit 78 when it is invalid)
_WITH_CONFIG: dict[str, Callable[[argparse.Namespace, Config], int]] = {
    "check": _check, "deadletters": _deadletters, "run": _daemon, "once": _daemon,
    "silence": _silence, "status": _status}
