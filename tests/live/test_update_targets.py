"""damos update when the file drops a running target (6.19's obsolete_target),
on a stand-in that keeps what damon_commit_targets() does: the n-th staged
target takes over the n-th running one's monitoring state, an obsolete one
removes the running one in its place, and every staged pid is looked up first
(EINVAL for a process that has exited)."""
from __future__ import annotations

import errno
import json
import os

import pytest

from damos_lang import model
from damos_lang.errors import DamosError
from damos_lang.live import apply as A
from damos_lang.pipeline import unit_from_text
from damos_lang.sysfs import root as RT
from damos_lang.sysfs.standin import MARKER, StandIn

C = "kdamonds/0/contexts/0"
P1, P2, P3 = 1001, 1002, 1003


def text(*pids) -> str:
    return "".join(f"target pid {p}\n" for p in pids) + "scheme {\n    action stat\n}\n"


def started(tmp_path, version, pids=(P1, P2, P3)):
    root = str(tmp_path / "admin")
    log = tmp_path / "writes.jsonl"
    StandIn.create(root, version, pids={P1, P2, P3}, write_log=str(log))
    A.apply(unit_from_text(text(*pids)), root=root, module_root=str(tmp_path / "module"),
            sleep=lambda s: None)
    log.write_text("")
    return root, log


def update(root, *pids) -> dict:
    return A.update(unit_from_text(text(*pids)), root=root, sleep=lambda s: None)


def running(root):
    return StandIn(root).running_targets(0)


def files(root):
    fs = RT.tree(root)
    n = int(fs.read(f"{C}/targets/nr_targets"))
    return [(int(fs.read(f"{C}/targets/{i}/pid_target")),
             fs.read_or(f"{C}/targets/{i}/obsolete_target")) for i in range(n)]


def writes(log):
    return [tuple(json.loads(x)) for x in log.read_text().splitlines()]


def exits(root, pid):
    """The process ``pid`` exits (the stand-in no longer knows it)."""
    path = os.path.join(root, MARKER)
    with open(path) as f:
        cfg = json.load(f)
    cfg["pids"] = [p for p in cfg["pids"] if p != pid]
    with open(path, "w") as f:
        json.dump(cfg, f)


def test_the_stand_in_commits_targets_by_position(tmp_path):
    root, _ = started(tmp_path, (7, 3))
    assert running(root) == [(P1, P1), (P2, P2), (P3, P3)]
    fs = RT.tree(root)
    # the drop of P2 written by hand, without obsolete_target: P3 takes P2's place
    fs.write(f"{C}/targets/nr_targets", "2")
    fs.write(f"{C}/targets/0/pid_target", str(P1))
    fs.write(f"{C}/targets/1/pid_target", str(P3))
    fs.write("kdamonds/0/state", "commit")
    assert running(root) == [(P1, P1), (P3, P2)]
    # an obsolete target with no running one in its place is EINVAL
    fs.write(f"{C}/targets/nr_targets", "3")
    for i, p in enumerate((P1, P3, P2)):
        fs.write(f"{C}/targets/{i}/pid_target", str(p))
    fs.write(f"{C}/targets/2/obsolete_target", "Y")
    with pytest.raises(OSError) as e:
        fs.write("kdamonds/0/state", "commit")
    assert e.value.errno == errno.EINVAL
    assert running(root) == [(P1, P1), (P3, P2)]           # nothing changed


def test_dropping_a_middle_target_keeps_the_others_state(tmp_path):
    root, log = started(tmp_path, (7, 3))
    res = update(root, P1, P3)
    assert res["warnings"] == []
    assert running(root) == [(P1, P1), (P3, P3)]           # P3 kept its own state
    assert files(root) == [(P1, "N"), (P3, "N")]            # written again as it now is
    w = writes(log)
    commit = w.index(("kdamonds/0/state", "commit"))
    staged = w[:commit]
    # P2 staged in its place, marked obsolete, then the commit, then the files again
    assert (f"{C}/targets/nr_targets", "3") in staged
    assert (f"{C}/targets/1/pid_target", str(P2)) in staged
    assert (f"{C}/targets/1/obsolete_target", "Y") in staged
    assert (f"{C}/targets/nr_targets", "2") in w[commit:]


def test_dropping_and_adding_puts_the_new_ones_after(tmp_path):
    root, _ = started(tmp_path, (7, 3), pids=(P1, P2))
    res = update(root, P1, P3)                              # P2 dropped, P3 new
    assert running(root) == [(P1, P1), (P3, P3)]           # P3 starts afresh
    assert files(root) == [(P1, "N"), (P3, "N")]
    assert res["warnings"] == []


def test_before_6_19_it_commits_as_before_and_says_what_moves(tmp_path, capsys):
    root, log = started(tmp_path, (6, 18))
    res = update(root, P1, P3)
    assert running(root) == [(P1, P1), (P3, P2)]           # the kernel's by-position commit
    assert files(root) == [(P1, None), (P3, None)]          # no obsolete_target file
    assert not any("obsolete_target" in p for p, _ in writes(log))
    assert res["warnings"] == [
        "this kernel has no obsolete_target (first in Linux 6.19), so the commit matches "
        f"targets by position: pid {P3} takes over pid {P2}'s monitoring state (regions, "
        "ages) ('damos stop' then 'damos apply' starts them all afresh)"]


def test_the_warning_reaches_the_command_line(tmp_path):
    from typer.testing import CliRunner
    from damos_lang.cli import app
    root, _ = started(tmp_path, (6, 18))
    path = tmp_path / "f.damos"
    path.write_text(text(P1, P3))
    r = CliRunner().invoke(app, ["update", "--sysfs-root", root, str(path)])
    assert r.exit_code == 0, r.output
    assert "damos update: warning: this kernel has no obsolete_target" in r.output
    assert "damos update: committed" in r.output


def test_a_dropped_target_whose_process_exited_does_not_fail_the_commit(tmp_path):
    root, log = started(tmp_path, (7, 3))
    exits(root, P2)
    fs = RT.tree(root)
    # staged by hand with its own pid, the commit fails: the kernel looks it up
    fs.write(f"{C}/targets/1/obsolete_target", "Y")
    with pytest.raises(OSError) as e:
        fs.write("kdamonds/0/state", "commit")
    assert e.value.errno == errno.EINVAL
    fs.write(f"{C}/targets/1/obsolete_target", "N")
    log.write_text("")
    res = update(root, P1, P3)                              # converges
    assert res["warnings"] == []
    assert running(root) == [(P1, P1), (P3, P3)]
    assert files(root) == [(P1, "N"), (P3, "N")]
    staged = writes(log)[:writes(log).index(("kdamonds/0/state", "commit"))]
    # in P2's place: a kept target's pid (the kernel removes by place alone)
    assert (f"{C}/targets/1/pid_target", str(P1)) in staged
    assert (f"{C}/targets/1/obsolete_target", "Y") in staged


def test_a_kept_target_whose_process_exited_is_a_clear_error_and_changes_nothing(tmp_path):
    root, _ = started(tmp_path, (7, 3))
    exits(root, P3)
    before = files(root)
    with pytest.raises(DamosError) as e:
        update(root, P1, P3)
    assert "'commit'" in e.value.message and "Invalid argument" in e.value.message
    assert RT.tree(root).read("kdamonds/0/state") == "on"
    assert files(root) == before and running(root) == [(P1, P1), (P2, P2), (P3, P3)]


@pytest.mark.parametrize("old, new, has, alive, want", [
    # P2 dropped from the middle: staged obsolete in its place
    ((1, 2, 3), (1, 3), True, (1, 2, 3), ((1, False), (2, True), (3, False))),
    # ... its process gone: a kept target's pid instead
    ((1, 2, 3), (1, 3), True, (1, 3), ((1, False), (1, True), (3, False))),
    # the last dropped, one added: the new one after the running ones
    ((1, 2), (1, 4), True, (1, 2, 4), ((1, False), (2, True), (4, False))),
    # no obsolete_target (before 6.19): plain targets
    ((1, 2, 3), (1, 3), False, (1, 2, 3), None),
    # nothing dropped, reordered, or nothing kept: plain targets
    ((1, 2), (1, 2, 3), True, (1, 2, 3), None),
    ((1, 2, 3), (3, 1), True, (1, 2, 3), None),
    ((1, 2), (4,), True, (1, 2, 4), None),
])
def test_staged_targets(old, new, has, alive, want):
    ctx = lambda pids: model.Context(targets=tuple(model.Target(p) for p in pids))
    got = A.staged_targets(ctx(old), ctx(new), has, lambda p: p in alive)
    assert (None if got is None else tuple((t.pid, t.obsolete) for t in got)) == want
