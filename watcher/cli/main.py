"""Command line: parse arguments, then call into the package. Nothing else lives here.

Exit codes follow sysexits: 0 ok, 64 usage, 69 unavailable, 75 temporary
failure (``once``: a source failed, or another process holds the state file),
78 configuration.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NoReturn

from watcher.version import __version__

if TYPE_CHECKING:
    from watcher.config.settings import Config

EX_OK, EX_USAGE, EX_UNAVAILABLE, EX_TEMPFAIL, EX_CONFIG = 0, 64, 69, 75, 78
DEFAULT_CONFIG = "/etc/watcher/watcher.toml"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EX_USAGE, f"{self.prog}: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="watcher", description="Watch workflow runs on SaaS platforms and "
                "turn their status changes into events.")
    p.add_argument("--version", action="version", version=f"watcher {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    def with_config(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("-c", "--config", metavar="FILE",
                        help=f"config file (default: $WATCHER_CONFIG, else {DEFAULT_CONFIG})")

    d = sub.add_parser("demo", help="watch the built-in simulator (no credentials needed)")
    d.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    with_config(sub.add_parser("run", help="run the daemon"))
    c = sub.add_parser("check", help="validate the config and print it resolved")
    c.add_argument("--connect", action="store_true",
                   help="instead, reach the state store, every source and every sink that "
                        "can be checked without sending an event; one line each "
                        "(exit 69 if any fails)")
    with_config(c)
    with_config(sub.add_parser("once", help="poll every source once, deliver, exit"))
    s = sub.add_parser("simulate", help="run only the simulator, for trying configs")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8765)
    s.add_argument("--quiet-world", action="store_true",
                   help="no scripted activity: runs change only through /_sim")
    t = sub.add_parser("tail", help="follow a running daemon's event stream")
    t.add_argument("--url", default=None,
                   help="daemon base URL or its /events URL (default from http_listen)")
    t.add_argument("--token", default=None, help="bearer token (or $WATCHER_HTTP_TOKEN)")
    t.add_argument("--type", action="append", default=[], help="event type (repeatable)")
    t.add_argument("--status", action="append", default=[], help="canonical status")
    t.add_argument("--source", action="append", default=[], help="source name")
    t.add_argument("--since-id", type=int, default=None, metavar="SEQ",
                   help="resume after this journal sequence number")
    dl = sub.add_parser("deadletters", help="list or re-send events a sink gave up on")
    dl.add_argument("action", choices=["list", "retry"])
    dl.add_argument("--sink", default=None)
    with_config(dl)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _dispatch(args)
    except KeyboardInterrupt:
        return EX_OK


def _config_path(args: argparse.Namespace) -> str:
    return args.config or os.environ.get("WATCHER_CONFIG") or DEFAULT_CONFIG


def _load(args: argparse.Namespace) -> object:
    from watcher.errors import ConfigError
    from watcher.runtime import configuration as config_mod

    try:
        return config_mod.load(_config_path(args))
    except ConfigError as e:
        print(str(e), file=sys.stderr)
        n = len(e.problems)
        print(f"watcher: {n} configuration problem{'s' if n != 1 else ''}", file=sys.stderr)
        raise SystemExit(EX_CONFIG) from None


def _dispatch(args: argparse.Namespace) -> int:
    """Run the command: those without a config first, then those that read one."""
    from watcher.server import logs

    plain = _PLAIN.get(args.command)
    if plain is not None:
        return plain(args)
    from watcher.config.settings import Config

    config = _load(args)
    assert isinstance(config, Config)
    w = config.watcher
    logs.configure(level=w.log_level, fmt=w.log_format, secrets=config.secrets)
    return _WITH_CONFIG[args.command](args, config)


def _demo(args: argparse.Namespace) -> int:
    from watcher.cli.demo import demo
    from watcher.runtime.loop import run_sync
    from watcher.server import logs

    logs.configure(level="info", fmt="auto")
    return run_sync(lambda: demo(duration=args.duration))


def _simulate(args: argparse.Namespace) -> int:
    from watcher.runtime.loop import run_sync
    from watcher.server import logs
    from watcher.simulator.serve import serve

    logs.configure(level="info", fmt="auto")
    return run_sync(lambda: serve(host=args.host, port=args.port, scenario=not args.quiet_world))


def _tail(args: argparse.Namespace) -> int:
    from watcher.cli.tail import tail
    from watcher.runtime.loop import run_sync
    from watcher.server import logs

    logs.configure(level="warning", fmt="auto")
    return run_sync(lambda: tail(args))


def _check(args: argparse.Namespace, config: Config) -> int:
    from watcher.runtime.configuration import resolved

    if args.connect:
        from watcher.cli.connect import command

        return command(config)
    sys.stdout.write(resolved(config))
    return EX_OK


def _deadletters(args: argparse.Namespace, config: Config) -> int:
    from watcher.cli.deadletters import command

    return command(config, args.action, sink=args.sink)


def _daemon(args: argparse.Namespace, config: Config) -> int:
    """``run`` and ``once``: what each exits with when the state store is unusable."""
    from watcher.errors import StoreUnavailable
    from watcher.runtime.daemon import Daemon
    from watcher.runtime.loop import run_sync
    from watcher.state.lock import StateHeld
    from watcher.state.store import StoreError

    once = args.command == "once"
    daemon = Daemon(config)
    try:
        return run_sync(daemon.once if once else daemon.run)
    except StateHeld as e:
        if once:  # temporary: it can run once that process is gone
            print(f"watcher: not polling: {e}; `once` must not write the state file "
                  "alongside it (a running daemon already polls every source)", file=sys.stderr)
            return EX_TEMPFAIL
        print(f"watcher: state store unusable at start: {e}", file=sys.stderr)
        return EX_UNAVAILABLE
    except StoreUnavailable as e:
        print(f"watcher: {e}", file=sys.stderr)
        return EX_UNAVAILABLE
    except StoreError as e:  # `once` only: the daemon itself rides out store errors
        print(f"watcher: {e}", file=sys.stderr)
        return EX_TEMPFAIL


#: commands that need no config
_PLAIN: dict[str, Callable[[argparse.Namespace], int]] = {
    "demo": _demo, "simulate": _simulate, "tail": _tail}
#: commands that read the config first (exit 78 when it is invalid)
_WITH_CONFIG: dict[str, Callable[[argparse.Namespace, Config], int]] = {
    "check": _check, "deadletters": _deadletters, "run": _daemon, "once": _daemon}
