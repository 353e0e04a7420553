"""The c-module target end to end: compiled modules built into the custom 6.12
kernel (one incremental build, cached by the emitted files), booted, and
driven only through their own module parameters.

* examples/prcl.damos, unchanged (min age 5 s), with ``min_age_us`` set to
  1 s at run time: ``sz_applied`` grows, the workload's idle 56 MiB go to
  zram and its hot 8 MiB stay resident;
* a paddr scheme over the whole RAM of a 256 MiB VM with a size quota
  (32 MiB per second) and a filter (only anonymous pages): it pages out,
  hits its quota (``qt_exceeds``), and applies no more than the quota allows.
"""
from __future__ import annotations

from pathlib import Path

import pytest

import cmodule_rig
from damos_lang import catalog, pipeline
from damos_lang.targets import Options, c_module

pytestmark = pytest.mark.kernel

ROOT = Path(__file__).resolve().parents[2]
MIB = 1 << 20
QUOTA_SOURCE = """\
# idle anonymous memory, system-wide, paged out at most 32 MiB per second
monitor { ops paddr }
target region 1M..256M
scheme anon_pageout {
    action pageout
    access 0%..0%
    age 1s..max
    quota { size 32M; reset 1s }
    filter reject not anon
}
"""


def _emit(text: str, name: str) -> dict[str, str]:
    unit = pipeline.unit_from_text(text, name, interface=catalog.C_API, kernel=(6, 12))
    return c_module.compile(unit, Options(kernel=(6, 12)))


@pytest.fixture(scope="module")
def modules():
    return {"prcl": _emit((ROOT / "examples" / "prcl.damos").read_text(), "prcl.damos"),
            "quota": _emit(QUOTA_SOURCE, "anon_quota.damos")}


@pytest.fixture(scope="module")
def c_module_kernel(custom_kernel, kernel_rig, modules):
    try:
        kernel, seconds = cmodule_rig.build_kernel(list(modules.values()))
    except kernel_rig.RigError as e:
        pytest.fail(f"building the c-module kernel failed: {e}", pytrace=False)
    print(f"c-module kernel {kernel} ({'cached' if not seconds else f'built in {seconds:.0f}s'})")
    return kernel


def _run(kernel_rig, kernel, vm_out, env, mem_mib=1024):
    r = kernel_rig.run_vm(kernel, kernel_rig.job("c-module.sh"), timeout=180,
                          cmdline=kernel_rig.ACCESS_CMDLINE, env=env, out=vm_out,
                          mem_mib=mem_mib)
    assert r.rc == 0, r.describe()
    res = kernel_rig.parse_kv(r.text("result.txt"))
    return res, f"{res}\n{r.describe()}"


def test_prcl_module_reclaims_the_idle_part(kernel_rig, c_module_kernel, vm_out):
    res, ctx = _run(kernel_rig, c_module_kernel, vm_out,
                    {"MOD": "damos_prcl", "TAKES_PID": "1", "MIN_AGE_US": "1000000",
                     "BUSY_FIRST": "1"})
    # while an exclusive DAMON user runs (DAMON_RECLAIM here, DAMON_STAT on Debian
    # 7.x) the start fails with EBUSY, the log says why, and enabled stays N
    assert res["busy_holder_rc"] == "0" and int(res["busy_holder_kdamond"]) > 0, ctx
    assert res["busy_enable_rc"] != "0" and "busy" in res["busy_enable_err"].lower(), ctx
    assert res["busy_enabled"] == "N" and int(res["busy_log"]) >= 1, ctx
    assert res["busy_holder_off_rc"] == "0", ctx
    for p in ("enabled", "target_pid", "min_age_us", "nr_tried", "sz_tried", "nr_applied",
              "sz_applied", "qt_exceeds"):
        assert p in res["params"].split(), ctx
    assert res["enabled_before"] == "N", ctx
    assert res["min_age_us_file"] == "5000000", ctx          # 5 s from prcl.damos
    assert res["enable_rc"] == "0" and res["enabled_after"] == "Y", ctx
    # the module's own statistics show the scheme working, and growing
    assert int(res["nr_tried"]) > 0 and int(res["sz_tried"]) > 0, ctx
    assert int(res["sz_applied"]) > 0 and int(res["nr_applied"]) > 0, ctx
    assert int(res["sz_applied"]) >= int(res["sz_applied_1"]), ctx
    # and the process shows it: the idle 56 MiB went to zram, the hot 8 MiB stayed
    before, after = int(res["rss_before_kb"]), int(res["rss_after_kb"])
    assert before >= 60 * 1024, ctx
    assert before - after >= 40 * 1024, f"VmRSS dropped only {before - after} kB\n{ctx}"
    assert after >= 6 * 1024, f"hot part paged out too (VmRSS {after} kB)\n{ctx}"
    assert int(res["swap_after_kb"]) >= 40 * 1024, ctx
    assert res["disable_rc"] == "0" and res["enabled_off"] == "N", ctx
    assert res["frozen_after_off"] == "yes", ctx


def test_quota_and_filter_module_runs_within_its_quota(kernel_rig, c_module_kernel, vm_out):
    res, ctx = _run(kernel_rig, c_module_kernel, vm_out,
                    {"MOD": "damos_anon_quota", "UNTIL_APPLIED": "30"}, 256)
    assert "target_pid" not in res["params"].split(), ctx    # paddr: no process
    assert res["quota_sz"] == str(32 * MIB), ctx
    assert res["enable_rc"] == "0" and res["enabled_after"] == "Y", ctx
    applied = int(res["sz_applied"])
    assert applied > 0 and int(res["nr_applied"]) > 0, ctx
    assert int(res["qt_exceeds"]) > 0, ctx                     # the quota bound it
    # the quota charges the bytes tried: 32 MiB per 1 s reset interval.  6.12's
    # first charge window has no limit (damos_adjust_quota sets esz only when a
    # window ends), so it may try the whole 255 MiB target once; every window
    # after it, i.e. all that was tried after the first snapshot, is bounded.
    assert applied <= int(res["sz_tried"]), ctx
    later = int(res["sz_tried"]) - int(res["sz_tried_1"])
    assert later <= 32 * MIB * (float(res["seconds"]) - float(res["seconds_1"]) + 2), ctx
    assert int(res["sz_tried"]) <= 255 * MIB + 32 * MIB * (float(res["seconds"]) + 1), ctx
    assert int(res["swap_after_kb"]) > 0, ctx                   # the workload's anon pages
    assert res["disable_rc"] == "0" and res["enabled_off"] == "N", ctx
