"""damos eval --thp never,always,scheme on a stand-in THP root and the sysfs
stand-in (never the host's /sys/kernel/mm/transparent_hugepage nor its DAMON
tree): the arms alternate with their THP modes, the scheme arm alone runs
DAMON, the fractions (or why they mean nothing) are in the table and the
JSON, and the THP mode found is written back on a normal end, a failing
workload, DAMON refusing, Ctrl-C (also a real SIGINT) -- while bad input is
refused before anything is written."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from damos_lang.eval import thp as T
from damos_lang.eval.command import eval_file
from damos_lang.eval.stats import summarize

from .standin import nothing_applied, writes

ROOT = Path(__file__).resolve().parents[2]
ETHP = str(ROOT / "examples" / "ethp.damos")
PRCL = str(ROOT / "examples" / "prcl.damos")


@pytest.fixture
def rig(tmp_path):
    """A DAMON stand-in tree and a THP stand-in root whose mode is 'always'."""
    from damos_lang.sysfs.standin import StandIn
    admin = str(tmp_path / "admin")
    dlog = str(tmp_path / "damon.jsonl")
    StandIn.create(admin, (6, 12), pids={os.getpid()}, write_log=dlog)
    tlog = str(tmp_path / "thp.log")
    root = T.make_standin(str(tmp_path / "thp"), mode="always", log=tlog)
    return admin, dlog, root, tlog


def modes_written(tlog):
    if not os.path.exists(tlog):
        return []
    with open(tlog) as f:
        return f.read().split()


def enabled(root):
    with open(os.path.join(root, "enabled")) as f:
        return f.read()


# -- the pieces --------------------------------------------------------------

def test_the_arms_are_parsed_in_order():
    assert T.parse_arms("never,always,scheme") == ("never", "always", "scheme")
    assert T.parse_arms(" scheme , never ") == ("scheme", "never")
    for bad, words in (("never,huge", "'huge' is not a THP arm"), ("", "needs arms"),
                       ("never,never", "never is given twice")):
        with pytest.raises(Exception) as e:
            T.parse_arms(bad)
        assert words in e.value.diagnostic.message


def test_the_mode_is_read_as_the_kernel_shows_it():
    assert T.current("always [madvise] never\n") == "madvise"
    assert T.current("always madvise never") is None
    assert T.offered("[always] madvise never") == ["always", "madvise", "never"]


def _summ(rss, wall):
    """arm -> the two metrics' summaries from per-run lists."""
    return {a: {"rss_mean_mib": summarize(rss[a]), "wall_s": summarize(wall[a])}
            for a in rss}


def test_the_fractions_follow_damons_evaluation_formulas():
    # RSS: never 100, always 300 (a waste of 200), scheme 140: 160 of 200 removed.
    # runtime: never 10 s, always 8 s (2 s faster), scheme 8.5 s: 1.5 of 2 kept.
    fr = T.fractions(_summ({"never": [99, 101], "always": [299, 301], "scheme": [139, 141]},
                           {"never": [9.9, 10.1], "always": [7.9, 8.1],
                            "scheme": [8.4, 8.6]}))
    assert fr["memory_waste_removed"]["value"] == pytest.approx(0.8)
    assert fr["speedup_kept"]["value"] == pytest.approx(0.75)
    assert fr["memory_waste_removed"]["inside_spread"] is False
    assert fr["memory_waste_removed"]["why"] is None
    text = T.text(fr)
    assert "memory waste removed: 80.0 %" in text and "speedup kept: 75.0 %" in text


def test_a_thp_effect_inside_the_spread_gives_no_number_but_says_so():
    fr = T.fractions(_summ({"never": [100, 110], "always": [105, 108], "scheme": [101, 102]},
                           {"never": [10, 10.2], "always": [9.9, 10.3], "scheme": [10, 10.1]}))
    for f in fr.values():
        assert f["value"] is None and f["inside_spread"] is True
        assert "inside the run-to-run spread" in f["why"] and "means nothing" in f["why"]
    assert "memory waste removed: n/a: the always/never difference" in T.text(fr)


def test_thp_making_no_waste_or_no_speedup_gives_no_number():
    # always uses less memory and is slower than never: nothing for the scheme to keep
    fr = T.fractions(_summ({"never": [300, 301], "always": [100, 101], "scheme": [150, 151]},
                           {"never": [8, 8.1], "always": [10, 10.1], "scheme": [9, 9.1]}))
    assert fr["memory_waste_removed"]["value"] is None
    assert "THP made no memory waste here" in fr["memory_waste_removed"]["why"]
    assert fr["speedup_kept"]["value"] is None
    assert "THP made no speedup here" in fr["speedup_kept"]["why"]


def test_one_run_per_arm_gives_the_number_and_says_the_spread_is_unknown():
    fr = T.fractions(_summ({"never": [100], "always": [300], "scheme": [150]},
                           {"never": [10], "always": [8], "scheme": [9]}))
    assert fr["memory_waste_removed"]["value"] == pytest.approx(0.75)
    assert fr["speedup_kept"]["value"] == pytest.approx(0.5)
    assert "spread is unknown" in fr["speedup_kept"]["why"]


def test_without_the_three_arms_there_is_no_fraction():
    fr = T.fractions(_summ({"never": [1, 2], "scheme": [1, 2]},
                           {"never": [1, 2], "scheme": [1, 2]}))
    assert fr["speedup_kept"]["value"] is None and "always did not run" in fr["speedup_kept"]["why"]


# -- the eval ----------------------------------------------------------------

def test_the_thp_arms_alternate_and_the_mode_comes_back(rig, tmp_path, capsys):
    admin, dlog, root, tlog = rig
    out = tmp_path / "e.json"
    rc = eval_file(ETHP, ["sleep", "0.1"], repeat=2, sysfs_root=admin, thp_root=root,
                   thp="never,always,scheme", json_out=str(out))
    assert rc == 0
    doc = json.loads(out.read_text())
    assert doc["order"] == ["never#1", "always#1", "scheme#1", "never#2", "always#2", "scheme#2"]
    # each run under its mode, then the one found written back
    assert modes_written(tlog) == ["never", "always", "madvise"] * 2 + ["always"]
    assert enabled(root) == "[always] madvise never\n"
    # DAMON ran in the scheme arm only: the file's two schemes, as written
    w = writes(dlog)
    assert [v for p, v in w if p.endswith("/action")] == ["hugepage", "nohugepage"] * 2
    assert [v for p, v in w if p.endswith("/state")].count("on") == 2
    nothing_applied(admin)
    assert set(doc["changes"]) == {"always_vs_never", "scheme_vs_never", "scheme_vs_always"}
    t = doc["thp"]
    assert t["modes"] == {"never": "never", "always": "always", "scheme": "madvise"}
    assert t["mode_before"] == t["mode_after"] == "always" and t["defrag"] == "madvise"
    for name in ("memory_waste_removed", "speedup_kept"):
        f = t["fractions"][name]
        # a sleep makes no THP effect: a number only when it is outside the spread
        assert f["value"] is not None or "means nothing" in f["why"], f
    text = capsys.readouterr()
    assert "memory waste removed:" in text.out and "speedup kept:" in text.out
    assert "always vs never" in text.out and "scheme vs always" in text.out
    assert "it was 'always' before the eval and is again after it" in text.out
    assert "scheme: madvise (now: always)" in text.err
    # no TTY here: today's one line per run
    assert "damos eval: [3/6] scheme run 1: wall" in text.err


def test_a_workload_failing_in_the_always_arm_still_restores_the_mode(rig, tmp_path, capsys):
    admin, _, root, tlog = rig
    count = tmp_path / "count"
    script = (f"n=$(cat {count} 2>/dev/null || echo 0); echo $((n+1)) > {count}; "
              "[ $n -lt 1 ] || exit 3")
    rc = eval_file(ETHP, ["sh", "-c", script], repeat=2, sysfs_root=admin, thp_root=root,
                   thp="never,always,scheme", quiet=True)
    assert rc == 1
    assert "exited with status 3 in the always arm, run 1" in capsys.readouterr().err
    # the failing run was under 'always', the mode found: nothing else to write back
    assert modes_written(tlog) == ["never", "always"]
    assert enabled(root) == "[always] madvise never\n"
    nothing_applied(admin)


def test_damon_refusing_in_the_scheme_arm_restores_the_mode(rig, monkeypatch, capsys):
    from damos_lang.errors import DamosError
    from damos_lang.live import apply as A
    admin, _, root, tlog = rig

    def refuse(unit, *a, **kw):
        raise DamosError("the kernel said no")
    monkeypatch.setattr(A, "apply", refuse)
    T.make_standin(root, mode="never", log=tlog)
    rc = eval_file(ETHP, ["sleep", "0.05"], repeat=2, sysfs_root=admin, thp_root=root,
                   thp="never,always,scheme", quiet=True)
    assert rc == 1 and "the kernel said no" in capsys.readouterr().err
    assert modes_written(tlog) == ["never", "always", "madvise", "never"]
    assert enabled(root) == "always madvise [never]\n"
    nothing_applied(admin)


def test_ctrl_c_in_a_run_restores_the_mode(rig, tmp_path, monkeypatch, capsys):
    from damos_lang.eval import runner
    admin, _, root, tlog = rig
    real = runner.measure

    def interrupted(gated, arm, index, *a, **kw):
        if arm == "always":
            raise KeyboardInterrupt
        return real(gated, arm, index, *a, **kw)
    monkeypatch.setattr(runner, "measure", interrupted)
    out = tmp_path / "e.json"
    rc = eval_file(ETHP, ["sleep", "0.05"], repeat=2, sysfs_root=admin, thp_root=root,
                   thp="never,always,scheme", json_out=str(out), quiet=True)
    assert rc == 1
    assert "interrupted in the always arm, run 1" in capsys.readouterr().err
    assert modes_written(tlog) == ["never", "always"]
    assert enabled(root) == "[always] madvise never\n"
    doc = json.loads(out.read_text())
    assert doc["order"] == ["never#1"] and doc["thp"]["mode_after"] == "always"
    assert "did not run" in doc["thp"]["fractions"]["speedup_kept"]["why"]


def test_ctrl_c_between_runs_restores_the_mode(rig, monkeypatch):
    """Interrupted outside a run (while the page cache is dropped): the
    exception goes on, the mode is back all the same."""
    from damos_lang.eval import plan
    admin, _, root, tlog = rig
    calls = []

    def settle(drop):
        calls.append(drop)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return "not dropped"
    monkeypatch.setattr(plan, "settle", settle)
    with pytest.raises(KeyboardInterrupt):
        eval_file(ETHP, ["sleep", "0.05"], repeat=2, sysfs_root=admin, thp_root=root,
                  thp="never,always,scheme", quiet=True)
    assert modes_written(tlog) == ["never", "always"]
    assert enabled(root) == "[always] madvise never\n"
    nothing_applied(admin)


def test_ctrl_c_between_runs_after_a_mode_change_writes_the_mode_back(rig, monkeypatch):
    from damos_lang.eval import plan
    admin, _, root, tlog = rig
    calls = []

    def settle(drop):
        calls.append(drop)
        if len(calls) == 1:         # after never#1, before always#1
            raise KeyboardInterrupt
        return "not dropped"
    monkeypatch.setattr(plan, "settle", settle)
    with pytest.raises(KeyboardInterrupt):
        eval_file(ETHP, ["sleep", "0.05"], repeat=2, sysfs_root=admin, thp_root=root,
                  thp="never,always,scheme", quiet=True)
    assert modes_written(tlog) == ["never", "always"]
    assert enabled(root) == "[always] madvise never\n"


def _cli_env():
    return dict(os.environ, PYTHONPATH=str(ROOT), DAMOS_LIVE_NO_KERNEL_TREE="1")


def test_a_real_sigint_to_the_process_group_restores_the_mode(rig):
    """What a terminal's Ctrl-C does: SIGINT to damos eval and its workload,
    here in the scheme arm (DAMON on, THP madvise)."""
    admin, _, root, tlog = rig
    p = subprocess.Popen([sys.executable, "-m", "damos_lang", "eval", ETHP, "--sysfs-root", admin,
                          "--thp-root", root, "--thp", "never,always,scheme", "--repeat", "1",
                          "--", "sh", "-c", f"grep -q '\\[madvise\\]' {root}/enabled && sleep 30; true"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=_cli_env(), start_new_session=True)
    # only the scheme arm's run (under madvise) is long: once its mode is written, interrupt
    deadline = time.monotonic() + 60
    while "madvise" not in modes_written(tlog) and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.05)
    os.killpg(p.pid, signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode in (1, 130), (p.returncode, err)
    assert "Traceback" not in err, err
    assert modes_written(tlog)[-1] == "always", modes_written(tlog)
    assert enabled(root) == "[always] madvise never\n"
    nothing_applied(admin)


@pytest.mark.parametrize("args, words", [
    (["--thp", "never,huge"], "'huge' is not a THP arm"),
    (["--thp", "never,always,scheme", "--via", "reclaim", "--module-root", "/nonexistent"],
     "--thp cannot be combined with --via reclaim"),
    (["--thp", "never,always,scheme", "--vary", "age=1s,2s"],
     "--thp cannot be combined with --vary"),
    (["--thp-root", "{root}"], "--thp-root goes with --thp"),
])
def test_bad_thp_input_is_one_line_exit_2_and_nothing_is_written(rig, args, words):
    admin, dlog, root, tlog = rig
    before = enabled(root)
    args = [a.format(root=root) for a in args]
    if "--thp-root" not in args:
        args += ["--thp-root", root]
    r = subprocess.run([sys.executable, "-m", "damos_lang", "eval", ETHP, "--sysfs-root", admin,
                        *args, "--", "true"],
                       capture_output=True, text=True, env=_cli_env(), timeout=60)
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and words in lines[0], r.stderr
    assert enabled(root) == before and not modes_written(tlog)
    assert not os.path.exists(dlog)


def _refused(capsys, **kw):
    rc = eval_file(ETHP, ["true"], repeat=1, thp="never,always,scheme", **kw)
    assert rc == 2
    lines = [x for x in capsys.readouterr().err.splitlines() if x.strip()]
    assert len(lines) == 1, lines
    return lines[0]


def test_no_thp_support_is_refused(rig, tmp_path, capsys):
    admin, dlog, _, _ = rig
    empty = tmp_path / "nothp"
    empty.mkdir()
    line = _refused(capsys, sysfs_root=admin, thp_root=str(empty))
    assert "no transparent huge pages here" in line and "CONFIG_TRANSPARENT_HUGEPAGE" in line
    assert not os.path.exists(dlog)


def test_not_allowed_to_write_the_mode_is_refused(rig, monkeypatch, capsys):
    admin, dlog, root, tlog = rig
    seen = []
    monkeypatch.setattr(T, "writable", lambda path: seen.append(path) or False)
    line = _refused(capsys, sysfs_root=admin, thp_root=root)
    assert seen == [os.path.join(root, "enabled")]
    assert "--thp needs to write" in line and "run as root" in line
    assert not modes_written(tlog) and not os.path.exists(dlog)


def test_a_mode_the_kernel_does_not_offer_is_refused(rig, capsys):
    admin, dlog, root, tlog = rig
    with open(os.path.join(root, "enabled"), "w") as f:
        f.write("always [madvise]\n")
    line = _refused(capsys, sysfs_root=admin, thp_root=root)
    assert "offers 'always [madvise]', not never" in line
    assert not modes_written(tlog)


def test_a_stand_in_damon_tree_never_switches_the_hosts_thp(rig, capsys):
    admin, dlog, _, _ = rig
    line = _refused(capsys, sysfs_root=admin)
    assert "--thp with --sysfs-root needs --thp-root" in line
    assert not os.path.exists(dlog)


def test_the_kernels_thp_root_is_refused_under_a_test(capsys):
    assert T.default_root("/x", None) == "/x"
    with pytest.raises(Exception) as e:
        T.default_root(None, None)
    assert "refusing to use the kernel's /sys/kernel/mm/transparent_hugepage" in \
        e.value.diagnostic.message


def test_thp_arms_without_the_scheme_run_no_damon(rig, tmp_path):
    admin, dlog, root, tlog = rig
    out = tmp_path / "e.json"
    assert eval_file(PRCL, ["true"], repeat=1, sysfs_root=admin, thp_root=root,
                     thp="madvise,never", json_out=str(out), quiet=True) == 0
    assert modes_written(tlog) == ["madvise", "never", "always"]
    assert not os.path.exists(dlog)
    doc = json.loads(out.read_text())
    assert doc["order"] == ["madvise#1", "never#1"]
    assert set(doc["changes"]) == {"madvise_vs_never"}
