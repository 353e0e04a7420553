"""damos apply --ensure: converge on a file.  Three runs against a stand-in
tree that logs every write: applied, unchanged (no write at all), updated
after an edit (the same kdamond, no restart)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from damos_lang.cli import app
from damos_lang.live import apply as A
from damos_lang.live.commands import EXIT_APPLIED, EXIT_UNCHANGED, EXIT_UPDATED
from damos_lang.pipeline import compile_path, unit_from_text
from damos_lang.sysfs import read as R, root as RT
from damos_lang.sysfs.standin import StandIn

from .helpers import snapshot

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(str(p) for p in (ROOT / "examples").glob("*.damos"))
PID = os.getpid()
MEMCGS = ("/", "/workloads", "/workloads/batch job")
QUOTA = "4K max 0 0 5s max pageout 64M 1s\n"
QUOTA2 = "4K max 0 0 5s max pageout 128M 1s\n"


def logged_tree(tmp_path, version=(6, 12)):
    """A stand-in tree whose writes go to a log; (root, log path)."""
    root = str(tmp_path / "admin")
    log = tmp_path / "writes.log"
    StandIn.create(root, version, pids={PID}, memcgs=MEMCGS, write_log=str(log))
    log.write_text("")
    return root, log


def writes(log: Path) -> list:
    return [json.loads(line) for line in log.read_text().splitlines()]


def ensure(f, root, *extra):
    return CliRunner().invoke(app, ["apply", "--ensure", str(f), "--pid", str(PID),
                                    "--sysfs-root", root, *extra])


def test_three_runs_applied_unchanged_updated(tmp_path):
    root, log = logged_tree(tmp_path)
    f = tmp_path / "prcl.damos"
    f.write_text(QUOTA)

    r = ensure(f, root)
    assert r.exit_code == EXIT_APPLIED == 4, r.output
    assert "kdamond 0 is on (pid 4000)" in r.output
    assert ["kdamonds/0/state", "on"] in writes(log)

    log.write_text("")
    before = snapshot(tmp_path)          # the tree and the ownership record beside it
    r = ensure(f, root)
    assert r.exit_code == EXIT_UNCHANGED == 0, r.output
    assert "unchanged" in r.output
    assert writes(log) == []
    assert snapshot(tmp_path) == before

    f.write_text(QUOTA2)
    r = ensure(f, root)
    assert r.exit_code == EXIT_UPDATED == 3, r.output
    assert "updated" in r.output and "still running" in r.output
    w = writes(log)
    assert w[-1] == ["kdamonds/0/state", "commit"]
    assert not any(p.endswith(("nr_kdamonds", "nr_contexts")) or v in ("on", "off")
                   for p, v in w)                                  # no restart
    fs = RT.tree(root)
    assert fs.read("kdamonds/0/state") == "on" and fs.read("kdamonds/0/pid") == "4000"
    assert R.read_context(fs, "kdamonds/0/contexts/0").schemes[0].quota.sz == 128 << 20

    log.write_text("")
    r = ensure(f, root)
    assert r.exit_code == 0 and "unchanged" in r.output and writes(log) == []


def test_json_says_what_changed(tmp_path):
    root, log = logged_tree(tmp_path)
    f = tmp_path / "prcl.damos"
    f.write_text(QUOTA)
    seen = []
    for text in (QUOTA, QUOTA, QUOTA2):
        f.write_text(text)
        r = ensure(f, root, "--json")
        seen.append((r.exit_code, json.loads(r.output)))
    assert [(c, d["changed"], d["action"]) for c, d in seen] == [
        (4, True, "applied"), (0, False, "unchanged"), (3, True, "updated")]
    assert {d["kdamond"] for _, d in seen} == {0}
    assert {d["kdamond_pid"] for _, d in seen} == {4000}


def test_the_file_is_known_by_its_path_not_the_cwd(tmp_path, monkeypatch):
    root, log = logged_tree(tmp_path)
    f = tmp_path / "prcl.damos"
    f.write_text(QUOTA)
    assert ensure(f, root).exit_code == 4
    monkeypatch.chdir(tmp_path)
    log.write_text("")
    r = ensure("prcl.damos", root)
    assert r.exit_code == 0 and writes(log) == [], r.output


def test_another_file_does_not_converge_onto_this_ones_kdamond(tmp_path):
    root, log = logged_tree(tmp_path)
    a, b = tmp_path / "a.damos", tmp_path / "b.damos"
    a.write_text(QUOTA)
    b.write_text(QUOTA2)
    assert ensure(a, root).exit_code == 4
    before = snapshot(tmp_path)
    r = ensure(b, root)            # no slot is free: apply's refusal, nothing written
    assert r.exit_code == 1 and "no free kdamond" in r.output
    assert snapshot(tmp_path) == before


def test_a_kdamond_whose_target_exited_is_started_again(tmp_path):
    root, log = logged_tree(tmp_path)
    f = tmp_path / "prcl.damos"
    f.write_text(QUOTA)
    assert ensure(f, root).exit_code == 4
    RT.tree(root).write("kdamonds/0/state", "off")    # the kernel, when the target exits
    r = ensure(f, root)
    assert r.exit_code == 4 and "is on" in r.output, r.output
    assert RT.tree(root).read("kdamonds/0/state") == "on"


def test_a_kdamond_someone_else_started_is_never_touched(tmp_path):
    root, log = logged_tree(tmp_path)
    f = tmp_path / "prcl.damos"
    f.write_text(QUOTA)
    assert ensure(f, root).exit_code == 4
    os.remove(f"{root}.damos-owned.json")            # not ours any more
    log.write_text("")
    r = ensure(f, root)
    assert r.exit_code == 1 and "no free kdamond" in r.output
    assert writes(log) == []


def test_tuned_intervals_are_not_a_difference(tmp_path):
    """With an intervals goal the kernel tunes sample and aggr and shows the
    tuned values: --ensure must not commit the initial ones back."""
    root, log = logged_tree(tmp_path, (7, 3))
    f = tmp_path / "tuned.damos"
    f.write_text("monitor {\n ops vaddr\n intervals_goal {\n  access 4%\n  aggrs 3\n"
                 "  min_sample 5ms\n  max_sample 10s\n }\n}\n"
                 "scheme {\n action stat\n access 0%..0%\n}\n")
    assert ensure(f, root).exit_code == 4
    base = Path(root) / "kdamonds/0/contexts/0/monitoring_attrs/intervals"
    (base / "sample_us").write_text("7000\n")        # as update_tuned_intervals shows them
    (base / "aggr_us").write_text("140000\n")
    log.write_text("")
    r = ensure(f, root)
    assert r.exit_code == 0 and writes(log) == [], r.output
    f.write_text(f.read_text().replace("aggrs 3", "aggrs 5"))
    assert ensure(f, root).exit_code == 3


def test_ensure_refuses_the_module_targets_and_bad_input(tmp_path):
    root, log = logged_tree(tmp_path)
    f = tmp_path / "prcl.damos"
    f.write_text(QUOTA)
    r = CliRunner().invoke(app, ["apply", "--ensure", str(f), "--target", "reclaim",
                                 "--sysfs-root", root])
    assert r.exit_code == 2 and "--ensure applies to --target sysfs only" in r.output
    f.write_text("4K max 0 0 5s max pagout\n")
    r = ensure(f, root)
    assert r.exit_code == 2 and "prcl.damos:1:" in r.output and "Traceback" not in r.output
    assert writes(log) == []


@pytest.mark.parametrize("path", EXAMPLES, ids=os.path.basename)
def test_every_example_is_unchanged_once_applied(tmp_path, path):
    """The read-back of every example compares equal to the file: a second
    --ensure writes nothing (a 7.3 tree has every file the examples use)."""
    root, log = logged_tree(tmp_path, (7, 3))
    unit = compile_path(path, pid=PID)
    assert A.ensure(unit, root=root, sleep=lambda s: None)["action"] == A.APPLIED
    log.write_text("")
    assert A.ensure(unit, root=root, sleep=lambda s: None)["action"] == A.UNCHANGED
    assert writes(log) == []


def test_plain_apply_json(tmp_path):
    root, log = logged_tree(tmp_path)
    f = tmp_path / "prcl.damos"
    f.write_text(QUOTA)
    r = CliRunner().invoke(app, ["apply", str(f), "--pid", str(PID), "--sysfs-root", root,
                                 "--json"])
    assert r.exit_code == 0 and json.loads(r.output)["action"] == "applied", r.output


def test_an_update_that_the_kernel_refuses_exits_1_and_keeps_running(tmp_path):
    root, log = logged_tree(tmp_path)
    f = tmp_path / "prcl.damos"
    f.write_text(QUOTA)
    assert ensure(f, root).exit_code == 4
    f.write_text("scheme {\n action pageout\n age 5s..max\n filter reject memcg /nope\n}\n")
    r = ensure(f, root)
    assert r.exit_code == 1 and "'commit'" in r.output
    fs = RT.tree(root)
    assert fs.read("kdamonds/0/state") == "on"
    assert R.read_context(fs, "kdamonds/0/contexts/0").schemes[0].quota.sz == 64 << 20
    assert unit_from_text(QUOTA).context.schemes[0].quota.sz == 64 << 20
