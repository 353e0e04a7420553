"""damos export against the stand-in: the values appear under their names,
labels and units; counters rise between two scrapes when the stats move;
a kdamond that stops or vanishes mid-scrape never fails a scrape; the
refresh commands are written only where nothing else refreshes the stats;
damos run records; DAMON_STAT; cardinality as docs/metrics.md computes it."""
from __future__ import annotations

import json
import os
import shutil
import urllib.request

import pytest

from damos_lang.export import metrics as M
from damos_lang.export import run_record
from damos_lang.export.command import make_collector
from damos_lang.export.serve import registry_with, serve_http
from damos_lang.sysfs import layout as L
from damos_lang.sysfs import root as RT
from damos_lang.sysfs.standin import StandIn
from prometheus_client import generate_latest

from .helpers import NAMED, PRCL, apply_file, families, modules, samples, tree

MiB = 1 << 20


def scrape(root, mods=None, records=(), refresh=True) -> str:
    return generate_latest(registry_with(make_collector(root, mods, records, refresh))).decode()


def scheme_labels(k, s, action, name=""):
    return frozenset({"kdamond": str(k), "context": "0", "scheme": str(s), "action": action,
                      "name": name}.items())


@pytest.fixture
def two(tmp_path):
    """Two running kdamonds on a 7.3 stand-in: a named two-scheme file, prcl."""
    root = tree(tmp_path)
    StandIn(root).write(L.NR_KDAMONDS, "2")
    named = tmp_path / "named.damos"
    named.write_text(NAMED)
    apply_file(root, str(named))
    apply_file(root, PRCL)
    return root


def test_values_names_labels_and_units(two, tmp_path):
    text = scrape(two)
    v = samples(text)
    fams = families(text)
    assert v[("damos_kdamond_running", frozenset({"kdamond": "0"}.items()))] == 1
    info = {k for k in v if k[0] == "damos_kdamond_info"}
    assert ("damos_kdamond_info", frozenset({"kdamond": "0", "ops": "vaddr", "owned": "true",
            "source": os.path.realpath(tmp_path / "named.damos")}.items())) in info
    # intervals in seconds (the stand-in keeps the file's 5 ms / 100 ms)
    c0 = frozenset({"kdamond": "0", "context": "0"}.items())
    assert v[("damos_context_sample_interval_seconds", c0)] == 0.005
    assert v[("damos_context_aggregation_interval_seconds", c0)] == 0.1
    # the scrape refreshed once: the stand-in moves tried by 3 regions / 3 MiB, applied 2 / 2 MiB
    lab = scheme_labels(0, 0, "pageout", "cold_out")
    assert v[("damos_scheme_tried_regions_total", lab)] == 3
    assert v[("damos_scheme_tried_bytes_total", lab)] == 3 * MiB
    assert v[("damos_scheme_applied_regions_total", lab)] == 2
    assert v[("damos_scheme_applied_bytes_total", lab)] == 2 * MiB
    assert v[("damos_scheme_quota_exceeds_total", lab)] == 0
    assert ("damos_scheme_ops_filter_passed_bytes_total", lab) in v      # 6.14+
    assert ("damos_scheme_snapshots_total", lab) in v                    # 7.0+
    assert ("damos_scheme_effective_quota_bytes", lab) in v              # 6.9+
    assert v[("damos_scheme_tried_regions_total", scheme_labels(0, 1, "stat", "hot_stat"))] == 3
    # prcl has no name: the label is there, empty
    assert v[("damos_scheme_tried_regions_total", scheme_labels(1, 0, "pageout"))] == 3
    # types: counters are counters (their samples end in _total), intervals gauges
    assert fams["damos_scheme_tried_bytes"].type == "counter"
    assert fams["damos_scheme_effective_quota_bytes"].type == "gauge"
    assert fams["damos_context_sample_interval_seconds"].type == "gauge"
    assert v[("damos_export_skipped_kdamonds", frozenset())] == 0
    # every family is in the table, with its labels
    names = {m.name: m for m in M.ALL}
    for fam in fams.values():
        for s in fam.samples:
            assert set(s.labels) == set(names[fam.name].labels), s


def test_counters_rise_between_two_http_scrapes(two):
    reg = registry_with(make_collector(two, None, (), True))
    server, thread = serve_http(reg, "127.0.0.1", 0)
    try:
        url = f"http://127.0.0.1:{server.server_port}/metrics"
        first = samples(urllib.request.urlopen(url, timeout=10).read().decode())
        second = samples(urllib.request.urlopen(url, timeout=10).read().decode())
    finally:
        server.shutdown()
        server.server_close()
    counters = [k for k in first if k[0].startswith("damos_scheme_")
                and k[0] in ("damos_scheme_tried_regions_total", "damos_scheme_tried_bytes_total",
                             "damos_scheme_applied_regions_total",
                             "damos_scheme_applied_bytes_total")]
    assert len(counters) == 4 * 3          # 4 counters x 3 schemes
    for k in counters:
        assert second[k] > first[k], k


def test_openmetrics_is_served_when_asked(two):
    from prometheus_client.openmetrics.parser import text_string_to_metric_families
    reg = registry_with(make_collector(two, None, (), True))
    server, _ = serve_http(reg, "127.0.0.1", 0)
    try:
        req = urllib.request.Request(f"http://127.0.0.1:{server.server_port}/metrics",
                                     headers={"Accept": "application/openmetrics-text"})
        resp = urllib.request.urlopen(req, timeout=10)
        ctype, body = resp.headers["Content-Type"], resp.read().decode()
    finally:
        server.shutdown()
        server.server_close()
    assert ctype.startswith("application/openmetrics-text")
    assert body.endswith("# EOF\n")
    fams = {f.name: f for f in text_string_to_metric_families(body)}
    assert fams["damos_scheme_tried_bytes"].unit == "bytes"
    assert fams["damos_context_sample_interval_seconds"].unit == "seconds"


def write_count(fs) -> int:
    return sum(1 for _ in open(fs.write_log)) if os.path.exists(fs.write_log) else 0


def test_refresh_only_where_the_kdamond_has_no_refresh_interval(tmp_path):
    root = tree(tmp_path)
    apply_file(root, PRCL)
    log = str(tmp_path / "writes.log")
    cfg = json.load(open(os.path.join(root, ".damos-stand-in.json")))
    cfg["write_log"] = log
    json.dump(cfg, open(os.path.join(root, ".damos-stand-in.json"), "w"))
    lab = scheme_labels(0, 0, "pageout")
    v1 = samples(scrape(root))
    writes = [json.loads(x) for x in open(log)]
    assert [w[1] for w in writes] == [L.UPDATE_SCHEMES_STATS, L.UPDATE_EFFECTIVE_QUOTAS]
    # --no-refresh: nothing written, the counters as they were
    v2 = samples(scrape(root, refresh=False))
    assert len(open(log).readlines()) == 2
    assert v2[("damos_scheme_tried_regions_total", lab)] == v1[("damos_scheme_tried_regions_total", lab)]
    # a refresh interval: the kernel refreshes, the exporter writes nothing
    with open(os.path.join(root, "kdamonds/0", L.REFRESH_MS.path), "w") as f:
        f.write("1000\n")
    v3 = samples(scrape(root))
    assert len(open(log).readlines()) == 2
    assert v3[("damos_kdamond_refresh_interval_seconds", frozenset({"kdamond": "0"}.items()))] == 1


def test_refresh_tunes_intervals_only_with_an_intervals_goal(tmp_path):
    from damos_lang.export.kdamonds import refresh_commands
    root = tree(tmp_path)
    text = ("monitor {\n    sample 5ms\n    aggr 100ms\n    intervals_goal {\n        access 4%\n"
            "        aggrs 3\n        min_sample 5ms\n        max_sample 1s\n    }\n}\n"
            "scheme {\n    action stat\n}\n")
    StandIn(root).write(L.NR_KDAMONDS, "2")
    apply_file(root, "<goal>", text=text)
    apply_file(root, PRCL)
    fs = RT.tree(root)
    assert L.UPDATE_TUNED_INTERVALS in refresh_commands(fs, 0)
    assert L.UPDATE_TUNED_INTERVALS not in refresh_commands(fs, 1)


class Vanishing(StandIn):
    """Reading kdamond 0's first scheme's counters runs ``event`` once (another
    process stopping or removing it in the middle of the scrape)."""
    event = None

    def read(self, rel):
        if Vanishing.event and rel.startswith("kdamonds/0/contexts/0/schemes/0/stats/"):
            ev, Vanishing.event = Vanishing.event, None
            ev(self)
        return super().read(rel)


def _stop(fs):
    fs.write(L.state_path(0), L.OFF)


def _remove(fs):
    fs.write(L.state_path(0), L.OFF)
    shutil.rmtree(fs.path("kdamonds/0/contexts"))


def _remove_all(fs):
    for k in (0, 1):
        fs.write(L.state_path(k), L.OFF)
    fs.write(L.NR_KDAMONDS, "0")


@pytest.mark.parametrize("event", [_stop, _remove, _remove_all], ids=["stops", "removed",
                                                                       "all-removed"])
def test_a_kdamond_vanishing_mid_scrape_does_not_fail_the_scrape(two, monkeypatch, event):
    monkeypatch.setattr(RT, "open_root", lambda root: Vanishing(root))
    Vanishing.event = event
    v = samples(scrape(two))
    assert Vanishing.event is None                      # it did happen mid-scrape
    skipped = v[("damos_export_skipped_kdamonds", frozenset())]
    k0 = [k for k in v if k[0].startswith("damos_scheme_") and ("kdamond", "0") in k[1]]
    assert k0 == []                                     # never a half-read kdamond (or 0s)
    k1 = [k for k in v if k[0] == "damos_scheme_tried_regions_total" and ("kdamond", "1") in k[1]]
    if event is _remove_all:
        assert skipped >= 1 and k1 == []
    else:
        assert skipped == 1 and len(k1) == 1
    # the next scrape shows what is left: a stopped kdamond as off, with its last counters
    v2 = samples(scrape(two))
    assert v2[("damos_export_skipped_kdamonds", frozenset())] == 0
    if event is _stop:
        assert v2[("damos_kdamond_running", frozenset({"kdamond": "0"}.items()))] == 0
        assert v2[("damos_scheme_tried_regions_total", scheme_labels(0, 0, "pageout",
                                                                      "cold_out"))] > 0


def test_no_tree_is_not_a_failure(tmp_path):
    # a node without DAMON sysfs (or a tree given that is not one) shows the exporter's own
    v = samples(scrape(str(tmp_path)))
    assert v[("damos_export_skipped_kdamonds", frozenset())] == 0
    assert not [k for k in v if k[0].startswith("damos_kdamond")]


# -- DAMON_STAT --------------------------------------------------------------------

def test_damon_stat_bandwidth_and_idle_percentiles(tmp_path):
    mods = modules(tmp_path)
    v = samples(scrape(tree(tmp_path), mods))
    assert v[("damos_damon_stat_enabled", frozenset())] == 1
    assert v[("damos_damon_stat_estimated_memory_bandwidth_bytes_per_second", frozenset())] \
        == 123456789
    assert v[("damos_damon_stat_aggregation_interval_seconds", frozenset())] == 0.25
    idle = {dict(k[1])["percentile"]: val for k, val in v.items()
            if k[0] == "damos_damon_stat_memory_idle_seconds"}
    assert set(idle) == {str(q) for q in M.PERCENTILES}
    # percentile q is q*10 - 200 ms: negative (accessed) at the low end
    assert idle["0"] == -0.2 and idle["50"] == 0.3 and idle["100"] == 0.8


def test_damon_stat_negative_idle_times_of_the_unsigned_kernels(tmp_path):
    # before "keep sign for negative idle time" a negative value printed unsigned
    mods = modules(tmp_path, idle=[(1 << 64) - 1000] + [i * 10 for i in range(1, 101)])
    v = samples(scrape(tree(tmp_path), mods))
    assert v[("damos_damon_stat_memory_idle_seconds", frozenset({"percentile": "0"}.items()))] == -1


def test_damon_stat_off_shows_only_enabled_0(tmp_path):
    mods = modules(tmp_path, enabled="N")
    v = samples(scrape(tree(tmp_path), mods))
    assert v[("damos_damon_stat_enabled", frozenset())] == 0
    assert not [k for k in v if k[0].startswith("damos_damon_stat_") and "enabled" not in k[0]]


def test_no_damon_stat_module_no_damon_stat_metrics(tmp_path):
    v = samples(scrape(tree(tmp_path), str(tmp_path / "no-modules")))
    assert not [k for k in v if k[0].startswith("damos_damon_stat")]


# -- damos run sessions --------------------------------------------------------------

@pytest.fixture
def record(tmp_path):
    from damos_lang.run.command import run_file
    named = tmp_path / "named.damos"
    named.write_text(NAMED)
    rec = str(tmp_path / "run.jsonl")
    assert run_file(str(named), sim="stairs", command=[], duration="3s", dry_run=False,
                    record=rec, realtime=False, seed=0, quiet=True) == 0
    return rec


def test_a_finished_damos_run_session(tmp_path, record):
    lines = [json.loads(x) for x in open(record)]
    summary = lines[-1]
    assert summary["type"] == "summary"
    v = samples(scrape(tree(tmp_path), records=[record]))
    s = frozenset({"session": record}.items())
    assert v[("damos_run_running", s)] == 0
    assert v[("damos_run_aggregations_total", s)] == summary["aggregations"]
    assert v[("damos_run_sample_interval_seconds", s)] == lines[0]["attrs"]["sample_us"] / 1e6
    for st in summary["stats"]:
        lab = frozenset({"session": record, "scheme": str(st["index"]), "action": st["action"],
                         "name": st["name"]}.items())
        assert v[("damos_run_scheme_tried_regions_total", lab)] == st["nr_tried"]
        assert v[("damos_run_scheme_applied_bytes_total", lab)] == st["sz_applied"]
        assert v[("damos_run_scheme_snapshots_total", lab)] == st["nr_snapshots"]
    assert sum(st["nr_tried"] for st in summary["stats"]) > 0


def test_a_running_session_half_a_line_written(tmp_path, record):
    lines = open(record).read().splitlines(keepends=True)
    # no summary yet, the last aggregation line half written
    live = tmp_path / "live.jsonl"
    live.write_text("".join(lines[:-2]) + lines[-2][: len(lines[-2]) // 2])
    r = run_record.read(str(live))
    last = json.loads(lines[-3])
    assert r.running and r.aggregations == last["aggregation"]
    assert [st for _, _, st in r.schemes][0]["nr_tried"] == last["stats"][0]["nr_tried"]


def test_a_long_record_is_read_from_its_end(tmp_path, record, monkeypatch):
    monkeypatch.setattr(run_record, "_BLOCK", 97)       # lines span many blocks
    full = run_record.read(record)
    assert not full.running and full.aggregations > 0
    monkeypatch.setattr(run_record, "_BLOCK", 1 << 16)
    assert run_record.read(record) == full


def test_a_record_without_a_header_shows_nothing(tmp_path):
    p = tmp_path / "empty.jsonl"
    p.write_text("")
    assert run_record.read(str(p)) is None
    assert run_record.read(str(tmp_path / "missing.jsonl")) is None


# -- cardinality ---------------------------------------------------------------------

@pytest.mark.parametrize("nk", [1, 3])
def test_the_series_count_is_the_documented_bound(tmp_path, nk):
    text = "".join(f"scheme s{i} {{\n    action stat\n    access 0%..0%\n}}\n\n" for i in range(8))
    f = tmp_path / "eight.damos"
    f.write_text(text)
    root = tree(tmp_path)
    StandIn(root).write(L.NR_KDAMONDS, str(nk))
    for _ in range(nk):
        apply_file(root, str(f))
    v = samples(scrape(root, modules(tmp_path)))
    assert len(v) == M.max_series(nk, 8)
    # and the documented figure for one node of 1 kdamond x 8 schemes
    assert M.max_series(1, 8) == 5 + 11 + 5 + 8 * 8


def test_docs_list_every_metric_and_the_computed_cardinality():
    from pathlib import Path
    doc = (Path(__file__).resolve().parents[2] / "docs/metrics.md").read_text()
    for m in M.ALL:
        assert f"| `{m.sample_name}` | {m.type} |" in doc, m.name
    for what, n in (("DAMON_STAT only (Debian 7.x at boot)", 16),
                    ("1 kdamond x 1 scheme (prcl)", M.max_series(1, 1)),
                    ("1 kdamond x 8 schemes", M.max_series(1, 8)),
                    ("16 kdamonds x 8 schemes", M.max_series(16, 8)),
                    ("1 x 8, and one damos run session of 8 schemes", M.max_series(1, 8, 1, 8))):
        assert f"| {what} | {n:,} |" in doc, (what, n)
    assert M.max_series(0, 0) == 16


def test_a_record_of_another_shape_or_a_file_that_breaks_names_fails_no_scrape(tmp_path, monkeypatch):
    p = tmp_path / "odd.jsonl"
    p.write_text('{"type": "header", "schemes": "no list", "attrs": 3}\n'
                 '{"type": "aggregation", "aggregation": "x"}\n')
    from damos_lang.export import names
    monkeypatch.setattr("damos_lang.pipeline.compile_path",
                        lambda path: (_ for _ in ()).throw(RecursionError("deep")))
    names._CACHE.clear()
    root = tree(tmp_path)
    named = tmp_path / "named.damos"
    named.write_text(NAMED)
    apply_file(root, str(named))
    v = samples(scrape(root, records=[str(p)]))
    assert not [k for k in v if k[0].startswith("damos_run_")]
    lab = [dict(k[1]) for k in v if k[0] == "damos_scheme_tried_regions_total"]
    assert [x["name"] for x in lab] == ["", ""]
    names._CACHE.clear()
