"""Proof: `damos run`'s targets beyond one --pid on a real kernel (custom
6.12, page_idle; jobs/damos-run-targets.sh, one boot).

1. `--cgroup`: a process that joins the cgroup after `damos run` started is
   added at the next update interval and acted on: prcl (age 1 s) pages its
   cold part out to zram.
2. `--include-children`: the workload forked by `sh -c` becomes a target
   ("child of" the shell), and the record finds its hot 8 MiB.
"""
import json

import pytest

from test_kernel_damos_run import MIB, PRCL, STAT, judge_hot

pytestmark = pytest.mark.kernel


@pytest.fixture(scope="module")
def run(kernel_rig, custom_kernel, tmp_path_factory):
    out = tmp_path_factory.mktemp("damos-run-targets-vm")
    r = kernel_rig.run_vm(custom_kernel, kernel_rig.job("damos-run-targets.sh"), timeout=600,
                          cmdline=kernel_rig.ACCESS_CMDLINE, out=out,
                          env={"HOSTRUN_ENV": f"PYTHONPATH={kernel_rig.PROJECT_ROOT}"},
                          files={"stat.damos": STAT, "prcl.damos": PRCL})
    assert r.rc == 0, r.describe()
    return r, kernel_rig.parse_kv(r.text("result.txt"))


def records(r, name):
    return [json.loads(line) for line in r.text(name).splitlines()]


def test_a_process_that_joins_the_cgroup_later_is_monitored_and_paged_out(run):
    r, kv = run
    ctx = f"{kv}\n{r.text('cg.out')}\n{r.text('cg.err')}"
    assert kv["cg_rc"] == "0", ctx
    late, sleeper = int(kv["late_pid"]), int(kv["sleeper"])
    assert kv["procs_at_start"].split() == [str(sleeper)], ctx    # not there at the start
    assert kv["late_cgroup"].strip() == "0::/dl", ctx
    lines = records(r, "cg.jsonl")
    assert [i["id"] for i in lines[0]["target_info"]] == [sleeper], lines[0]
    summary = lines[-1]
    assert summary["type"] == "summary", summary
    info = {t["id"]: t for t in summary["targets"]}
    assert info[late]["origin"] == "cgroup /sys/fs/cgroup/dl", info
    assert info[late]["start_us"] >= 1_000_000, info            # joined >= 1 s in
    body = [b for b in lines if b["type"] == "aggregation"]
    added = [a for b in body for a in b.get("targets_added", ()) if a["id"] == late]
    assert len(added) == 1, [b.get("targets_added") for b in body]
    assert any(t["id"] == late and t["regions"] for b in body for t in b["targets"]), ctx
    # acted on: its cold 56 MiB went (mostly) to zram, the hot 8 MiB stayed
    assert int(kv["late_swap_kb"]) >= 32 * 1024, ctx
    assert int(kv["late_rss_kb"]) <= 32 * 1024, ctx
    assert summary["stats"][0]["sz_applied"] >= 32 * MIB, summary["stats"]


def test_include_children_follows_the_forked_workload(run):
    r, kv = run
    ctx = f"{kv}\n{r.text('kids.out')}\n{r.text('kids.err')}"
    assert kv["kids_rc"] == "0", ctx
    assert "shell-done" in r.text("kids.out"), ctx               # the shell outlived its child
    child, addr, length = r.text("kids.out").splitlines()[0].split()
    child, addr, length = int(child), int(addr, 16), int(length)
    lines = records(r, "kids.jsonl")
    shell = lines[0]["target_info"][0]
    assert shell["origin"] == "command", shell
    info = {t["id"]: t for t in lines[-1]["targets"]}
    assert info[child]["origin"] == f"child of {shell['id']}", info
    # the shell forks the workload at once: on a quick guest it is there by
    # the time damos run first scans (then the header lists it), on a slow one
    # a later update interval adds it; either way it joins exactly once
    at_start = [t["id"] for t in lines[0]["target_info"][1:]]
    added = [a["id"] for b in lines if b["type"] == "aggregation"
             for a in b.get("targets_added", ())]
    assert at_start + added == [child], (at_start, added)
    ok, brief = judge_hot(lines, child, addr, length)
    assert ok, brief
