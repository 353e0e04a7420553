"""The sysfs write plan and the sh script that performs it.

The scripts run for real (under ``sh`` and, when present, ``busybox sh``)
against a temporary directory that stands in for the DAMON admin root; the
real /sys is never touched (DAMOS_SYSFS_ROOT and DAMOS_SYS_MODULE_ROOT always
point into tmp_path).

How the write ORDER is observed: an inotify instance (via ctypes) watches
every directory of the fake tree for IN_CLOSE_WRITE.  The kernel queues the
events of one inotify instance in the order they happen, so the list of
events is the order in which the script's processes closed the files they
wrote: the real code path, independent of the shell, with no tracing hook in
the script.  (Identical consecutive events are merged by inotify; the plan
never writes one file twice in a row.)
"""
from __future__ import annotations

import ctypes
import ctypes.util
import dataclasses
import json
import os
import re
import shutil
import struct
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from damos_lang.convert import to_context
from damos_lang.errors import DamosError
from damos_lang.pipeline import unit_of, with_pid
from damos_lang.targets import run_target
from damos_lang.lower import parse
from damos_lang.sysfs.layout import state_path
from damos_lang.sysfs.plan import (PID_FROM_CALLER, Write, plan, plan_for,
                                   plan_from_json, plan_to_json)
from damos_lang.targets import Options, registry
from damos_lang.targets import sysfs as target

STATE = state_path(0)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")
ULONG_MAX = str(2**64 - 1)
UINT_MAX = str(2**32 - 1)
SCHEMES = "kdamonds/0/contexts/0/schemes"

SHELLS = [["sh"]]
if os.path.exists("/bin/busybox"):
    SHELLS.append(["/bin/busybox", "sh"])
if shutil.which("dash") and os.path.realpath(shutil.which("sh")) != os.path.realpath(
        shutil.which("dash")):
    SHELLS.append(["dash"])
SHELL_IDS = [" ".join(s) for s in SHELLS]


def example(name: str) -> str:
    with open(os.path.join(EXAMPLES, name)) as f:
        return f.read()


def tplan(program, opts, **kw) -> list[Write]:
    """The sysfs target's plan for a Program, through the pipeline."""
    return plan_for(unit_of(program, opts, interface="sysfs"), opts, **kw)


def kplan(text: str, **opts) -> list[Write]:
    o = Options(**opts)
    return plan_for(unit_of(parse(text), o), o)


def scheme_writes(writes, i):
    """{path relative to scheme i: value}, in plan order."""
    pre = f"{SCHEMES}/{i}/"
    return {w.path[len(pre):]: w.value for w in writes if w.path.startswith(pre)}


BOUNDS = ["access_pattern/sz/min", "access_pattern/sz/max", "access_pattern/nr_accesses/min",
          "access_pattern/nr_accesses/max", "access_pattern/age/min", "access_pattern/age/max"]


# -- the plan ---------------------------------------------------------------

def test_ethp_plan_writes_the_six_bounds_and_nothing_else():
    writes = kplan(example("ethp.damos"), pid=42)
    s0, s1 = scheme_writes(writes, 0), scheme_writes(writes, 1)
    assert [s0[b] for b in BOUNDS] == ["0", ULONG_MAX, "1", UINT_MAX, "0", UINT_MAX]
    assert [s1[b] for b in BOUNDS] == ["2097152", ULONG_MAX, "0", "0", "70", UINT_MAX]
    # nothing beyond defaults: the action and the six bounds, nothing else
    assert list(s0) == ["action"] + BOUNDS and s0["action"] == "hugepage"
    assert list(s1) == ["action"] + BOUNDS and s1["action"] == "nohugepage"


def test_prcl_plan():
    writes = kplan(example("prcl.damos"), pid=42)
    s0 = scheme_writes(writes, 0)
    assert list(s0) == ["action"] + BOUNDS
    assert s0["action"] == "pageout"
    assert [s0[b] for b in BOUNDS] == ["4096", ULONG_MAX, "0", "0", "50", UINT_MAX]


def test_whole_plan_of_a_minimal_program_in_order():
    writes = kplan("target pid 77\n4K max 0 0 5s max pageout\n")
    ma = "kdamonds/0/contexts/0/monitoring_attrs"
    assert [(w.path, w.value) for w in writes] == [
        ("kdamonds/nr_kdamonds", "1"),
        ("kdamonds/0/contexts/nr_contexts", "1"),
        ("kdamonds/0/contexts/0/operations", "vaddr"),
        (f"{ma}/intervals/sample_us", "5000"),
        (f"{ma}/intervals/aggr_us", "100000"),
        (f"{ma}/intervals/update_us", "1000000"),
        (f"{ma}/nr_regions/min", "10"),
        (f"{ma}/nr_regions/max", "1000"),
        ("kdamonds/0/contexts/0/targets/nr_targets", "1"),
        ("kdamonds/0/contexts/0/targets/0/pid_target", "77"),
        (f"{SCHEMES}/nr_schemes", "1"),
        (f"{SCHEMES}/0/action", "pageout"),
        (f"{SCHEMES}/0/access_pattern/sz/min", "4096"),
        (f"{SCHEMES}/0/access_pattern/sz/max", ULONG_MAX),
        (f"{SCHEMES}/0/access_pattern/nr_accesses/min", "0"),
        (f"{SCHEMES}/0/access_pattern/nr_accesses/max", "0"),
        (f"{SCHEMES}/0/access_pattern/age/min", "50"),
        (f"{SCHEMES}/0/access_pattern/age/max", UINT_MAX),
        ("kdamonds/0/state", "on"),
    ]
    assert writes[-1].what and all(w.what for w in writes)
    assert any(w.what == "scheme 0 access_pattern/age/max" for w in writes)


def test_quotas_and_watermarks_written_only_when_present():
    writes = kplan(example("reclaim.damos"), pid=42)
    s0 = scheme_writes(writes, 0)
    assert s0["quotas/ms"] == "10"
    assert s0["quotas/bytes"] == str(128 << 20)
    assert s0["quotas/reset_interval_ms"] == "1000"
    assert (s0["quotas/weights/sz_permil"], s0["quotas/weights/nr_accesses_permil"],
            s0["quotas/weights/age_permil"]) == ("0", "3", "7")
    assert s0["quotas/goals/nr_goals"] == "1"
    assert s0["quotas/goals/0/target_metric"] == "some_mem_psi_us"
    assert s0["quotas/goals/0/target_value"] == "1000"
    assert "quotas/goals/0/nid" not in s0 and "quotas/goals/0/path" not in s0
    assert "quotas/goal_tuner" not in s0
    assert [s0[f"watermarks/{k}"] for k in ("metric", "interval_us", "high", "mid", "low")] == \
        ["free_mem_rate", "5000000", "500", "400", "200"]
    for absent in ("apply_interval_us", "target_nid", "filters/nr_filters", "dests/nr_dests"):
        assert absent not in s0
    # a quota without weights writes no weights
    s = scheme_writes(kplan("target pid 1\nscheme { action pageout; quota { size 1G } }"), 0)
    assert s["quotas/bytes"] == str(1 << 30) and s["quotas/ms"] == "0"
    assert not any(k.startswith(("quotas/weights", "quotas/goals", "watermarks")) for k in s)
    # no quota: no quotas directory at all
    s = scheme_writes(kplan("target pid 1\nscheme { action stat }"), 0)
    assert not any(k.startswith(("quotas", "watermarks", "filters")) for k in s)
    assert [s[b] for b in BOUNDS] == ["0", ULONG_MAX, "0", UINT_MAX, "0", UINT_MAX]


def test_apply_interval_target_nid_dests_goal_fields_written_when_given():
    s = scheme_writes(kplan(
        "monitor { ops paddr }\ntarget region 4G..8G\n"
        "scheme { action migrate_hot; apply_interval 2s; target_nid 1; "
        "quota { size 1G; goal node_mem_free_bp 20% nid 0; "
        "goal node_memcg_used_bp 50% nid 1 path /w; goal user_input 300 current 100; "
        "tuner temporal } }"), 0)
    assert s["apply_interval_us"] == "2000000"
    assert s["target_nid"] == "1"
    assert "dests/nr_dests" not in s
    # weighted dests: vaddr honours them (paddr ignores them, so the language refuses them there)
    d = scheme_writes(kplan("target pid 1\nscheme { action migrate_hot; dest 0 weight 70; "
                            "dest 1 weight 30 }"), 0)
    assert [d["dests/nr_dests"], d["dests/0/id"], d["dests/0/weight"], d["dests/1/id"],
            d["dests/1/weight"]] == ["2", "0", "70", "1", "30"]
    assert s["quotas/goal_tuner"] == "temporal"
    assert s["quotas/goals/nr_goals"] == "3"
    assert (s["quotas/goals/0/target_metric"], s["quotas/goals/0/target_value"],
            s["quotas/goals/0/nid"]) == ("node_mem_free_bp", "2000", "0")
    assert "quotas/goals/0/path" not in s and "quotas/goals/0/current_value" not in s
    assert (s["quotas/goals/1/nid"], s["quotas/goals/1/path"]) == ("1", "/w")
    assert s["quotas/goals/2/current_value"] == "100"
    # apply_interval 0 is the default: not written (the file needs 6.7)
    s = scheme_writes(kplan("target pid 1\nscheme { action stat; apply_interval 0s }"), 0)
    assert "apply_interval_us" not in s


def test_intervals_goal_only_when_given():
    text = example("everything.damos")
    writes = plan_for(unit_of(parse(text)), Options())
    goal = {w.path.rsplit("/", 1)[1]: w.value for w in writes if "/intervals_goal/" in w.path}
    assert goal == {"access_bp": "400", "aggrs": "3", "min_sample_us": "5000",
                    "max_sample_us": "10000000"}
    assert not any("intervals_goal" in w.path for w in kplan(example("prcl.damos"), pid=1))


def filter_writes(writes, s=0, f=0):
    pre = f"{SCHEMES}/{s}/filters/{f}/"
    return [(w.path[len(pre):], w.value) for w in writes if w.path.startswith(pre)]


def test_filters_type_first_then_args_then_matching_then_allow():
    text = ('target pid 1\nscheme { action pageout; filter reject anon; '
            'filter allow not memcg "/a b"; filter reject addr 0x1000..0x2000; '
            'filter allow hugepage_size 2M..2M; filter reject not target 0 }')
    writes = kplan(text)
    s = scheme_writes(writes, 0)
    assert s["filters/nr_filters"] == "5"
    # kernel unknown: a reject filter leaves allow at its default N (no file before 6.14)
    assert filter_writes(writes, 0, 0) == [("type", "anon"), ("matching", "Y")]
    assert filter_writes(writes, 0, 1) == [("type", "memcg"), ("memcg_path", "/a b"),
                                           ("matching", "N"), ("allow", "Y")]
    assert filter_writes(writes, 0, 2) == [("type", "addr"), ("addr_start", "4096"),
                                           ("addr_end", "8192"), ("matching", "Y")]
    assert filter_writes(writes, 0, 3) == [("type", "hugepage_size"), ("min", "2097152"),
                                           ("max", "2097152"), ("matching", "Y"),
                                           ("allow", "Y")]
    assert filter_writes(writes, 0, 4) == [("type", "target"), ("damon_target_idx", "0"),
                                           ("matching", "N")]
    # a kernel known to have allow (6.14+) gets an explicit N
    writes = kplan(text, kernel=(6, 16))
    assert filter_writes(writes, 0, 0) == [("type", "anon"), ("matching", "Y"), ("allow", "N")]
    # on 6.13 a reject filter must not write allow (the file does not exist)
    writes = kplan("target pid 1\nscheme { action pageout; filter reject anon }", kernel=(6, 13))
    assert filter_writes(writes) == [("type", "anon"), ("matching", "Y")]


NR_FILES = {"nr_kdamonds", "nr_contexts", "nr_targets", "nr_regions", "nr_schemes", "nr_filters",
            "nr_goals", "nr_dests"}


def is_nr_file(path: str) -> bool:
    return os.path.basename(path) in NR_FILES and "monitoring_attrs/nr_regions" not in path


@pytest.mark.parametrize("name", sorted(n for n in os.listdir(EXAMPLES) if n.endswith(".damos")))
def test_nr_files_come_before_their_children_and_on_is_last(name):
    writes = plan_for(unit_of(parse(example(name)), Options(pid=1)), Options(pid=1))
    assert writes[-1] == Write(STATE, "on", "start kdamond 0")
    assert sum(w.path == STATE for w in writes) == 1
    assert writes[0].path == "kdamonds/nr_kdamonds"
    for i, w in enumerate(writes):
        for j, nr in enumerate(writes):
            if is_nr_file(nr.path):
                parent = os.path.dirname(nr.path)
                # the children: files in the numbered directories nr creates
                if re.match(re.escape(parent) + r"/[0-9]+/", w.path):
                    assert j < i, f"{w.path} is written before {nr.path}"
    # every nr_* value counts exactly the numbered directories written below it
    for nr in writes:
        if is_nr_file(nr.path) and nr.path != "kdamonds/nr_kdamonds":
            parent = os.path.dirname(nr.path)
            children = {w.path[len(parent) + 1:].split("/")[0] for w in writes
                        if w.path.startswith(parent + "/")}
            numbered = {c for c in children if c.isdigit()}
            assert numbered == {str(k) for k in range(int(nr.value))}, nr.path


@pytest.mark.parametrize("name", sorted(n for n in os.listdir(EXAMPLES) if n.endswith(".damos")))
def test_numbers_are_plain_decimal_and_booleans_y_n(name):
    opts = Options(pid=1, kernel=(7, 3))
    writes = plan_for(unit_of(parse(example(name)), opts), opts)
    for w in writes:
        if w.value[:1].isdigit():
            assert re.fullmatch(r"0|[1-9][0-9]*", w.value), w
        if os.path.basename(w.path) in ("matching", "allow"):
            assert w.value in ("Y", "N"), w


def test_pid_sources():
    prog = parse("target pid 77\n4K max 0 0 5s max pageout\n")
    pid_of = lambda ws: [w.value for w in ws if w.path.endswith("pid_target")]  # noqa: E731
    assert pid_of(plan(to_context(prog), Options())) == ["77"]
    assert pid_of(plan(with_pid(to_context(prog), 99), Options())) == ["99"]
    assert pid_of(plan(to_context(prog), Options(), pid_from_caller=True)) == [PID_FROM_CALLER]
    nopid = to_context(parse("4K max 0 0 5s max pageout\n"))
    assert pid_of(plan(with_pid(nopid, 5), Options())) == ["5"]
    with pytest.raises(DamosError, match="pid"):
        plan(nopid, Options())
    two = to_context(parse("target pid 3\ntarget pid 4\nscheme { action stat }"))
    assert pid_of(plan(two, Options())) == ["3", "4"]
    with pytest.raises(DamosError, match="2 targets"):
        with_pid(two, 5)


def test_paddr_and_fvaddr_regions():
    writes = kplan("monitor { ops paddr }\ntarget region 8G..12G\ntarget region 4G..6G\n"
                   "scheme { action pageout }")
    t = {w.path.split("targets/", 1)[1]: w.value for w in writes if "/targets/" in w.path}
    assert t == {"nr_targets": "1", "0/regions/nr_regions": "2",
                 "0/regions/0/start": str(4 << 30), "0/regions/0/end": str(6 << 30),
                 "0/regions/1/start": str(8 << 30), "0/regions/1/end": str(12 << 30)}
    with pytest.raises(DamosError, match="paddr"):
        kplan("monitor { ops paddr }\nscheme { action pageout }")
    writes = kplan("monitor { ops fvaddr }\ntarget pid 9 region 0x1000..0x3000\n"
                   "scheme { action pageout }")
    t = [(w.path.split("targets/", 1)[1], w.value) for w in writes if "/targets/" in w.path]
    assert t == [("nr_targets", "1"), ("0/pid_target", "9"), ("0/regions/nr_regions", "1"),
                 ("0/regions/0/start", "4096"), ("0/regions/0/end", "12288")]
    with pytest.raises(DamosError, match="fvaddr"):
        kplan("monitor { ops fvaddr }\ntarget pid 9\nscheme { action pageout }")
    # vaddr regions are replaced by the kernel at the first update: not written
    writes = kplan("target pid 9 region 0x1000..0x3000\nscheme { action pageout }")
    assert not any("/regions/" in w.path for w in writes)


def test_kernel_option_names_the_feature_and_version():
    prog = parse(example("reclaim.damos"))
    with pytest.raises(DamosError) as e:
        run_target(target, prog, Options(kernel=(6, 8), pid=1))
    assert "some_mem_psi_us" in e.value.message and "6.9" in e.value.message
    with pytest.raises(DamosError, match="6.9"):
        tplan(prog, Options(kernel=(6, 8), pid=1))
    assert run_target(target, prog, Options(kernel=(6, 9), pid=1))


def test_plan_json_round_trip():
    writes = kplan(example("reclaim.damos"), pid=42)
    text = plan_to_json(writes)
    data = json.loads(text)
    assert data["root"] == "/sys/kernel/mm/damon/admin"
    assert data["writes"][0] == {"path": "kdamonds/nr_kdamonds", "value": "1",
                                 "what": "number of kdamonds"}
    assert plan_from_json(text) == writes


def test_registered_as_sysfs():
    assert registry()["sysfs"] is target


# -- running the script against a fake admin root ----------------------------

IN_CLOSE_WRITE = 0x00000008
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


class WriteRecorder:
    """The files closed after writing under ``root``, in order (inotify)."""

    def __init__(self, root: str):
        self.fd = _libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if self.fd < 0:
            pytest.skip(f"inotify unavailable: {os.strerror(ctypes.get_errno())}")
        self.wd = {}
        for d, _dirs, _files in os.walk(root):
            wd = _libc.inotify_add_watch(self.fd, d.encode(), IN_CLOSE_WRITE)
            assert wd >= 0, os.strerror(ctypes.get_errno())
            self.wd[wd] = os.path.relpath(d, root)

    def paths(self) -> list[str]:
        out = []
        while True:
            try:
                buf = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                break
            i = 0
            while i < len(buf):
                wd, mask, _cookie, n = struct.unpack_from("iIII", buf, i)
                name = buf[i + 16:i + 16 + n].rstrip(b"\0").decode()
                i += 16 + n
                assert mask & IN_CLOSE_WRITE, hex(mask)  # never an overflow
                d = self.wd[wd]
                out.append(name if d == "." else f"{d}/{name}")
        os.close(self.fd)
        return out


def fake_root(tmp_path, writes, pid_file="4242"):
    """A stand-in for /sys/kernel/mm/damon/admin holding every file the plan
    writes (empty, as the test cannot emulate nr_* creating directories),
    plus the read-only files the script reads."""
    root = tmp_path / "admin"
    for w in writes:
        p = root / w.path
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("")
    (root / "kdamonds/0/contexts/0/avail_operations").write_text("vaddr\nfvaddr\npaddr\n")
    (root / "kdamonds/0/pid").write_text(pid_file + "\n")
    (tmp_path / "module").mkdir(exist_ok=True)
    (tmp_path / "cwd").mkdir(exist_ok=True)
    return root


def snapshot(root):
    out = {}
    for d, _dirs, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            with open(p, newline="") as fh:
                out[os.path.relpath(p, root)] = fh.read()
    return out


def run_script(tmp_path, script: str, shell, *args, root=None):
    path = tmp_path / "setup.sh"
    path.write_text(script)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "DAMOS_SYSFS_ROOT": str(root if root is not None else tmp_path / "admin"),
           "DAMOS_SYS_MODULE_ROOT": str(tmp_path / "module")}
    assert not env["DAMOS_SYSFS_ROOT"].startswith("/sys")
    return subprocess.run([*shell, str(path), *map(str, args)], env=env, cwd=tmp_path / "cwd",
                          capture_output=True, text=True, timeout=30)


def compile_text(text, source="test.damos", **opts):
    return run_target(target, parse(text), Options(**opts), source=source)


def expected_writes(text, pid, **opts):
    """The plan with the pid the script is run with."""
    writes = tplan(parse(text), Options(**opts), pid_from_caller=True)
    return [dataclasses.replace(w, value=str(pid)) if w.value == PID_FROM_CALLER else w
            for w in writes]


def check_applied(tmp_path, writes, before, result, recorder):
    assert result.returncode == 0, result.stderr
    assert recorder.paths() == [w.path for w in writes]
    after = snapshot(tmp_path / "admin")
    assert set(after) == set(before), "the script created or removed files"
    final = {w.path: w.value + "\n" for w in writes}
    for path, content in after.items():
        assert content == final.get(path, before[path]), path
    assert "kdamond 0 is on (pid 4242)" in result.stdout


@pytest.mark.parametrize("shell", SHELLS, ids=SHELL_IDS)
@pytest.mark.parametrize("name", ["prcl.damos", "reclaim.damos", "everything.damos",
                                  "vaddr-actions.damos"])
def test_script_writes_the_plan_in_order(tmp_path, shell, name):
    text = example(name)
    pid = os.getpid()
    writes = expected_writes(text, pid)
    root = fake_root(tmp_path, writes)
    before = snapshot(root)
    script = compile_text(text, source=name)
    rec = WriteRecorder(str(root))
    r = run_script(tmp_path, script, shell, *([] if "ops paddr" in text else [pid]))
    check_applied(tmp_path, writes, before, r, rec)
    assert os.listdir(tmp_path / "cwd") == []


@pytest.mark.parametrize("shell", SHELLS, ids=SHELL_IDS)
def test_pid_from_argument_overrides_file(tmp_path, shell):
    text = "target pid 999999999\n4K max 0 0 5s max pageout\n"
    script = compile_text(text)
    writes = expected_writes(text, 1)
    fake_root(tmp_path, writes)
    r = run_script(tmp_path, script, shell, 1)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "admin/kdamonds/0/contexts/0/targets/0/pid_target").read_text() == "1\n"


@pytest.mark.parametrize("shell", SHELLS, ids=SHELL_IDS)
def test_pid_from_file_or_compile_option(tmp_path, shell):
    pid = os.getpid()
    for text, opts in ((f"target pid {pid}\n4K max 0 0 5s max pageout\n", {}),
                       ("4K max 0 0 5s max pageout\n", {"pid": pid})):
        script = compile_text(text, **opts)
        writes = expected_writes(text, pid)
        root = fake_root(tmp_path, writes)
        before = snapshot(root)
        rec = WriteRecorder(str(root))
        check_applied(tmp_path, writes, before, run_script(tmp_path, script, shell), rec)
        shutil.rmtree(root)


@pytest.mark.parametrize("shell", SHELLS, ids=SHELL_IDS)
@pytest.mark.parametrize("args", [[], ["012"], ["12x"], ["-5"], ["1", "2"]])
def test_bad_or_missing_pid_is_a_usage_error(tmp_path, shell, args):
    text = "4K max 0 0 5s max pageout\n"
    writes = expected_writes(text, 1)
    root = fake_root(tmp_path, writes)
    before = snapshot(root)
    r = run_script(tmp_path, compile_text(text), shell, *args)
    assert r.returncode == 2
    assert "usage:" in r.stderr and "PID" in r.stderr
    assert snapshot(root) == before


@pytest.mark.parametrize("shell", SHELLS, ids=SHELL_IDS)
def test_pid_of_no_process_is_refused_before_writing(tmp_path, shell):
    text = "4K max 0 0 5s max pageout\n"
    root = fake_root(tmp_path, expected_writes(text, 1))
    before = snapshot(root)
    r = run_script(tmp_path, compile_text(text), shell, 999999999)
    assert r.returncode == 1 and "no process with pid 999999999" in r.stderr
    assert snapshot(root) == before


@pytest.mark.parametrize("shell", SHELLS, ids=SHELL_IDS)
def test_paddr_script_takes_no_argument(tmp_path, shell):
    text = "monitor { ops paddr }\ntarget region 4G..8G\nscheme { action pageout }"
    script = compile_text(text)
    assert '"$pid"' not in script
    fake_root(tmp_path, expected_writes(text, 0))
    r = run_script(tmp_path, script, shell, 5)
    assert r.returncode == 2 and "paddr" in r.stderr
    assert run_script(tmp_path, script, shell).returncode == 0


@pytest.mark.parametrize("shell", SHELLS, ids=SHELL_IDS)
def test_preflight_refuses_without_writing(tmp_path, shell):
    text = "4K max 0 0 5s max pageout\n"
    script = compile_text(text)
    root = fake_root(tmp_path, expected_writes(text, 1))
    # no admin root
    r = run_script(tmp_path, script, shell, 1, root=tmp_path / "nonexistent")
    assert r.returncode == 1 and "no DAMON sysfs interface" in r.stderr
    # a running kdamond
    (root / "kdamonds/0/state").write_text("on\n")
    before = snapshot(root)
    rec = WriteRecorder(str(root))
    r = run_script(tmp_path, script, shell, 1)
    assert r.returncode == 1 and "already running" in r.stderr
    assert rec.paths() == [] and snapshot(root) == before
    (root / "kdamonds/0/state").write_text("off\n")
    # DAMON_STAT running
    enabled = tmp_path / "module/damon_stat/parameters/enabled"
    enabled.parent.mkdir(parents=True)
    enabled.write_text("Y\n")
    before = snapshot(root)
    rec = WriteRecorder(str(root))
    r = run_script(tmp_path, script, shell, 1)
    assert r.returncode == 1
    assert "damon_stat" in r.stderr and f"echo N > {enabled}" in r.stderr
    assert rec.paths() == [] and snapshot(root) == before
    enabled.write_text("N\n")
    assert run_script(tmp_path, script, shell, 1).returncode == 0


@pytest.mark.parametrize("shell", SHELLS, ids=SHELL_IDS)
def test_missing_operations_set_stops_before_starting(tmp_path, shell):
    text = "4K max 0 0 5s max pageout\n"
    root = fake_root(tmp_path, expected_writes(text, 1))
    (root / "kdamonds/0/contexts/0/avail_operations").write_text("paddr\n")
    r = run_script(tmp_path, compile_text(text), shell, 1)
    assert r.returncode == 1 and "no 'vaddr' operations set" in r.stderr
    assert (root / "kdamonds/0/state").read_text() == ""


@pytest.mark.parametrize("shell", SHELLS, ids=SHELL_IDS)
def test_failed_write_before_on_stops_and_starts_nothing(tmp_path, shell):
    text = example("reclaim.damos")
    writes = expected_writes(text, 1)
    root = fake_root(tmp_path, writes)
    bad = f"{SCHEMES}/0/access_pattern/age/max"
    (root / bad).unlink()
    (root / bad).mkdir()          # writing a directory fails, even as root
    counts = [w.path for w in writes if w.path.rsplit("/", 1)[-1].startswith("nr_")]
    for c in counts:
        (root / c).write_text("0\n")   # what a fresh kernel tree holds
    before = snapshot(root)
    rec = WriteRecorder(str(root))
    r = run_script(tmp_path, compile_text(text), shell, 1)
    assert r.returncode == 1
    assert (f"damos: failed to write '4294967295' to {bad} "
            f"(scheme 0 access_pattern/age/max): Is a directory") in r.stderr
    k = [w.path for w in writes].index(bad)
    # stopped at the failure, then every count file written so far got its old
    # value back, newest first (on a kernel that removes what they created)
    done = [w.path for w in writes[:k]]
    assert rec.paths() == done + [p for p in reversed(done) if p in counts]
    assert all((root / c).read_text() == "0\n" for c in counts)
    assert (root / "kdamonds/0/state").read_text() == before["kdamonds/0/state"] == ""
    assert "off" not in r.stderr and "the tree is as it was" in r.stderr


@pytest.mark.parametrize("shell", SHELLS, ids=SHELL_IDS)
def test_missing_file_is_reported_not_created(tmp_path, shell):
    text = "target pid 1\nscheme { action stat; apply_interval 1s }"
    root = fake_root(tmp_path, expected_writes(text, 1))
    gone = f"{SCHEMES}/0/apply_interval_us"
    (root / gone).unlink()
    r = run_script(tmp_path, compile_text(text), shell)
    assert r.returncode == 1
    assert f"failed to write '1000000' to {gone} (scheme 0 apply_interval_us)" in r.stderr
    assert "no such file" in r.stderr
    assert not (root / gone).exists()


@pytest.mark.parametrize("shell", SHELLS, ids=SHELL_IDS)
def test_failure_after_on_turns_it_off(tmp_path, shell):
    """The plan ends with 'on', so no plan write can fail after it; the
    script's write function is still tested with one appended write."""
    text = "target pid 1\n4K max 0 0 5s max pageout\n"
    writes = tplan(parse(text), Options())
    ok = Write("kdamonds/0/refresh_ms", "1000", "refresh_ms")
    extra = Write(f"{SCHEMES}/0/stats/max_nr_snapshots", "5", "scheme 0 max_nr_snapshots")
    root = fake_root(tmp_path, writes + [ok])
    (root / extra.path).mkdir(parents=True)
    # (a write between 'on' and 'off', as inotify merges identical consecutive events)
    script = target.script_from_plan(writes + [ok, extra], ["test"], "1", "vaddr")
    rec = WriteRecorder(str(root))
    r = run_script(tmp_path, script, shell)
    assert r.returncode == 1
    assert f"failed to write '5' to {extra.path} (scheme 0 max_nr_snapshots)" in r.stderr
    assert "turned kdamond 0 off" in r.stderr
    counts = [w.path for w in writes if w.path.rsplit("/", 1)[-1].startswith("nr_")]
    assert rec.paths() == [w.path for w in writes] + [ok.path, STATE] + counts[::-1]
    assert (root / STATE).read_text() == "off\n"


@pytest.mark.parametrize("shell", SHELLS, ids=SHELL_IDS)
def test_a_failed_write_names_the_kernels_error(tmp_path, shell):
    """The shells' own printf does not say why a write failed (busybox prints
    nothing, dash 'I/O error'): the script's writes name the errno's text."""
    text = "target pid 1\n4K max 0 0 5s max pageout\n"
    writes = tplan(parse(text), Options())
    root = fake_root(tmp_path, writes)
    pid = "kdamonds/0/contexts/0/targets/0/pid_target"
    (root / pid).unlink()
    os.symlink("/dev/full", root / pid)   # open succeeds, the write fails (ENOSPC)
    r = run_script(tmp_path, compile_text(text), shell)
    assert r.returncode == 1
    assert f"failed to write '1' to {pid} (target 0 pid): No space left on device" \
        in r.stderr, r.stderr


@pytest.mark.parametrize("shell", SHELLS, ids=SHELL_IDS)
def test_state_not_on_after_on_is_an_error(tmp_path, shell):
    text = "target pid 1\n4K max 0 0 5s max pageout\n"
    root = fake_root(tmp_path, expected_writes(text, 1))
    (root / STATE).unlink()
    os.symlink("/dev/null", root / STATE)   # accepts 'on', reads back nothing
    r = run_script(tmp_path, compile_text(text), shell)
    assert r.returncode == 1 and "not running after on" in r.stderr


# -- quoting: no input can inject shell --------------------------------------

NASTY = ["/a b", "/x'y", "/$(touch PWNED)", "/`touch PWNED`", "/;rm -rf canary;",
         "/a\nb", "/'\"$HOME\\n%s", "-n", "/$((1+1)) ${x:-y} *"]


def memcg_program(path: str):
    prog = parse('target pid 1\nscheme { action pageout; filter allow memcg "/p" }')
    s = prog.schemes[0]
    f = dataclasses.replace(s.filters[0], memcg_path=path)
    return dataclasses.replace(prog, schemes=(dataclasses.replace(s, filters=(f,)),))


def check_literal_memcg(tmp_path, shell, path):
    prog = memcg_program(path)
    writes = tplan(prog, Options())
    root = fake_root(tmp_path, writes)
    cwd = tmp_path / "cwd"
    (cwd / "canary").write_text("x")
    r = run_script(tmp_path, run_target(target, prog, Options(), source="x"), shell)
    assert r.returncode == 0, r.stderr
    memcg = root / f"{SCHEMES}/0/filters/0/memcg_path"
    assert memcg.read_bytes() == (path + "\n").encode()
    assert sorted(os.listdir(cwd)) == ["canary"]
    assert not list(tmp_path.rglob("PWNED"))
    shutil.rmtree(root)


@pytest.mark.parametrize("shell", SHELLS, ids=SHELL_IDS)
@pytest.mark.parametrize("path", NASTY)
def test_memcg_path_is_written_literally(tmp_path, shell, path):
    check_literal_memcg(tmp_path, shell, path)


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"),
               min_size=1, max_size=20).filter(lambda s: not s.endswith("\n")))
def test_any_memcg_path_is_written_literally(tmp_path, path):
    check_literal_memcg(tmp_path, SHELLS[-1], path)


def test_paths_sysfs_cannot_hold_are_refused():
    with pytest.raises(DamosError, match="NUL"):
        run_target(target, memcg_program("/a\0b"), Options())
    # the kernel would drop a trailing newline, silently changing the path
    with pytest.raises(DamosError, match="newline"):
        run_target(target, memcg_program("/a\n"), Options())


def test_header_and_syntax(tmp_path):
    script = compile_text(example("reclaim.damos"), source="my\nfile.damos", pid=1)
    lines = script.splitlines()
    assert lines[0] == "#!/bin/sh"
    header = lines[1:lines.index("set -u")]
    assert header and all(line.startswith("#") for line in header)
    text = "\n".join(header)
    assert "Generated by damos-lang" in text and "my?file.damos" in text
    assert "sample 5000 us, aggr 100000 us" in text
    assert "Needs Linux >= 6.9 (goal metric some_mem_psi_us)" in text


@pytest.mark.parametrize("name", sorted(n for n in os.listdir(EXAMPLES) if n.endswith(".damos")))
def test_every_example_compiles_to_valid_sh(tmp_path, name):
    script = run_target(target, parse(example(name)), Options(pid=1), source=name)
    path = tmp_path / "s.sh"
    path.write_text(script)
    for shell in SHELLS:
        r = subprocess.run([*shell, "-n", str(path)], capture_output=True, text=True)
        assert r.returncode == 0, (shell, r.stderr)
    if shutil.which("checkbashisms"):
        r = subprocess.run(["checkbashisms", str(path)], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("shell", SHELLS, ids=SHELL_IDS)
def test_stop_damon_stat_option(tmp_path, shell):
    """Without the option the script names DAMON_STAT and the option; with it,
    DAMON_STAT is stopped first, and started again if the script fails."""
    text = "4K max 0 0 5s max pageout\n"
    script = compile_text(text)
    writes = expected_writes(text, 1)
    root = fake_root(tmp_path, writes)
    for w in writes:
        if w.path.rsplit("/", 1)[-1].startswith("nr_"):
            (root / w.path).write_text("0\n")
    enabled = tmp_path / "module/damon_stat/parameters/enabled"
    enabled.parent.mkdir(parents=True)
    enabled.write_text("Y\n")
    r = run_script(tmp_path, script, shell, 1)
    assert r.returncode == 1 and "--stop-damon-stat" in r.stderr and "damon_stat" in r.stderr
    assert enabled.read_text() == "Y\n"
    r = run_script(tmp_path, script, shell, "--stop-damon-stat", 1)
    assert r.returncode == 0, r.stderr
    assert enabled.read_text() == "N\n" and "stopped DAMON_STAT" in r.stderr
    assert f"start it again: echo Y > {enabled}" in r.stdout
    # a failure gives DAMON_STAT back
    enabled.write_text("Y\n")
    (root / STATE).write_text("")
    bad = f"{SCHEMES}/0/action"
    (root / bad).unlink()
    (root / bad).mkdir()
    r = run_script(tmp_path, script, shell, "--stop-damon-stat", 1)
    assert r.returncode == 1 and "started DAMON_STAT again" in r.stderr
    assert enabled.read_text() == "Y\n"
    assert "usage" in run_script(tmp_path, script, shell, "--stop", 1).stderr
