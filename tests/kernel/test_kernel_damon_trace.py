"""Proof 4: the damon:damon_aggregated tracepoint in the custom kernel.

A sysfs kdamond (vaddr, 5 ms sampling, 100 ms aggregation: nr_accesses 0..20)
monitors the workload (64 MiB, first 8 MiB written continuously) for 4 s with
the tracepoint enabled.  The regions it reports must show the hot part with a
high nr_accesses and the cold part at about 0.  Repeated three times.
"""
import pytest

import trace_summary

pytestmark = pytest.mark.kernel

REPEAT = 3
HOT = 8 << 20


@pytest.mark.parametrize("attempt", range(1, REPEAT + 1), ids=lambda i: f"run{i}")
def test_damon_aggregated_hot_and_cold(kernel_rig, custom_kernel, vm_out, attempt):
    r = kernel_rig.run_vm(custom_kernel, kernel_rig.job("trace.sh"), timeout=120,
                          cmdline=kernel_rig.ACCESS_CMDLINE, out=vm_out)
    assert r.rc == 0, r.describe()
    pid, addr, length = r.text("wl.out").split()
    s = trace_summary.summarise(r.text("trace.txt"), int(addr, 16), int(length), HOT)
    brief = {k: v for k, v in s.items() if not k.endswith("per_aggregation")}
    brief["last_hot"] = s["hot_per_aggregation"][-5:]
    brief["last_cold"] = s["cold_per_aggregation"][-5:]
    assert s["aggregations"] >= 10, f"{brief}\n{r.describe()}"
    assert max(s["regions_per_aggregation"]) >= 3, brief
    assert s["hot_mean"] is not None and s["hot_mean"] >= 15, f"hot part not seen as hot: {brief}"
    assert s["cold_mean"] is not None and s["cold_mean"] <= 1, f"cold part not seen as cold: {brief}"
