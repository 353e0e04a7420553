"""The debugfs target on a real kernel (the custom 6.12, built with
CONFIG_DAMON_DBGFS_DEPRECATED): our 18-field lines install exactly their
numbers; 7-field lines are accepted and install nothing, which is why 18
fields are the default; a compiled stat scheme runs against a workload."""
from pathlib import Path

import pytest

pytestmark = pytest.mark.kernel

STAT = "4K max 0 0 1s max stat\n"   # prcl's pattern, shortened age, counting only


def test_debugfs_lines_on_a_real_kernel(kernel_rig, custom_kernel, vm_out):
    ethp = (Path(__file__).resolve().parents[2] / "examples" / "ethp.damos").read_text()
    ethp18 = kernel_rig.compile_damos(ethp, "debugfs")
    ethp7 = kernel_rig.compile_damos(ethp, "debugfs", "--debugfs-fields", "7")
    stat18 = kernel_rig.compile_damos(STAT, "debugfs")
    r = kernel_rig.run_vm(custom_kernel, kernel_rig.job("debugfs.sh"), timeout=120,
                          cmdline=kernel_rig.ACCESS_CMDLINE,
                          files={"ethp18.txt": ethp18, "ethp7.txt": ethp7, "stat18.txt": stat18},
                          out=vm_out)
    assert r.rc == 0, r.describe()
    res = kernel_rig.parse_kv(r.text("result.txt"))
    ctx = f"{res}\n{r.describe()}"
    assert all(res[k] == "0" for k in ("w18_rc", "w7_rc", "attrs_rc", "target_rc", "wstat_rc",
                                        "on_rc", "off_rc")), ctx

    # 18 inputs then 5 stats per scheme: the inputs read back exactly as written
    ours = [line.split("\t") for line in ethp18.splitlines()]
    back = [line.split() for line in r.text("ethp18.readback").splitlines()]
    assert len(back) == 2 and [b[:18] for b in back] == ours, ctx
    assert all(len(b) == 23 for b in back), ctx

    # the 7-field write "succeeds" and leaves no scheme at all
    assert r.text("ethp7.readback").strip() == "", ctx

    # the compiled stat scheme was applied by the kdamond: nr_tried, sz_tried > 0
    (stat,) = [line.split() for line in r.text("stat.readback").splitlines()]
    assert stat[:18] == stat18.split(), ctx
    nr_tried, sz_tried, nr_applied = int(stat[18]), int(stat[19]), int(stat[20])
    assert nr_tried > 0 and sz_tried > 0 and nr_applied == 0, ctx
