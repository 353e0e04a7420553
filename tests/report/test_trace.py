"""Kernel damon:damon_aggregated trace text, read into the record structure."""
import subprocess
import sys

import pytest

import trace_summary                     # tests/kernel: the rig's own reader
from damos_lang.report.load import load
from damos_lang.report import heatmap, records, wss
from damos_lang.report.trace import parse_trace

from .conftest import ROOT

MiB = 1 << 20
HEADER = """# tracer: nop
#
# entries-in-buffer/entries-written: 17/17   #P:2
#
#                                _-----=> irqs-off/BH-disabled
#                               / _----=> need-resched
#                              | / _---=> hardirq/softirq
#                              || / _--=> preempt-depth
#                              ||| / _-=> migrate-disable
#                              |||| /     delay
#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION
#              | |         |   |||||     |         |
"""
BUF = 0x7f0000000000
STACK = (0x7ffffffde000, 0x7ffffffff000)


def line(ts, tid, nr, start, end, acc, age):
    return (f"       kdamond.0-96      [001] .....  {ts:11.6f}: damon_aggregated: "
            f"target_id={tid} nr_regions={nr} {start}-{end}: {acc} {age}\n")


def aggregation(ts, hot_acc, cold_acc, age=3):
    """Three regions: 8 MiB hot, 56 MiB cold, the stack (idle)."""
    regs = [(BUF, BUF + 8 * MiB, hot_acc), (BUF + 8 * MiB, BUF + 64 * MiB, cold_acc),
            (STACK[0], STACK[1], 0)]
    return "".join(line(ts + i * 3e-6, 0, 3, s, e, a, age) for i, (s, e, a) in enumerate(regs))


def sample_trace(lost=True):
    text = HEADER
    if lost:
        # the ring buffer lost the start of this aggregation: 2 of its 3 lines are left
        text += line(41.117301, 0, 3, BUF + 8 * MiB, BUF + 64 * MiB, 0, 2)
        text += line(41.117304, 0, 3, STACK[0], STACK[1], 0, 2)
    text += aggregation(41.217350, 20, 0)
    text += "          <idle>-0       [000] d..2.    41.250000: sched_switch: prev_comm=swapper\n"
    text += aggregation(41.317348, 18, 0)
    text += aggregation(41.417352, 19, 4)
    text += aggregation(41.517349, 20, 0)
    return text


def test_a_trace_groups_into_aggregations_and_its_wss_is_right(tmp_path):
    path = tmp_path / "trace.txt"
    path.write_text(sample_trace())
    rec = load(str(path))
    assert rec.kind == "kernel trace" and rec.dropped == 1
    assert len(rec.aggregations) == 4
    assert rec.aggr_us == 100_000                       # from the timestamps
    assert [a.time_us for a in rec.aggregations] == [100_000, 199_998, 300_002, 399_999]
    assert all(len(a.regions()) == 3 for a in rec.aggregations)
    assert rec.aggregations[0].regions()[0] == (BUF, BUF + 8 * MiB, 20, 3)
    assert wss.series(rec)[1] == [8 * MiB, 8 * MiB, 64 * MiB, 8 * MiB]
    assert wss.percentiles(wss.series(rec)[1])[50] == 8 * MiB
    # without the lost lines, the rig's reader (which counts nr_regions lines only)
    # groups them the same way; with them, counting alone shifts every aggregation
    whole = sample_trace(lost=False)
    assert [regs for _, regs in trace_summary.parse(whole)] == \
        [a.regions() for a in parse_trace(whole).aggregations]
    assert [regs for _, regs in trace_summary.parse(sample_trace())][0] != rec.aggregations[0].regions()


def test_a_trace_renders_in_the_terminal_and_as_png(tmp_path):
    path = tmp_path / "trace.txt"
    path.write_text(sample_trace())
    r = subprocess.run([sys.executable, "-m", "damos_lang", "report", "heatmap", str(path),
                        "--rows", "8"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    rows = [ln for ln in r.stdout.splitlines() if ln.strip().startswith("0x")]
    assert len(rows) == 8
    # the gap between the buffer and the stack is collapsed: 64 MiB + 132 KiB in 8 bands;
    # the lowest band is the hot 8 MiB, '@' (20 of 20 is the top seen)
    assert rows[-1].split("|")[1].startswith("@")
    assert int(rows[-1].split("|")[0], 16) == BUF
    assert int(rows[0].split("|")[0], 16) < STACK[0]
    r = subprocess.run([sys.executable, "-m", "damos_lang", "report", "wss", str(path)],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "kernel trace, 4 aggregations of 100 ms" in r.stdout
    pytest.importorskip("matplotlib")
    layout = heatmap.png(load(str(path)), str(tmp_path / "t.png"))
    assert (tmp_path / "t.png").stat().st_size > 1000
    assert layout.grid.segments == [(BUF, BUF + 64 * MiB), STACK]


def test_two_targets_in_one_aggregation():
    text = HEADER
    for k, ts in enumerate((5.1, 5.2)):
        text += line(ts, 0, 2, 4096, 8192, 1 + k, 0) + line(ts + 1e-6, 0, 2, 8192, 16384, 0, 0)
        text += line(ts + 2e-6, 1, 1, 1 << 30, (1 << 30) + 4096, 5, 1)
    rec = parse_trace(text, "t")
    assert [[t.id for t in a.targets] for a in rec.aggregations] == [[0, 1], [0, 1]]
    assert wss.series(rec)[1] == [8192, 8192]
    assert rec.max_nr_accesses == 5


@pytest.mark.parametrize("bad, where, message", [
    ("x 1.0: damon_aggregated: target_id=0 nr_regions=1 8192-4096: 0 0\n", 14, "not above"),
    ("x 1.0: damon_aggregated: target_id=zero\n", 14, "not a damon_aggregated line"),
])
def test_bad_trace_lines_name_the_line(tmp_path, bad, where, message):
    path = tmp_path / "trace.txt"
    path.write_text(HEADER + line(0.5, 0, 1, 0, 4096, 0, 0) + bad)
    r = subprocess.run([sys.executable, "-m", "damos_lang", "report", "wss", str(path)],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert r.stderr.startswith(f"{path}:{where}: error: ") and message in r.stderr, r.stderr
    assert r.stderr.count("\n") == 1


def test_a_file_with_no_damon_lines_is_an_error(tmp_path):
    path = tmp_path / "trace.txt"
    path.write_text(HEADER)
    with pytest.raises(records.RecordError, match="no complete damon_aggregated"):
        load(str(path))
