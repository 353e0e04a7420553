"""Proof: `damos report` reads the DAMON tracepoints of Debian's stock 7.3
as the kernel writes them (jobs/stock73-trace.sh, one boot): a kdamond with
intervals_goal, a stat scheme and a quota-limited pageout scheme, every
event of the damon trace system on.

* the kernel has every event trace.py reads, and no other DAMON event;
* the schemes' stats in sysfs (update_schemes_stats) are among the
  cumulative values the trace's damos_stat_after_apply_interval lines carry,
  and the tuned sample interval in sysfs (update_tuned_intervals) is one
  that damon_monitor_intervals_tune reported;
* `damos report stats` and `damos report heatmap` render the trace."""
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from damos_lang.report import trace as trace_mod
from damos_lang.report.load import load

pytestmark = pytest.mark.kernel
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def run(kernel_rig, stock73_kernel, tmp_path_factory):
    out = tmp_path_factory.mktemp("stock73-trace-vm")
    r = kernel_rig.run_vm(stock73_kernel, kernel_rig.job("stock73-trace.sh"), timeout=180,
                          out=out, env={"SECS": "6"})
    assert r.rc == 0, r.describe()
    return r, kernel_rig.parse_kv(r.text("result.txt"))


def sysfs_stats(r):
    out = {}
    for line in r.text("stats.txt").splitlines():
        _, n, field, value = line.split()
        out.setdefault(int(n), {})[field] = int(value)
    return out


def test_the_kernel_has_the_events_we_read(run):
    r, _ = run
    kernel = {e for e in r.text("events.txt").split() if e not in ("enable", "filter")}
    read = set(trace_mod.FORMATS)
    assert read <= kernel, read - kernel
    # 7.3 has no DAMON event that trace.py would pass over
    assert kernel - read == set(), kernel - read


def test_sysfs_stats_are_among_the_traced_cumulative_values(run):
    r, _ = run
    traced = {}
    for line in r.text("trace.txt").splitlines():
        if "damos_stat_after_apply_interval:" in line:
            f = dict((k, int(v)) for k, v in re.findall(r"(\w+)=(\d+)", line.split(": ", 2)[2]))
            for k in trace_mod.STAT_FIELDS:
                traced.setdefault((f["scheme_idx"], k), {0}).add(f[k])
    got = sysfs_stats(r)
    assert sorted(got) == [0, 1], got
    for n, fields in got.items():
        for k in trace_mod.STAT_FIELDS:
            assert fields[k] in traced[(n, k)], (n, k, fields[k], sorted(traced[(n, k)]))
    assert got[0]["nr_tried"] > 0, got          # the stat scheme tried every region


def test_tuned_interval_in_sysfs_is_one_the_trace_reported(run):
    r, kv = run
    rec = load(str(r.path("trace.txt")))
    assert rec.tuned, rec.events
    assert int(kv["tuned_sample_us"]) in {5000} | {s for _, s in rec.tuned}, (kv, rec.tuned)
    # the goal's bounds hold
    assert all(5000 <= s <= 50000 for _, s in rec.tuned), rec.tuned


def test_report_stats_and_heatmap_render_the_trace(run, tmp_path):
    r, _ = run
    p = subprocess.run([sys.executable, "-m", "damos_lang", "report", "stats",
                        str(r.path("trace.txt")), "--json"],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    rep = json.loads(p.stdout)
    assert [s["index"] for s in rep["schemes"]] == [0, 1], rep["schemes"]
    assert rep["schemes"][0]["totals"]["acted_bytes"] > 0, rep["schemes"][0]["totals"]
    png = tmp_path / "heatmap.png"
    p = subprocess.run([sys.executable, "-m", "damos_lang", "report", "heatmap",
                        str(r.path("trace.txt")), "-o", str(png)],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
