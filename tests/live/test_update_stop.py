"""damos update (commit to an owned kdamond) and damos stop, and the four
commands through the CLI against a stand-in tree."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from damos_lang.cli import app
from damos_lang.errors import DamosError
from damos_lang.live import apply as A, status as S
from damos_lang.live.owners import Owners
from damos_lang.sysfs import read as R, root as RT
from damos_lang.pipeline import unit_from_text

from .helpers import make_tree, snapshot

ROOT = Path(__file__).resolve().parents[2]
PID = os.getpid()
QUOTA = "4K max 0 0 5s max pageout 64M 1s\n"
QUOTA2 = "4K max 0 0 5s max pageout 128M 1s\n"


def do_apply(text, root, tmp_path):
    return A.apply(unit_from_text(text, pid=PID), root=root,
                   module_root=str(tmp_path / "module"), sleep=lambda s: None)


def test_update_commits_a_new_quota_and_keeps_the_kdamond(tmp_path):
    root = make_tree(tmp_path)
    info = do_apply(QUOTA, root, tmp_path)
    before = S.snapshot(root)[0]
    res = A.update(unit_from_text(QUOTA2), root=root)     # no pid: the running one's
    after = S.snapshot(root)[0]
    assert res["kdamond_pid"] == info["kdamond_pid"] == after["pid"] and after["state"] == "on"
    assert before["context"].schemes[0].quota.sz == 64 << 20
    assert after["context"].schemes[0].quota.sz == 128 << 20
    assert after["context"].targets[0].pid == PID
    assert "size 128M" in after["source"]


def test_a_failed_commit_restores_the_files_and_keeps_running(tmp_path):
    root = make_tree(tmp_path)
    do_apply(QUOTA, root, tmp_path)
    ctx_before = R.read_context(RT.tree(root), "kdamonds/0/contexts/0")
    bad = "scheme {\n action pageout\n age 5s..max\n filter reject memcg /nope\n}\n"
    with pytest.raises(DamosError) as e:
        A.update(unit_from_text(bad), root=root)
    assert "'commit'" in e.value.message and "Cannot allocate memory" in e.value.message
    fs = RT.tree(root)
    assert fs.read("kdamonds/0/state") == "on"
    assert R.normalize(R.read_context(fs, "kdamonds/0/contexts/0")) == R.normalize(ctx_before)


def test_update_and_stop_refuse_kdamonds_they_did_not_start(tmp_path):
    root = make_tree(tmp_path)
    do_apply(QUOTA, root, tmp_path)
    os.remove(f"{root}.damos-owned.json")
    before = snapshot(root)
    with pytest.raises(DamosError, match="no kdamond started by damos-lang"):
        A.update(unit_from_text(QUOTA2), root=root)
    with pytest.raises(DamosError, match="not started by damos-lang"):
        A.stop(root=root, index=0)
    with pytest.raises(DamosError, match="no kdamond started by damos-lang"):
        A.stop(root=root)
    assert snapshot(root) == before


def test_stop_turns_off_reports_stats_and_leaves_nothing(tmp_path):
    root = make_tree(tmp_path)
    empty = snapshot(root)
    do_apply(QUOTA, root, tmp_path)
    [done] = A.stop(root=root, index=0)
    assert done["index"] == 0 and done["stats"][0]["nr_tried"] > 0
    assert snapshot(root) == empty
    assert Owners(RT.tree(root)).data == {}


def test_stop_keeps_a_slot_it_did_not_create(tmp_path):
    root = make_tree(tmp_path)
    fs = RT.tree(root)
    fs.write("kdamonds/nr_kdamonds", "1")       # an empty kdamond made by someone
    do_apply(QUOTA, root, tmp_path)
    A.stop(root=root)
    assert fs.read("kdamonds/nr_kdamonds") == "1"
    assert fs.read("kdamonds/0/contexts/nr_contexts") == "0"


def test_the_cli_session(tmp_path):
    root = make_tree(tmp_path, pids=[PID])
    mod = str(tmp_path / "module")
    run = CliRunner().invoke
    f = tmp_path / "prcl.damos"
    f.write_text(QUOTA)
    r = run(app, ["apply", str(f), "--pid", str(PID), "--sysfs-root", root, "--module-root", mod])
    assert r.exit_code == 0, r.output
    assert "kdamond 0 is on (pid 4000)" in r.output
    r = run(app, ["apply", str(f), "--pid", str(PID), "--sysfs-root", root, "--module-root", mod])
    assert r.exit_code == 1 and "no free kdamond" in r.output
    r = run(app, ["status", "--sysfs-root", root])
    assert r.exit_code == 0 and "size 64M" in r.output and "# scheme 0 (pageout)" in r.output
    f.write_text(QUOTA2)
    r = run(app, ["update", str(f), "--sysfs-root", root])
    assert r.exit_code == 0 and "still running" in r.output, r.output
    r = run(app, ["status", "--sysfs-root", root, "--json"])
    assert r.exit_code == 0 and "size 128M" in r.output
    r = run(app, ["status", "--sysfs-root", root, "--watch", "--interval", "0", "--count", "1"])
    assert r.exit_code == 0 and "DAMON kdamonds" in r.output
    r = run(app, ["stop", "--sysfs-root", root])
    assert r.exit_code == 0 and "kdamond 0 is off" in r.output and "scheme 0: tried" in r.output


def test_the_cli_refuses_the_kernels_tree_under_tests(tmp_path):
    f = tmp_path / "prcl.damos"
    f.write_text(QUOTA)
    r = CliRunner().invoke(app, ["apply", str(f), "--pid", str(PID)])
    assert r.exit_code == 1 and "refusing" in r.output
    r = CliRunner().invoke(app, ["status"])
    assert r.exit_code == 1 and "refusing" in r.output


def test_a_kdamond_whose_target_exited_is_cleared_by_stop(tmp_path):
    root = make_tree(tmp_path)
    do_apply(QUOTA, root, tmp_path)
    fs = RT.tree(root)
    fs.write("kdamonds/0/state", "off")           # what the kernel does when the target exits
    with pytest.raises(DamosError, match="its target gone: 'damos stop 0' clears it"):
        do_apply(QUOTA, root, tmp_path)
    with pytest.raises(DamosError, match="is off"):
        A.update(unit_from_text(QUOTA2), root=root)
    [done] = A.stop(root=root)
    assert done["stats"] == [] and fs.read("kdamonds/nr_kdamonds") == "0"
    assert do_apply(QUOTA, root, tmp_path)["index"] == 0


def test_an_off_kdamond_with_another_target_is_not_ours(tmp_path):
    root = make_tree(tmp_path)
    do_apply(QUOTA, root, tmp_path)
    fs = RT.tree(root)
    fs.write("kdamonds/0/state", "off")
    fs.write("kdamonds/0/contexts/0/targets/0/pid_target", "1")   # someone reused it
    with pytest.raises(DamosError, match="not started by damos-lang"):
        A.stop(root=root, index=0)
