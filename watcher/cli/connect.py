"""``watcher check --connect``: reach what the config names, without sending an event.

After the config validated, one check per line, in config order:

* the state store: opened to read only (never created, migrated or written)
  and its schema version checked;
* each source: one cheap authenticated request, a one-run page, through the
  provider's own HTTP edge (rate limit, timeout, response cap);
* each sink that can be checked without sending: NATS (connected, the stream
  holds the subjects), Redis (authenticated, PING), webhook, Slack, PagerDuty and
  Apprise's HTTP targets (a TCP connection opened to ``host:port``, a verified
  TLS handshake for https, then closed: refused, timeout and TLS errors fail the
  check); the others say they cannot be checked that way;
* each heartbeat: a connection to its monitor (no request: it would count as a
  ping from a watcher that is not running).

Each line says ``ok``, ``FAILED`` or ``unchecked`` and what was found, in the
server's or vendor's own words, with every configured secret masked.  Exit 0
when nothing failed, 69 otherwise.  The checks run concurrently, each under a
time limit.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial

import aiohttp
import anyio

from watcher.cli.target import fail
from watcher.config.settings import Config, SinkConfig, SourceConfig
from watcher.errors import StoreAbsent
from watcher.infra.clock import wall
from watcher.infra.http import reaches
from watcher.infra.secrets import Masker
from watcher.providers import provider_class
from watcher.providers.protocol import ProviderContext
from watcher.sinks import sink_class
from watcher.sinks.base import SinkContext
from watcher.state.backends import open_store

#: no check waits longer than this, whatever its own timeouts
LIMIT = 60.0
WIDTH = len("unchecked")


@dataclass
class Check:
    what: str
    verdict: str = "FAILED"
    detail: str = ""


def command(config: Config) -> int:
    checks = anyio.run(run_checks, config)
    masker = Masker(config.secrets)
    for c in checks:
        print(masker.redact(f"{c.verdict:<{WIDTH}}  {c.what}: {c.detail}"), flush=True)
    failed = sum(c.verdict == "FAILED" for c in checks)
    if failed:
        return fail(f"{failed} of {len(checks)} checks failed", os.EX_UNAVAILABLE)
    return os.EX_OK


async def run_checks(config: Config) -> list[Check]:
    """Every check of ``config``, in config order."""
    async with aiohttp.ClientSession() as session:
        plan: list[tuple[Check, Callable[[], Awaitable[str]]]] = [
            (Check("state"), partial(_store, config.watcher.state_path))]
        plan += [(Check(f"source {s.name} ({s.provider})"), partial(_source, s, session))
                 for s in config.sources]
        plan += [(Check(f"sink {k.name} ({k.type})"), partial(_sink, k)) for k in config.sinks]
        plan += [(Check(f"heartbeat {h.name} ({h.kind})"), partial(reaches, h.url))
                 for h in config.heartbeats]
        async with anyio.create_task_group() as tg:
            for check, probe in plan:
                tg.start_soon(_run, check, probe)
    return [check for check, _ in plan]


async def _run(check: Check, probe: Callable[[], Awaitable[str]]) -> None:
    try:
        with anyio.fail_after(LIMIT):
            check.detail = await probe()
        check.verdict = "ok"
    except NotImplementedError as e:
        check.verdict, check.detail = "unchecked", str(e)
    except StoreAbsent as e:
        check.verdict, check.detail = "ok", str(e)
    except TimeoutError:
        check.detail = f"no answer within {LIMIT:g}s"
    except Exception as e:  # the vendor's, server's or library's own words
        check.detail = str(e) or type(e).__name__


async def _store(path: str) -> str:
    async with await open_store(path, create=False) as store:
        return await store.probe()


async def _source(cfg: SourceConfig, session: aiohttp.ClientSession) -> str:
    cls = provider_class(cfg.provider)
    return await cls(cfg, ProviderContext(session, wall)).probe()


async def _sink(cfg: SinkConfig) -> str:
    cls = sink_class(cfg.type)
    async with contextlib.aclosing(cls(cfg, SinkContext(clock=wall))) as sink:
        return await sink.probe()
