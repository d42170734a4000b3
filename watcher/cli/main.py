"""Command line: parse arguments, then call into the package. Nothing else lives here.

Exit codes follow sysexits: 0 ok, 64 usage, 69 unavailable, 75 temporary
failure (``once``: a source failed, or another process holds the state file or
its leases), 78 configuration; ``migrate`` also 66 (no such file) and 73 (the
database already holds a state).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from watcher.version import __version__

if TYPE_CHECKING:
    from watcher.config.settings import Config

EX_OK, EX_USAGE, EX_UNAVAILABLE, EX_TEMPFAIL, EX_CONFIG = 0, 64, 69, 75, 78
DEFAULT_CONFIG = "/etc/watcher/watcher.toml"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EX_USAGE, f"{self.prog}: error: {message}\n")


def _with_config(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("-c", "--config", metavar="FILE",
                    help=f"config file (default: $WATCHER_CONFIG, else {DEFAULT_CONFIG})")


def _with_format(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--format", choices=("auto", "json", "pretty"), default="auto",
                    help="json: CloudEvents, one a line; pretty: one short line per event; "
                    "auto (default): pretty on a terminal, json when piped")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="watcher", description="Watch workflow runs on SaaS platforms and "
                "turn their status changes into events.")
    p.add_argument("--version", action="version", version=f"watcher {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    d = sub.add_parser("demo", help="watch the built-in simulator (no credentials needed)")
    d.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    _with_format(d)
    _with_config(sub.add_parser("run", help="run the daemon"))
    c = sub.add_parser("check", help="validate the config and print it resolved")
    c.add_argument("--connect", action="store_true",
                   help="instead, reach the state store, every source and every sink that "
                        "can be checked without sending an event; one line each "
                        "(exit 69 if any fails)")
    _with_config(c)
    _with_config(sub.add_parser("once", help="poll every source once, deliver, exit"))
    s = sub.add_parser("simulate", help="run only the simulator, for trying configs")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8765)
    s.add_argument("--quiet-world", action="store_true",
                   help="no scripted activity: runs change only through /_sim")
    _tail_parser(sub)
    dl = sub.add_parser("deadletters", help="list or re-send events a sink gave up on")
    dl.add_argument("action", choices=["list", "retry"])
    dl.add_argument("--sink", default=None)
    _with_config(dl)
    _silence_parser(sub, _with_config)
    _replica_parsers(sub)
    return p


def _tail_parser(sub: Any) -> None:
    t = sub.add_parser("tail", help="follow a running daemon's event stream",
                       allow_abbrev=False)  # so --token is not taken for --token-file
    t.add_argument("--url", default=None,
                   help="daemon base URL or its /events URL (default from http_listen)")
    t.add_argument("--token-file", default=None, metavar="FILE",
                   help="a file holding the bearer token (else $WATCHER_HTTP_TOKEN, else the "
                   "config's http_token_file or http_token)")
    _with_config(t)
    _with_format(t)
    t.add_argument("--type", action="append", default=[], help="event type (repeatable)")
    t.add_argument("--status", action="append", default=[], help="canonical status")
    t.add_argument("--source", action="append", default=[], help="source name")
    t.add_argument("--since-id", type=int, default=None, metavar="SEQ",
                   help="resume after this journal sequence number")


def _silence_parser(sub: Any, with_config: Callable[[argparse.ArgumentParser], None]
                    ) -> None:
    """``silence add|list|expire`` under the main parser's subcommands."""
    sp = sub.add_parser("silence", help="hold alerts back for a while: add, list, expire")
    acts = sp.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    acts.required = True
    a = acts.add_parser("add", help="add a silence; prints its id")
    a.add_argument("--match", action="append", required=True, metavar="KEY=VALUE",
                   help="type, status, source or workflow (id or name); * globs; repeatable")
    until = a.add_mutually_exclusive_group(required=True)
    until.add_argument("--for", dest="duration", metavar="DURATION", help="e.g. 2h, 30m")
    until.add_argument("--until", metavar="TIME", help="RFC 3339, e.g. 2026-11-22T18:00+01:00")
    a.add_argument("--sink", action="append", default=[], metavar="NAME",
                   help="only these sinks (default: every notification sink); repeatable")
    a.add_argument("--comment", required=True, help="why (shown by silence list)")
    a.add_argument("--author", default=None, help="who (default: $USER@host)")
    ls = acts.add_parser("list", help="active silences and what each held back")
    ls.add_argument("--all", action="store_true", help="expired ones too")
    ls.add_argument("--json", action="store_true", help="one JSON object per line")
    ex = acts.add_parser("expire", help="end a silence now")
    ex.add_argument("id")
    for p in (a, ls, ex):
        with_config(p)


def _replica_parsers(sub: Any) -> None:
    """``status`` and ``migrate``: what several replicas need."""
    st = sub.add_parser("status", help="the replicas, and who polls and delivers what")
    st.add_argument("--json", action="store_true", help="the document of GET /status")
    _with_config(st)
    m = sub.add_parser("migrate", help="copy an SQLite state into an empty PostgreSQL database")
    m.add_argument("--from", dest="source", required=True, metavar="FILE",
                   help="the SQLite state file (no daemon may be writing it)")
    m.add_argument("--to", dest="target", required=True, metavar="URL",
                   help="postgresql://user[:password]@host[:port]/database")


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
    return run_sync(lambda: demo(duration=args.duration, fmt=args.format))


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


def _migrate(args: argparse.Namespace) -> int:
    from watcher.cli.migrate import command
    from watcher.server import logs

    logs.configure(level="warning", fmt="auto")
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
    return EX_OK


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
    from watcher.errors import StoreUnavailable
    from watcher.runtime.daemon import Daemon
    from watcher.runtime.loop import run_sync
    from watcher.runtime.once import LeasesHeld
    from watcher.state.lock import StateHeld
    from watcher.state.store import StoreError

    once = args.command == "once"
    daemon = Daemon(config)
    try:
        code = run_sync(daemon.once if once else daemon.run)
        _tell_summary(daemon.summary, config.watcher.log_format)
        return code
    except LeasesHeld as e:  # temporary: the replicas poll every source already
        print(f"watcher: not polling: {e}", file=sys.stderr)
        return EX_TEMPFAIL
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


#: commands that need no config
_PLAIN: dict[str, Callable[[argparse.Namespace], int]] = {
    "demo": _demo, "simulate": _simulate, "tail": _tail, "migrate": _migrate}
#: commands that read the config first (exit 78 when it is invalid)
_WITH_CONFIG: dict[str, Callable[[argparse.Namespace, Config], int]] = {
    "check": _check, "deadletters": _deadletters, "run": _daemon, "once": _daemon,
    "silence": _silence, "status": _status}
