"""The DAMON sysfs tree of each Debian stock kernel, as jobs/tree-listing.sh
lists it (one of every sub-directory, then the kdamond running with its
tried regions): the files each version has, their modes and defaults, and
DAMON_STAT running from boot on 7.2 and 7.3.  The listings are cached
(tree_listing.py): a warm run boots nothing.

Every fact asserted here was seen on Debian's 6.12.117, 7.2.13 and 7.3.4."""
import re

import pytest

import kernelrig

pytestmark = pytest.mark.kernel

SERIES = {"stock": (6, 12), "stock72": (7, 2), "stock73": (7, 3)}
assert set(SERIES) == set(kernelrig.STOCK_KINDS)

C = "kdamonds/0/contexts/0"
S = C + "/schemes/0"
# path -> the mainline version that added it (the reference's version table)
ADDED = {
    S + "/filters": (6, 3),
    S + "/tried_regions/total_bytes": (6, 6),
    S + "/apply_interval_us": (6, 7),
    S + "/quotas/goals": (6, 8),
    S + "/quotas/effective_bytes": (6, 9),
    S + "/target_nid": (6, 11),
    S + "/filters/0/allow": (6, 14),
    S + "/stats/sz_ops_filter_passed": (6, 14),
    S + "/tried_regions/0/sz_filter_passed": (6, 14),
    S + "/core_filters": (6, 15),
    S + "/ops_filters": (6, 15),
    S + "/filters/0/min": (6, 15),
    C + "/monitoring_attrs/intervals/intervals_goal": (6, 15),
    S + "/quotas/goals/0/nid": (6, 16),
    S + "/dests": (6, 17),
    "kdamonds/0/refresh_ms": (6, 17),
    C + "/addr_unit": (6, 18),
    C + "/targets/0/obsolete_target": (6, 19),
    S + "/quotas/goals/0/path": (6, 19),
    S + "/stats/nr_snapshots": (7, 0),
    S + "/stats/max_nr_snapshots": (7, 0),
    S + "/quotas/goal_tuner": (7, 1),
    C + "/pause": (7, 2),
    S + "/quotas/fail_charge_num": (7, 2),
    S + "/quotas/fail_charge_denom": (7, 2),
    C + "/monitoring_attrs/probes": (7, 2),
    C + "/monitoring_attrs/probes/0/filters/0/path": (7, 2),
    S + "/tried_regions/0/probes/0/hits": (7, 2),
    C + "/monitoring_attrs/probes/0/weight": (7, 3),
}
# defaults of a fresh tree, the same on every kernel here
DEFAULTS = {
    "kdamonds/0/state": "off\n",
    "kdamonds/0/pid": "-1\n",
    C + "/operations": "vaddr\n",
    C + "/avail_operations": "vaddr\nfvaddr\npaddr\n",
    C + "/monitoring_attrs/intervals/sample_us": "5000\n",
    C + "/monitoring_attrs/intervals/aggr_us": "100000\n",
    C + "/monitoring_attrs/intervals/update_us": "60000000\n",
    C + "/monitoring_attrs/nr_regions/min": "10\n",
    C + "/monitoring_attrs/nr_regions/max": "1000\n",
    C + "/targets/0/regions/0/start": "0\n",
    S + "/action": "stat\n",
    S + "/target_nid": "-1\n",
    S + "/watermarks/metric": "none\n",
    S + "/quotas/goals/0/target_metric": "user_input\n",
    S + "/filters/0/type": "anon\n",
    S + "/filters/0/matching": "N\n",
    **{f"{S}/access_pattern/{a}/{m}": "0\n" for a in ("sz", "nr_accesses", "age") for m in ("min", "max")},
}
READ_ONLY = re.compile(r"(^|/)(avail_operations|pid|effective_bytes)$|/stats/(?!max_nr_snapshots$)|/tried_regions/")
TRIED_REGION = re.compile(re.escape(S) + r"/tried_regions/(\d+)$")
MIB = 1 << 20


@pytest.fixture(scope="module", params=sorted(SERIES), ids=str)
def listing(request, tree_listing):
    return request.param, tree_listing(request.param)


def test_the_kernel_is_the_series_asked_for(listing):
    kind, tl = listing
    assert tuple(int(x) for x in tl.release.split(".")[:2]) == SERIES[kind], tl.release
    assert set(tl.sections) == {"defaults", "running"}


def test_each_sub_directory_exists_once(listing):
    _, tl = listing
    paths = tl.paths()
    counts = [p for p in paths if p.rsplit("/", 1)[-1].startswith("nr_") and tl.section()[p].value == "1\n"]
    assert len(counts) >= 7, counts    # 6.12 has 7 kinds, 7.3 has 11
    for p in counts:   # nr_* = 1: directory 0 and no directory 1 beside it
        d = p.rsplit("/", 1)[0]
        assert f"{d}/0" in paths and f"{d}/1" not in paths, p
    for d in (S + "/quotas/goals/0", C + "/targets/0/regions/0", S + "/filters/0"):
        assert d in paths and tl.section()[d].type == "dir", d


def test_files_each_version_has(listing):
    kind, tl = listing
    paths = tl.paths("running")
    present = {p: p in paths for p in ADDED}
    expected = {p: SERIES[kind] >= v for p, v in ADDED.items()}
    assert present == expected, {p: (present[p], expected[p]) for p in ADDED if present[p] != expected[p]}


def test_modes_are_0600_but_the_read_only_files(listing):
    _, tl = listing
    for p, e in tl.section("running").items():
        if e.type == "dir":
            assert e.mode == 0o755, p
        else:
            assert e.type == "file", p
            assert e.mode == (0o400 if READ_ONLY.search(p) else 0o600), (p, oct(e.mode))
            assert e.value is not None and e.error is None, p   # every file reads


def test_defaults_of_a_fresh_tree(listing):
    kind, tl = listing
    d = tl.section()
    assert {p: d[p].value for p in DEFAULTS} == DEFAULTS
    if SERIES[kind] >= (6, 15):
        # a fresh core filter holds an ops type, which its directory refuses to be written
        assert d[S + "/core_filters/0/type"].value == "anon\n"
        assert tl.facts["core_filters_type_anon"] == "EINVAL"
        assert tl.facts["ops_filters_type_addr"] == "EINVAL"
        assert tl.facts["core_filters_type_addr"] == "ok"
    if SERIES[kind] >= (7, 2):
        assert d[C + "/pause"].value == "N\n"
        assert d[C + "/monitoring_attrs/probes/0/filters/0/type"].value == "anon\n"
    if SERIES[kind] >= (7, 3):
        assert d[C + "/monitoring_attrs/probes/0/weight"].value == "0\n"


def test_the_running_kdamond_and_its_tried_regions(listing):
    _, tl = listing
    f, r = tl.facts, tl.section("running")
    assert f["on"] == "ok" and f["update_schemes_tried_regions"] == "ok", f
    assert r["kdamonds/0/state"].value == "on\n"
    assert int(r["kdamonds/0/pid"].value) > 0
    regions = sorted({m.group(1) for p in r if (m := TRIED_REGION.match(p))}, key=int)
    assert len(regions) == int(f["nr_tried_regions"]) >= 3, regions
    spans = [(int(r[f"{S}/tried_regions/{i}/start"].value), int(r[f"{S}/tried_regions/{i}/end"].value))
             for i in regions]
    assert all(s < e for s, e in spans), spans
    # the one target region is the workload's 16 MiB, tried whole (any access pattern)
    assert sum(e - s for s, e in spans) == 16 * MIB == int(r[S + "/tried_regions/total_bytes"].value)
    assert int(r[S + "/stats/nr_tried"].value) > 0
    assert f["nr_kdamonds_while_on"] == "EBUSY"


def test_damon_stat_runs_from_boot_on_7_2_and_later(listing):
    kind, tl = listing
    f = tl.facts
    if SERIES[kind] < (7, 2):
        assert f["damon_stat_enabled_at_boot"] == "absent", f
        return
    assert f["damon_stat_enabled_at_boot"] == "Y", f
    assert int(f["damon_stat_kdamond_pid_at_boot"]) > 0, f
    assert f["on_while_damon_stat_runs"] == "EBUSY", f      # sysfs.md section 7, trap 1
    assert f["damon_stat_stop"] == "ok" and f["damon_stat_enabled_after_stop"] == "N", f
    assert f["damon_stat_kdamond_pid_after_stop"] == "-1", f
    assert f["damon_stat_start_while_sysfs_runs"] == "EBUSY", f   # and the other way round
    assert f["damon_stat_enabled_after_start"] == "N", f


def test_a_second_look_needs_no_boot(tree_listing):
    first = tree_listing("stock73")
    again = tree_listing("stock73")
    assert not again.booted and again.text == first.text and again.directory == first.directory


def test_commands_need_a_running_kdamond(listing):
    kind, tl = listing
    f = tl.facts
    assert f["update_schemes_stats_never_on"] == "EINVAL", f
    assert f["state_after_off"] == "off", f
    # a kdamond stopped by off: EINVAL on 6.12, ECANCELED on 7.2 and 7.3 (even 1 s later)
    after_off = "ECANCELED" if SERIES[kind] >= (7, 2) else "EINVAL"
    assert f["update_schemes_stats_right_after_off"] == f["update_schemes_stats_1s_after_off"] == after_off, f
    assert f["nr_contexts_2"] == "EINVAL", f
