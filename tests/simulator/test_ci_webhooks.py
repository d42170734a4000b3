"""The simulator pushes GitHub's and GitLab's own webhooks, signed as they sign them, to a
subscribed URL as runs change; a ``drop`` fraction is lost on purpose."""

from __future__ import annotations

import hashlib
import hmac

import orjson
from multidict import CIMultiDict

from tests.simulator.real_payloads import differences, real_runs
from tests.sinks.receiver import Receiver
from tests.support import SimThread
from watcher.server.hooks import schemes
from watcher.simulator.webhooks import Subscription

SECRET = "whsec-sim-ci"


def subscribe(st: SimThread, vendor: str, url: str, drop: float = 0.0) -> None:
    st.call(lambda w: st.sim.webhooks.subscribe(Subscription(vendor, url, SECRET, drop)))


def test_github_workflow_run_webhooks_are_signed_and_follow_the_run(
        sim_thread: SimThread, receiver: Receiver) -> None:
    """queued, in_progress and failure send requested, in_progress and completed
    workflow_run events, each signed with X-Hub-Signature-256 over the raw body, as
    watcher's GitHub push scheme verifies; "waiting" sends nothing."""
    subscribe(sim_thread, "github", receiver.url)
    run = sim_thread.call(lambda w: w.add_run("github", "queued"))
    for status in ("waiting", "in_progress", "failure"):
        sim_thread.call(lambda w, s=status: w.set_status(run, s))
    receiver.wait_for(lambda r: len(r.delivered()) == 3)
    # each push is sent on its own, so they may arrive in any order
    order = ("requested", "in_progress", "completed")
    hits = sorted(receiver.delivered(), key=lambda h: order.index(orjson.loads(h.body)["action"]))
    bodies = [orjson.loads(h.body) for h in hits]
    assert [b["action"] for b in bodies] == list(order)
    assert bodies[-1]["workflow_run"]["id"] == int(run.id)
    assert (bodies[-1]["workflow_run"]["status"], bodies[-1]["workflow_run"]["conclusion"]) \
        == ("completed", "failure")
    for hit in hits:
        assert hit.headers["X-GitHub-Event"] == "workflow_run"
        want = hmac.new(SECRET.encode(), hit.body, hashlib.sha256).hexdigest()
        assert hit.headers["X-Hub-Signature-256"] == f"sha256={want}"
        got = schemes.github(CIMultiDict(hit.headers), hit.body, SECRET, 0.0)
        assert got.delivery == hit.headers["X-GitHub-Delivery"]
    assert len({h.headers["X-GitHub-Delivery"] for h in hits}) == 3
    for real in real_runs("github/pygithub-WorkflowRun.setUp.json"):
        assert differences(real, bodies[-1]["workflow_run"]) == []


def test_gitlab_pipeline_hooks_carry_the_token_and_each_status(
        sim_thread: SimThread, receiver: Receiver) -> None:
    """Each status change of a pipeline is a Pipeline Hook with object_attributes and the
    hook's token in X-Gitlab-Token, as watcher's GitLab push scheme takes it."""
    subscribe(sim_thread, "gitlab", receiver.url)
    run = sim_thread.call(lambda w: w.add_run("gitlab", "pending"))
    for status in ("running", "failed"):
        sim_thread.call(lambda w, s=status: w.set_status(run, s))
    receiver.wait_for(lambda r: len(r.delivered()) == 3)
    order = ("pending", "running", "failed")
    hits = sorted(receiver.delivered(),
                  key=lambda h: order.index(orjson.loads(h.body)["object_attributes"]["status"]))
    bodies = [orjson.loads(h.body) for h in hits]
    assert [b["object_attributes"]["status"] for b in bodies] == list(order)
    last = bodies[-1]
    assert last["object_kind"] == "pipeline" and last["object_attributes"]["id"] == int(run.id)
    assert last["project"]["path_with_namespace"] == "acme/api"
    assert last["object_attributes"]["created_at"].endswith(" UTC")
    for hit in hits:
        assert hit.headers["X-Gitlab-Event"] == "Pipeline Hook"
        assert hit.headers["X-Gitlab-Token"] == SECRET
        assert schemes.gitlab(CIMultiDict(hit.headers), hit.body, SECRET, 0.0).delivery == \
            hit.headers["X-Gitlab-Event-UUID"]


def test_a_dropped_fraction_is_never_sent_but_logged(sim_thread: SimThread,
                                                      receiver: Receiver) -> None:
    """With drop 1.0 every GitHub webhook is logged as dropped and none reaches the URL;
    with drop 0.5 about half of 40 arrive."""
    subscribe(sim_thread, "github", receiver.url, drop=1.0)
    sim_thread.call(lambda w: [w.add_run("github", "in_progress") for _ in range(5)])
    assert [s.outcome for s in sim_thread.sim.webhooks.log] == ["dropped"] * 5
    sim_thread.call(lambda w: setattr(sim_thread.sim.webhooks.subscriptions[0], "drop", 0.5))
    sim_thread.call(lambda w: [w.add_run("github", "queued") for _ in range(40)])
    sent = [s for s in sim_thread.sim.webhooks.log[5:] if s.outcome != "dropped"]
    receiver.wait_for(lambda r: len(r.delivered()) == len(sent))
    assert 8 <= len(sent) <= 32
