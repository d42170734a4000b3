"""``systemd/watcher.service``: it verifies, it is hardened, and the daemon really runs in it."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.event_schema import read_events
from tests.http_support import eventually, free_port, http_get, polled
from tests.support import SimThread, sim_source, toml
from tests.systemd_container import UNIT, SystemdContainer, unavailable

#: the issue's bar: systemd-analyze's "OK" band starts at 1.0 and ends at 4.9
MAX_EXPOSURE = 2.0
HTTP_TOKEN = "unit-test-http-token-5d1e"


def directives(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            out.setdefault(key.strip(), []).append(value.strip())
    return out


def test_the_unit_is_a_notify_service_with_watchdog_restart_policy_and_credentials() -> None:
    """The unit is Type=notify with a watchdog and credentials, and no restart on exit 78."""
    d = directives(UNIT.read_text())
    assert d["Type"] == ["notify"]
    assert d["WatchdogSec"] and d["NotifyAccess"] == ["main"]
    assert d["Restart"] == ["on-failure"]
    assert d["RestartPreventExitStatus"] == ["78"]  # a bad config must not restart-loop
    assert d["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert d["DynamicUser"] == ["yes"] and d["StateDirectory"] == ["watcher"]
    assert d["ExecStart"][0].startswith("/opt/watcher/bin/watcher run -c ")
    assert d["LoadCredential"] == ["watcher:/etc/watcher/credentials"]  # a whole directory
    # egress to vendor APIs stays open: no allow list, no deny of "any"
    assert "any" not in " ".join(d.get("IPAddressDeny", []))


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze missing")
def test_the_unit_verifies_and_systemd_rates_its_exposure_2_0_or_lower(tmp_path: Path) -> None:
    """systemd-analyze verifies the unit and rates its exposure 2.0 or lower."""
    # verify insists that ExecStart exists: check a copy pointing at an executable here
    exe = tmp_path / "watcher"
    exe.write_text("#!/bin/sh\nexec python3 -m watcher \"$@\"\n")
    exe.chmod(0o755)
    copy = tmp_path / "watcher.service"
    copy.write_text(UNIT.read_text().replace("/opt/watcher/bin/watcher", str(exe)))
    verify = subprocess.run(["systemd-analyze", "verify", str(copy)], capture_output=True,
                            text=True, timeout=60)
    assert verify.returncode == 0 and verify.stderr.strip() == "", verify.stderr

    security = subprocess.run(["systemd-analyze", "security", "--offline=yes", str(UNIT)],
                              capture_output=True, text=True, timeout=60)
    found = re.search(r"Overall exposure level for watcher\.service: (\d+\.\d+)",
                      security.stdout)
    assert found, security.stdout + security.stderr
    assert float(found.group(1)) <= MAX_EXPOSURE, security.stdout


@pytest.fixture
def container(tmp_path: Path, sim_thread: SimThread) -> Iterator[tuple[SystemdContainer, str]]:
    """The unit running in a booted systemd, watching the simulator; and its listener's URL."""
    why = unavailable()
    if why:
        pytest.skip(f"cannot boot systemd in namespaces here: {why}")
    port = free_port()
    source = sim_source(sim_thread.url, sim_thread.world, "extend")
    token = source.pop("token")
    # the unit loads the whole credentials directory: each file is watcher_<name>
    source["token_file"] = "watcher_extend-token"
    config = toml({"http_listen": f"127.0.0.1:{port}",
                   "http_token_file": "watcher_http-token"}, [source],
                  [{"name": "out", "type": "stdout"}])
    c = SystemdContainer(tmp_path / "container", config=config,
                         credentials={"extend-token": token, "http-token": HTTP_TOKEN},
                         dropin="WatchdogSec=2s\nRestartSec=200ms\nTimeoutAbortSec=1s\n")
    try:
        c.boot()
        if not c.wait_booted():
            pytest.skip(f"systemd did not boot in namespaces here\n{c.logs()}")
        yield c, f"http://127.0.0.1:{port}"
    finally:
        c.shutdown()


def proc_status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {k: v.strip() for k, _, v in (line.partition(":") for line in lines)}


def test_the_daemon_runs_under_systemd_with_every_hardening_option_of_the_unit(
        container: tuple[SystemdContainer, str], sim_thread: SimThread) -> None:
    """Under systemd with all its hardening, the daemon watches, reloads, restarts and stops."""
    c, base = container
    try:
        exercise(c, base, sim_thread)
    except AssertionError as e:
        raise AssertionError(f"{e}\n{c.logs()}") from None


def exercise(c: SystemdContainer, base: str, sim_thread: SimThread) -> None:
    # Type=notify: "active" only once the daemon sent READY=1
    c.wait_for(ActiveState="active", SubState="running")
    assert c.show("StatusText")["StatusText"].startswith("1/1 sources ok")

    pid = c.main_pid()
    st = proc_status(pid)
    assert st["NoNewPrivs"] == "1" and st["Seccomp"] == "2"  # the syscall filters are on
    assert st["CapEff"] == st["CapBnd"] == "0000000000000000"
    assert st["Uid"].split()[0] != "0"  # DynamicUser
    assert Path(f"/proc/{pid}/uid_map").read_text().split() == [
        "0", "0", "1", st["Uid"].split()[0], st["Uid"].split()[0], "1"]  # PrivateUsers
    loop = "uvloop" if any("uvloop" in line for line in
                           Path(f"/proc/{pid}/maps").read_text().splitlines()) else "asyncio"

    # it watches: a run fails at the vendor, the event comes out of the service
    eventually(lambda: polled(base), what="the baseline poll")
    run = sim_thread.call(lambda w: w.add_run("extend", "PROCESSING"))
    eventually(lambda: c.stdout.exists() and b"run.created" in c.stdout.read_bytes(),
               what="run.created on the service's stdout")
    sim_thread.call(lambda w: w.set_status(run, "FAILED"))
    eventually(lambda: b'"status":"failed"' in c.stdout.read_bytes(), what="the failure event")
    assert b"watcher_polls_total" in http_get(base + "/metrics")[1]
    # http_token_file came from the same credentials directory
    assert http_get(base + "/status")[0] == 401
    assert http_get(base + "/status", {"Authorization": f"Bearer {HTTP_TOKEN}"})[0] == 200
    state = Path(f"/proc/{pid}/root/var/lib/private/watcher")
    assert (state / "state.db").exists()  # StateDirectory=, via $STATE_DIRECTORY

    # WATCHDOG=1 keeps arriving (WatchdogSec=2s here: every second)
    first = c.show("WatchdogTimestampMonotonic")["WatchdogTimestampMonotonic"]
    eventually(lambda: c.show("WatchdogTimestampMonotonic")["WatchdogTimestampMonotonic"]
               != first, timeout=5, what="a newer watchdog ping")

    # MemoryDenyWriteExecute holds for the interpreter and its event loop (uvloop when
    # installed): after polls, deliveries and HTTP, no mapping is writable and executable
    maps = Path(f"/proc/{pid}/maps").read_text().splitlines()
    assert not [m for m in maps if m.split()[1].startswith("rwx")], loop

    # ExecReload= sends SIGHUP: reloaded in place
    c.systemctl("reload", "watcher.service")
    eventually(lambda: b"config reloaded" in c.stderr.read_bytes(), what="reload")
    assert c.main_pid() == pid and c.show("ActiveState")["ActiveState"] == "active"

    # a loop that stops answering is killed by the watchdog and restarted
    os.kill(pid, signal.SIGSTOP)
    c.wait_for(NRestarts="1", ActiveState="active", SubState="running", timeout=20)
    assert c.main_pid() != pid

    # SIGTERM: a clean stop, exit 0
    c.systemctl("stop", "watcher.service")
    c.wait_for(ActiveState="inactive", Result="success")

    # an invalid config exits 78, and RestartPreventExitStatus= keeps it down
    Path(f"/proc/{c.init_pid()}/root/opt/etc/watcher.toml").write_text("[watcher]\nbogus = 1\n")
    c.systemctl("start", "watcher.service", check=False)
    c.wait_for(ActiveState="failed", ExecMainStatus="78")
    time.sleep(0.6)  # three RestartSec= periods: a restart would have happened by now
    assert c.show("ActiveState", "ExecMainStatus") == {"ActiveState": "failed",
                                                       "ExecMainStatus": "78"}

    # nothing the daemon did hit a seccomp or W^X refusal (the unit answers EPERM), nor
    # wrote outside its state directory (the rest is read-only)
    err = c.stderr.read_bytes()
    for refusal in (b"Operation not permitted", b"PermissionError", b"Read-only file system"):
        assert refusal not in err, err[-2000:]
    events = read_events(c.stdout)
    assert [e["data"]["status"] for e in events if e["subject"] == run.id] == [
        "running", "failed"]
