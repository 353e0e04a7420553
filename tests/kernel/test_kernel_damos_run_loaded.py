"""Proof: `damos run` on a loaded guest (custom 6.12, page_idle;
jobs/damos-run-loaded.sh, one boot): two busy loops, one per vCPU, run
beside the workload and the monitor for the whole job.

The accuracy criteria of the idle proofs must hold, judged by how far behind
the sampling ran (the hot 8 MiB: judge_hot of test_kernel_damos_run.py), or
(stairs and zigzag median WSS within 10 % of the truth,
test_kernel_accuracy.py) the monitor must say that it fell behind and by how much: the summary's samples_taken of samples_due,
and per aggregation the `samples` it really took, which must add up to the
summary's figure.  Either way the run ends with its summary.
"""
import json

import pytest

import accuracy
from damos_lang.report.load import load
from test_kernel_accuracy import STAT as ACCURACY_STAT, WORKLOADS, _configs
from test_kernel_damos_run import STAT, judge_hot

pytestmark = pytest.mark.kernel


@pytest.fixture(scope="module")
def run(kernel_rig, custom_kernel, tmp_path_factory):
    out = tmp_path_factory.mktemp("damos-run-loaded-vm")
    files = {"stat.damos": STAT, "accuracy.damos": ACCURACY_STAT}
    files.update({f"{w}.cfg": text for w, text in _configs().items()})
    r = kernel_rig.run_vm(custom_kernel, kernel_rig.job("damos-run-loaded.sh"), timeout=900,
                          cmdline=kernel_rig.ACCESS_CMDLINE, out=out,
                          env={"HOSTRUN_ENV": f"PYTHONPATH={kernel_rig.PROJECT_ROOT}"},
                          files=files)
    assert r.rc == 0, r.describe()
    return r, kernel_rig.parse_kv(r.text("result.txt"))


def records(r, name):
    return [json.loads(line) for line in r.text(name).splitlines()]


def behind(lines):
    """(samples taken, samples due) from the summary, checked against the
    aggregations' own `samples` (an aggregation without it took them all)."""
    summary = lines[-1]
    assert summary["type"] == "summary", summary
    taken, due = summary["samples_taken"], summary["samples_due"]
    assert 0 < taken <= due, summary
    header = lines[0]
    per_aggr = header["attrs"]["aggr_us"] // header["attrs"]["sample_us"]
    body = [b for b in lines if b["type"] == "aggregation"]
    counted = sum(b.get("samples", per_aggr) for b in body)
    # the samples after the last aggregation are in the summary only
    assert counted <= taken <= counted + per_aggr, (counted, taken, per_aggr)
    return taken, due


def test_the_guest_was_loaded(run):
    r, kv = run
    assert len(kv["hogs"].split()) == 2, kv
    # the busy loops took a good share of the guest's CPU time all along
    elapsed = float(kv["up1"]) - float(kv["up0"])
    assert int(kv["hog_ticks"]) / 100 >= 0.4 * elapsed * int(kv["cpus"]), kv
    assert float(kv["load_1min"]) >= 1.0, kv


def test_hot_8_mib_found_or_falling_behind_said(run):
    r, kv = run
    ctx = f"{kv}\n{r.text('hot.out')}\n{r.text('hot.err')}"
    assert kv["hot_rc"] == "0", ctx
    wl_pid, addr, length = r.text("hot.out").splitlines()[0].split()
    addr, length = int(addr, 16), int(length)
    lines = records(r, "hot.jsonl")
    taken, due = behind(lines)
    ok, brief = judge_hot(lines, int(wl_pid), addr, length)
    print(brief)
    assert ok, brief
    if taken < due:      # said in the summary line too, with the share
        assert f"took {taken} of {due} samples" in r.text("hot.err") + r.text("hot.out"), ctx


@pytest.mark.parametrize("workload", WORKLOADS)
def test_stairs_and_zigzag_within_ten_percent_or_falling_behind_said(run, workload):
    r, kv = run
    assert kv[f"{workload}_rc"] == "0", r.text(f"{workload}.out")
    assert "stopped: the target exited" in r.text(f"{workload}.phases"), r.text(f"{workload}.out")
    lines = records(r, f"{workload}.jsonl")
    taken, due = behind(lines)
    log = accuracy.parse_phase_log(r.text(f"{workload}.phases"))
    s = accuracy.score(load(str(r.path(f"{workload}.jsonl"))), log, _configs()[workload])
    assert s is not None, f"{workload}: no aggregation inside a phase"
    truth = {"stairs": 10_000_000, "zigzag": 100_000_000}[workload]
    brief = {"samples": f"{taken}/{due}", **s.as_dict()}
    print(brief)
    met = s.scored >= 20 and abs(s.median_wss - truth) <= 0.10 * truth
    assert met or taken < due, brief
    if taken < due:
        assert f"took {taken} of {due} samples" in r.text(f"{workload}.phases"), brief
