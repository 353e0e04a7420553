"""damos stop --file FILE: two units on one node each stop only their own
kdamond (plain 'damos stop' would stop both), and stopping twice is no error
(a unit's ExecStop after someone else stopped it)."""
from __future__ import annotations

import os

from typer.testing import CliRunner

from damos_lang.cli import app
from damos_lang.sysfs import root as RT
from damos_lang.sysfs.standin import StandIn

PID = os.getpid()


def two_slot_tree(tmp_path):
    """A stand-in tree with two free kdamonds, as a node has after
    'echo 2 > nr_kdamonds' at boot (docs/fleet.md: several files on one node)."""
    root = str(tmp_path / "admin")
    StandIn.create(root, (6, 12), pids={PID})
    RT.tree(root).write("kdamonds/nr_kdamonds", "2")
    return root


def invoke(*args):
    return CliRunner().invoke(app, list(args))


def test_each_file_stops_only_its_own_kdamond(tmp_path):
    root = two_slot_tree(tmp_path)
    mods = str(tmp_path / "module")
    a, b = tmp_path / "a.damos", tmp_path / "b.damos"
    a.write_text("4K max 0 0 5s max pageout\n")
    b.write_text("4K max 0 0 9s max stat\n")
    for f in (a, b):
        r = invoke("apply", "--ensure", str(f), "--pid", str(PID), "--sysfs-root", root)
        assert r.exit_code == 4, r.output
    fs = RT.tree(root)
    assert fs.read("kdamonds/0/state") == fs.read("kdamonds/1/state") == "on"

    r = invoke("stop", "--file", str(a), "--sysfs-root", root, "--module-root", mods)
    assert r.exit_code == 0, r.output
    assert "kdamond 0 is off" in r.output and "kdamond 1" not in r.output
    assert fs.read("kdamonds/0/state") == "off" and fs.read("kdamonds/1/state") == "on"

    # the other file's kdamond still converges as its own
    r = invoke("apply", "--ensure", str(b), "--pid", str(PID), "--sysfs-root", root)
    assert r.exit_code == 0 and "unchanged" in r.output, r.output

    # stopping a.damos again: nothing of it is there, and that is fine
    r = invoke("stop", "--file", str(a), "--sysfs-root", root, "--module-root", mods)
    assert r.exit_code == 0, r.output
    assert r.output.strip() == f"damos stop: no kdamond of {a} is there; nothing to stop"
    assert fs.read("kdamonds/1/state") == "on"


def test_the_file_is_matched_by_its_path_whatever_the_cwd(tmp_path, monkeypatch):
    root = two_slot_tree(tmp_path)
    d = tmp_path / "etc"
    d.mkdir()
    f = d / "prcl.damos"
    f.write_text("4K max 0 0 5s max pageout\n")
    r = invoke("apply", str(f), "--pid", str(PID), "--sysfs-root", root)
    assert r.exit_code == 0, r.output
    monkeypatch.chdir(d)
    r = invoke("stop", "--file", "prcl.damos", "--sysfs-root", root)
    assert r.exit_code == 0 and "kdamond 0 is off" in r.output, r.output


def test_an_id_and_a_file_exclude_each_other(tmp_path):
    root = two_slot_tree(tmp_path)
    r = invoke("stop", "0", "--file", "x.damos", "--sysfs-root", root)
    assert r.exit_code == 2
    assert r.output.strip() == "damos stop: error: give a kdamond ID or --file, not both"


def test_stop_file_starts_damon_stat_again(tmp_path):
    """The systemd unit's ExecStart passes --stop-damon-stat; its ExecStop
    (stop --file) puts DAMON_STAT back."""
    from tests.live.test_damon_stat import enabled, modules
    mods = modules(tmp_path)
    root = str(tmp_path / "admin")
    StandIn.create(root, (7, 3), pids={PID}, module_root=mods)
    f = tmp_path / "prcl.damos"
    f.write_text("4K max 0 0 5s max pageout\n")
    r = invoke("apply", "--ensure", "--stop-damon-stat", str(f), "--pid", str(PID),
               "--sysfs-root", root, "--module-root", mods)
    assert r.exit_code == 4 and enabled(mods) == "N", r.output
    r = invoke("stop", "--file", str(f), "--sysfs-root", root, "--module-root", mods)
    assert r.exit_code == 0, r.output
    assert "DAMON_STAT started again" in r.output and enabled(mods) == "Y"
