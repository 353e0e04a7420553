"""damos eval --via kernel against the sysfs stand-in (never the host's DAMON
tree), with real small workloads: the arms alternate, the metrics are
measured, the JSON has every metric, and nothing stays applied -- also when
the workload fails in the middle of the eval."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from damos_lang.eval.command import eval_file
from damos_lang.eval.runner import METRICS
from damos_lang.sysfs.root import open_root
from damos_lang.sysfs.standin import StandIn

from .standin import nothing_applied, writes

ROOT = Path(__file__).resolve().parents[2]
PRCL = str(ROOT / "examples" / "prcl.damos")
ALLOC_50M = [sys.executable, "-c", "import time; b = b'x' * (50 << 20); time.sleep(0.4)"]


@pytest.fixture
def tree(tmp_path):
    root = str(tmp_path / "admin")
    log = str(tmp_path / "writes.jsonl")
    StandIn.create(root, (6, 12), pids={os.getpid()}, write_log=log)
    return root, log


def test_arms_alternate_and_every_metric_is_measured(tree, tmp_path, capsys):
    root, log = tree
    out = tmp_path / "eval.json"
    rc = eval_file(PRCL, ALLOC_50M, repeat=2, sysfs_root=root, json_out=str(out))
    assert rc == 0
    doc = json.loads(out.read_text())
    assert doc["order"] == ["baseline#1", "monitor#1", "scheme#1",
                            "baseline#2", "monitor#2", "scheme#2"]
    for run in doc["runs"]:
        assert set(METRICS) <= set(run)
        assert run["rss_peak_mib"] >= 50, run
        assert run["rss_mean_mib"] > 0
        assert run["wall_s"] >= 0.4
        assert run["cpu_s"] > 0
        assert run["sysmem_mean_mib"] > 0
        assert run["swap_mean_mib"] >= 0 and run["major_faults"] >= 0
        assert run["rss_series"] and run["rss_series"][-1][0] > 0.2
    for arm in ("baseline", "monitor", "scheme"):
        assert set(doc["arms"][arm]) == set(METRICS)
        assert doc["arms"][arm]["wall_s"]["n"] == 2
    # baseline has no DAMON: its DAMON CPU is 0; a stand-in has no kdamond thread
    assert doc["arms"]["baseline"]["damon_cpu_s"]["mean"] == 0
    assert all(r["damon_cpu_s"] is None for r in doc["runs"] if r["arm"] != "baseline")
    assert set(doc["changes"]) == {"scheme_vs_baseline", "scheme_vs_monitor",
                                   "monitor_vs_baseline"}
    assert set(doc["changes"]["scheme_vs_baseline"]) == set(METRICS)
    # the kernel saw apply's writes: monitoring only is 'stat', the scheme 'pageout',
    # each on the workload's pid, in the arms' order, then off
    w = writes(log)
    actions = [v for p, v in w if p.endswith("/action")]
    assert actions == ["stat", "pageout", "stat", "pageout"]
    pids = [int(v) for p, v in w if p.endswith("/pid_target")]
    assert len(pids) == 4 and len(set(pids)) == 4 and os.getpid() not in pids
    states = [v for p, v in w if p.endswith("/state")]
    assert states.count("on") == 4 and states.count("off") == 4
    nothing_applied(root)
    text = capsys.readouterr().out
    assert "runtime (wall)" in text and "scheme vs baseline" in text
    assert "not dropped" in text        # said when the page cache is not dropped


def test_runtime_of_a_sleep_is_measured(tree, tmp_path):
    root, _ = tree
    out = tmp_path / "eval.json"
    assert eval_file(PRCL, ["sleep", "0.3"], repeat=1, sysfs_root=root,
                     json_out=str(out), quiet=True) == 0
    doc = json.loads(out.read_text())
    for r in doc["runs"]:
        assert r["wall_s"] >= 0.3
        # 'sleep' barely runs: its CPU time is far below its wall time
        assert r["cpu_s"] < r["wall_s"]


def test_a_workload_failing_in_the_scheme_arm_stops_the_eval_with_damon_stopped(
        tree, tmp_path, capsys):
    """The third run (scheme #1) fails while its kdamond is on: the eval stops
    there, keeps the two runs done, and leaves nothing applied."""
    root, log = tree
    count = tmp_path / "count"
    script = (f"n=$(cat {count} 2>/dev/null || echo 0); echo $((n+1)) > {count}; "
              "[ $n -lt 2 ] || exit 3")
    out = tmp_path / "eval.json"
    rc = eval_file(PRCL, ["sh", "-c", script], repeat=3, sysfs_root=root,
                   json_out=str(out))
    assert rc == 1
    err = capsys.readouterr().err
    assert "exited with status 3 in the scheme arm, run 1" in err
    doc = json.loads(out.read_text())
    assert doc["order"] == ["baseline#1", "monitor#1"]
    assert doc["stopped"]
    states = [v for p, v in writes(log) if p.endswith("/state") and v in ("on", "off")]
    assert states == ["on", "off", "on", "off"]   # the failing run's kdamond was stopped
    nothing_applied(root)


def test_damon_refusing_mid_eval_stops_it_cleanly(tree, tmp_path, capsys, monkeypatch):
    """apply failing in the scheme arm (the kernel refuses) ends the eval
    (exit 1) with the workload killed and nothing applied."""
    from damos_lang.live import apply as A
    root, _ = tree
    real = A.apply
    calls = []

    def flaky(unit, *a, **kw):
        calls.append(unit.context.schemes[0].action)
        if unit.context.schemes[0].action == "pageout":
            from damos_lang.errors import DamosError
            raise DamosError("the kernel said no")
        return real(unit, *a, **kw)
    monkeypatch.setattr(A, "apply", flaky)
    rc = eval_file(PRCL, ["sleep", "5"], repeat=2, sysfs_root=root, quiet=True)
    assert rc == 1
    assert calls == ["stat", "pageout"]
    assert "the kernel said no" in capsys.readouterr().err
    nothing_applied(root)


def _cli(*args, cwd=None):
    env = dict(os.environ, PYTHONPATH=str(ROOT), DAMOS_LIVE_NO_KERNEL_TREE="1")
    return subprocess.run([sys.executable, "-m", "damos_lang", "eval", *args],
                          capture_output=True, text=True, env=env, cwd=cwd, timeout=60)


def test_the_command_line_runs_it(tree, tmp_path):
    root, _ = tree
    out = tmp_path / "e.json"
    r = _cli(PRCL, "--sysfs-root", root, "--repeat", "1", "--json", str(out), "--dilate", "10",
             "--", "sleep", "0.1")
    assert r.returncode == 0, r.stderr
    doc = json.loads(out.read_text())
    assert doc["dilation"]["factor"] == 10
    assert "dilated x10" in r.stdout and "dilated x10" in r.stderr
    nothing_applied(root)


@pytest.mark.parametrize("args, words", [
    (["nope.damos", "--", "true"], "nope.damos"),
    ([PRCL, "--repeat", "0", "--", "true"], "--repeat"),
    ([PRCL, "--via", "gpu", "--", "true"], "--via"),
    ([PRCL, "--", "no-such-command-xyz"], "not found"),
    ([PRCL], "no workload"),
    ([PRCL, "--dilate", "fast", "--", "true"], "--dilate"),
    ([PRCL, "--json", "/no/such/dir/x.json", "--", "true"], "--json"),
])
def test_bad_input_is_one_line_and_exit_2(tree, args, words):
    root, log = tree
    r = _cli(*args[:1], "--sysfs-root", root, *args[1:])
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and words in lines[0], r.stderr
    assert "Traceback" not in r.stderr
    assert not os.path.exists(log)      # nothing was written


def test_a_file_the_engine_cannot_run_is_refused_with_its_location(tree, tmp_path):
    root, log = tree
    f = tmp_path / "phys.damos"
    f.write_text("monitor {\n    ops paddr\n}\ntarget region 0x100000..0x40000000\n"
                 "scheme {\n    action stat\n}\n")
    r = _cli(str(f), "--sysfs-root", root, "--", "true")
    assert r.returncode == 2
    first = r.stderr.splitlines()[0]
    assert first.startswith(f"{f}:1:") and "physical memory" in first, r.stderr
    assert not os.path.exists(log)


def test_no_free_kdamond_is_refused_before_anything_runs(tree, tmp_path):
    """A kdamond that is not ours runs: refused at once (exit 2), the workload never ran."""
    root, _ = tree
    fs = open_root(root)
    fs.write("kdamonds/nr_kdamonds", "1")
    fs.write("kdamonds/0/contexts/nr_contexts", "1")
    marker = tmp_path / "ran"
    r = _cli(PRCL, "--sysfs-root", root, "--", "touch", str(marker))
    assert r.returncode == 2 and "no free kdamond" in r.stderr
    assert not marker.exists()


def test_ctrl_c_stops_damon_and_keeps_the_runs_done(tree, tmp_path, monkeypatch, capsys):
    from damos_lang.eval import runner
    root, _ = tree
    real = runner.measure

    def interrupted(gated, arm, index, *a, **kw):
        if arm == "scheme":
            raise KeyboardInterrupt
        return real(gated, arm, index, *a, **kw)
    monkeypatch.setattr(runner, "measure", interrupted)
    out = tmp_path / "e.json"
    rc = eval_file(PRCL, ["sleep", "0.05"], repeat=2, sysfs_root=root, json_out=str(out),
                   quiet=True)
    assert rc == 1
    assert "interrupted in the scheme arm, run 1" in capsys.readouterr().err
    assert json.loads(out.read_text())["order"] == ["baseline#1", "monitor#1"]
    nothing_applied(root)


def test_a_sigint_while_the_kdamond_is_set_up_still_leaves_nothing_applied(
        tree, monkeypatch, capsys):
    """A real SIGINT in the middle of apply's writes (a Ctrl-C landing while
    the scheme arm's kdamond is set up): the setup finishes, the kdamond is
    known and stopped, and the eval ends as interrupted."""
    import signal
    from damos_lang.live import apply as A
    root, _ = tree
    real_write = A.Transaction.write
    sent = []

    def write(self, w):
        if not sent and w.path.endswith("/action") and w.value == "pageout":
            sent.append(w.path)
            os.kill(os.getpid(), signal.SIGINT)   # handled at the next bytecode: here
        return real_write(self, w)
    monkeypatch.setattr(A.Transaction, "write", write)
    rc = eval_file(PRCL, ["sleep", "0.05"], repeat=1, sysfs_root=root, quiet=True)
    assert sent and rc == 1
    assert "interrupted in the scheme arm, run 1" in capsys.readouterr().err
    nothing_applied(root)
