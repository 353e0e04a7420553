"""The rig's own logic, without a VM (these run in the fast tier): a guest
that dies before its job starts is retried once and counted; one that dies
after is a result; tools are found in the running interpreter's environment."""
from __future__ import annotations

import os
import stat
import sys
import time

import kernelrig

# stands in for rig/runvm.sh: "boots" by running the job on the host; the first
# $DIE boots die before the job starts, as the stock kernel's int3 oops did
FAKE_RUNVM = r'''#!/bin/sh
out=$3
n=$(cat "$COUNT" 2>/dev/null || echo 0); n=$((n + 1)); echo $n > "$COUNT"
if [ "$n" -le "${HANG:-0}" ]; then
  echo "SeaBIOS ... Booting from ROM.." > "$out/console.log"
  exec sleep 60                  # hung at boot: the job never starts
fi
if [ "$n" -le "$DIE" ]; then
  echo "Oops: int3 ... RIP: sched_clock_cpu" > "$out/console.log"
  echo "runvm: VM ended without a result (qemu status 0)" >&2
  exit 200
fi
cd "$out" && sh run.sh > run.sh.log 2>&1; rc=$?
echo "RIG-EXIT: rc=$rc" > "$out/console.log"
[ -n "$DIE_AFTER_START" ] && exit 200
exit $rc
'''


def fake_rig(tmp_path, monkeypatch, die, die_after_start=False):
    runvm = tmp_path / "runvm.sh"
    runvm.write_text(FAKE_RUNVM)
    monkeypatch.setattr(kernelrig, "RUNVM_SH", runvm)
    monkeypatch.setenv("DAMOS_RIG_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("COUNT", str(tmp_path / "boots"))
    monkeypatch.setenv("DIE", str(die))
    monkeypatch.setenv("DIE_AFTER_START", "1" if die_after_start else "")
    monkeypatch.setattr(kernelrig, "SESSION_RIG_FAULTS", [])
    kernel = kernelrig.Kernel("stock", tmp_path / "vmlinuz", tmp_path / "initrd", "fake-6.12")
    out = tmp_path / "out"
    return kernel, out, lambda: int((tmp_path / "boots").read_text())


def test_a_guest_dying_before_its_job_is_retried_once_and_counted(tmp_path, monkeypatch,
                                                                     capsys):
    kernel, out, boots = fake_rig(tmp_path, monkeypatch, die=1)
    r = kernelrig.run_vm(kernel, "echo job ran\nexit 7\n", timeout=30, out=out)
    assert boots() == 2
    assert r.rc == 7 and r.job_started and not r.rig_fault, r.describe()
    assert "job ran" in r.log
    assert len(r.rig_faults) == 1 and "before its job started" in r.rig_faults[0]
    assert "retried:" in r.describe()
    assert "Oops: int3" in (out / "console.attempt1.log").read_text()
    assert "retrying once" in capsys.readouterr().err
    assert kernelrig.rig_fault_count() == 1 and kernelrig.SESSION_RIG_FAULTS == list(r.rig_faults)
    log = kernelrig.rig_fault_log().read_text()
    assert "fake-6.12" in log and "sched_clock_cpu" in log
    # the count keeps running across runs
    kernelrig.run_vm(kernel, "exit 0\n", timeout=30, out=tmp_path / "out2")
    assert kernelrig.rig_fault_count() == 1          # boot 3 went fine
    monkeypatch.setenv("DIE", "4")
    r = kernelrig.run_vm(kernel, "exit 0\n", timeout=30, out=tmp_path / "out3")
    assert kernelrig.rig_fault_count() == 2


def test_only_one_retry(tmp_path, monkeypatch):
    kernel, out, boots = fake_rig(tmp_path, monkeypatch, die=5)
    r = kernelrig.run_vm(kernel, "exit 0\n", timeout=30, out=out)
    assert boots() == 2
    assert r.rc is None and r.status == 200 and r.rig_fault and not r.job_started
    assert len(r.rig_faults) == 1                     # the retry; the second death is the result
    assert "the job never started" in r.describe()


def test_a_guest_dying_after_its_job_started_is_a_result(tmp_path, monkeypatch):
    kernel, out, boots = fake_rig(tmp_path, monkeypatch, die=0, die_after_start=True)
    r = kernelrig.run_vm(kernel, "exit 0\n", timeout=30, out=out)
    assert boots() == 1
    assert r.status == 200 and r.job_started and not r.rig_fault and r.rig_faults == ()
    assert kernelrig.rig_fault_count() == 0


def test_a_guest_hung_at_boot_is_killed_early_and_retried(tmp_path, monkeypatch):
    """A boot that never reaches the job is not waited out to the job's
    timeout (it once cost 240 s): BOOT_SECS after qemu started it is killed
    and booted once more."""
    kernel, out, boots = fake_rig(tmp_path, monkeypatch, die=0)
    monkeypatch.setenv("HANG", "1")
    monkeypatch.setattr(kernelrig, "BOOT_SECS", 1.5)
    t0 = time.monotonic()
    r = kernelrig.run_vm(kernel, "sleep 3\necho job ran\nexit 3\n", timeout=30, out=out)
    took = time.monotonic() - t0
    assert boots() == 2
    # the second boot's job outlived BOOT_SECS: once started, only the timeout counts
    assert r.rc == 3 and r.job_started and "job ran" in r.log, r.describe()
    assert len(r.rig_faults) == 1 and "timed out before its job started" in r.rig_faults[0]
    assert "Booting from ROM" in (out / "console.attempt1.log").read_text()
    assert "its job had not started after" in kernelrig.rig_fault_log().read_text()
    assert took < 20, took


def _executable(path):
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def test_tools_come_from_the_interpreter_s_environment_then_path(tmp_path, monkeypatch):
    env_bin, other = tmp_path / "venv" / "bin", tmp_path / "elsewhere"
    env_bin.mkdir(parents=True)
    other.mkdir()
    for d in (env_bin, other):
        _executable(d / "sometool")
    _executable(other / "pathonly")
    monkeypatch.setattr(sys, "executable", str(env_bin / "python"))
    monkeypatch.setenv("PATH", f"{other}{os.pathsep}{os.environ.get('PATH', '')}")
    assert str(env_bin) in kernelrig.tool_dirs()
    assert kernelrig.find_tool("sometool") == str(env_bin / "sometool")
    assert kernelrig.find_tool("pathonly") == str(other / "pathonly")
    assert kernelrig.find_tool("pathonly", path_fallback=False) is None
    assert kernelrig.find_tool("no-such-tool-here") is None
    # damos: this environment's console script, never another one on PATH
    _executable(other / "damos")
    assert kernelrig.damos_command()[0] != str(other / "damos")


def test_this_environment_has_the_tools_the_suite_runs():
    # pip install '.[test]' (or ./dev) puts both into the interpreter's environment
    assert kernelrig.find_tool("damo"), kernelrig.tool_dirs()
    assert kernelrig.damos_command()[0] != "damos"


FAKE_MAKE = r'''#!/bin/sh
# a kernel make that builds 6 objects in 3 s (or fails with FAIL=1)
case "$*" in *kernelrelease*) echo 6.12-fake; exit 0 ;; esac
[ -n "$FAIL" ] && { sleep 1.5; exit 2; }
i=0; while [ $i -lt 6 ]; do i=$((i + 1)); touch "$2/obj$i.o"; sleep 0.5; done
mkdir -p "$2/arch/x86/boot" && echo fake > "$2/arch/x86/boot/bzImage"
'''


def _fake_build(tmp_path, fail=False, patched=True):
    import shutil
    import subprocess
    if kernelrig.missing_prerequisites():
        import pytest
        pytest.skip("the rig's prerequisites are missing: " + ", ".join(kernelrig.missing_prerequisites()))
    srcver = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "linux-source-6.12"],
                            capture_output=True, text=True).stdout
    cache, fakebin = tmp_path / "cache", tmp_path / "bin"
    ksrc = cache / "linux-source-6.12"
    ksrc.mkdir(parents=True)
    fakebin.mkdir()
    (ksrc / ".rig-srcver").write_text(srcver + "\n")
    cfg = subprocess.run(f"sha256sum < {kernelrig.RIG_DIR / 'rig.config'} | cut -c1-16", shell=True,
                         capture_output=True, text=True).stdout
    (ksrc / ".rig-config-sha").write_text(cfg)
    if patched:   # as if rig/patches were applied already: there is no source to patch
        psha = subprocess.run(f"cat {kernelrig.RIG_DIR / 'patches'}/*.patch | sha256sum | cut -c1-16",
                              shell=True, capture_output=True, text=True).stdout
        (ksrc / ".rig-patches-sha").write_text(psha)
    (ksrc / ".config").write_text("")
    (fakebin / "make").write_text(FAKE_MAKE)
    (fakebin / "make").chmod(0o755)
    env = dict(os.environ, PATH=f"{fakebin}{os.pathsep}{os.environ['PATH']}",
               DAMOS_RIG_CACHE=str(cache), RIG_PROGRESS_SECS="1", FAIL="1" if fail else "")
    env.pop("RIG_SETUP_LOCKED", None)
    assert shutil.which("make", path=env["PATH"]) == str(fakebin / "make")
    return subprocess.run(["/bin/sh", str(kernelrig.SETUP_SH), "custom"], env=env,
                          capture_output=True, text=True, timeout=120), cache


def test_the_kernel_build_shows_its_progress(tmp_path):
    r, cache = _fake_build(tmp_path)
    assert r.returncode == 0, r.stderr
    assert "takes 4 to 20 minutes" in r.stderr and "about 4 minutes" not in r.stderr
    progress = [line for line in r.stderr.splitlines() if "elapsed," in line]
    assert len(progress) >= 2, r.stderr            # a line a second here, every 45 s for real
    assert "objects built" in progress[-1] and "of about 1200" in progress[0], r.stderr
    assert "build took" in r.stderr and "(6 objects built)" in r.stderr, r.stderr
    assert (cache / ".rig-custom-objects").read_text().strip() == "6"   # the next estimate
    assert "RIG_RESULT custom" in r.stdout


def test_a_failed_kernel_build_says_so_and_fails(tmp_path):
    r, _ = _fake_build(tmp_path, fail=True)
    assert r.returncode != 0 and "build failed (2)" in r.stderr, r.stderr


def test_a_patch_that_does_not_apply_stops_the_build(tmp_path):
    r, cache = _fake_build(tmp_path, patched=False)
    assert r.returncode == 5, r.stderr
    assert "applying patches/0001-" in r.stderr and "does not apply" in r.stderr, r.stderr
    assert "building bzImage" not in r.stderr
    assert not (cache / "linux-source-6.12" / ".rig-patches-sha").exists()
