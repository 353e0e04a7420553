"""bench/common.py: the rows' shape and the timer every bench module runs
its commands with.  No timing is asserted; the child's CPU time and peak
memory are asserted against work it was given (a loop, an allocation)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import CommandFailed, median_of, row, run_command  # noqa: E402

PY = sys.executable


def test_row_keeps_the_fields_given_in_one_order():
    assert list(row("a", 1.0, "s", note="n", ratio=None, goal="")) == \
        ["name", "value", "unit", "goal", "ratio", "note"]
    assert row("a", "n/a", "") == {"name": "a", "value": "n/a", "unit": ""}
    r = row("a", 2.0, "ms", goal="< 5 ms", baseline=1.0, ratio=2.0, note="x")
    assert r == {"name": "a", "value": 2.0, "unit": "ms", "goal": "< 5 ms", "baseline": 1.0,
                 "ratio": 2.0, "note": "x"}
    with pytest.raises(TypeError):
        row("a", 1.0, "s", speed=3)


def test_output_status_and_input_of_the_child():
    r = run_command([PY, "-c", "import sys; s = sys.stdin.read(); print(s.upper()); "
                               "print('warn', file=sys.stderr)"], stdin="hello")
    assert (r.returncode, r.stdout, r.stderr) == (0, "HELLO\n", "warn\n")
    r = run_command([PY, "-c", "import sys; print('bad', file=sys.stderr); sys.exit(3)"],
                    check=False)
    assert (r.returncode, r.stderr) == (3, "bad\n")


def test_a_failing_command_says_which_status_and_stderr():
    script = "import sys\nprint('first', file=sys.stderr)\nprint('the cause', file=sys.stderr)\n" \
             "sys.exit(5)\n"
    with pytest.raises(CommandFailed) as e:
        run_command([PY, "-c", script])
    message = str(e.value)
    assert "exited with status 5" in message
    assert message.splitlines()[-1] == "the cause"
    assert f"<{len(script)} characters>" in message and "sys.exit" not in message


def test_a_command_past_its_timeout_is_killed():
    with pytest.raises(CommandFailed, match="ran past 0.2 s and was killed"):
        run_command([PY, "-c", "import time; time.sleep(60)"], timeout=0.2)


def test_cpu_time_is_the_childs():
    idle = run_command([PY, "-c", "import time; time.sleep(0.2)"])
    busy = run_command([PY, "-c", "x = 0\nfor i in range(20_000_000): x += i"])
    assert busy.cpu_s > 0.2 and busy.cpu_s > 5 * idle.cpu_s
    m = median_of([PY, "-c", "pass"], 3)
    assert len(m.runs) == 3 and m.cpu_s in sorted(r.cpu_s for r in m.runs)


def test_peak_rss_is_the_childs_own():
    """A child allocating 150 MiB reports at least that; a small one reports
    far less than this process's high-water mark, which Linux hands to a
    forked child's ru_maxrss."""
    ballast = bytearray(300 << 20)
    for i in range(0, len(ballast), 4096):
        ballast[i] = 1
    small = run_command([PY, "-c", "import time; time.sleep(0.5)"])
    big = run_command([PY, "-c", "import time\nb = bytearray(150 << 20)\n"
                                 "for i in range(0, len(b), 4096): b[i] = 1\ntime.sleep(0.5)"])
    del ballast
    assert small.peak_rss_mib is not None and small.peak_rss_mib < 100
    assert big.peak_rss_mib >= 150
