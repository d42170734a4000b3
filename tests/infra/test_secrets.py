"""One masker for every text that leaves the process: a log line, a sink's failure reason
and a store's error mask a secret the same way, as ``***`` wherever it appears."""

from __future__ import annotations

import io
from urllib.parse import urlsplit, urlunsplit

import orjson
import pytest
import structlog

from tests.sinks.receiver import Receiver, Reply
from tests.sinks.runs import failures, sink_runner
from tests.support import Harness
from watcher.errors import StoreUnavailable
from watcher.server.logs import Redactor
from watcher.simulator import Simulator
from watcher.state.backends import open_store
from watcher.testing import FrozenClock

pytestmark = pytest.mark.anyio

#: three characters: the shortest secret that is masked
TOKEN = "s3c"
#: a secret holding another: masked whole, never as ``Bearer ***-7f2a9c``
BEARER = f"Bearer {TOKEN}-7f2a9c"
QUOTED = f"refused {BEARER} for {TOKEN}"
MASKED = "refused *** for ***"


def test_a_log_line_masks_every_secret_it_quotes() -> None:
    """A log line quoting a three-character secret and one that holds it shows both as ***."""
    out, redactor = io.StringIO(), Redactor()
    redactor.update([TOKEN, BEARER])  # as the daemon does at start and on reload
    log = structlog.wrap_logger(structlog.PrintLogger(out), processors=[
        redactor, structlog.processors.JSONRenderer()])
    log.warning("poll failed", error=QUOTED)
    assert orjson.loads(out.getvalue())["error"] == MASKED


async def test_a_sink_failure_reason_masks_every_secret_the_receiver_quotes(
        sim: Simulator, clock: FrozenClock) -> None:
    """A receiver's refusal quoting the sink's header values is dead-lettered with each as ***,
    the longer one whole although the shorter one is inside it."""
    with Receiver(lambda hit: Reply(401, QUOTED.encode())) as receiver:
        async with Harness(sim, clock=clock) as h:
            runner = await sink_runner(h, {
                "type": "webhook", "url": receiver.url,
                "headers": {"X-Key": TOKEN, "Authorization": BEARER}})
            await failures(h, 1)
            await runner.run(until_idle=True)
            await runner.sink.aclose()
            dead = await h.store.dead_letters("under-test")
    assert dead[0].reason == f"401 Unauthorized: {MASKED}"


async def test_a_store_error_masks_the_password_wherever_the_url_repeats_it(
        pg_database: str) -> None:
    """A PostgreSQL refusal for a user named like its password shows neither: the URL in
    the error and the server's words both have it as ***."""
    parts = urlsplit(pg_database)
    url = urlunsplit(parts._replace(netloc=f"{TOKEN}:{TOKEN}@{parts.hostname}:{parts.port}"))
    with pytest.raises(StoreUnavailable) as e:
        await open_store(url)
    text = str(e.value)
    assert text.startswith(f"cannot connect to PostgreSQL at postgresql://***:***@{parts.hostname}")
    assert text.endswith('role "***" does not exist') and TOKEN not in text
