"""Boot the host's own systemd as PID 1 of throwaway namespaces and run our unit in it.

The only way to know that the daemon works under *every* hardening option
``systemd/watcher.service`` sets (seccomp filters, W^X, dynamic user, user
namespace, read-only file system, credentials, ...) is to let systemd apply
them.  This boots ``/lib/systemd/systemd`` in new pid, mount and cgroup
namespaces (like a minimal container sharing the host's network), with the
unit under test as its only unit, and exposes ``systemctl`` through
``nsenter``.

What the test copy of the unit changes, and why:

* ``ExecStart`` runs this checkout (bind-mounted at ``/opt/src``) with the
  test's interpreter (at ``/opt/python``, its virtualenv's packages at
  ``/opt/site*``), since ``ProtectHome=`` may hide where they really are;
* the config and credential live under ``/opt`` (a tmpfs here) instead of
  ``/etc/watcher``;
* a drop-in adds ``DefaultDependencies=no`` (the container has no
  ``sysinit.target``), sends stdout/stderr to files, and shortens timings
  (``WatchdogSec``, ``RestartSec``) so a test can watch them act.

Every hardening directive is used verbatim.  Requires root, systemd, util-linux
``unshare``/``nsenter`` and a writable cgroup2 hierarchy; otherwise
:func:`unavailable` says why and the test skips.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from tests.support import ROOT

SYSTEMD = Path("/lib/systemd/systemd")
UNIT = ROOT / "systemd" / "watcher.service"


def cgroup2_base() -> Path | None:
    """Where this process sits in a cgroup2 hierarchy, if one is mounted."""
    mount = None
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        if right.split()[0] == "cgroup2":
            mount = Path(left.split()[4])
            break
    if mount is None:
        return None
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        if line.startswith("0::"):
            return mount / line[3:].lstrip("/")
    return mount


def unavailable() -> str | None:
    """Why a systemd container cannot run here, or None."""
    if sys.platform != "linux" or os.geteuid() != 0:
        return "needs root on Linux"
    if not SYSTEMD.exists():
        return f"{SYSTEMD} not installed"
    for tool in ("unshare", "nsenter", "mount"):
        if shutil.which(tool) is None:
            return f"{tool} not installed"
    base = cgroup2_base()
    if base is None or not os.access(base, os.W_OK):
        return "no writable cgroup2 hierarchy"
    return None


def _die_with_parent() -> None:
    """If pytest itself is killed, take unshare (and so systemd, --kill-child) along."""
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class SystemdContainer:
    def __init__(self, workdir: Path, *, config: str, credentials: dict[str, str],
                 dropin: str = "", unit: Path = UNIT) -> None:
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.stdout = self.dir / "stdout"
        self.stderr = self.dir / "stderr"
        self.console: list[bytes] = []
        self.cgroup = (cgroup2_base() or Path("/nonexistent")) / f"watcher-test-{uuid.uuid4().hex[:8]}"
        self._write_unit(unit.read_text(), dropin)
        (self.dir / "etc").mkdir(exist_ok=True)
        (self.dir / "etc" / "watcher.toml").write_text(config)
        creds = self.dir / "credentials"
        creds.mkdir(exist_ok=True)
        for name, value in credentials.items():
            (creds / name).write_text(value)
        self.proc: subprocess.Popen[bytes] | None = None

    # -- the unit as the test runs it ---------------------------------------------------

    def _write_unit(self, text: str, dropin: str) -> None:
        py = f"/opt/python/bin/python{sys.version_info.major}.{sys.version_info.minor}"
        lines = []
        for line in text.splitlines():
            if line.startswith("ExecStart="):
                args = line.split("/opt/watcher/bin/watcher", 1)[1]
                line = f"ExecStart={py} -m watcher{args.replace('/etc/watcher/', '/opt/etc/')}"
            elif line.startswith("LoadCredential="):
                line = line.replace("/etc/watcher/credentials", "/opt/test/credentials")
            lines.append(line)
        units = self.dir / "units"
        (units / "watcher.service.d").mkdir(parents=True, exist_ok=True)
        (units / "watcher.service").write_text("\n".join(lines) + "\n")
        (units / "watcher.service.d" / "test.conf").write_text(f"""\
[Unit]
DefaultDependencies=no

[Service]
Environment=PYTHONPATH={self._pythonpath()} LD_LIBRARY_PATH=/opt/python/lib
StandardOutput=append:/opt/test/stdout
StandardError=append:/opt/test/stderr
{dropin}
""")

    def _site_dirs(self) -> list[Path]:
        """site-packages outside the base interpreter (a virtualenv's), to bind in."""
        base = Path(sys.base_prefix)
        return [Path(p) for p in sys.path
                if p.endswith("site-packages") and Path(p).is_dir()
                and not Path(p).is_relative_to(base)]

    def _pythonpath(self) -> str:
        return ":".join(["/opt/src"] + [f"/opt/site{i}" for i in range(len(self._site_dirs()))])

    def _inner_script(self, console: str) -> str:
        binds = "\n".join(f"mkdir -p /opt/site{i}; mount --bind {p} /opt/site{i}"
                          for i, p in enumerate(self._site_dirs()))
        # Shared propagation matters: systemd sets up credentials in a helper's
        # mount namespace and relies on the result propagating back.
        return f"""#!/bin/bash
set -euo pipefail
mount --make-rshared /
mount -t tmpfs -o mode=755 tmpfs /run
mount -t tmpfs -o mode=755 tmpfs /var/lib
mount -t tmpfs -o mode=755 tmpfs /var/log
mount -t tmpfs -o mode=755 tmpfs /opt
mkdir -p /opt/python /opt/test /opt/etc
mount --bind {sys.base_prefix} /opt/python
mount --bind {self.dir} /opt/test
mkdir -p /opt/src; mount --bind {ROOT} /opt/src
{binds}
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=1777 tmpfs /var/tmp
cp /opt/test/etc/watcher.toml /opt/etc/
chmod -R a+rX /opt/etc
mount -t tmpfs tmpfs /sys/fs/cgroup
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount --bind {console} /dev/console
exec env -i container=watcher-test SYSTEMD_UNIT_PATH=/opt/test/units \
  PATH=/usr/sbin:/usr/bin:/sbin:/bin \
  {SYSTEMD} --unit=watcher.service --log-target=console --log-level=info --show-status=no
"""

    # -- lifecycle ----------------------------------------------------------------------

    def boot(self) -> None:
        master, slave = os.openpty()
        self._console_fd = master
        inner = self.dir / "inner.sh"
        inner.write_text(self._inner_script(os.ttyname(slave)))
        inner.chmod(0o755)
        self.cgroup.mkdir()
        # enter our own cgroup first, so the container's cgroup namespace is rooted there
        outer = (f"echo $$ > {self.cgroup}/cgroup.procs && exec unshare --pid --fork "
                 f"--mount --cgroup --propagation private --mount-proc --kill-child {inner}")
        self.proc = subprocess.Popen(["bash", "-c", outer], stdin=subprocess.DEVNULL,
                                     stdout=slave, stderr=slave, preexec_fn=_die_with_parent)
        os.close(slave)
        threading.Thread(target=self._read_console, daemon=True).start()

    def _read_console(self) -> None:
        while True:
            try:
                chunk = os.read(self._console_fd, 65536)
            except OSError:
                return
            if not chunk:
                return
            self.console.append(chunk)

    def init_pid(self) -> int | None:
        """systemd's pid (as this process sees it): the child of ``unshare``."""
        if self.proc is None:
            return None
        try:
            children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
        except OSError:
            return None
        return int(children.split()[0]) if children.split() else None

    def systemctl(self, *args: str, check: bool = True) -> str:
        pid = self.init_pid()
        assert pid is not None, "systemd is not running"
        out = subprocess.run(["nsenter", "-t", str(pid), "-m", "-p", "systemctl", *args],
                             capture_output=True, timeout=30)
        if check and out.returncode != 0:
            raise AssertionError(f"systemctl {' '.join(args)}: {out.stderr.decode()}")
        return out.stdout.decode()

    def show(self, *props: str) -> dict[str, str]:
        out = self.systemctl("show", "watcher.service", *[f"--property={p}" for p in props])
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def wait_booted(self, timeout: float = 15.0) -> bool:
        """True once systemctl can talk to systemd (False: this host cannot boot it)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                return False
            if self.init_pid() is not None:
                try:
                    if "ActiveState=" in self.systemctl("show", "watcher.service",
                                                        "--property=ActiveState", check=False):
                        return True
                except subprocess.TimeoutExpired:
                    pass
            time.sleep(0.1)
        return False

    def wait_for(self, timeout: float = 20.0, **want: str) -> dict[str, str]:
        """Wait until the unit's properties have the wanted values; the last seen, or fail."""
        deadline = time.monotonic() + timeout
        seen: dict[str, str] = {}
        while time.monotonic() < deadline:
            seen = self.show(*want)
            if all(seen.get(k) == v for k, v in want.items()):
                return seen
            time.sleep(0.1)
        raise AssertionError(f"unit never reached {want}; last {seen}\n{self.logs()}")

    def main_pid(self) -> int:
        """The service's main process, as this (outer) pid namespace numbers it."""
        procs = (self.cgroup / "system.slice" / "watcher.service" / "cgroup.procs").read_text()
        return int(procs.split()[0])

    def logs(self) -> str:
        def tail(p: Path) -> str:
            return p.read_text(errors="replace")[-3000:] if p.exists() else ""
        return (f"--- systemd console:\n{b''.join(self.console).decode(errors='replace')[-3000:]}"
                f"\n--- service stderr:\n{tail(self.stderr)}")

    def shutdown(self) -> None:
        if self.proc is not None:
            self.proc.kill()  # unshare --kill-child takes systemd, and so the namespace, along
            self.proc.wait(10)
        if hasattr(self, "_console_fd"):
            os.close(self._console_fd)
        deadline = time.monotonic() + 10
        while self.cgroup.exists() and time.monotonic() < deadline:
            try:
                for d in sorted(self.cgroup.rglob("*"), key=lambda p: -len(p.parts)):
                    if d.is_dir():
                        d.rmdir()
                self.cgroup.rmdir()
            except OSError:
                time.sleep(0.1)  # the last processes are still being reaped
