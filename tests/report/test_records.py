"""Reading record files: the structure, and one-line `file:line:` errors
(exit 2, no traceback) for bad lines."""
import json
import subprocess
import sys

import pytest

from damos_lang.report.load import load
from damos_lang.report import records

from .conftest import ROOT


def test_a_damos_run_record_reads_into_aggregations(stairs):
    rec = load(stairs.record)
    assert rec.kind == "damos run" and len(rec.aggregations) == 600
    assert (rec.sample_us, rec.aggr_us, rec.max_nr_accesses) == (5000, 100_000, 20)
    assert rec.schemes[0]["action"] == "pageout" and rec.scheme_label(0) == "scheme 0 (pageout)"
    first, last = rec.aggregations[0], rec.aggregations[-1]
    assert (first.time_us, first.index, last.time_us, last.index) == (100_000, 1, 60_000_000, 600)
    assert first.targets[0].resident_bytes > 90 << 20
    s, e, acc, age = first.regions()[0]
    assert e > s and 0 <= acc <= 20 and age >= 0
    assert last.stats[0]["sz_applied"] > 80 << 20
    deltas = records.applied_deltas(rec)[0]
    assert sum(b for _, b in deltas) == last.stats[0]["sz_applied"]
    # the scheme acts only on regions idle for 50 aggregations: never before 5 s
    assert min(rec.aggregations[p].time_us for p, _ in deltas) >= 5_000_000


HEADER = {"type": "header", "format": 1, "attrs": {"sample_us": 5000, "aggr_us": 100000,
                                                    "update_us": 1000000}, "schemes": []}


def agg(t, regions):
    return {"type": "aggregation", "time_us": t, "aggregation": 1, "stats": [],
            "targets": [{"id": 1, "resident_bytes": None,
                         "regions": [dict(zip(("start", "end", "nr_accesses", "age"), r))
                                     for r in regions]}]}


GOOD = agg(100000, [(4096, 8192, 3, 1)])


@pytest.mark.parametrize("line3, message", [
    ('{"type": "aggregation", "time_us": 1', "not a JSON line"),
    ("[1, 2]", "must be a JSON object"),
    (json.dumps({"type": "sample"}), "unknown line type \"sample\""),
    (json.dumps(agg(200000, [(8192, 4096, 0, 0)])), "end 0x1000 is not above start 0x2000"),
    (json.dumps(agg(200000, [(4096, 8192, -1, 0)])), "'nr_accesses' must be a non-negative integer"),
    (json.dumps({**GOOD, "targets": 3}), "'targets' must be a list"),
    (json.dumps({**HEADER, "format": 2}), "a second header line"),
    (json.dumps({**GOOD, "wall_us": "soon"}), "'wall_us' must be a non-negative integer"),
])
def test_bad_lines_give_file_line_errors_and_exit_2(tmp_path, line3, message):
    path = tmp_path / "r.jsonl"
    path.write_text("\n".join([json.dumps(HEADER), json.dumps(GOOD), line3, json.dumps(GOOD)]) + "\n")
    with pytest.raises(records.RecordError) as e:
        load(str(path))
    assert str(e.value).startswith(f"{path}:3: error: ") and message in str(e.value), str(e.value)
    for cmd in (["wss"], ["heatmap"], ["heatmap", "-o", str(tmp_path / "x.png")]):
        r = subprocess.run([sys.executable, "-m", "damos_lang", "report", *cmd, str(path)],
                           cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert r.returncode == 2, (cmd, r.stdout, r.stderr)
        assert r.stderr == str(e.value) + "\n" and not r.stdout
    assert not (tmp_path / "x.png").exists()


def test_an_unsupported_format_and_an_empty_record(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps({**HEADER, "format": 7}) + "\n")
    with pytest.raises(records.RecordError, match=r":1: error: record format 7 is not supported"):
        load(str(path))
    path.write_text(json.dumps(HEADER) + "\n")
    with pytest.raises(records.RecordError, match=r"r.jsonl: error: no aggregation lines"):
        load(str(path))
    r = subprocess.run([sys.executable, "-m", "damos_lang", "report", "wss", str(tmp_path / "none")],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "cannot read" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("args, message", [
    (["--range", "0x2000"], "--range must be START-END"),
    (["--range", "0x3000-0x2000"], "the end must be above the start"),
    (["--time", "ten-20"], "--time must be START-END"),
    (["--time", "50-60"], "no aggregation in the time window"),
])
def test_bad_ranges_exit_2(tmp_path, args, message):
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(HEADER) + "\n" + json.dumps(GOOD) + "\n")
    r = subprocess.run([sys.executable, "-m", "damos_lang", "report", "heatmap", str(path), *args],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and message in r.stderr and r.stderr.count("\n") == 1, r.stderr


def test_spans():
    assert records.parse_span("0x1000-8192", "--range", "address") == (4096, 8192)
    assert records.parse_span("1.5s-2500ms", "--time", "time") == (1.5, 2.5)


def test_the_cli_imports_the_report_lazily():
    code = "import damos_lang.cli, sys; print(' '.join(sys.modules))"
    mods = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.split()
    assert "damos_lang.cli" in mods
    assert not any(m.startswith(("damos_lang.report", "matplotlib", "numpy")) for m in mods)


def test_a_real_process_record_is_placed_when_its_aggregations_ended(tmp_path):
    """wall_us (real time) wins over time_us (the sampling schedule), and the
    header's clock origin lines the record up with other clocks."""
    path = tmp_path / "r.jsonl"
    late = {**agg(200000, [(4096, 8192, 3, 1)]), "wall_us": 730000}
    path.write_text("\n".join([json.dumps({**HEADER, "clock_origin_s": 812.5}),
                               json.dumps({**GOOD, "wall_us": 310000}), json.dumps(late)]) + "\n")
    rec = load(str(path))
    assert [a.time_us for a in rec.aggregations] == [310000, 730000]
    assert rec.origin_s == 812.5
    path.write_text("\n".join([json.dumps({**HEADER, "clock_origin_s": "boot"}),
                               json.dumps(GOOD)]) + "\n")
    with pytest.raises(records.RecordError, match="'clock_origin_s' must be a number or null"):
        load(str(path))


def test_a_trace_knows_its_clock_origin():
    from damos_lang.report.trace import parse_trace
    line = "kdamond.0-85 [001] ..... {t}: damon_aggregated: target_id=0 nr_regions=1 4096-8192: 5 2"
    rec = parse_trace("\n".join(line.format(t=t) for t in ("100.100000", "100.200000", "100.300000")))
    assert rec.aggr_us == 100_000 and [a.time_us for a in rec.aggregations] == [100_000, 200_000, 300_000]
    assert abs(rec.origin_s + rec.aggregations[0].time_us / 1e6 - 100.1) < 1e-9


def _tuned_record(tmp_path):
    """A damos run record whose sampling went 5 -> 10 ms (aggr 100 -> 200 ms)
    at its third aggregation, as intervals_goal or --max-cpu retune it."""
    lines = [HEADER]
    t = 0
    for i, (sample, aggr) in enumerate([(5000, 100000)] * 2 + [(10000, 200000)] * 3, 1):
        t += aggr
        lines.append({**agg(t, [(4096, 8192, 3, i)]), "aggregation": i,
                      "sample_us": sample, "aggr_us": aggr})
    path = tmp_path / "tuned.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return str(path)


def test_each_line_keeps_the_intervals_it_ran_at(tmp_path):
    rec = load(_tuned_record(tmp_path))
    assert [(a.sample_us, a.aggr_us) for a in rec.aggregations] == \
        [(5000, 100000)] * 2 + [(10000, 200000)] * 3
    assert [rec.aggr_us_of(a) for a in rec.aggregations] == [100000] * 2 + [200000] * 3
    # one retuning, where it happened; the header's interval before it
    assert rec.tuned == [(400000, 10000)]
    assert rec.max_nr_accesses == 20          # the ratio stays: the scale does too


def test_a_line_without_intervals_runs_at_the_record_s(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(HEADER) + "\n" + json.dumps(GOOD) + "\n")
    rec = load(str(path))
    assert rec.aggregations[0].aggr_us is None and rec.aggr_us_of(rec.aggregations[0]) == 100000
    assert rec.tuned == []


def test_reports_of_a_retuned_record_say_so(tmp_path):
    from damos_lang.report import heatmap, stats, wss
    path = _tuned_record(tmp_path)
    rec = load(path)
    w = wss.text(rec)
    assert "aggregations of 100 ms at first, retuned 1 time" in w, w
    assert "per row, " not in w            # rows of unequal time state no one span
    s = stats.text(rec)
    assert "sampling interval tuned (intervals_goal or --max-cpu; aggr/sample kept): " \
           "10 ms at 0.4 s" in s, s
    # a heatmap column starts one of its own aggregation intervals before its end
    g = heatmap.grid(rec, rows=4, max_cols=5)
    assert g.col_times_us[0] == (0, 100000) and g.col_times_us[2] == (200000, 400000), g.col_times_us
