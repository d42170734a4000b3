"""The command line's grammar: every command, its arguments and their help."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, NoReturn

from watcher.cli.target import DEFAULT_CONFIG
from watcher.version import __version__

SIMULATE = """\
Serve only the simulator of the vendors' APIs (a lively world unless --quiet-world).
Each vendor lives under its own base URL with a fixed token: GET /_sim/info lists them.

Its admin API drives the world over HTTP (JSON bodies); GET /_sim/info lists every
route with what it does. The ones most used:
  POST /_sim/runs                  add a run: {"vendor": "extend", "status": "PROCESSING"}
  POST /_sim/runs/{id}             change it: {"status": "FAILED", "error": "..."}
  GET  /_sim/runs?vendor=extend    the runs, with their ids and statuses
  GET  /_sim/workflows?vendor=...  the workflows (a Cortex source needs one's id)
  POST /_sim/faults                make a vendor misbehave: {"vendor", "kind": "status", ...}
e.g. curl -s -d '{"vendor":"extend","status":"FAILED"}' http://127.0.0.1:8765/_sim/runs
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(os.EX_USAGE, f"{self.prog}: error: {message}\n")


def _with_config(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("-c", "--config", metavar="FILE",
                    help=f"config file (default: $WATCHER_CONFIG, else {DEFAULT_CONFIG})")


def _with_format(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--format", choices=("auto", "json", "pretty"), default="auto",
                    help="json: CloudEvents, one a line; pretty: one short line per event; "
                    "auto (default): pretty on a terminal, json when piped")


def parser() -> argparse.ArgumentParser:
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
    s = sub.add_parser("simulate", help="run only the simulator, for trying configs",
                       description=SIMULATE, formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8765)
    s.add_argument("--quiet-world", action="store_true",
                   help="no scripted activity: runs change only through /_sim")
    _tail_parser(sub)
    dl = sub.add_parser("deadletters", help="list or re-send events a sink gave up on")
    dl.add_argument("action", choices=["list", "retry"])
    dl.add_argument("--sink", default=None)
    _with_config(dl)
    _silence_parser(sub)
    _replica_parsers(sub)
    sc = sub.add_parser("schema", help="print the JSON Schema of the events")
    sc.add_argument("--type", metavar="TYPE", help="only this event type's "
                    "(run.status_changed or watcher.run.status_changed)")
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


def _silence_parser(sub: Any) -> None:
    sp = sub.add_parser("silence", help="hold alerts back for a while: add, list, expire")
    acts = sp.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    acts.required = True
    a = acts.add_parser("add", help="add a silence; prints its id")
    a.add_argument("--match", action="append", required=True, metavar="KEY=VALUE",
                   help="type, status, source or workflow (id or name); * globs; repeatable")
    until = a.add_mutually_exclusive_group(required=True)
    until.add_argument("--for", dest="duration", metavar="DURATION", help="e.g. 2h, 30m")
    until.add_argument("--until", metavar="TIME", help="RFC 3339, e.g. 2026-11-22T18:00+01:00")
    a.add_argument("--force", action="store_true",
                   help="allow a silence longer than a year (366d)")
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
        _with_config(p)


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
