"""Targets people have: several --pid, a cgroup's processes (a fake
cgroup.procs that changes while it runs), --include-children; a target that
exits drops out and the others go on; the summary and the record name each
one; one-line errors for a missing cgroup, cgroup v1 and a pid that does not
exist.

The processes are real children of this test (python -c loops).  This host
has no page_idle, so the source is the real page_idle source with its idle
bitmap a temporary file (``bitmap_path``): real /proc/PID/maps, pagemap,
pidfds and exits; every idle bit it writes stays set (no accesses seen)."""
import os
import subprocess
import sys

import pytest

from damos_lang.catalog import USERSPACE
from damos_lang.monitor.sources.page_idle import PageIdleSource
from damos_lang.pipeline import unit_from_text
from damos_lang.run import discovery, record
from damos_lang.run.live import summary_lines
from damos_lang.run.session import RunOptions, Session

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DAMOS = [sys.executable, "-m", "damos_lang"]

SCHEME = """monitor { sample 5ms; aggr 50ms; update 200ms; nr_regions 10..200 }
scheme {
    action stat
    access 0%..100%
    age 0s..max
}
"""

# a process that maps a few MiB and keeps touching them; ``after`` seconds
# (if given) it exits
LOOP = """import sys, time
b = bytearray(4 << 20)
print(flush=True)
end = time.monotonic() + float(sys.argv[1]) if len(sys.argv) > 1 else None
while end is None or time.monotonic() < end:
    b[::4096] = b"x" * (len(b) // 4096)
    time.sleep(0.01)
"""

# a process that starts a child (which starts a grandchild) after 0.3 s; the
# child exits after 1 s, the grandchild lives on (re-parented)
PARENT = """import subprocess, sys, time
print(flush=True)
time.sleep(0.3)
child = subprocess.Popen([sys.executable, "-c", sys.argv[1], sys.argv[2]])
time.sleep(30)
"""
CHILD = """import subprocess, sys, time
b = bytearray(2 << 20)
subprocess.Popen([sys.executable, "-c", sys.argv[1], "3"])
time.sleep(1.0)
"""


def _root_with_pfns():
    with open("/proc/self/status") as f:
        caps = next(int(line.split()[1], 16) for line in f if line.startswith("CapEff:"))
    if not caps >> 21 & 1:
        pytest.skip("reading PFNs from pagemap needs CAP_SYS_ADMIN (run the tests as root)")


def session(tmp_path, view=None, **opts):
    _root_with_pfns()
    bitmap = str(tmp_path / "bitmap")
    open(bitmap, "wb").close()
    ctx = unit_from_text(SCHEME, interface=USERSPACE).context
    opts.setdefault("record", str(tmp_path / "run.jsonl"))
    return Session(ctx, RunOptions(**opts), view=view,
                   make_source=lambda pids: PageIdleSource(pids, bitmap_path=bitmap))


def ids_per_line(rec):
    return [sorted(t["id"] for t in line["targets"]) for line in rec
            if line["type"] == "aggregation"]


def test_several_pids_are_targets_and_one_that_exits_leaves_the_others(tmp_path, procs):
    a, b = procs(LOOP), procs(LOOP)
    c = procs(LOOP, "0.5")                             # exits after 0.5 s
    s = session(tmp_path, pids=[a.pid, b.pid, c.pid], duration_us=1_500_000)
    summary = s.run()
    assert summary.reason == "the duration is over"
    by_pid = {t.pid: t for t in summary.targets}
    assert list(by_pid) == [a.pid, b.pid, c.pid]
    assert by_pid[a.pid].end is None and by_pid[b.pid].end is None
    assert by_pid[c.pid].end == f"target {c.pid} is gone"
    assert 0 < by_pid[c.pid].end_us < 1_500_000
    assert all(t.origin == "--pid" and "-c" in t.name for t in summary.targets)
    assert a.poll() is None and b.poll() is None        # monitoring went on for them
    rec = record.read(tmp_path / "run.jsonl")
    head, last = rec[0], rec[-1]
    assert head["targets"] == [a.pid, b.pid, c.pid]
    assert [t["id"] for t in head["target_info"]] == [a.pid, b.pid, c.pid]
    assert all("-c" in t["name"] for t in head["target_info"])
    lines = ids_per_line(rec)
    assert lines[0] == sorted([a.pid, b.pid, c.pid]) and lines[-1] == sorted([a.pid, b.pid])
    gone = [g for line in rec if line["type"] == "aggregation" for g in line.get("targets_gone", [])]
    assert [g["id"] for g in gone] == [c.pid]
    assert [t["id"] for t in last["targets"]] == [a.pid, b.pid, c.pid]
    assert [t["end"] for t in last["targets"]][:2] == [None, None]
    text = "\n".join(summary_lines(summary))
    assert "targets: 3 processes, 2 to the end" in text
    assert f"pid {c.pid} (--pid)" in text and f"target {c.pid} is gone" in text


def test_the_run_ends_when_every_target_is_gone(tmp_path, procs):
    a, b = procs(LOOP, "0.3"), procs(LOOP, "0.6")
    summary = session(tmp_path, pids=[a.pid, b.pid], duration_us=20_000_000).run()
    assert summary.reason.startswith("all 2 targets are gone (the last: target ")
    assert summary.time_us < 20_000_000
    assert all(t.end is not None for t in summary.targets)
    assert record.read(tmp_path / "run.jsonl")[-1]["type"] == "summary"


def fake_cgroup(tmp_path, pids):
    cg = tmp_path / "cg"
    cg.mkdir(exist_ok=True)
    (cg / "cgroup.controllers").write_text("cpu memory\n")
    (cg / "cgroup.procs").write_text("".join(f"{p}\n" for p in pids))
    return cg


def test_cgroup_members_are_re_read_at_update_intervals(tmp_path, procs):
    """cgroup.procs changes while it runs: B joins at 0.3 s (with kthreadd,
    which has no memory, and a pid that no longer exists), A leaves at 0.9 s
    (alive: it moved to another cgroup); Z exits at 0.3 s and stays listed
    (a zombie, as a real cgroup lists it until it is reaped)."""
    a, b, z = procs(LOOP), procs(LOOP), procs(LOOP, "0.3")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    cg = fake_cgroup(tmp_path, [a.pid, z.pid])
    s = session(tmp_path, cgroup=str(cg), duration_us=1_500_000)
    changes = {300_000: [a.pid, z.pid, b.pid, 2, dead.pid], 900_000: [b.pid, z.pid, 2]}

    def rewrite(monitor, snap):
        for t_us, pids in list(changes.items()):
            if monitor.now_us >= t_us:
                (cg / "cgroup.procs").write_text("".join(f"{p}\n" for p in pids))
                del changes[t_us]
    setup = s.setup

    def setup_and_watch():
        setup()
        s.monitor.on_aggregation.append(rewrite)
    s.setup = setup_and_watch
    summary = s.run()
    assert summary.mode == "cgroup" and summary.reason == "the duration is over"
    infos = {t.pid: t for t in summary.targets}
    # kthreadd and the dead pid: no target; Z once (gone, not retried)
    assert [t.pid for t in summary.targets] == [a.pid, z.pid, b.pid]
    assert infos[z.pid].end == f"target {z.pid} is gone" and summary.skipped == {}
    origin = f"cgroup {os.path.realpath(cg)}"
    assert infos[a.pid].origin == infos[b.pid].origin == origin
    # B at the first update interval after it joined, A dropped at the first after it left
    assert infos[b.pid].start_us == 400_000 and infos[b.pid].end is None
    assert infos[a.pid].end == f"target {a.pid} is gone: it left the cgroup"
    assert infos[a.pid].end_us == 1_000_000
    assert a.poll() is None
    rec = record.read(tmp_path / "run.jsonl")
    lines = ids_per_line(rec)
    assert lines[0] == sorted([a.pid, z.pid]) and sorted([a.pid, b.pid]) in lines
    assert lines[-1] == [b.pid]
    added = [x for line in rec if line["type"] == "aggregation"
             for x in line.get("targets_added", [])]
    assert [(x["id"], x["origin"], x["time_us"]) for x in added] == [(b.pid, origin, 400_000)]
    assert rec[0]["mode"] == "cgroup" and [t["id"] for t in rec[0]["target_info"]] == [a.pid, z.pid]


@pytest.mark.parametrize("how", ["--pid", "command"])
def test_children_are_found_and_re_scanned(tmp_path, procs, how):
    if how == "--pid":
        p = procs(PARENT, CHILD, LOOP)
        s = session(tmp_path, pids=[p.pid], include_children=True, duration_us=2_000_000)
    else:
        s = session(tmp_path, command=[sys.executable, "-c", PARENT, CHILD, LOOP],
                    include_children=True, duration_us=2_000_000)
    summary = s.run()
    infos = summary.targets
    p = infos[0]
    assert infos[0].origin == how
    kids = [t for t in infos if t.origin == f"child of {p.pid}"]
    assert len(kids) == 1, infos                       # the child, found after it started
    child = kids[0]
    grandkids = [t for t in infos if t.origin == f"child of {child.pid}"]
    assert len(grandkids) == 1, infos
    assert child.start_us >= 200_000 and child.start_us % 200_000 == 0
    # the child exits after 1 s: it drops out, its child and the parent go on
    assert child.end is not None and child.end_us < 2_000_000
    assert grandkids[0].end is None and infos[0].end is None
    assert summary.reason == "the duration is over"


def test_children_from_task_children_files(tmp_path):
    """With CONFIG_PROC_CHILDREN (/proc/PID/task/TID/children; this host's
    kernel lacks it): every thread's children, recursively."""
    proc = tmp_path / "proc"
    for pid, tasks in {10: {10: "11 12", 13: "14"}, 11: {11: ""}, 12: {12: "15"},
                       14: {14: ""}, 15: {15: ""}}.items():
        for tid, kids in tasks.items():
            d = proc / str(pid) / "task" / str(tid)
            d.mkdir(parents=True)
            (d / "children").write_text(kids + (" " if kids else ""))
    assert discovery.descendants([10], str(proc)) == [(11, 10), (12, 10), (14, 10), (15, 12)]


def test_children_from_parent_pids_without_children_files(tmp_path):
    proc = tmp_path / "proc"
    for pid, ppid, comm in ((10, 1, "init"), (11, 10, "a (b) c"), (12, 11, "x"), (13, 1, "y")):
        (proc / str(pid) / "task" / str(pid)).mkdir(parents=True)
        (proc / str(pid) / "stat").write_text(f"{pid} ({comm}) S {ppid} 0 0\n")
    assert discovery.descendants([10], str(proc)) == [(11, 10), (12, 11)]


def damos(*args):
    return subprocess.run([*DAMOS, *args], capture_output=True, text=True, cwd=ROOT, timeout=120)


def one_line_error(r, text):
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("damos run: error: "), r.stderr
    assert text in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""


def test_target_errors_are_one_line(tmp_path):
    one_line_error(damos("run", "examples/prcl.damos", "--cgroup", str(tmp_path / "nope")),
                   f"--cgroup {tmp_path / 'nope'}: no such directory")
    v1 = tmp_path / "v1"                               # a v1 directory: tasks, no cgroup.controllers
    v1.mkdir()
    (v1 / "tasks").write_text("")
    (v1 / "cgroup.procs").write_text("")
    one_line_error(damos("run", "examples/prcl.damos", "--cgroup", str(v1)), "a cgroup v1 directory")
    if os.path.isdir("/sys/fs/cgroup/memory") and discovery._mount_of(
            "/sys/fs/cgroup/memory", "/proc/self/mountinfo") == ("/sys/fs/cgroup/memory", "cgroup"):
        one_line_error(damos("run", "examples/prcl.damos", "--cgroup", "/sys/fs/cgroup/memory"),
                       "a cgroup v1 directory")
    plain = tmp_path / "plain"
    plain.mkdir()
    one_line_error(damos("run", "examples/prcl.damos", "--cgroup", str(plain)),
                   "not a cgroup directory (no cgroup.procs)")
    empty = fake_cgroup(tmp_path, [])
    r = damos("run", "examples/prcl.damos", "--cgroup", str(empty))
    assert r.returncode == 2 and "damos run: error: " in r.stderr, r.stderr
    one_line_error(damos("run", "examples/prcl.damos", "--pid", str(os.getpid()),
                         "--pid", "999999999"), "no such process: pid 999999999")
    one_line_error(damos("run", "examples/prcl.damos", "--include-children"),
                   "--include-children needs processes")
    one_line_error(damos("run", "examples/prcl.damos", "--cgroup", str(empty), "--sim", "stairs"),
                   "exclude each other")


def test_a_v1_mount_is_told_from_mountinfo(tmp_path):
    mi = tmp_path / "mountinfo"
    mi.write_text("31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n"
                  "32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n"
                  "40 31 0:35 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n")
    assert discovery._mount_of("/sys/fs/cgroup/cpu/x", str(mi)) == ("/sys/fs/cgroup/cpu", "cgroup")
    assert discovery._mount_of("/sys/fs/cgroup/unified/a", str(mi))[1] == "cgroup2"
    assert discovery._mount_of("/sys/fs/cgroup/cpuset", str(mi))[1] == "tmpfs"
