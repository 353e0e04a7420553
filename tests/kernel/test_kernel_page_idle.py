"""Proof 3: page_idle in the custom kernel, driven from a second process.

The workload maps 64 MiB and keeps writing its first 32 MiB.  idlecheck.py
(the host's Python, inside the VM) marks all its pages idle through
/sys/kernel/mm/page_idle/bitmap (PFNs from /proc/PID/pagemap), waits 1 s and
reads the bits back: the written half must have lost its idle bits, the
untouched half must still be idle.  Repeated three times (no flakiness).
"""
import json

import pytest

pytestmark = pytest.mark.kernel

REPEAT = 3


@pytest.mark.parametrize("attempt", range(1, REPEAT + 1), ids=lambda i: f"run{i}")
def test_touched_half_not_idle_untouched_half_idle(kernel_rig, custom_kernel, vm_out, attempt):
    r = kernel_rig.run_vm(custom_kernel, kernel_rig.job("idle.sh"), timeout=120,
                          cmdline=kernel_rig.ACCESS_CMDLINE, out=vm_out)
    assert r.rc == 0, r.describe()
    res = json.loads(r.text("idle.json"))
    n, nhot = res["npages"], res["nhot"]
    ncold = n - nhot
    assert n == 16384 and nhot == 8192, res
    assert res["present_before"] == n and res["nonzero_pfn_before"] == n, res   # pagemap shows PFNs
    # pages in the last, partial 64-page word of the bitmap cannot be read back
    assert res["unknown"] < 64, res
    assert res["hot_idle"] <= nhot // 20, f"touched half still idle: {res}\n{r.describe()}"
    assert res["cold_idle"] >= ncold * 19 // 20, f"untouched half not idle: {res}\n{r.describe()}"
