"""Proofs 1 and 2: sysfs scripts compiled from the language, run under busybox
sh in Debian's stock 6.12 kernel against the workload (64 MiB, first 8 MiB
written continuously).  Each is repeated three times (no flakiness).

The scripts are compiled on the host (`damos compile --target sysfs`) and
copied into the VM's run directory.
"""
import pytest

pytestmark = pytest.mark.kernel

REPEAT = 3
MIB = 1 << 20
HOT = 8 * MIB
MAXUL = 2**64 - 1
MAXU = 2**32 - 1

# the legacy prcl line (examples/prcl.damos) with `stat` instead of `pageout`
# and the age shortened to 2 s so that 5 s of monitoring reach it
STAT_SOURCE = "# proof 1: count idle regions (prcl's pattern, stat)\n4K max 0 0 2s max stat\n"
# prcl with the age shortened through the language: idle for 1 s or more -> pageout
PAGEOUT_SOURCE = "# proof 2: prcl with a 1 s age\n4K max 0 0 1s max pageout\n"


@pytest.fixture(scope="module")
def stat_script(kernel_rig):
    return kernel_rig.compile_damos(STAT_SOURCE, "sysfs")


@pytest.fixture(scope="module")
def pageout_script(kernel_rig):
    return kernel_rig.compile_damos(PAGEOUT_SOURCE, "sysfs")


@pytest.mark.parametrize("attempt", range(1, REPEAT + 1), ids=lambda i: f"run{i}")
def test_compiled_stat_scheme_runs_a_kdamond(kernel_rig, stock_kernel, stat_script, vm_out, attempt):
    r = kernel_rig.run_vm(stock_kernel, kernel_rig.job("sysfs-stat.sh"), timeout=120,
                          cmdline=kernel_rig.ACCESS_CMDLINE, files={"scheme.sh": stat_script}, out=vm_out)
    assert r.rc == 0, r.describe()
    res = kernel_rig.parse_kv(r.text("result.txt"))
    ctx = f"{res}\n{r.describe()}"
    assert res["script_rc"] == "0", ctx
    assert res["state_after_script"] == "on", ctx
    assert int(res["kdamond_pid"]) > 0, ctx
    # what the language compiled landed in the kernel's files
    assert res["action"] == "stat", ctx
    assert res["sz"] == f"4096 {MAXUL}", ctx
    assert res["nr_accesses"] == "0 0", ctx
    assert res["age"] == f"20 {MAXU}", ctx          # 2 s at 100 ms aggregation
    # and the kdamond applied it: idle regions were tried, stat applies nothing
    assert int(res["nr_tried"]) > 0 and int(res["sz_tried"]) > 0, ctx
    assert res["nr_applied"] == "0", ctx
    assert res["state_after_off"] == "off", ctx
    # only idle regions qualify: the tried regions cover the cold 56 MiB and
    # nothing of the hot 8 MiB but a few pages (region edges are adaptive)
    addr, length = int(res["addr"], 16), int(res["len"])
    regions = [tuple(int(x) for x in line.split()) for line in r.text("regions.txt").splitlines() if line.strip()]
    assert regions, ctx

    def overlap(lo, hi):
        return sum(max(0, min(e, hi) - max(s, lo)) for s, e, _, _ in regions)
    hot_tried, cold_tried = overlap(addr, addr + HOT), overlap(addr + HOT, addr + length)
    assert hot_tried <= MIB, f"hot part tried by a nr_accesses 0..0 scheme: {hot_tried} bytes\n{regions}\n{ctx}"
    assert cold_tried >= 48 * MIB, f"cold part tried only {cold_tried} bytes\n{regions}\n{ctx}"


@pytest.mark.parametrize("attempt", range(1, REPEAT + 1), ids=lambda i: f"run{i}")
def test_compiled_pageout_scheme_reclaims_idle_part(kernel_rig, stock_kernel, pageout_script, vm_out, attempt):
    r = kernel_rig.run_vm(stock_kernel, kernel_rig.job("sysfs-pageout.sh"), timeout=120,
                          cmdline=kernel_rig.ACCESS_CMDLINE, files={"scheme.sh": pageout_script}, out=vm_out)
    assert r.rc == 0, r.describe()
    res = kernel_rig.parse_kv(r.text("result.txt"))
    ctx = f"{res}\n{r.describe()}"
    assert res["script_rc"] == "0", ctx
    assert res["state_after_script"] == "on", ctx
    assert res["action"] == "pageout", ctx
    assert res["age"] == f"10 {MAXU}", ctx          # 1 s at 100 ms aggregation
    assert int(res["sz_applied"]) > 0, ctx
    assert int(res["sz_applied"]) >= int(res["sz_applied_1"]), ctx
    before, after = int(res["rss_before_kb"]), int(res["rss_after_kb"])
    assert before >= 60 * 1024, ctx                  # all 64 MiB resident at first
    assert before - after >= 40 * 1024, f"VmRSS dropped only {before - after} kB\n{ctx}"
    assert after >= 6 * 1024, f"hot part paged out too (VmRSS {after} kB)\n{ctx}"
    assert int(res["swap_after_kb"]) >= 40 * 1024, ctx
    assert res["state_after_off"] == "off", ctx
