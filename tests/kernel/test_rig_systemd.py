"""The systemd boot's rig logic, without a VM or the network (fast tier):
rootfs.sh asks mmdebstrap for the tree from the rig's own mirror and never
again once it is cached; the systemd initramfs is the stock one with
init-systemd appended, written once per input; run_vm_systemd boots with
init-systemd, the tree, the checkout and rig.target, and keeps run_vm's
rig-fault retry."""
from __future__ import annotations

import gzip
import os
import shutil
import subprocess

import pytest

import kernelrig
from test_rig_logic import fake_rig

# stands in for mmdebstrap: logs its arguments and fails (no network here)
FAKE_MMDEBSTRAP = '#!/bin/sh\necho "$*" >> "$CALLS"\nexit 9\n'


def rootfs(tmp_path):
    fakebin = tmp_path / "bin"
    fakebin.mkdir(exist_ok=True)
    (fakebin / "mmdebstrap").write_text(FAKE_MMDEBSTRAP)
    (fakebin / "mmdebstrap").chmod(0o755)
    cache = tmp_path / "cache"
    (cache / "apt").mkdir(parents=True, exist_ok=True)
    (cache / "apt" / "sources.list").write_text(
        "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://mirror.invalid/debian"
        " trixie-backports main\n")
    calls = tmp_path / "calls"
    env = {**os.environ, "PATH": f"{fakebin}:{os.environ['PATH']}", "DAMOS_RIG_CACHE": str(cache),
           "CALLS": str(calls)}
    env.pop("DAMOS_RIG_DEBIAN_MIRROR", None)
    p = subprocess.run(["/bin/sh", str(kernelrig.ROOTFS_SH)], env=env, capture_output=True,
                       text=True, timeout=60)
    return p, (calls.read_text().splitlines() if calls.exists() else [])


def test_the_tree_comes_from_the_rigs_mirror_once(tmp_path):
    p, calls = rootfs(tmp_path)
    assert p.returncode == 9 and "mmdebstrap failed (9)" in p.stderr, p.stderr
    [call] = calls
    args = call.split()
    assert "--variant=minbase" in args and args[-3:] == ["http://mirror.invalid/debian", "trixie", "main"]
    include = next(a for a in args if a.startswith("--include=")).split("=", 1)[1].split(",")
    assert {"systemd", "systemd-sysv", "python3", "python3-lark", "python3-typer"} <= set(include)
    # what a finished build leaves: then no mmdebstrap runs, and the tree is named
    built = next(a for a in args if a.endswith(".tmp/root"))[:-len(".tmp/root")]
    os.makedirs(f"{built}/root")
    open(f"{built}/packages.txt", "w").close()
    p, calls = rootfs(tmp_path)
    assert p.returncode == 0 and len(calls) == 1, (p.stderr, calls)
    assert p.stdout.split() == ["RIG_ROOTFS", f"{built}/root", os.path.basename(built)]


def test_the_systemd_initrd_appends_init_systemd_once(tmp_path, monkeypatch):
    if shutil.which("cpio") is None:
        pytest.skip("no cpio (package cpio)")
    monkeypatch.setenv("DAMOS_RIG_CACHE", str(tmp_path / "cache"))
    base = tmp_path / "stock73.gz"
    base.write_bytes(gzip.compress(b"the stock initramfs"))
    first = kernelrig._systemd_initrd(base)
    data = first.read_bytes()
    assert data.startswith(base.read_bytes())
    appended = gzip.decompress(data[len(base.read_bytes()):])
    assert appended.startswith(b"070701") and b"init-systemd\0" in appended
    assert kernelrig.INIT_SYSTEMD.read_bytes() in appended
    mtime = first.stat().st_mtime_ns
    assert kernelrig._systemd_initrd(base) == first and first.stat().st_mtime_ns == mtime
    base.write_bytes(gzip.compress(b"another stock initramfs"))
    assert kernelrig._systemd_initrd(base) != first


def test_run_vm_systemd_boots_the_tree_with_rig_target_and_retries_a_rig_fault(tmp_path, monkeypatch):
    kernel, out, boots = fake_rig(tmp_path, monkeypatch, die=1)
    seen = []
    boot = kernelrig._boot
    monkeypatch.setattr(kernelrig, "_boot", lambda k, o, args, *a: seen.append(args) or boot(k, o, args, *a))
    root = kernelrig.SystemdRoot(kernel, tmp_path / "fleet" / "trixie-x" / "root", "trixie-x")
    r = kernelrig.run_vm_systemd(root, 'echo "$PROJ $KDIR $X"\nexit 3\n', setup="systemctl enable u",
                                 env={"X": "1"}, out=out, timeout=30)
    assert boots() == 2 and len(r.rig_faults) == 1 and r.rc == 3, r.describe()
    assert r.log.strip() == "/srv/damos-lang /srv/damos-lang/tests/kernel 1"
    assert (out / "setup.sh").read_text() == "systemctl enable u"
    args = seen[-1]
    assert {"rdinit=/init-systemd", f"rig.root={root.tree}", "systemd.unit=rig.target",
            f"rig.proj={os.path.realpath(kernelrig.PROJECT_ROOT)}", "pti=on"} <= set(args)
    # no setup this time: none is left from the last run
    kernelrig.run_vm_systemd(root, "exit 0\n", out=out, timeout=30)
    assert not (out / "setup.sh").exists()
