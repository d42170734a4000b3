"""``watcher simulate``: the simulator alone, with a lively world, until interrupted."""

from __future__ import annotations

import signal
import sys

import anyio
import structlog

from watcher.infra.clock import wall
from watcher.simulator.app import APIS, Simulator, available_vendors
from watcher.simulator.scenario import Scenario
from watcher.simulator.world import World

#: sysexits: the address cannot be listened on (in use, not ours, no such port)
EX_UNAVAILABLE = 69


async def serve(*, host: str = "127.0.0.1", port: int = 8765, scenario: bool = True) -> int:
    world = World(clock=wall, seed=7)
    play = Scenario(world, vendors=available_vendors())
    if scenario:
        play.setup()
    sim = Simulator(world, host=host, port=port)
    try:
        await sim.start()
    except (OSError, OverflowError) as e:  # OverflowError: a port beyond 65535
        await sim.stop()
        why = getattr(e, "strerror", None) or str(e)
        print(f"watcher: the simulator cannot listen on {host}:{port}: {why}",
              file=sys.stderr, flush=True)
        return EX_UNAVAILABLE
    try:
        log = structlog.get_logger("watcher.simulator")
        for vendor in available_vendors():
            log.info("serving", vendor=vendor, base_url=sim.url(vendor),
                     token=world.tokens[vendor], **APIS[vendor].login)
        print(f"simulator listening on http://{host}:{sim.port} (admin: /_sim/info)",
              file=sys.stderr, flush=True)
        async with anyio.create_task_group() as tg:
            if scenario:
                tg.start_soon(play.run)
            with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as sigs:
                async for _ in sigs:
                    break
            tg.cancel_scope.cancel()
    finally:
        await sim.stop()
    return 0
