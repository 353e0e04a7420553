"""The rig's options, without a VM or the network (fast tier): runvm.sh's
NUMA nodes, and setup.sh's stock 7.x kernels resolved from the cache when
warm (no apt call at all)."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

import kernelrig

FAKE_QEMU = '#!/bin/sh\nfor a in "$@"; do echo "$a"; done > "$QEMU_ARGS"\n'


def qemu_args(tmp_path, **env):
    """The qemu command line runvm.sh builds with `env` (qemu itself is a fake)."""
    fakebin = tmp_path / "bin"
    fakebin.mkdir(exist_ok=True)
    (fakebin / "qemu-system-x86_64").write_text(FAKE_QEMU)
    (fakebin / "qemu-system-x86_64").chmod(0o755)
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    args = tmp_path / "qemu-args"
    args.unlink(missing_ok=True)
    p = subprocess.run(["/bin/sh", str(kernelrig.RUNVM_SH), "vmlinuz", "initrd", str(out), "pti=on"],
                       env={**os.environ, "PATH": f"{fakebin}:{os.environ['PATH']}", "QEMU_ARGS": str(args),
                            **env}, capture_output=True, text=True, timeout=60)
    return p, (args.read_text().split("\n")[:-1] if args.exists() else None)


def test_no_numa_nodes_by_default(tmp_path):
    p, args = qemu_args(tmp_path)
    assert p.returncode == 200          # the fake qemu reports no job status
    assert args[args.index("-m") + 1] == "1024" and args[args.index("-smp") + 1] == "2"
    assert "-numa" not in args and not any(a.startswith("memory-backend") for a in args)


def test_two_numa_nodes_split_memory_and_cpus(tmp_path):
    _, args = qemu_args(tmp_path, VM_NUMA="2")
    numa = [args[i + 1] for i, a in enumerate(args) if a == "-numa"]
    backends = [args[i + 1] for i, a in enumerate(args) if a == "-object"]
    assert numa == ["node,nodeid=0,memdev=ram0,cpus=0-0", "node,nodeid=1,memdev=ram1,cpus=1-1"]
    assert backends == ["memory-backend-ram,id=ram0,size=512M", "memory-backend-ram,id=ram1,size=512M"]
    assert args[args.index("-m") + 1] == "1024"


def test_numa_nodes_that_do_not_divide_are_refused(tmp_path, monkeypatch):
    p, args = qemu_args(tmp_path, VM_NUMA="3")
    assert p.returncode == 200 and args is None          # qemu never started
    assert "VM_NUMA=3 must divide" in p.stderr
    kernel = kernelrig.Kernel("stock73", tmp_path / "k", tmp_path / "i", "fake")
    with pytest.raises(kernelrig.RigError, match="numa_nodes=3 must divide"):
        kernelrig.run_vm(kernel, "exit 0\n", out=tmp_path / "out", numa_nodes=3)


FAKE_APT = '#!/bin/sh\necho "$(basename "$0") $*" >> "$APT_CALLS"\nexit 1\n'
ABI, VER = "linux-binary-7.3.4+deb13-amd64", "7.3.4-1~bpo13+1"


def warm_stock73(tmp_path, lists_newer=False, lists=True):
    """setup.sh stock73 over a cache that holds a resolved kernel, with apt-get
    and apt-cache replaced by fakes that log their calls and fail (no network)."""
    if kernelrig.missing_prerequisites():
        pytest.skip("the rig's prerequisites are missing: " + ", ".join(kernelrig.missing_prerequisites()))
    cache, fakebin = tmp_path / "cache", tmp_path / "bin"
    kdir = cache / "stock" / f"{ABI}_{VER}"
    (kdir / "stage" / "lib" / "modules").mkdir(parents=True)
    (kdir / "vmlinuz").write_text("fake kernel")
    (kdir / "stage" / "lib" / "modules" / "load.order").write_text("zram.ko\n")
    (cache / "apt" / "lists").mkdir(parents=True)
    if lists:
        (cache / "apt" / "lists" / "x_dists_sid_main_binary-amd64_Packages.lz4").write_text("")
        os.utime(cache / "apt" / "lists" / "x_dists_sid_main_binary-amd64_Packages.lz4", (1, 1))
    (cache / "stock" / "stock73.current").write_text(f"{ABI} {VER}\n")
    if lists_newer:
        os.utime(cache / "stock" / "stock73.current", (0, 0))
    fakebin.mkdir()
    for tool in ("apt-get", "apt-cache"):
        (fakebin / tool).write_text(FAKE_APT)
        (fakebin / tool).chmod(0o755)
    calls = tmp_path / "apt-calls"
    env = {**os.environ, "PATH": f"{fakebin}:{os.environ['PATH']}", "DAMOS_RIG_CACHE": str(cache),
           "APT_CALLS": str(calls), "DAMOS_RIG_DEBIAN_MIRROR": "http://mirror.invalid/debian"}
    env.pop("RIG_SETUP_LOCKED", None)
    env.pop("DAMOS_RIG_APT_UPDATE", None)
    p = subprocess.run(["/bin/sh", str(kernelrig.SETUP_SH), "stock73"], env=env, capture_output=True,
                       text=True, timeout=120)
    return p, (calls.read_text().splitlines() if calls.exists() else []), kdir


def test_a_warm_stock73_setup_calls_no_apt(tmp_path):
    p, calls, kdir = warm_stock73(tmp_path)
    assert p.returncode == 0, p.stderr
    assert calls == []
    [line] = [line for line in p.stdout.splitlines() if line.startswith("RIG_RESULT")]
    kind, image, initrd, name = line.split()[1:]
    assert (kind, image, name) == ("stock73", str(kdir / "vmlinuz"), f"{ABI}_{VER}")
    assert Path(initrd).name.startswith("stock73-") and Path(initrd).is_file()


def test_newer_lists_that_resolve_nothing_fall_back_to_the_cached_kernel(tmp_path):
    p, calls, kdir = warm_stock73(tmp_path, lists_newer=True)
    assert p.returncode == 0, p.stderr
    assert calls and all(c.startswith("apt-cache ") for c in calls), calls     # no apt-get update
    assert f"using cached {ABI} {VER}" in p.stderr
    assert f"RIG_RESULT stock73 {kdir}/vmlinuz" in p.stdout


def test_without_lists_or_network_the_cached_kernel_is_used(tmp_path):
    p, calls, kdir = warm_stock73(tmp_path, lists=False)
    assert p.returncode == 0, p.stderr
    assert any(c.startswith("apt-get ") and " update" in c for c in calls), calls
    assert "apt-get update of the rig's source list failed" in p.stderr
    assert f"RIG_RESULT stock73 {kdir}/vmlinuz" in p.stdout
