"""Every command of the README's two-minute tour and of "Seeing it" runs, and
prints what the README shows.

A README output line ``...`` stands for any number of lines, and ``...``
inside a line for any text (wall-clock figures).  The commands run in a
scratch directory holding a link to examples/, with the installed ``damos``
first on PATH.  ``sudo sh ethp.sh`` is the one command not run here: it
writes the kernel's sysfs, which only the rig's VM may do
(tests/kernel/test_kernel_examples.py runs the compiled scripts there)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _block_after(heading: str) -> list[str]:
    rest = README[README.index(heading):]
    start = rest.index("```")
    body = rest[rest.index("\n", start) + 1:]
    return body[:body.index("```")].splitlines()


def tour_steps() -> list[tuple[str, list[str]]]:
    """(command, the output lines shown under it) of the tour block."""
    steps: list[tuple[str, list[str]]] = []
    for line in _block_after("## A two-minute tour"):
        if line.startswith("$ "):
            steps.append((line[2:], []))
        elif steps and line.strip():
            steps[-1][1].append(line)
    return steps


def _pattern(line: str) -> re.Pattern:
    return re.compile(".*".join(re.escape(p) for p in line.rstrip().split("...")) + r"\Z")


def matches(shown: list[str], out: list[str]) -> bool:
    """``out`` is ``shown`` with each ``...`` line standing for any lines."""
    if not shown:
        return not out
    head = shown[0]
    if head.strip() == "...":
        return any(matches(shown[1:], out[i:]) for i in range(len(out) + 1))
    return bool(out) and bool(_pattern(head).match(out[0].rstrip())) and matches(shown[1:], out[1:])


def run(cmd: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
               COLUMNS="200")
    return subprocess.run(["sh", "-c", "{ " + cmd + "\n} 2>&1"], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def scratch(tmp_path):
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    (tmp_path / "docs").mkdir()
    return tmp_path


def test_the_matcher_can_fail():
    assert matches(["a", "...", "c ... d"], ["a", "x", "y", "c 1 2 d"])
    assert not matches(["a", "c ... d"], ["a", "x", "c 1 d"])
    assert not matches(["a"], ["a", "b"])


def test_every_tour_command_prints_what_the_readme_shows(scratch):
    steps = tour_steps()
    commands = [c for c, _ in steps]
    assert len(steps) >= 9, commands
    skipped = [c for c in commands if c.startswith("sudo ")]
    assert skipped == ["sudo sh ethp.sh 1234              # pid of the process to manage"], skipped
    shown_any = 0
    for cmd, shown in steps:
        if cmd in skipped:
            continue
        r = run(cmd, scratch)
        out = [ln for ln in r.stdout.splitlines() if ln.strip()]   # the README drops blanks
        assert "Traceback" not in r.stdout, (cmd, r.stdout)
        if any("error:" in s for s in shown):
            assert r.returncode == 2, (cmd, r.stdout)
        else:
            assert r.returncode == 0, (cmd, r.stdout)
        if shown:
            shown_any += 1
            # the README may shorten a long output from its start, never change it
            assert matches(shown, out), f"{cmd}\nREADME:\n" + "\n".join(shown) + \
                "\nprinted:\n" + r.stdout
    assert shown_any >= 6
    # what the commands wrote is there
    assert (scratch / "ethp.sh").read_text().startswith("#!/bin/sh")
    assert any((scratch / "out").rglob("*.c"))
    assert (scratch / "ethp.json").stat().st_size > 0


def test_seeing_it_draws_the_heatmap(scratch):
    pytest.importorskip("matplotlib")
    [cmd] = [ln for ln in _block_after("## Seeing it") if ln.strip()]
    r = run(cmd, scratch)
    assert r.returncode == 0, r.stdout
    png = scratch / "docs" / "heatmap-stairs.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
