"""Third-party sinks: found through the ``watcher.sinks`` entry-point group, configured
by ``type``, validated by their own ``options``, and routed events like any built-in."""

from __future__ import annotations

import os
from pathlib import Path

import orjson

from tests.support import ROOT, SimThread, lines_of, run_cli, sim_source, toml

#: a plugin written against the protocol alone (no watcher base class), as a third
#: party might: the protocol is all a sink needs
PLUGIN = '''
from watcher import Options


class MySinkOptions(Options):
    path: str
    label: str = "plugin"


class MySink:
    kind = "my-sink"
    Options = MySinkOptions

    def __init__(self, config, context):
        self.path = config.options.path
        self.label = config.options.label.encode()

    async def deliver(self, batch):
        with open(self.path, "ab") as f:
            for e in batch:
                f.write(self.label + b" " + e.body + b"\\n")
        return ()

    def reopen(self):
        pass

    async def aclose(self):
        pass
'''


def install_plugin(site: Path) -> dict[str, str]:
    """Install the plugin into ``site`` as an installer would; the environment to use it."""
    (site / "mysink.py").write_text(PLUGIN)
    dist = site / "my_sink-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: my-sink\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[watcher.sinks]\nmy-sink = mysink:MySink\n")
    return {"PYTHONPATH": os.pathsep.join([str(ROOT), str(site)])}


def test_a_plugin_sink_from_an_installed_package_gets_routed_events(
        tmp_path: Path, sim_thread: SimThread) -> None:
    """A sink installed under the watcher.sinks entry point gets the events its match selects."""
    site = tmp_path / "site"
    site.mkdir()
    env = install_plugin(site)
    st = sim_thread
    failed = st.call(lambda w: w.add_run("extend", "FAILED", error="boom")).id
    st.call(lambda w: w.add_run("extend", "PROCESSING"))
    out_file = tmp_path / "plugin.out"
    cfg = tmp_path / "w.toml"
    cfg.write_text(toml({"state_path": ":memory:", "http_listen": "", "baseline": "emit"},
                        [sim_source(st.url, st.world, "extend")],
                        [{"name": "mine", "type": "my-sink", "path": str(out_file),
                          "label": "via-plugin", "match": {"status": ["failed"]}}]))
    checked = run_cli("check", "-c", str(cfg), env=env)
    assert checked.returncode == 0, checked.stderr
    assert 'type = "my-sink"' in checked.stdout.decode()

    out = run_cli("once", "-c", str(cfg), env=env)
    assert out.returncode == 0, out.stderr
    lines = out_file.read_bytes().splitlines()
    assert [line.split(b" ", 1)[0] for line in lines] == [b"via-plugin"]
    assert orjson.loads(lines[0].split(b" ", 1)[1])["subject"] == failed


def test_plugin_options_are_validated_and_unknown_types_name_the_plugins(tmp_path: Path) -> None:
    """A plugin sink's own fields validate its options; an unknown type's error lists the plugin."""
    site = tmp_path / "site"
    site.mkdir()
    env = install_plugin(site)
    cfg = tmp_path / "w.toml"
    cfg.write_text(toml({"state_path": ":memory:"}, [], [
        {"name": "a", "type": "my-sink", "colour": "blue"},
        {"name": "b", "type": "my-snk"}]))
    out = run_cli("check", "-c", str(cfg), env=env)
    err = out.stderr.decode()
    assert out.returncode == 78
    assert "sinks[0].colour: unknown key" in err
    assert "sinks[0].path: is required" in err
    assert ('sinks[1].type: "my-snk" is not a known sink type '
            "(did you mean 'my-sink'? known: apprise, file, my-sink, nats, pagerduty, redis, slack, stdout, webhook)") in err
    assert list(lines_of(out.stdout)) == []
