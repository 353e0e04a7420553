"""Build c-module output into the rig's custom 6.12 kernel (kernel-test-rig.md §10).

``build_kernel(modules)`` installs every module's files into the cached
custom tree (``c_module.install``: samples/damon/ is created, 6.12 has
none), enables ``CONFIG_SAMPLES`` and each ``SAMPLE_DAMON_<NAME>``, runs an
incremental ``make bzImage`` (the tree keeps its build outputs, so this
recompiles the new files and relinks: well under a minute on 2 cores) and
caches the image under ``<cache>/c-module/<key>/bzImage``, where the key
hashes the custom kernel's key and every emitted file: a warm run builds
nothing.  The tree's ``.config`` is put back afterwards, so the rig's own
builds see the configuration they made.  The build holds the rig's setup
lock, like setup.sh.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import time

import kernelrig
from damos_lang.targets import c_module


def _run(cmd, cwd, what):
    p = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, stdin=subprocess.DEVNULL)
    if p.returncode != 0:
        raise kernelrig.RigError(f"{what} failed ({p.returncode}):\n{p.stdout[-6000:]}")
    return p.stdout


def build_kernel(modules: list[dict[str, str]]) -> tuple[kernelrig.Kernel, float]:
    """The custom kernel with ``modules`` (c_module.compile outputs) built in,
    and the seconds spent building (0 when cached)."""
    base = kernelrig.ensure_custom()
    cache = kernelrig.cache_root()
    h = hashlib.sha256(base.name.encode())
    for files in modules:
        for rel in sorted(files):
            h.update(rel.encode() + b"\0" + files[rel].encode() + b"\0")
    key = h.hexdigest()[:16]
    out = cache / "c-module" / key
    image = out / "bzImage"
    if image.is_file():
        return kernelrig.Kernel("custom", image, base.initrd, f"{base.name}+c-module-{key}"), 0.0
    tree = cache / "linux-source-6.12"
    configs = [f"SAMPLE_DAMON_{_name(files).upper()}" for files in modules]
    t0 = time.monotonic()
    with open(cache / ".setup.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        saved = (tree / ".config").read_bytes()
        try:
            for files in modules:
                c_module.install(files, str(tree))
            args = ["scripts/config", "--enable", "SAMPLES"]
            for c in configs:
                args += ["--enable", c]
            _run(args, tree, "scripts/config")
            _run(["make", "-s", "olddefconfig"], tree, "make olddefconfig")
            cfg = (tree / ".config").read_text()
            for c in ["SAMPLES", *configs]:
                if f"CONFIG_{c}=y\n" not in cfg:
                    raise kernelrig.RigError(f"CONFIG_{c} did not stick (Kconfig dependencies?)")
            _run(["make", "-s", f"-j{os.cpu_count() or 2}", "bzImage"], tree, "make bzImage")
            tmp = out.with_name(out.name + ".tmp")
            tmp.mkdir(parents=True, exist_ok=True)
            shutil.copy(tree / "arch" / "x86" / "boot" / "bzImage", tmp / "bzImage")
            shutil.copy(tree / ".config", tmp / "config")
            if out.exists():
                shutil.rmtree(out)
            tmp.rename(out)
        finally:
            (tree / ".config").write_bytes(saved)
    return (kernelrig.Kernel("custom", image, base.initrd, f"{base.name}+c-module-{key}"),
            time.monotonic() - t0)


def _name(files: dict[str, str]) -> str:
    [c] = [p for p in files if p.endswith(".c")]
    return os.path.basename(c)[:-2]


def module_names(modules) -> list[str]:
    return [_name(files) for files in modules]

