"""DAMON_STAT (Debian's 7.x kernels run it from boot, and while it runs no
sysfs kdamond can start): apply refuses naming it and the flag; with
--stop-damon-stat it is stopped, all or nothing, and 'damos stop' starts it
again; status shows it.  The stand-in refuses 'on' with EBUSY while it runs,
as the 7.2 and 7.3 kernels did in the rig."""
from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from damos_lang.cli import app
from damos_lang.errors import DamosError
from damos_lang.live import apply as A
from damos_lang.pipeline import compile_path
from damos_lang.sysfs.standin import StandIn

from .helpers import Recorder, snapshot

ROOT = Path(__file__).resolve().parents[2]
PRCL = str(ROOT / "examples/prcl.damos")
PID = os.getpid()


def modules(tmp_path, enabled="Y", pid="54"):
    base = tmp_path / "module/damon_stat/parameters"
    base.mkdir(parents=True)
    (base / "enabled").write_text(enabled + "\n")
    (base / "kdamond_pid").write_text(pid + "\n")
    (base / "estimated_memory_bandwidth").write_text("123456789\n")
    (base / "memory_idle_ms_percentiles").write_text(",".join(str(i * 10) for i in range(101)) + "\n")
    (base / "aggr_interval_us").write_text("100000\n")
    return str(tmp_path / "module")


def tree(tmp_path, mods):
    root = str(tmp_path / "admin")
    StandIn.create(root, (7, 3), pids={PID}, module_root=mods)
    return root


def enabled(mods) -> str:
    return open(f"{mods}/damon_stat/parameters/enabled").read().strip()


def test_the_stand_in_refuses_on_while_damon_stat_runs(tmp_path):
    mods = modules(tmp_path)
    fs = StandIn(tree(tmp_path, mods))
    fs.write("kdamonds/nr_kdamonds", "1")
    fs.write("kdamonds/0/contexts/nr_contexts", "1")
    fs.write("kdamonds/0/contexts/0/targets/nr_targets", "1")
    fs.write("kdamonds/0/contexts/0/targets/0/pid_target", str(PID))
    with pytest.raises(OSError) as e:
        fs.write("kdamonds/0/state", "on")
    assert e.value.errno == errno.EBUSY
    (Path(mods) / "damon_stat/parameters/enabled").write_text("N\n")
    fs.write("kdamonds/0/state", "on")


def test_apply_refuses_naming_damon_stat_and_the_flag(tmp_path):
    mods = modules(tmp_path)
    root = tree(tmp_path, mods)
    before = snapshot(root)
    with pytest.raises(DamosError) as e:
        A.apply(compile_path(PRCL, pid=PID), root=root, module_root=mods, sleep=lambda s: None)
    msg = e.value.message
    assert "damon_stat is running DAMON exclusively (DAMON_STAT, kdamond pid 54)" in msg
    assert "--stop-damon-stat" in msg and f"echo N > {mods}/damon_stat/parameters/enabled" in msg
    assert snapshot(root) == before and enabled(mods) == "Y"


def test_stop_damon_stat_then_damos_stop_starts_it_again(tmp_path):
    mods = modules(tmp_path)
    root = tree(tmp_path, mods)
    run = CliRunner()
    r = run.invoke(app, ["apply", PRCL, "--pid", str(PID), "--sysfs-root", root,
                         "--module-root", mods, "--stop-damon-stat"])
    assert r.exit_code == 0, r.output
    assert "DAMON_STAT was running and is stopped" in r.stdout and "kdamond 0 is on" in r.stdout
    assert enabled(mods) == "N"
    assert open(f"{root}/kdamonds/0/state").read() == "on\n"
    r = run.invoke(app, ["stop", "--sysfs-root", root, "--module-root", mods])
    assert r.exit_code == 0, r.output
    assert "DAMON_STAT started again" in r.stdout and enabled(mods) == "Y"


def test_a_failed_apply_starts_damon_stat_again(tmp_path, monkeypatch):
    mods = modules(tmp_path)
    root = tree(tmp_path, mods)
    before = snapshot(root)
    Recorder(monkeypatch, fail_at=5)
    with pytest.raises(DamosError) as e:
        A.apply(compile_path(PRCL, pid=PID), root=root, module_root=mods, sleep=lambda s: None,
                stop_damon_stat=True)
    assert "nothing was changed" in e.value.message and "DAMON_STAT was started again" in \
        e.value.message
    assert snapshot(root) == before and enabled(mods) == "Y"


def test_a_stopped_damon_stat_is_left_alone(tmp_path):
    mods = modules(tmp_path, enabled="N", pid="-1")
    root = tree(tmp_path, mods)
    info = A.apply(compile_path(PRCL, pid=PID), root=root, module_root=mods,
                   sleep=lambda s: None, stop_damon_stat=True)
    assert info["stopped_damon_stat"] is False
    [done] = A.stop(root=root, module_root=mods)
    assert "damon_stat" not in done and enabled(mods) == "N"


def test_status_shows_damon_stat(tmp_path):
    mods = modules(tmp_path)
    root = tree(tmp_path, mods)
    r = CliRunner().invoke(app, ["status", "--sysfs-root", root, "--module-root", mods])
    assert r.exit_code == 0, r.output
    assert "# DAMON_STAT: on, kdamond pid 54" in r.stdout
    assert "estimated memory bandwidth 117.7 MiB/s" in r.stdout
    assert "p50 500 ms" in r.stdout and "p100 1000 ms" in r.stdout
    r = CliRunner().invoke(app, ["status", "--sysfs-root", root, "--module-root", mods, "--json"])
    data = json.loads(r.stdout)["damon_stat"]
    assert data["enabled"] is True and data["kdamond_pid"] == 54
    assert data["estimated_memory_bandwidth"] == 123456789
    assert len(data["memory_idle_ms_percentiles"]) == 101


def test_reclaim_target_names_damon_stat_and_can_stop_it(tmp_path):
    mods = modules(tmp_path)
    base = Path(mods) / "damon_reclaim/parameters"
    base.mkdir(parents=True)
    from .test_modules import RECLAIM, RECLAIM_PARAMS
    for name, _ in RECLAIM_PARAMS + [("enabled", ""), ("commit_inputs", "")]:
        (base / name).write_text("N\n" if name == "enabled" else "0\n")
    (base / "kdamond_pid").write_text("77\n")
    f = tmp_path / "r.damos"
    f.write_text(RECLAIM)
    r = CliRunner().invoke(app, ["apply", str(f), "-t", "reclaim", "--module-root", mods])
    assert r.exit_code == 1
    assert "damon_stat is running DAMON exclusively (DAMON_STAT, kdamond pid 54), so " \
           "DAMON_RECLAIM cannot start" in r.stderr and "--stop-damon-stat" in r.stderr
    r = CliRunner().invoke(app, ["apply", str(f), "-t", "reclaim", "--module-root", mods,
                                 "--stop-damon-stat"])
    assert r.exit_code == 0, r.output
    assert enabled(mods) == "N" and (base / "enabled").read_text() == "Y\n"
    assert "start it again after damon_reclaim is off" in r.stdout
