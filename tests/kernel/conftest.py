"""Fixtures for the real-kernel test tier (marker `kernel`); see docs/kernel-rig.md.

Kernels: custom_kernel, stock_kernel (6.12), stock73_kernel, rig_kernel(kind);
systemd_root: a Debian tree booted with systemd as PID 1 on the stock 7.3 kernel;
tree_listing(kind) gives a kernel's DAMON sysfs tree listing (cached).

Prerequisites (qemu, busybox-static, kernel build tools, linux-source-6.12):
* with CI=true and running as root, missing packages are installed
  (tests/kernel/rig/install-prereqs.sh), and anything still missing is a failure;
* with CI=true otherwise, a missing prerequisite is a failure;
* elsewhere, the kernel tests are skipped with the list of what is missing.
Kernels are built or downloaded on demand (the custom kernel's first build
takes 4 to 20 minutes on 2 cores, depending on what else runs; it prints its
progress) and cached under ~/.cache/damos-lang
(env DAMOS_RIG_CACHE); .ci/kernel-rig-setup.sh does the same ahead of pytest.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import kernelrig  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "kernel: boots real Linux kernels under qemu (slow; select with -m kernel, "
        "deselect with -m 'not kernel')")


def _unavailable(reason: str):
    if kernelrig.in_ci():
        pytest.fail(f"kernel rig (CI=true): {reason}", pytrace=False)
    pytest.skip(f"kernel rig unavailable: {reason}")


def _ensure_prerequisites(missing_now) -> None:
    """What ``missing_now()`` lists is installed in CI as root; elsewhere, or if
    that fails, the rig is unavailable (skip; a failure in CI)."""
    missing = missing_now()
    if missing and kernelrig.in_ci() and os.geteuid() == 0:
        try:
            kernelrig.install_prerequisites()
        except kernelrig.RigError as e:
            _unavailable(str(e))
        missing = missing_now()
    if missing:
        _unavailable("missing " + ", ".join(missing)
                     + " (as root: sh tests/kernel/rig/install-prereqs.sh)")


@pytest.fixture(scope="session")
def kernel_rig():
    """The kernelrig module, once the host has everything the rig needs."""
    _ensure_prerequisites(kernelrig.missing_prerequisites)
    return kernelrig


def _kernel(rig, fn):
    try:
        return fn()
    except rig.RigError as e:
        # prerequisites are present, so this is a real problem: fail, don't skip
        pytest.fail(f"kernel rig setup failed: {e}", pytrace=False)


@pytest.fixture(scope="session")
def custom_kernel(kernel_rig):
    """Custom 6.12 kernel (page_idle, DAMON, tracepoints, zram, 9p built in)."""
    return _kernel(kernel_rig, kernel_rig.ensure_custom)


@pytest.fixture(scope="session")
def stock_kernel(kernel_rig):
    """Debian's stock 6.12 kernel with its 9p and zram modules in the initramfs."""
    return _kernel(kernel_rig, kernel_rig.ensure_stock)


@pytest.fixture(scope="session")
def stock73_kernel(kernel_rig):
    """Debian's stock 7.3 kernel (trixie-backports) with its 9p and zram modules;
    DAMON_STAT runs in it from boot."""
    return _kernel(kernel_rig, kernel_rig.ensure_stock73)


@pytest.fixture(scope="session")
def rig_kernel(kernel_rig):
    """rig_kernel(kind): the kernel of any kind of kernelrig.KINDS ("stock72", ...)."""
    return lambda kind: _kernel(kernel_rig, lambda: kernel_rig.ensure_kernel(kind))


@pytest.fixture(scope="session")
def systemd_root(kernel_rig, stock73_kernel):
    """A Debian trixie tree with systemd as PID 1 on the stock 7.3 kernel
    (kernelrig.SystemdRoot; rig/rootfs.sh builds it with mmdebstrap once,
    about a minute, then it is cached)."""
    _ensure_prerequisites(kernel_rig.missing_rootfs_prerequisites)
    return _kernel(kernel_rig, lambda: kernel_rig.ensure_systemd_root(stock73_kernel))


@pytest.fixture(scope="session")
def tree_listing(kernel_rig):
    """tree_listing(kind): the DAMON sysfs tree listing of that kernel
    (tree_listing.TreeListing), from the cache; boots the kernel only when the
    cache lacks it."""
    import tree_listing as listing
    return lambda kind: _kernel(kernel_rig, lambda: listing.tree_listing(kind))


def pytest_terminal_summary(terminalreporter):
    """Rig faults (guests that died before their job started) are retried, not
    failed: say how many this run had and how many the cache has seen, so a
    rising rate is visible."""
    faults = kernelrig.SESSION_RIG_FAULTS
    if not faults:
        return
    tr = terminalreporter
    tr.section("kernel rig faults (retried once each)")
    for f in faults:
        tr.write_line(f)
    tr.write_line(f"{len(faults)} in this run; {kernelrig.rig_fault_count()} recorded in "
                  f"{kernelrig.rig_fault_log()}")


@pytest.fixture
def vm_out(tmp_path):
    """A fresh run directory for one VM (shared writable with the guest)."""
    d = tmp_path / "vm"
    d.mkdir()
    return d
