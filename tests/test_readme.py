"""The README can be followed as written: its set-up line makes a virtual environment (as
Debian's and Ubuntu's Python demand), CI tests the way it says, the service install puts
the unit's ``watcher`` on PATH, and nothing cites a document the repository lacks."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support import ROOT

README = (ROOT / "README.md").read_text()
INSTALL_AND_DEMO = "python3 -m pip install -e '.[dev]' && watcher demo"


def block_after(heading: str) -> list[str]:
    """The lines of the first ``sh`` block after a README heading."""
    rest = README[README.index(f"\n{heading}\n"):]
    body = re.search(r"```sh\n(.*?)```", rest, re.S)
    assert body is not None, heading
    return body.group(1).splitlines()


def commands(lines: list[str]) -> list[str]:
    """Each line as a command: comments cut, ``--quiet`` dropped, spaces squeezed."""
    out = []
    for line in lines:
        line = re.sub(r"\s+#.*$", "", line).replace(" --quiet", "")
        if line.strip() and not line.lstrip().startswith("#"):
            out.append(" ".join(line.split()))
    return out


def test_the_try_it_line_makes_and_uses_a_virtual_environment() -> None:
    """"Try it" is one line that creates .venv, activates it, then installs and starts the
    demo, so it works where the system Python refuses installs (PEP 668)."""
    line, = block_after("## Try it")
    assert line.startswith("python3 -m venv .venv && . .venv/bin/activate && ")
    assert line.endswith(INSTALL_AND_DEMO)


def test_ci_sets_up_and_tests_as_the_readme_says() -> None:
    """The README's development steps (venv, install, python3 -m pytest) are the ones
    .ci/run runs, in order."""
    readme = [c for part in commands(block_after("## Development")) for c in part.split(" && ")]
    ci = commands((ROOT / ".ci" / "run").read_text().splitlines())
    steps = ["python3 -m venv .venv", ". .venv/bin/activate",
             "python3 -m pip install -e '.[dev]'", "python3 -m pytest"]
    assert [c for c in readme if c in steps] == steps
    assert [c for c in ci if c in steps] == steps


def test_the_service_install_puts_the_units_watcher_on_path() -> None:
    """The install makes the virtual environment the unit's ExecStart runs from and links
    its watcher into /usr/local/bin, so `sudo watcher ...` later runs that program."""
    install = commands(block_after("### Install"))
    venv, = (c.split()[-1] for c in install if c.startswith("sudo python3 -m venv "))
    exec_start, = re.findall(r"^ExecStart=(\S+)", (ROOT / "systemd" / "watcher.service")
                             .read_text(), re.M)
    assert exec_start == f"{venv}/bin/watcher"
    assert f"sudo ln -sf {exec_start} /usr/local/bin/watcher" in install
    assert f"sudo {venv}/bin/pip install ." in install


def test_nothing_cites_a_document_outside_the_repository() -> None:
    """No README, doc, example, module or test cites the product contract the repository
    does not ship, by its file's name or the folder it lives in."""
    cited = re.compile(r"\bSP" r"EC\b|sha" r"red/")
    files = [ROOT / "README.md", ROOT / "ARCHITECTURE.md", ROOT / "BENCHMARKS.md",
             *(ROOT / "docs").rglob("*.md"), *(ROOT / "config").iterdir(),
             *(ROOT / "watcher").rglob("*.py"), *(ROOT / "tests").rglob("*.py"),
             *(ROOT / "bench").rglob("*.py"), *(ROOT / "deploy").rglob("*.*"),
             *(ROOT / "systemd").iterdir()]
    found = [f"{p.relative_to(ROOT)}:{n}: {line.strip()}" for p in files if _text(p)
             for n, line in enumerate(p.read_text().splitlines(), 1) if cited.search(line)]
    assert found == []


def _text(p: Path) -> bool:
    return p.is_file() and p.suffix not in {".png", ".db"}
