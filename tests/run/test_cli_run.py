"""`damos run` as a user runs it: the record file (complete after SIGINT),
refusals with the reason, one-line errors, the simulator default."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DAMOS = [sys.executable, "-m", "damos_lang"]


def damos(*args, **kw):
    return subprocess.run([*DAMOS, *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=120, **kw)


def check_record(path):
    with open(path) as f:
        text = f.read()
    assert text.endswith("\n")
    lines = [json.loads(line) for line in text.splitlines()]    # every line is JSON
    head, body, last = lines[0], lines[1:-1], lines[-1]
    assert head["type"] == "header" and head["format"] == 1
    assert set(head["attrs"]) == {"sample_us", "aggr_us", "update_us", "min_nr_regions",
                                  "max_nr_regions", "min_region_sz"}
    assert head["schemes"][0]["action"] == "pageout"
    assert head["schemes"][0]["pattern"]["age_min"] == 50
    assert last["type"] == "summary"
    times = [b["time_us"] for b in body]
    assert all(b["type"] == "aggregation" for b in body)
    assert times == sorted(times) and len(set(times)) == len(times)
    for b in body:
        for t in b["targets"]:
            assert t["regions"] and all(set(r) == {"start", "end", "nr_accesses", "age"}
                                        for r in t["regions"])
            assert all(r["start"] < r["end"] for r in t["regions"])
        assert set(b["stats"][0]) >= {"nr_tried", "sz_tried", "nr_applied", "sz_applied",
                                      "qt_exceeds"}
    return head, body, last


def test_record_of_a_whole_simulated_run(tmp_path):
    rec = tmp_path / "run.jsonl"
    r = damos("run", "examples/prcl.damos", "--sim", "examples/workloads/stairs.cfg",
              "--record", str(rec), "--seed", "2")
    assert r.returncode == 0, r.stderr
    assert "stopped: the duration is over" in r.stdout
    assert "paged out:" in r.stdout
    head, body, last = check_record(rec)
    assert len(body) == 600                      # 60 s of 100 ms aggregations
    res = [b["targets"][0]["resident_bytes"] for b in body]
    assert max(res[:100]) > 90 << 20 and res[-1] < 32 << 20
    assert last["stats"][0]["sz_applied"] == body[-1]["stats"][0]["sz_applied"]


def test_sigint_leaves_a_summary_and_a_complete_record(tmp_path):
    rec = tmp_path / "run.jsonl"
    p = subprocess.Popen([*DAMOS, "run", "examples/prcl.damos", "--sim", "stairs", "--realtime",
                          "--record", str(rec)], cwd=ROOT, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if rec.exists() and rec.read_text().count("\n") >= 6:
            break
        time.sleep(0.05)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    assert "Traceback" not in err
    assert "stopped: interrupted" in out
    assert "record:" in out
    head, body, last = check_record(rec)
    assert last["reason"] == "interrupted" and len(body) >= 5


def test_hugepage_is_refused_with_the_reason(tmp_path):
    f = tmp_path / "thp.damos"
    f.write_text("2M max 5 max min max hugepage\n")
    r = damos("run", str(f), "--duration", "1s")
    assert r.returncode == 2
    assert f"{f}:1:" in r.stderr and "error:" in r.stderr
    assert "process_madvise refuses MADV_HUGEPAGE for another process" in r.stderr
    assert r.stdout == ""


def test_bad_input_is_a_diagnostic_and_exit_2(tmp_path):
    f = tmp_path / "bad.damos"
    f.write_text("4K max 0 0 5s max pagout\n")
    r = damos("run", str(f))
    assert r.returncode == 2 and f"{f}:1:19: error: unknown action 'pagout'" in r.stderr


def test_page_idle_problems_are_one_line_errors():
    # a process we own; on this host page_idle is missing (or we lack a right):
    # either way, one line naming what is missing, exit 2, no traceback
    child = subprocess.Popen(["sleep", "30"])
    try:
        r = damos("run", "examples/prcl.damos", "--pid", str(child.pid), "--duration", "1s")
    finally:
        child.kill()
        child.wait()
    if r.returncode == 0:
        pytest.skip("this host has page_idle: the error path is proven in the VM")
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("damos run: error: "), r.stderr
    assert "Traceback" not in r.stderr


def test_no_such_process():
    r = damos("run", "examples/prcl.damos", "--pid", "999999999", "--duration", "1s")
    assert r.returncode == 2 and r.stderr.startswith("damos run: error: ")
    assert r.stderr.count("\n") == 1


def test_the_simulator_is_the_default_and_says_so():
    r = damos("run", "examples/prcl.damos", "--duration", "2s")
    assert r.returncode == 0, r.stderr
    assert "built-in simulated workload 'stairs'" in r.stderr
    assert "monitored 2.0 s" in r.stdout


def test_options_that_exclude_each_other():
    r = damos("run", "examples/prcl.damos", "--pid", "1", "--sim", "stairs")
    assert r.returncode == 2 and "exclude each other" in r.stderr
    r = damos("run", "examples/prcl.damos", "--sim", "stairs", "--duration", "soon")
    assert r.returncode == 2 and "bad duration" in r.stderr
    r = damos("run", "examples/prcl.damos", "--sim", "/nonexistent.cfg")
    assert r.returncode == 2 and r.stderr.startswith("damos run: error: cannot read")
