"""Proofs on Debian's stock 7.3 kernel, where DAMON_STAT runs from boot.

Boot 1 (jobs/stock73-examples.sh): every example 7.3 can run, started both
by our compiled sysfs script with --stop-damon-stat and by
``damos apply --stop-damon-stat``; every file of our write plan reads back
exactly; ``damos stop`` starts DAMON_STAT again (enabled Y, a kdamond runs).

Boot 2 (jobs/stock73-acts.sh, two NUMA nodes): the features newer than 6.12
act, each proof three times in that one boot (run1..run3):
intervals_goal retunes the sampling interval; max_snapshots deactivates its
scheme at the limit; the goal tuners consist and temporal move the effective
quota differently; vaddr dests 30/70 split migrated pages by weight over two
nodes; migrate_cold with target_nid moves pages; collapse grows
AnonHugePages; core and ops filters change sz_ops_filter_passed; damos stop
brings DAMON_STAT back.

Boot 3 (jobs/stock73-ctx.sh): the context and kdamond settings (pause,
refresh_ms, obsolete targets) and the data-attribute probes: an anon probe's
hits in the regions holding a workload's anonymous memory, none for a memcg
probe of an empty cgroup, and a weight turning the access checks off.
"""
import json
from pathlib import Path

import pytest

from damos_lang.catalog import SYSFS
from damos_lang.features import minimum_version
from damos_lang.lower import parse
from damos_lang.pipeline import unit_of
from damos_lang.sysfs.plan import PID_FROM_CALLER, plan_for, takes_pid_from_caller
from damos_lang.targets import Options

pytestmark = pytest.mark.kernel

ROOT = Path(__file__).resolve().parents[2]
SERIES = (7, 3)
RUNS = (1, 2, 3)


# -- boot 1: the examples ------------------------------------------------------

def examples_for_7_3():
    """(name, takes the workload's pid) of every example 7.3 can run."""
    out = []
    for f in sorted((ROOT / "examples").glob("*.damos")):
        unit = unit_of(parse(f.read_text()), interface=SYSFS)
        feat = minimum_version(unit.context, SYSFS)
        if feat is not None and feat.since <= SERIES:
            out.append((f.stem, takes_pid_from_caller(unit.context)))
    return out


def plan_leaves(name):
    """path -> value of every file our write plan sets (but state and the pid)."""
    unit = unit_of(parse((ROOT / "examples" / f"{name}.damos").read_text()), interface=SYSFS)
    return {w.path: w.value for w in plan_for(unit, Options(), pid_from_caller=True)
            if not w.path.endswith("/state") and w.value != PID_FROM_CALLER}


def test_examples_are_covered():
    # the proof must not silently shrink: every example of 6.13+ features is here
    names = {n for n, _ in examples_for_7_3()}
    assert {"ethp", "prcl", "reclaim", "snapshots", "everything", "vaddr-actions"} <= names
    assert len(names) >= 6


@pytest.fixture(scope="module")
def examples_run(kernel_rig, stock73_kernel, tmp_path_factory):
    out = tmp_path_factory.mktemp("stock73-examples")
    examples = examples_for_7_3()
    files, expected = {}, {}
    for name, takes_pid in examples:
        src = (ROOT / "examples" / f"{name}.damos").read_text()
        expected[name] = plan_leaves(name)
        files[f"{name}.paths"] = "\n".join(expected[name]) + "\n"
        files[f"{name}.sh"] = kernel_rig.compile_damos(src)
        files[f"{name}.damos"] = src
        if takes_pid:
            files[f"{name}.pid"] = ""
    r = kernel_rig.run_vm(stock73_kernel, kernel_rig.job("stock73-examples.sh"), timeout=420,
                          files=files, env={"EXAMPLES": " ".join(n for n, _ in examples)},
                          out=out, numa_nodes=2)
    assert r.rc == 0, r.describe()
    return r, kernel_rig.parse_kv(r.text("result.txt")), expected


def _runs_damon_stat(res, key):
    return res[f"{key}.stat_enabled"] == "Y" and res[f"{key}.stat_comm"].startswith("kdamond")


@pytest.mark.parametrize("name", [n for n, _ in examples_for_7_3()])
def test_the_script_stops_damon_stat_starts_the_example_and_reads_back(kernel_rig, examples_run,
                                                                         name):
    r, res, expected = examples_run
    ctx = f"{name}: {r.text(f'{name}.script.err')}\n{r.describe()}"
    assert _runs_damon_stat(res, f"{name}.boot"), ctx       # DAMON_STAT held DAMON before
    assert res[f"{name}.script_rc"] == "0" and res[f"{name}.script_state"] == "on", ctx
    assert res[f"{name}.script.stat_enabled"] == "N", ctx
    assert "stopped DAMON_STAT" in r.text(f"{name}.script.err")
    assert kernel_rig.parse_kv(r.text(f"{name}.script.txt")) == expected[name], ctx
    assert _runs_damon_stat(res, f"{name}.restored"), ctx


@pytest.mark.parametrize("name", [n for n, _ in examples_for_7_3()])
def test_apply_stops_damon_stat_starts_the_example_reads_back_and_stop_restores_it(
        kernel_rig, examples_run, name):
    r, res, expected = examples_run
    ctx = f"{name}: {r.text(f'{name}.apply.err')}\n{r.text(f'{name}.stop.err')}\n{r.describe()}"
    assert res[f"{name}.apply_rc"] == "0" and res[f"{name}.apply_state"] == "on", ctx
    assert res[f"{name}.apply.stat_enabled"] == "N", ctx
    assert kernel_rig.parse_kv(r.text(f"{name}.apply.txt")) == expected[name], ctx
    assert res[f"{name}.stop_rc"] == "0" and res[f"{name}.stop_nr_kdamonds"] == "0", ctx
    # damos stop starts DAMON_STAT again: enabled Y and its kdamond runs
    assert _runs_damon_stat(res, f"{name}.stop"), ctx


# -- boot 2: the features act --------------------------------------------------

MONITOR_50MS = "monitor {\n    sample 5ms\n    aggr 50ms\n}\n"
ACTS = {
    # the idle workload's access rate is far below 4%: the tuner lengthens the intervals
    "intervals": ("monitor {\n    sample 5ms\n    aggr 100ms\n    intervals_goal {\n"
                  "        access 4%\n        aggrs 3\n        min_sample 5ms\n"
                  "        max_sample 1s\n    }\n}\n"
                  "scheme {\n    action stat\n}\n"),
    "snapshots": (MONITOR_50MS + "scheme limited {\n    action stat\n    max_snapshots 5\n}\n"
                  "scheme unlimited {\n    action stat\n}\n"),
    # the goal is a third met (current 100 of 300) until the job writes 400
    "tuners": MONITOR_50MS + "".join(
        f"scheme {t} {{\n    action stat\n    quota {{\n        size 64M\n        reset 200ms\n"
        f"        goal user_input 300 current 100\n        tuner {t}\n    }}\n}}\n"
        for t in ("consist", "temporal")),
    "filters": (MONITOR_50MS
                + "scheme no_filter {\n    action stat\n}\n"
                + "scheme anon {\n    action stat\n    filter allow anon\n}\n"
                + "scheme not_anon {\n    action stat\n    filter reject anon\n}\n"
                + "scheme core_reject {\n    action stat\n    filter reject target 0\n"
                  "    filter allow anon\n}\n"
                + "scheme core_allow {\n    action stat\n    filter allow target 0\n"
                  "    filter allow anon\n}\n"),
    "dests": ("scheme {\n    action migrate_cold\n    access 0%..0%\n"
              "    dest 0 weight 30\n    dest 1 weight 70\n}\n"),
    "nid": "scheme {\n    action migrate_cold\n    access 0%..0%\n    target_nid 1\n}\n",
    "collapse": "scheme {\n    action collapse\n    size 2M..max\n}\n",
}
# collapse needs a mapping without MADV_NOHUGEPAGE, which rig/workload.c sets
THP_WORKLOAD = """\
import ctypes, mmap, os, sys, time
n = int(sys.argv[1]) << 20
m = mmap.mmap(-1, n, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
for i in range(0, n, 4096):
    m[i] = 1
print(os.getpid(), hex(ctypes.addressof(ctypes.c_char.from_buffer(m))), n, flush=True)
while True:
    time.sleep(3600)
"""


@pytest.fixture(scope="module")
def acts_run(kernel_rig, rig_kernel, tmp_path_factory):
    out = tmp_path_factory.mktemp("stock73-acts")
    files = {f"{name}.sh": kernel_rig.compile_damos(src, "sysfs", "--kernel", "7.3")
             for name, src in ACTS.items()}
    files["thp_workload.py"] = THP_WORKLOAD
    r = kernel_rig.run_vm(rig_kernel("stock73"), kernel_rig.job("stock73-acts.sh"), timeout=420,
                          cmdline=kernel_rig.ACCESS_CMDLINE, files=files,
                          env={"RUNS": str(len(RUNS))}, out=out, numa_nodes=2)
    assert r.rc == 0, r.describe()
    res = kernel_rig.parse_kv(r.text("result.txt"))
    assert res["online_nodes"] == "0-1" and res["thp"].startswith("always [madvise]"), res
    return r, res


def _of(acts_run, name, run):
    """The proof's KEY=VALUE results of one run, keys without 'NAME.RUN.'."""
    r, res = acts_run
    pre = f"{name}.{run}."
    got = {k[len(pre):]: v for k, v in res.items() if k.startswith(pre)}
    err = (r.out / f"{name}.{run}.err")
    ctx = f"{name} run{run}: {got}\n{err.read_text() if err.exists() else ''}\n{r.describe()}"
    assert got.get("rc") == "0" and got.get("state") == "on", ctx
    return got, ctx


MAX_LAG_S = 3.0     # how far behind its schedule a proof may run before timing claims fail


def _on_time(got, ctx, key, planned, start="T.start"):
    lag = float(got[key]) - float(got[start]) - planned
    assert lag < MAX_LAG_S, f"ran {lag:.1f} s behind schedule (machine too busy): {ctx}"


@pytest.mark.parametrize("run", RUNS, ids=[f"run{i}" for i in RUNS])
def test_intervals_goal_lengthens_the_sampling_interval(acts_run, run):
    got, ctx = _of(acts_run, "intervals", run)
    s0, s1, s2 = (int(got[f"sample{i}"]) for i in range(3))
    assert s0 == 5000, ctx                       # as written
    # an idle workload is far below the 4% access goal: longer intervals, within the bounds
    assert 5000 < s1 < s2 <= 1_000_000, ctx
    for i in (1, 2):       # aggr follows sample: 20 samples per aggregation, as written
        assert int(got[f"aggr{i}"]) == 20 * int(got[f"sample{i}"]), ctx


@pytest.mark.parametrize("run", RUNS, ids=[f"run{i}" for i in RUNS])
def test_max_snapshots_deactivates_the_scheme_at_its_limit(acts_run, run):
    got, ctx = _of(acts_run, "snapshots", run)
    for i in (1, 2):
        assert got[f"s0.max_nr_snapshots{i}"] == "5" and got[f"s0.nr_snapshots{i}"] == "5", ctx
        assert got[f"s1.max_nr_snapshots{i}"] == "0", ctx
    # the limited scheme tried regions, then nothing more; the unlimited one goes on
    assert int(got["s0.nr_tried1"]) > 0 and got["s0.nr_tried2"] == got["s0.nr_tried1"], ctx
    assert 5 < int(got["s1.nr_snapshots1"]) < int(got["s1.nr_snapshots2"]), ctx
    assert int(got["s1.nr_tried1"]) < int(got["s1.nr_tried2"]), ctx


@pytest.mark.parametrize("run", RUNS, ids=[f"run{i}" for i in RUNS])
def test_goal_tuners_consist_and_temporal_move_the_effective_quota_differently(acts_run, run):
    got, ctx = _of(acts_run, "tuners", run)
    full = 64 << 20
    consist = [int(got[f"consist{i}"]) for i in range(1, 5)]
    temporal = [int(got[f"temporal{i}"]) for i in range(1, 5)]
    # consist doubles up at most each 200 ms reset from 1 byte: far below 64M for ~6 s
    _on_time(got, ctx, "T.4", 2.0)
    # goal unmet: temporal gives the whole quota at once, consist climbs step by step
    assert temporal == [full] * 4, ctx
    assert 0 < consist[0] < consist[-1] < full and consist == sorted(consist), ctx
    # goal met (400 of 300): temporal stops the scheme (0), consist shrinks but keeps some
    assert got["temporal_met"] == "0", ctx
    assert 0 < int(got["consist_met"]) < consist[-1], ctx


@pytest.mark.parametrize("run", RUNS, ids=[f"run{i}" for i in RUNS])
def test_core_and_ops_filters_change_sz_ops_filter_passed(acts_run, run):
    got, ctx = _of(acts_run, "filters", run)
    passed = [int(got[f"s{s}.sz_ops_filter_passed"]) for s in range(5)]
    snaps = {got[f"s{s}.nr_snapshots"] for s in range(5)}
    assert len(snaps) == 1 and int(snaps.pop()) > 0, ctx      # all judged equally often
    n = int(got["s0.nr_snapshots"])
    none, anon, not_anon, core_reject, core_allow = passed
    assert none == 0, ctx                       # no ops filter: vaddr walks no page
    # allow anon: the workload's 64 MiB (and a little stack and heap) each snapshot
    assert (64 << 20) <= anon / n < (65 << 20), ctx
    # reject anon: only the file pages pass (the static binary's, well under 1 MiB)
    assert 0 < not_anon / n < (1 << 20), ctx
    # a core filter rejecting the target: no region reaches the ops filters
    assert core_reject == 0 and got["s3.nr_tried"] == "0", ctx
    # a core filter allowing it decides first: the ops filter 'allow anon' is never
    # asked, so the file pages pass too (anon + not anon)
    assert abs(core_allow - (anon + not_anon)) <= n * (64 << 10), ctx


def _nodes(text):
    n0, n1 = (int(x) for x in text.split())
    return n0, n1


@pytest.mark.parametrize("run", RUNS, ids=[f"run{i}" for i in RUNS])
def test_vaddr_dests_split_migrated_pages_by_weight(acts_run, run):
    got, ctx = _of(acts_run, "dests", run)
    pages = 64 << 20 >> 12
    assert _nodes(got["before"]) == (pages, 0), ctx          # all on node 0 (CPU 0)
    n0, n1 = _nodes(got["after"])
    assert n0 + n1 == pages, ctx
    # weights 30/70: 70% of the pages go to node 1, 30% to (or stay on) node 0
    assert abs(n1 / pages - 0.70) < 0.03, ctx
    assert int(got["sz_applied"]) > 0, ctx


@pytest.mark.parametrize("run", RUNS, ids=[f"run{i}" for i in RUNS])
def test_migrate_cold_with_target_nid_moves_pages(acts_run, run):
    got, ctx = _of(acts_run, "nid", run)
    pages = 64 << 20 >> 12
    assert _nodes(got["before"]) == (pages, 0), ctx
    assert _nodes(got["after"]) == (0, pages), ctx           # every idle page to node 1
    assert int(got["sz_applied"]) >= 64 << 20, ctx


@pytest.mark.parametrize("run", RUNS, ids=[f"run{i}" for i in RUNS])
def test_collapse_grows_anon_huge_pages(acts_run, run):
    got, ctx = _of(acts_run, "collapse", run)
    # THP 'madvise' and a mapping without MADV_HUGEPAGE: faults gave 4K pages only
    assert got["before"] == "0", ctx
    # collapse makes huge pages of the 32 MiB mapping (at least 8 of its 15+ aligned 2M)
    assert int(got["after"]) >= 16 << 10, ctx


# -- boot 3: the context and kdamond settings (jobs/stock73-ctx.sh) -------------

@pytest.fixture(scope="module")
def ctx_vm(kernel_rig, stock73_kernel, tmp_path_factory):
    out = tmp_path_factory.mktemp("stock73-ctx")
    r = kernel_rig.run_vm(stock73_kernel, kernel_rig.job("stock73-ctx.sh"), timeout=600,
                          out=out)
    assert r.rc == 0, r.describe()
    res = kernel_rig.parse_kv(r.text("result.txt"))
    errs = "\n".join(f"{n}: {(r.out / f'{n}.err').read_text()}"
                     for n in ("apply", "resume", "refresh", "drop", "readd", "exit", "stop",
                               "probes.apply", "probes.status1", "probes.pfns",
                               "probes.update", "probes.status2", "probes.stop")
                     if (r.out / f"{n}.err").exists())
    return res, f"{res}\n{errs}\n{r.describe()}", r


@pytest.fixture(scope="module")
def ctx_run(ctx_vm):
    return ctx_vm[:2]


def test_pause_stops_the_kdamond_and_update_without_it_resumes(ctx_run):
    res, ctx = ctx_run
    assert res["apply.rc"] == "0" and res["apply.state"] == "on", ctx
    assert res["apply.pause"] == "Y", ctx
    # paused from the start: no aggregation applies the stat scheme, nr_tried stays
    assert res["paused1"] == res["paused2"], ctx
    # damos update of the same file without 'pause yes' writes pause N back
    assert res["resume.rc"] == "0" and res["resume.pause"] == "N", ctx
    assert int(res["paused2"]) < int(res["resumed1"]) < int(res["resumed2"]), ctx


def test_stats_stay_without_a_command_and_move_with_refresh_ms(ctx_run):
    res, ctx = ctx_run
    # without refresh_ms the files show the last update_schemes_stats
    assert res["nocmd"] == res["resumed2"], ctx
    assert res["refresh.rc"] == "0" and res["refresh.refresh_ms"] == "100", ctx
    r1, r2, r3 = (int(res[f"refreshed{i}"]) for i in (1, 2, 3))
    assert int(res["nocmd"]) <= r1 < r2 < r3, ctx
    # the next file has no refresh: the update writes refresh_ms 0 back
    assert res["drop.refresh_ms"] == "0", ctx


def _ages(res, key):
    """The age of the tried region holding the middle of each workload's mapping
    (P1, P2, P3; -1 where no region holds it): each fvaddr target's region is
    its workload's idle mapping, so a kept target's age only grows."""
    return [int(res[f"{key}.a{i}"]) for i in (1, 2, 3)]


def test_update_dropping_a_middle_target_keeps_the_others_monitoring_state(ctx_run):
    res, ctx = ctx_run
    p1, p2, p3 = res["pids"].split()
    assert res["drop.rc"] == "0", ctx
    # the kernel dropped P2; the files were written again as it now is
    assert res["drop.nr_targets"] == "2" and res["drop.pids"].split() == [p1, p3], ctx
    assert res["drop.obsolete"].split() == ["N", "N"], ctx
    b1, b2, b3 = _ages(res, "before")
    a1, a2, a3 = _ages(res, "after")
    # idle since they started, and monitored since the first apply: old regions
    assert min(b1, b2, b3) >= 25, ctx
    # P1 and P3 keep theirs, and age on; P2 is monitored no more
    assert a1 >= b1 and a3 >= b3 and a2 == -1, ctx
    # the control, P3 dropped from the middle by hand without obsolete_target: P2
    # takes over P3's place, the regions are set to P2's range, and P2's mapping
    # gets a new region -- its own ages are lost.  P1, kept all along, is the clock:
    # the aggregations the kdamond ran (however far behind schedule) between the two
    # measurements bound the age of anything created in between
    assert res["readd.rc"] == "0", ctx
    c1, c2, c3 = _ages(res, "cbefore")
    d1, d2, d3 = _ages(res, "cafter")
    assert d1 >= c1 and d3 == -1, ctx
    assert c2 >= 5, ctx                  # P2 was re-added 3 s before: it has aged
    assert 0 <= d2 <= d1 - c1 + 2, ctx   # no older than the commit: new
    assert d2 < c2, ctx                  # younger than it was: P2's state is gone


def test_update_dropping_an_exited_target_converges(ctx_run):
    res, ctx = ctx_run
    p1, p2, p3 = res["pids"].split()
    # the kernel looks up an obsolete target's pid too: staged by hand with the pid
    # of the exited P1, the commit fails (the kdamond runs on)
    assert res["hand.commit"] == "failed" and res["hand.state"] == "on", ctx
    # damos update stages it under a kept target's pid: the commit drops it
    assert res["exit.rc"] == "0", ctx
    assert res["exit.nr_targets"] == "1" and res["exit.pids"].split() == [p2], ctx
    e2, f2 = _ages(res, "ebefore")[1], _ages(res, "eafter")[1]
    assert f2 >= e2 >= 0, ctx            # P2 kept its monitoring state
    assert res["stop.rc"] == "0", ctx


# -- boot 3, probes ------------------------------------------------------------------

def _tried(r, n):
    """The tried regions of damos status --regions --json number ``n``."""
    data = json.loads((r.out / f"probes.status{n}.json").read_text())
    return data["kdamonds"][0]["schemes"][0]["tried_regions"]


def _workload_bytes(r):
    """[start, end) physical byte ranges of the workload's pages (its pagemap)."""
    return [tuple(map(int, line.split())) for line in r.text("probes.pfns.txt").splitlines()]


def _overlap(region, ranges) -> int:
    return sum(max(0, min(region["end"], e) - max(region["start"], s)) for s, e in ranges)


def test_an_anon_probe_hits_the_workload_s_regions_and_a_memcg_probe_of_an_empty_cgroup_none(
        ctx_vm):
    res, ctx, r = ctx_vm
    assert res["probe.apply.rc"] == "0" and res["probe.status1.rc"] == "0", ctx
    assert res["probe.nr_probes"] == "2" and res["probe.path"] == "/dprobe_empty", ctx
    assert "dprobe_empty" not in res["probe.cgroup"], ctx        # the workload is not in it
    # every tried region has one hits file per probe
    assert res["probe.hits_files"].split() == ["0", "1"], ctx
    regions = _tried(r, 1)
    assert regions and all(len(t["probe_hits"]) == 2 for t in regions), (regions, ctx)
    assert res["probe.pfns.rc"] == "0", ctx
    wl = _workload_bytes(r)
    assert sum(e - s for s, e in wl) >= 120 << 20, ctx           # the 128 MiB are resident
    # the regions mostly made of the workload's anonymous pages: the anon probe hits
    # each of them; the memcg probe of a cgroup nobody is in hits nothing anywhere
    # (2026-12-04: 219 of 497 regions mostly the workload's, each hit 20 of 20 samples;
    # the memcg probe 0 in all 497)
    mostly = [t for t in regions if 2 * _overlap(t, wl) >= t["end"] - t["start"]]
    assert mostly, (regions, wl, ctx)
    assert all(t["probe_hits"][0] > 0 for t in mostly), (mostly, ctx)
    assert all(t["probe_hits"][1] == 0 for t in regions), (regions, ctx)
    # with access monitoring on, the written workload shows accesses
    assert any(t["nr_accesses"] > 0 for t in mostly), (mostly, ctx)


def test_a_probe_weight_turns_the_access_checks_off(ctx_vm):
    res, ctx, r = ctx_vm
    assert res["probe.update.rc"] == "0" and res["probe.weight"] == "1", ctx
    assert res["probe.status2.rc"] == "0", ctx
    regions = _tried(r, 2)
    wl = _workload_bytes(r)
    # the kernel checks no access (nr_accesses stays 0) and still counts anon hits
    assert regions and all(t["nr_accesses"] == 0 for t in regions), (regions, ctx)
    assert any(t["probe_hits"][0] > 0 and _overlap(t, wl) for t in regions), (regions, ctx)
    # damon_valid_probe_params(): a weighted sum above the u32 fails the commit, and the
    # kdamond runs on
    assert res["probe.hand.commit"] == "failed" and res["probe.hand.state"] == "on", ctx
    assert res["probe.stop.rc"] == "0", ctx
