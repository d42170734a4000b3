"""A simulator of the vendors' run APIs, for the demo, tests and trying configs.

``World`` holds workflows and runs; one module per vendor renders them in
that vendor's API; ``Simulator`` serves them on loopback; ``Scenario``
scripts a lively world; ``Fault`` makes a vendor misbehave on purpose.
"""

from watcher.simulator.app import Simulator, available_vendors, make_app
from watcher.simulator.faults import Fault
from watcher.simulator.world import KEEP, Hostile, SimRun, World

__all__ = ["KEEP", "Fault", "Hostile", "SimRun", "Simulator", "World", "available_vendors",
           "make_app"]
