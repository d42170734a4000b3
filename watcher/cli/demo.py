"""``watcher demo``: the simulator, a lively scenario and a daemon watching it, in one process.

No credentials and no network beyond loopback; events go to stdout, until its
reader goes away (``watcher demo | head``): then the demo stops, exit 0.
"""

from __future__ import annotations

import asyncio
import socket
import sys
from typing import IO, cast

import anyio

from watcher.cli import pretty
from watcher.cli.pipes import Guarded
from watcher.config.settings import Config
from watcher.infra.clock import wall
from watcher.providers import provider_names
from watcher.runtime import configuration as config_mod
from watcher.runtime.daemon import Daemon
from watcher.simulator import Simulator, World, available_vendors
from watcher.simulator.app import APIS
from watcher.simulator.scenario import BURST_WORKFLOW, Scenario
from watcher.simulator.webhooks import Subscription

DEMO_CONFIG = """
[watcher]
state_path = ":memory:"
http_listen = "{listen}"
baseline = "silent"

[[sinks]]
name = "stdout"
type = "stdout"

# The scenario's "Payment Sync" fails in a burst, then recovers: one workflow.degraded,
# then one workflow.recovered.
[[rules]]
name = "payment-sync-failures"
match = {{ workflows = ["{burst}"] }}
failure_rate_above = 0.5
window = "30s"
min_finished = 3
"""

#: the demo's GitHub webhooks: their signing secret, and the fraction the simulator loses
PUSH_SECRET, PUSH_DROP = "wss_demo", 0.2

SOURCE = """
[[sources]]
name = "{vendor}-demo"
provider = "{vendor}"
token = "{token}"
base_url = "{base_url}"
interval = "1s"
lookback = "2h"
stuck_after = "10s"
{extra}
"""

#: provider keys a demo source needs beyond the common ones
EXTRA = {
    "cortex": 'app_id = "app_sim"\nworkflow_id = "{workflow_id}"',
    # the simulator pushes GitHub's webhooks, losing some: polling every 15 s while they
    # arrive catches the lost ones (and drops back to every second for a while)
    "github": f'push_secret = "{PUSH_SECRET}"\npush_interval = "15s"\n',
}


def free_port() -> int:
    """A loopback port for the demo's listener (its pushes arrive there)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def demo_vendors() -> tuple[str, ...]:
    """The simulated platforms a provider is built in (or installed) for: the demo's sources."""
    names = set(provider_names())
    return tuple(v for v in available_vendors() if v in names)


def demo_config(sim: Simulator, listen: str = "") -> Config:
    text = DEMO_CONFIG.format(burst=BURST_WORKFLOW, listen=listen)
    for vendor in demo_vendors():
        extra = EXTRA.get(vendor, "") + "".join(
            f'{k} = "{v}"\n' for k, v in APIS[vendor].source_keys.items())
        if "{workflow_id}" in extra:
            extra = extra.format(workflow_id=sim.world.workflow(vendor, "Contract Review").id)
        text += SOURCE.format(vendor=vendor, token=sim.world.tokens[vendor],
                              base_url=sim.url(vendor), extra=extra)
    return config_mod.loads(text, env={})


async def demo(*, duration: float | None, fmt: str) -> int:
    loop = asyncio.get_running_loop()
    # when the reader of stdout goes away, the demo is over
    stdout = cast(IO[bytes], Guarded(pretty.writer_for(fmt, sys.stdout.buffer, sys.stdout),
                                     lambda: loop.call_soon_threadsafe(daemon.request_stop)))
    world = World(clock=wall, seed=7)
    scenario = Scenario(world, vendors=demo_vendors(), burst=True)
    scenario.setup()
    async with Simulator(world) as sim:
        port = free_port()
        daemon = Daemon(demo_config(sim, f"127.0.0.1:{port}"), stdout=stdout, clock=wall)
        sim.webhooks.subscribe(Subscription(
            "github", f"http://127.0.0.1:{port}/hooks/github-demo", PUSH_SECRET, PUSH_DROP))

        async def play_once_watched() -> None:
            # New runs begin only once every source has its baseline, so none of them
            # is recorded silently by a baseline that happened to be slow.
            await daemon.started.wait()
            await daemon.wait_watching()
            scenario.begin()
            await scenario.run()

        async with anyio.create_task_group() as tg:
            tg.start_soon(play_once_watched)
            if duration is not None:
                async def stop_later() -> None:
                    await anyio.sleep(duration)
                    daemon.request_stop()
                tg.start_soon(stop_later)
            code = await daemon.run()
            tg.cancel_scope.cancel()
    return code
