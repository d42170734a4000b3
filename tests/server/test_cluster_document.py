"""The cluster document says of a sink what its holder last reported with its lease."""

from __future__ import annotations

from tests.support import parse_config, toml
from watcher.server.cluster import document
from watcher.state.cluster import LeaseRow
from watcher.state.view import ClusterView

SINKS = [{"name": "hook", "type": "webhook", "url": "http://127.0.0.1:1/x"},
         {"name": "pager", "type": "webhook", "url": "http://127.0.0.1:1/y"},
         {"name": "gone", "type": "webhook", "url": "http://127.0.0.1:1/z"}]


def test_a_sink_delivered_elsewhere_is_failing_as_its_holder_said_and_unknown_unheld() -> None:
    """A sink another replica holds is failing or not as that replica last reported; one
    whose lease expired, or that no replica holds, is unknown (None), never ok."""
    config = parse_config(toml({"state_path": "x.db"}, [], SINKS))
    leases = {
        "sink:hook": LeaseRow("sink:hook", "b:2", 3, 2e9, True, {"failing": True,
                                                                  "delivered": 7}),
        "sink:pager": LeaseRow("sink:pager", None, 1, 1e9, False, {"failing": False}),
    }
    view = ClusterView(head=0, cursors={}, dead={}, leases=leases, clustered=True)
    sinks = {k["name"]: k for k in document(config, view, replica="a:1")["sinks"]}
    assert (sinks["hook"]["failing"], sinks["hook"]["delivered"]) == (True, 7)
    assert sinks["pager"]["failing"] is None and sinks["gone"]["failing"] is None
