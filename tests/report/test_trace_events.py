"""The newer DAMON tracepoints (damos_stat_after_apply_interval, damos_esz,
damos_before_apply, damon_monitor_intervals_tune, damon_region_aggregated)
read into a record, from traces captured in Debian's stock 7.3 kernel:

* data/stock73-schemes.trace: tests/kernel/jobs/stock73-trace.sh (a stat
  scheme, a pageout scheme with a 16 MiB quota, intervals_goal; every damon
  event on);
* data/stock73-probe.trace: the first 400 lines of a run with one anon
  data-attribute probe (damon_region_aggregated beside damon_aggregated)."""
import json
import os
import re
import subprocess
import sys

from hypothesis import given, settings, strategies as st

from damos_lang.report import heatmap
from damos_lang.report.load import load
from damos_lang.report.records import RecordError
from damos_lang.report.spans import merge
from damos_lang.report.trace import STAT_FIELDS, parse_trace

from .conftest import ROOT

DATA = os.path.join(os.path.dirname(__file__), "data")
SCHEMES = os.path.join(DATA, "stock73-schemes.trace")
PROBE = os.path.join(DATA, "stock73-probe.trace")
EVENT = re.compile(r"\s([\d.]+): (\w+): (.*)$")


def events(path, name):
    """(timestamp, fields dict or text) of every line of one event, read here
    independently of trace.py."""
    out = []
    with open(path) as f:
        for line in f:
            m = EVENT.search(line)
            if m and m.group(2) == name:
                out.append((float(m.group(1)), m.group(3)))
    return out


def kv(text):
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", text)}


def test_every_damon_event_of_the_capture_is_read():
    rec = load(SCHEMES)
    assert rec.kind == "kernel trace"
    assert {"damon_aggregated", "damos_stat_after_apply_interval", "damos_esz",
            "damos_before_apply", "damon_monitor_intervals_tune"} <= set(rec.events), rec.events
    assert len(rec.aggregations) >= 8


def test_the_last_stats_are_the_last_stat_lines():
    rec = load(SCHEMES)
    last = {}
    for ts, text in events(SCHEMES, "damos_stat_after_apply_interval"):
        f = kv(text)
        if ts <= (rec.aggregations[-1].time_us / 1e6 + rec.origin_s) + 0.001:
            last[f["scheme_idx"]] = f
    got = {s["index"]: s for s in rec.aggregations[-1].stats}
    assert sorted(got) == sorted(last) == [0, 1]
    for idx, f in last.items():
        for field in STAT_FIELDS:
            assert got[idx][field] == f[field], (idx, field)
    # the stat scheme tried everything; the pageout scheme's quota is 16 MiB
    assert got[0]["sz_tried"] > 0
    esz = [kv(t)["esz"] for _, t in events(SCHEMES, "damos_esz")]
    assert got[1]["esz"] == esz[-1] == 16 << 20


def test_stats_are_cumulative_and_never_fall():
    rec = load(SCHEMES)
    prev = {}
    for agg in rec.aggregations:
        for s in agg.stats:
            for field in STAT_FIELDS:
                assert s[field] >= prev.get((s["index"], field), 0)
                prev[(s["index"], field)] = s[field]


def test_before_apply_regions_are_the_aggregations_acted_regions():
    rec = load(SCHEMES)
    lines = events(SCHEMES, "damos_before_apply")
    acted = [a for agg in rec.aggregations for a in agg.acted]
    # every line is charged to an aggregation, except any after the last one
    last_end = rec.aggregations[-1].time_us / 1e6 + rec.origin_s
    assert len(acted) == sum(1 for ts, _ in lines if ts <= last_end + 0.001) > 0
    first = re.match(r"ctx_idx=(\d+) scheme_idx=(\d+) target_idx=(\d+) nr_regions=\d+ "
                     r"(\d+)-(\d+): (\d+) (\d+)", lines[0][1]).groups()
    a = acted[0]
    assert (a.context, a.scheme, a.target, a.start, a.end, a.nr_accesses, a.age) == \
        tuple(map(int, first))
    # an acted region lies inside the address ranges the aggregation's regions
    # cover (not always inside one region: with intervals_goal retuning, a
    # scheme's apply interval need not end on an aggregation boundary)
    for agg in rec.aggregations:
        spans = merge([(s, e) for s, e, _, _ in agg.regions()])
        for a in agg.acted:
            assert any(s <= a.start and a.end <= e for s, e in spans), a


def test_tuned_sampling_intervals():
    rec = load(SCHEMES)
    want = [kv(t)["sample_us"] for _, t in events(SCHEMES, "damon_monitor_intervals_tune")]
    assert [s for _, s in rec.tuned] == want and want
    times = [t for t, _ in rec.tuned]
    assert times == sorted(times) and times[0] > 0


def test_probe_hits_from_region_aggregated():
    rec = load(PROBE)
    assert "damon_region_aggregated" in rec.events
    t = rec.aggregations[1].targets[0]
    assert t.probe_hits is not None and len(t.probe_hits) == len(t.regions)
    assert all(len(h) == 1 for h in t.probe_hits)      # one probe: one byte each
    # the regions are the same as damon_aggregated's of the same aggregation
    plain = parse_trace("".join(line for line in open(PROBE)
                                if "damon_region_aggregated:" not in line))
    assert [a.targets[0].regions for a in plain.aggregations[:5]] == \
        [a.targets[0].regions for a in rec.aggregations[:5]]


def test_report_stats_text_and_json():
    p = subprocess.run([sys.executable, "-m", "damos_lang", "report", "stats", SCHEMES, "--json"],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    rec = load(SCHEMES)
    final = {s["index"]: s for s in rec.aggregations[-1].stats}
    for s in r["schemes"]:
        # the growth per aggregation adds up to the final cumulative figure
        # (less what the first aggregation had already counted)
        first = next(a for a in rec.aggregations if any(x["index"] == s["index"] for x in a.stats))
        before = {x["index"]: x for x in first.stats}[s["index"]]
        assert s["totals"]["sz_tried"] == final[s["index"]]["sz_tried"], s["totals"]
        assert before["sz_tried"] == s["aggregations"][0]["sz_tried"]
    assert r["tuned"] and r["tuned"][-1]["sample_us"] == rec.tuned[-1][1]
    p = subprocess.run([sys.executable, "-m", "damos_lang", "report", "stats", SCHEMES],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "scheme 1: tried" in p.stdout and "sampling interval tuned" in p.stdout, p.stdout


def test_heatmap_outlines_exactly_the_acted_regions():
    rec = load(SCHEMES)
    agg = next(a for a in rec.aggregations if a.acted)
    got = heatmap.where_acted(agg, 0, {}, None)
    assert got == [(a.start, a.end, a.nr_accesses, a.age) for a in agg.acted if a.scheme == 0]


def test_a_damaged_new_event_line_is_a_located_error(tmp_path):
    lines = open(SCHEMES).read().splitlines()
    n = next(i for i, line in enumerate(lines) if "damos_esz:" in line)
    lines[n] = lines[n].replace("esz=", "esz=x")
    bad = tmp_path / "bad.trace"
    bad.write_text("\n".join(lines) + "\n")
    p = subprocess.run([sys.executable, "-m", "damos_lang", "report", "stats", str(bad)],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr
    assert p.stderr.startswith(f"{bad}:{n + 1}: error: not a damos_esz line"), p.stderr
    assert len(p.stderr.strip().splitlines()) == 1


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_fuzzed_traces_parse_or_fail_with_a_located_error(data):
    lines = open(SCHEMES).read().splitlines()
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(lines) - 1))
        line = lines[i]
        j = data.draw(st.integers(0, len(line)))
        cut = data.draw(st.integers(0, 12))
        junk = data.draw(st.text(alphabet="0123456789 =:-abcxyz_", max_size=6))
        lines[i] = line[:j] + junk + line[j + cut:]
    try:
        rec = parse_trace("\n".join(lines) + "\n", "f.trace")
    except RecordError as e:
        msg = str(e)
        assert msg.startswith("f.trace") and ": error: " in msg and "\n" not in msg, msg
    else:
        assert rec.aggregations
