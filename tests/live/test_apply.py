"""damos apply against a stand-in tree: the same plan as the sysfs script,
all or nothing under a failure at every single write, ownership, refusals."""
from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from damos_lang.errors import DamosError
from damos_lang.live import apply as A
from damos_lang.live.owners import Owners
from damos_lang.sysfs import probe as P, root as RT
from damos_lang.pipeline import compile_path, unit_from_text
from damos_lang.sysfs.plan import plan_for

from .helpers import Recorder, make_tree, snapshot

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(str(p) for p in (ROOT / "examples").glob("*.damos"))
PID = os.getpid()
MEMCGS = ("/", "/workloads", "/workloads/batch job")


def unit_for(path):
    return compile_path(path, pid=PID)


def do_apply(unit, root, tmp_path):
    return A.apply(unit, root=root, module_root=str(tmp_path / "module"), sleep=lambda s: None)


@pytest.mark.parametrize("path", EXAMPLES, ids=os.path.basename)
def test_apply_writes_the_sysfs_script_plan(tmp_path, monkeypatch, path):
    unit = unit_for(path)
    root = make_tree(tmp_path, (7, 3), memcgs=MEMCGS)
    rec = Recorder(monkeypatch)
    info = do_apply(unit, root, tmp_path)
    assert [(w.path, w.value) for w in plan_for(unit)] == rec.writes
    assert info["index"] == 0 and info["kdamond_pid"] > 0
    assert open(f"{root}/kdamonds/0/state").read() == "on\n"


def _every_write_fails(tmp_path, monkeypatch, unit, root, code=errno.EINVAL, free_slot=False):
    n = len(plan_for(unit)) - free_slot     # a free slot needs no nr_kdamonds write
    before = snapshot(root)
    owners_before = Owners(RT.tree(root)).data
    for i in range(n):
        rec = Recorder(monkeypatch, fail_at=i, code=code)
        with pytest.raises(DamosError) as e:
            do_apply(unit, root, tmp_path)
        failed_path, value = rec.writes[i]
        msg = str(e.value.message)
        assert os.path.join(root, failed_path) in msg, (i, msg)
        assert f"'{value}'" in msg and os.strerror(code) in msg, msg
        assert "nothing was changed" in msg
        assert snapshot(root) == before, f"write {i} ({failed_path}) left the tree changed"
        assert Owners(RT.tree(root)).data == owners_before
    return n


@pytest.mark.parametrize("path", EXAMPLES, ids=os.path.basename)
def test_a_failure_at_every_write_leaves_the_tree_byte_for_byte(tmp_path, monkeypatch, path):
    n = _every_write_fails(tmp_path, monkeypatch, unit_for(path),
                           make_tree(tmp_path, (7, 3), memcgs=MEMCGS))
    assert n > 10


def test_every_write_fails_beside_other_kdamonds(tmp_path, monkeypatch):
    """Slot 1 is free; kdamond 0 runs for someone else and is never written."""
    root = make_tree(tmp_path, (6, 12))
    other = unit_from_text("4K max 0 0 1s max stat\n", pid=PID)
    do_apply(other, root, tmp_path)
    os.remove(f"{root}.damos-owned.json")         # now it is someone else's
    fs = RT.tree(root)
    # the other tool made two kdamonds before starting the first: recreate that
    # shape by hand (nr_kdamonds cannot be written while one runs)
    import shutil
    shutil.copytree(f"{root}/kdamonds/0", f"{root}/kdamonds/1")
    for f, v in (("state", "off"), ("pid", "-1"), ("contexts/nr_contexts", "0")):
        open(f"{root}/kdamonds/1/{f}", "w").write(v + "\n")
    shutil.rmtree(f"{root}/kdamonds/1/contexts/0")
    open(f"{root}/kdamonds/nr_kdamonds", "w").write("2\n")
    assert fs.read("kdamonds/0/state") == "on"
    unit = unit_for(str(ROOT / "examples/prcl.damos"))
    n = _every_write_fails(tmp_path, monkeypatch, unit, root, free_slot=True)
    rec = Recorder(monkeypatch)
    info = do_apply(unit, root, tmp_path)
    assert info["index"] == 1
    assert all(p.startswith("kdamonds/1/") for p, _ in rec.writes) and len(rec.writes) == n


def test_bad_memcg_fails_at_on_with_enomem_and_leaves_nothing(tmp_path):
    root = make_tree(tmp_path, (6, 12))
    before = snapshot(root)
    unit = unit_from_text("scheme {\n action pageout\n age 5s..max\n"
                          " filter reject memcg /no/such/cgroup\n}\n", pid=PID)
    with pytest.raises(DamosError) as e:
        do_apply(unit, root, tmp_path)
    msg = e.value.message
    assert "kdamonds/0/state" in msg and "'on'" in msg and "Cannot allocate memory" in msg
    assert "memcg path that does not exist" in msg
    assert snapshot(root) == before


def test_a_pid_that_is_not_running_fails_at_on(tmp_path):
    root = make_tree(tmp_path)
    before = snapshot(root)
    with pytest.raises(DamosError) as e:
        do_apply(unit_from_text("4K max 0 0 5s max pageout\n", pid=999_999_999), root, tmp_path)
    assert "Invalid argument" in e.value.message and "not running" in e.value.message
    assert snapshot(root) == before


def test_second_apply_while_the_first_runs_leaves_it_untouched(tmp_path, monkeypatch):
    root = make_tree(tmp_path)
    do_apply(unit_for(str(ROOT / "examples/prcl.damos")), root, tmp_path)
    before = snapshot(root)
    rec = Recorder(monkeypatch)
    with pytest.raises(DamosError) as e:
        do_apply(unit_for(str(ROOT / "examples/ethp.damos")), root, tmp_path)
    assert "no free kdamond" in e.value.message and "nr_kdamonds" in e.value.message
    assert rec.writes == [] and snapshot(root) == before


def test_someone_elses_stopped_kdamond_is_not_reused(tmp_path, monkeypatch):
    root = make_tree(tmp_path)
    do_apply(unit_for(str(ROOT / "examples/prcl.damos")), root, tmp_path)
    RT.tree(root).write("kdamonds/0/state", "off")
    os.remove(f"{root}.damos-owned.json")
    before = snapshot(root)
    with pytest.raises(DamosError) as e:
        do_apply(unit_for(str(ROOT / "examples/prcl.damos")), root, tmp_path)
    assert "not started by damos-lang" in e.value.message
    assert snapshot(root) == before


def test_a_missing_feature_is_named_before_the_first_write(tmp_path, monkeypatch):
    root = make_tree(tmp_path, (6, 3))
    before = snapshot(root)
    rec = Recorder(monkeypatch)
    unit = unit_from_text("scheme {\n action pageout\n apply_interval 1s\n"
                          " filter allow anon\n}\n", pid=PID)
    with pytest.raises(DamosError) as e:
        do_apply(unit, root, tmp_path)
    msg = e.value.message
    assert "apply_interval (first in Linux 6.7)" in msg
    assert "allow filters (first in Linux 6.14)" in msg
    assert rec.writes == [] and snapshot(root) == before


def test_a_missing_feature_shown_by_the_tree_beats_the_release(tmp_path, monkeypatch):
    """A 6.6 tree whose scheme directories show no apply_interval_us: named from the tree."""
    root = make_tree(tmp_path, (6, 6))
    do_apply(unit_from_text("4K max 0 0 1s max stat\n", pid=PID), root, tmp_path)
    os.remove(f"{root}.damos-owned.json")
    fs = RT.tree(root)
    missing = P.missing_features(unit_from_text("scheme {\n action stat\n apply_interval 1s\n}\n",
                                                pid=PID).context, P.probe(fs), fs)
    assert missing == ["this kernel lacks apply_interval (first in Linux 6.7): "
                       "kdamonds/0/contexts/0/schemes/0 has no apply_interval_us"]


def test_an_unknown_file_at_write_time_is_named_as_a_feature(tmp_path, monkeypatch):
    """When the tree shows nothing and the release is unknown, the write finds out."""
    root = make_tree(tmp_path, (6, 3))
    monkeypatch.setattr(P, "_release", lambda fs: None)
    before = snapshot(root)
    unit = unit_from_text("scheme {\n action pageout\n apply_interval 1s\n}\n", pid=PID)
    with pytest.raises(DamosError) as e:
        do_apply(unit, root, tmp_path)
    assert "apply_interval_us" in e.value.message
    assert "this kernel lacks apply_interval (first in Linux 6.7)" in e.value.message
    assert snapshot(root) == before


def test_an_exclusive_damon_module_is_reported(tmp_path):
    root = make_tree(tmp_path)
    p = tmp_path / "module/damon_reclaim/parameters"
    p.mkdir(parents=True)
    (p / "enabled").write_text("Y\n")
    with pytest.raises(DamosError) as e:
        do_apply(unit_for(str(ROOT / "examples/prcl.damos")), root, tmp_path)
    assert "damon_reclaim is running DAMON exclusively" in e.value.message


def test_not_root_is_a_clear_message(tmp_path, monkeypatch):
    root = tmp_path / "plain"
    (root / "kdamonds").mkdir(parents=True)
    (root / "kdamonds/nr_kdamonds").write_text("0\n")
    monkeypatch.setattr(os, "access", lambda *a, **k: False)
    with pytest.raises(DamosError) as e:
        do_apply(unit_for(str(ROOT / "examples/prcl.damos")), str(root), tmp_path)
    assert "run as root (sudo damos" in e.value.message


def test_the_kernels_tree_is_refused_under_tests():
    with pytest.raises(DamosError, match="refusing to use the kernel's DAMON tree"):
        RT.tree(None)


def test_ebusy_is_retried(tmp_path, monkeypatch):
    root = make_tree(tmp_path)
    rec = Recorder(monkeypatch, fail_at=0, code=errno.EBUSY)
    do_apply(unit_for(str(ROOT / "examples/prcl.damos")), root, tmp_path)
    assert rec.writes[0] == rec.writes[1] == ("kdamonds/nr_kdamonds", "1")


def test_a_kdamond_that_cannot_be_recorded_is_undone(tmp_path, monkeypatch):
    root = make_tree(tmp_path)
    before = snapshot(root)

    def fail(self):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))
    monkeypatch.setattr(Owners, "save", fail)
    with pytest.raises(DamosError, match="cannot record the kdamond .*stopped and removed again"):
        do_apply(unit_for(str(ROOT / "examples/prcl.damos")), root, tmp_path)
    assert snapshot(root) == before
