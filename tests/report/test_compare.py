"""damos report compare: two records of one workload, their hot-set agreement."""
import json
import subprocess
import sys

from hypothesis import given, settings, strategies as st

from damos_lang.report import compare
from damos_lang.report.records import Aggregation, Record, TargetSnapshot

from .conftest import ROOT

MIB = 1 << 20


def rec(path, snapshots, aggr_us=100_000, kind="damos run"):
    """snapshots: per aggregation, a list of (start, end, nr_accesses)."""
    aggs = [Aggregation((i + 1) * aggr_us, i + 1,
                        [TargetSnapshot(0, [(s, e, acc, 0) for s, e, acc in regs])])
            for i, regs in enumerate(snapshots)]
    return Record(path=path, kind=kind, aggregations=aggs, sample_us=5000, aggr_us=aggr_us)


def test_the_same_working_set_agrees_fully_and_a_disjoint_one_not_at_all():
    a = rec("a", [[(0, 4 * MIB, 0), (4 * MIB, 8 * MIB, 20)]] * 3)
    same = rec("b", [[(0, 2 * MIB, 0), (2 * MIB, 4 * MIB, 0), (4 * MIB, 8 * MIB, 7)]] * 3)
    other = rec("c", [[(0, 4 * MIB, 3), (4 * MIB, 8 * MIB, 0)]] * 3)
    s = compare.summary(a, same)
    assert s["pairs"] == 3 and s["hot_set_agreement"] == 1.0
    assert s["classification_agreement"] == 1.0 and s["median_wss_ratio"] == 1.0
    s = compare.summary(a, other)
    assert s["hot_set_agreement"] == 0.0 and s["classification_agreement"] == 0.0


def test_a_partial_overlap_is_bytes_in_both_over_bytes_in_either():
    a = rec("a", [[(0, 8 * MIB, 0), (8 * MIB, 12 * MIB, 10)]])
    b = rec("b", [[(0, 10 * MIB, 0), (10 * MIB, 12 * MIB, 10)]])
    s = compare.summary(a, b)
    assert s["hot_set_agreement"] == 0.5                      # 2 MiB of 4 MiB
    assert s["classification_agreement"] == round(10 / 12, 4)
    assert s["median_wss_ratio"] == 0.5


def test_only_addresses_both_cover_count():
    a = rec("a", [[(0, 4 * MIB, 5), (100 * MIB, 104 * MIB, 5)]])
    b = rec("b", [[(0, 4 * MIB, 5)]])
    assert compare.summary(a, b)["hot_set_agreement"] == 1.0


def test_shift_aligns_records_that_started_apart():
    pattern = [[(0, 4 * MIB, 10 if i % 10 < 5 else 0), (4 * MIB, 8 * MIB, 0 if i % 10 < 5 else 10)]
               for i in range(40)]
    a = rec("a", pattern)
    late = rec("b", pattern[3:])                 # started 3 aggregations (300 ms) later
    assert compare.summary(a, late)["hot_set_agreement"] < 0.6
    s = compare.summary(a, compare.shifted(late, 300_000))
    assert s["hot_set_agreement"] == 1.0 and s["pairs"] == 37


def test_aggregations_too_far_apart_are_not_paired():
    a = rec("a", [[(0, MIB, 1)]] * 5)
    b = compare.shifted(rec("b", [[(0, MIB, 1)]] * 5), 10_000_000)
    s = compare.summary(a, b)
    assert s["pairs"] == 0 and s["hot_set_agreement"] is None
    assert "nothing to compare" in compare.text(a, b, s)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 63), st.integers(1, 16), st.integers(0, 3)),
                min_size=1, max_size=8),
       st.lists(st.tuples(st.integers(0, 63), st.integers(1, 16), st.integers(0, 3)),
                min_size=1, max_size=8))
def test_agreement_matches_a_page_by_page_count(ra, rb):
    """Overlapping regions of a record count once; the figures equal a count
    over 4 KiB pages."""
    page = 4096

    def regions(spec):
        return [(s * page, (s + n) * page, acc) for s, n, acc in spec]

    def pages(spec, hot_only):
        return {p for s, n, acc in spec for p in range(s, s + n) if acc > 0 or not hot_only}
    a, b = rec("a", [regions(ra)]), rec("b", [regions(rb)])
    cov = pages(ra, False) & pages(rb, False)
    ha, hb = pages(ra, True) & cov, pages(rb, True) & cov
    s = compare.summary(a, b)
    either = len(ha | hb)
    assert s["hot_set_agreement"] == (round(len(ha & hb) / either, 4) if either else None)
    assert s["classification_agreement"] == (
        round((len(cov) - len(ha ^ hb)) / len(cov), 4) if cov else None)


def test_cli_compares_two_records_and_says_what_is_wrong(stairs, tmp_path):
    r = subprocess.run([sys.executable, "-m", "damos_lang", "report", "compare", stairs.record,
                        stairs.record, "--json"], cwd=ROOT, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["pairs"] == 600 and s["hot_set_agreement"] == 1.0
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"type": "aggregation", "time_us": -1}\n')
    r = subprocess.run([sys.executable, "-m", "damos_lang", "report", "compare", stairs.record,
                        str(bad)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.startswith(f"{bad}:1: error: ") and len(r.stderr.splitlines()) == 1
