"""What damos eval shows while it runs: on a terminal a rich progress bar
(run N/M, the arm, elapsed) with each run's line above it; not on a
terminal (CI, a pipe) one plain line per run; with --quiet nothing."""
from __future__ import annotations

import io
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest

from damos_lang.eval.command import Progress, eval_file
from damos_lang.sysfs.standin import StandIn

ROOT = Path(__file__).resolve().parents[2]
PRCL = str(ROOT / "examples" / "prcl.damos")


@pytest.fixture
def admin(tmp_path):
    root = str(tmp_path / "admin")
    StandIn.create(root, (6, 12), pids={os.getpid()})
    return root


def test_on_a_terminal_a_bar_with_run_arm_and_elapsed(admin, capsys):
    from rich.console import Console
    buf = io.StringIO()
    view = Progress(tty=True, console=Console(file=buf, force_terminal=True, width=120))
    assert eval_file(PRCL, ["sleep", "0.6"], repeat=1, sysfs_root=admin, view=view) == 0
    shown = buf.getvalue()
    for words in ("run 1/3", "run 3/3", "baseline #1", "monitor #1", "scheme #1",
                  "0:00:0", "this run 0:00"):
        assert words in shown, words
    # each run's line is printed above the bar, as without a terminal
    assert "damos eval: [2/3] monitor run 1: wall" in shown
    assert "━" in shown                  # the bar itself
    assert view.bar is None              # closed before the table
    assert "[1/3]" not in capsys.readouterr().err    # not the plain lines as well


def test_not_on_a_terminal_one_line_per_run(admin, capsys):
    assert eval_file(PRCL, ["true"], repeat=2, sysfs_root=admin,
                     view=Progress(tty=False)) == 0
    lines = [x for x in capsys.readouterr().err.splitlines() if x.startswith("damos eval: [")]
    assert [x.split("]")[0] + "]" for x in lines] == [f"damos eval: [{i}/6]" for i in range(1, 7)]
    assert lines[0].startswith("damos eval: [1/6] baseline run 1: wall ")
    assert "RSS mean" in lines[0] and "DAMON CPU" in lines[0]


def _on_a_pty(args):
    """damos eval with standard error on a pseudo-terminal: (stderr as shown, stdout)."""
    master, slave = pty.openpty()
    env = dict(os.environ, PYTHONPATH=str(ROOT), DAMOS_LIVE_NO_KERNEL_TREE="1", TERM="xterm",
               COLUMNS="120")
    p = subprocess.Popen([sys.executable, "-m", "damos_lang", "eval", *args],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave, env=env)
    os.close(slave)
    shown = b""
    while True:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:          # the other side closed
                break
            if not data:
                break
            shown += data
        elif p.poll() is not None:
            break
    out = p.stdout.read().decode()
    p.wait(timeout=30)
    os.close(master)
    assert p.returncode == 0, shown.decode(errors="replace")
    return shown.decode(errors="replace"), out


def test_a_real_terminal_gets_the_bar_and_quiet_gets_nothing(admin):
    shown, out = _on_a_pty([PRCL, "--sysfs-root", admin, "--repeat", "1", "--", "sleep", "0.5"])
    assert "run 3/3" in shown and "scheme #1" in shown and "━" in shown
    assert "runtime (wall)" in out and "run 3/3" not in out     # the table on stdout, alone
    shown, out = _on_a_pty([PRCL, "--sysfs-root", admin, "--repeat", "1", "--quiet", "--",
                            "true"])
    assert shown.strip() == "" and "runtime (wall)" in out
