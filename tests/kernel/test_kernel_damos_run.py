"""Proof: `damos run` on a real process in the custom 6.12 kernel (page_idle),
the host's Python running inside the VM (jobs/damos-run.sh; one boot).

1. `damos run stat.damos --record ... -- workload 64 8 8`: damos run starts
   the rig workload (64 MiB, first 8 MiB written continuously) and stops by
   itself when it exits.  The record must show the hot 8 MiB: regions read
   as accessed (nr_accesses >= 3 of 20) cover it in 90% of the aggregations,
   the cold 56 MiB read about 0 (as the kdamond's damon_aggregated trace
   does in test_kernel_damon_trace.py).
2. The same process under a kdamond (damon_aggregated trace) and then under
   `damos run --pid --record`: at least 80% of the bytes each calls hot are
   hot in the other.
3. prcl with the age shortened to 1 s, zram swap, `damos run --pid` for 8 s:
   VmRSS drops while the hot part stays resident, the same outcome as the
   stock kernel's pageout proof for kernel DAMON (test_kernel_sysfs.py).
"""
import json

import pytest

import trace_summary

pytestmark = pytest.mark.kernel

MIB = 1 << 20
HOT = 8 * MIB
STAT = "# damos run proof 1: prcl's pattern, stat, age 2 s\n4K max 0 0 2s max stat\n"
PRCL = "# damos run proof 2: prcl with a 1 s age\n4K max 0 0 1s max pageout\n"


@pytest.fixture(scope="module")
def run(kernel_rig, custom_kernel, tmp_path_factory):
    out = tmp_path_factory.mktemp("damos-run-vm")
    # PYTHONPATH: the checkout under test (a worktree too), not whichever one
    # the interpreter's editable install points at
    r = kernel_rig.run_vm(custom_kernel, kernel_rig.job("damos-run.sh"), timeout=300,
                          cmdline=kernel_rig.ACCESS_CMDLINE, out=out,
                          env={"HOSTRUN_ENV": f"PYTHONPATH={kernel_rig.PROJECT_ROOT}"},
                          files={"stat.damos": STAT, "prcl.damos": PRCL})
    assert r.rc == 0, r.describe()
    return r


def records(r, name):
    return [json.loads(line) for line in r.text(name).splitlines()]


def part_means(regions, lo, hi, high=3):
    """Size-weighted nr_accesses over [lo, hi), and the share of it covered by
    regions with nr_accesses >= ``high`` (of the 20 samples of an aggregation)."""
    w = tot = covered = 0
    for g in regions:
        ov = max(0, min(g["end"], hi) - max(g["start"], lo))
        w += ov
        tot += ov * g["nr_accesses"]
        if g["nr_accesses"] >= high:
            covered += ov
    return (tot / w if w else None), covered / (hi - lo)


def test_damos_run_started_the_workload_and_stopped_when_it_exited(run):
    res = run.text("result.txt")
    assert "stat_rc=0" in res, run.describe()
    out = run.text("stat.out")
    assert "stopped: the target exited" in out, out + run.text("stat.err")
    assert "Traceback" not in run.text("stat.err")
    lines = records(run, "stat.jsonl")
    assert lines[0]["type"] == "header" and lines[0]["mode"] == "command"
    assert lines[-1]["type"] == "summary" and lines[-1]["reason"].startswith("the target exited")


def hot_figures(body, tid, addr, length):
    """Per aggregation after the workload's setup (3 s): the hot 8 MiB's and
    the cold rest's mean nr_accesses and shares covered by nr_accesses >= 3."""
    hot, cov, cold, cold_cov = [], [], [], []
    for b in body:
        if b["time_us"] < 3_000_000:
            continue
        for t in b["targets"]:
            if t["id"] == tid:
                h, c = part_means(t["regions"], addr, addr + HOT)
                hot.append(h)
                cov.append(c)
                h, c = part_means(t["regions"], addr + HOT, addr + length)
                cold.append(h)
                cold_cov.append(c)
    return hot, cov, cold, cold_cov


def judge_hot(lines, tid, addr, length):
    """Whether the record found the hot 8 MiB, judged by how far behind its
    sampling ran: on time (>= 90 % of the samples due), the kdamond's
    criterion -- the hot part reads 6 or more of 20 on average (under TCG
    the workload and the monitor share slow vCPUs: 10-16; kdamond >= 15),
    covered at >= 3 in 90 % of the aggregations, the cold part about 0;
    behind, each region gets a sample or two per aggregation, so its scaled
    count is 0 or 20: the hot part must still read 5 or more on average and
    four times the cold part.  Returns (ok, brief)."""
    body = [b for b in lines if b["type"] == "aggregation"]
    hot, cov, cold, cold_cov = hot_figures(body, tid, addr, length)
    taken, due = lines[-1]["samples_taken"], lines[-1]["samples_due"]
    brief = {"samples": f"{taken}/{due}", "aggregations": len(hot),
             "hot": [round(x, 1) for x in hot], "cold": [round(x, 2) for x in cold],
             "cover": [round(x, 2) for x in cov]}
    if len(hot) < 30:
        return False, brief
    mean = sum(hot) / len(hot)
    if taken >= 0.9 * due:
        ok = (mean >= 6 and sum(1 for c in cov if c >= 0.8) >= 0.9 * len(cov)
              and sum(cold) / len(cold) <= 0.5 and sum(cold_cov) / len(cold_cov) <= 0.05)
    else:
        ok = mean >= 5 and sum(hot) >= 4 * sum(cold)
    return ok, brief


def test_the_record_finds_the_hot_8_mib(run):
    wl_pid, addr, length = run.text("stat.out").splitlines()[0].split()
    addr, length = int(addr, 16), int(length)
    lines = records(run, "stat.jsonl")
    body = [b for b in lines if b["type"] == "aggregation"]
    assert body[0]["targets"][0]["id"] == int(wl_pid)
    ok, brief = judge_hot(lines, int(wl_pid), addr, length)
    assert ok, brief
    taken, due = lines[-1]["samples_taken"], lines[-1]["samples_due"]
    if taken < due:          # and the run said so, with the share
        assert f"took {taken} of {due} samples" in run.text("stat.out") + run.text("stat.err")


def test_prcl_pages_out_the_cold_part_and_keeps_the_hot_part(run):
    res = run.text("result.txt")
    kv = dict(line.split("=", 1) for line in res.splitlines() if "=" in line)
    ctx = f"{kv}\n{run.text('prcl.out')}\n{run.text('prcl.err')}"
    assert kv["prcl_rc"] == "0" and kv["alive_after"] == "yes", ctx
    before, after = int(kv["rss_before_kb"]), int(kv["rss_after_kb"])
    assert before >= 60 * 1024, ctx                   # all 64 MiB resident at first
    assert before - after >= 40 * 1024, f"VmRSS dropped only {before - after} kB\n{ctx}"
    assert int(kv["swap_after_kb"]) >= 40 * 1024, ctx
    pages = json.loads(run.text("residency.json"))
    assert pages["hot_present"] >= pages["nhot"] * 95 // 100, pages     # the hot part stayed
    assert pages["cold_present"] <= (pages["npages"] - pages["nhot"]) // 4, pages
    assert "stopped: the duration is over" in run.text("prcl.out")
    body = [b for b in records(run, "prcl.jsonl") if b["type"] == "aggregation"]
    assert body[-1]["stats"][0]["sz_applied"] >= 40 * MIB, body[-1]["stats"]


def hot_set(aggregations, high=3):
    """Address ranges in regions with nr_accesses >= ``high`` in at least half
    of the aggregations (each a list of (start, end, nr_accesses))."""
    events = {}
    for regions in aggregations:
        for s, e, nr in regions:
            if nr >= high:
                events[s] = events.get(s, 0) + 1
                events[e] = events.get(e, 0) - 1
    out, depth, prev = [], 0, None
    for x in sorted(events):
        if prev is not None and depth * 2 >= len(aggregations) and x > prev:
            if out and out[-1][1] == prev:
                out[-1] = (out[-1][0], x)
            else:
                out.append((prev, x))
        depth += events[x]
        prev = x
    return out


def overlap(a, b):
    return sum(max(0, min(e1, e2) - max(s1, s2)) for s1, e1 in a for s2, e2 in b)


def test_kdamond_and_damos_run_agree_on_what_is_hot(run):
    kv = dict(line.split("=", 1) for line in run.text("result.txt").splitlines() if "=" in line)
    assert kv["stat_pid_rc"] == "0" and kv["kdamond_state_after"] == "off", kv
    traced = trace_summary.parse(run.text("trace.txt"))
    kernel = [[(s, e, nr) for s, e, nr, _ in regs] for _, regs in traced[10:]]   # after 1 s
    ours = [[(g["start"], g["end"], g["nr_accesses"]) for g in b["targets"][0]["regions"]]
            for b in records(run, "stat-pid.jsonl") if b["type"] == "aggregation"][10:]
    assert len(kernel) >= 20 and len(ours) >= 20, (len(kernel), len(ours))
    k, o = hot_set(kernel), hot_set(ours)
    k_bytes, o_bytes = sum(e - s for s, e in k), sum(e - s for s, e in o)
    both = overlap(k, o)
    brief = {"kdamond_hot": k_bytes, "damos_run_hot": o_bytes, "both": both}
    assert k_bytes >= 6 * MIB and o_bytes >= 6 * MIB, brief
    assert both >= 0.8 * k_bytes and both >= 0.8 * o_bytes, brief


# stock 7.3.4's kdamond on the same file and workload (test_kernel_stock73.py's
# "intervals" proof, jobs/stock73-acts.sh: `workload 64 0 0`, sample_us read
# after update_tuned_intervals), measured 2026-12-03 in its three runs: (seconds
# after the start, sample_us): run 1 (2.07, 19995) (4.17, 39986), run 2 (2.06,
# 19995) (4.15, 39988), run 3 (2.05, 19992) (4.12, 39980): two near-doublings by
# 2 s, three by 4 s (the tunings at 0.3, 0.9, 2.1 and 4.5 s of an idle target).
KERNEL_TUNED_SAMPLE_US = ((2.05, 19992), (2.07, 19995), (4.12, 39980), (4.17, 39988))
TUNED_TOLERANCE = 0.15      # sample_us within 15 % of the kernel's at the same time


def test_intervals_goal_moves_sampling_as_the_stock_kernels_kdamond(run):
    from test_kernel_stock73 import ACTS
    assert run.text("intervals.damos") == ACTS["intervals"]        # the same file
    kv = dict(line.split("=", 1) for line in run.text("result.txt").splitlines() if "=" in line)
    ctx = f"{run.text('intervals.out')}\n{run.text('intervals.err')}"
    assert kv["intervals_rc"] == "0", ctx
    body = [b for b in records(run, "intervals.jsonl") if b["type"] == "aggregation"]
    assert all(b["aggr_us"] == 20 * b["sample_us"] for b in body), ctx

    def sample_at(t_us):
        """The sampling interval of the aggregation window holding t_us."""
        return next(b["sample_us"] for b in body if b["time_us"] >= t_us)
    trajectory = [(b["time_us"], b["sample_us"]) for b in body if "tuned" in b]
    for t_s, kernel_us in KERNEL_TUNED_SAMPLE_US:
        ours = sample_at(int(t_s * 1e6))
        assert abs(ours - kernel_us) <= TUNED_TOLERANCE * kernel_us, (t_s, ours, kernel_us,
                                                                      trajectory, ctx)
    assert "intervals_goal (access 4 %" in run.text("intervals.out"), ctx
