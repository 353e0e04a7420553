"""Proof: `damos apply FILE --target reclaim` makes DAMON_RECLAIM act on a
workload (jobs/reclaim.sh).

The stock Debian 6.12 kernel cannot show this: its
damon_reclaim_apply_parameters() commits a parameter context without the
scheme, so the module runs none (test_kernel_live.py checks the parameters and
the start there).  The custom kernel carries the upstream fix
(rig/patches/0001-mm-damon-reclaim-use-parameter-context-correctly.patch), as
a distribution kernel with it would, and here the compiled parameters must
make the module try and reclaim regions and page out the workload's idle anonymous memory to zram.
"""
from __future__ import annotations

import pytest

from damos_lang.targets.reclaim import params as reclaim_params
from damos_lang.pipeline import unit_from_text
from reclaim_scheme import RECLAIM

pytestmark = pytest.mark.kernel


@pytest.fixture(scope="module")
def run(kernel_rig, custom_kernel, tmp_path_factory):
    r = kernel_rig.run_vm(custom_kernel, kernel_rig.job("reclaim.sh"), timeout=180,
                          cmdline=kernel_rig.ACCESS_CMDLINE, out=tmp_path_factory.mktemp("reclaim-vm"),
                          files={"reclaim.damos.in": RECLAIM}, mem_mib=512)
    assert r.rc == 0, r.describe()
    res = kernel_rig.parse_kv(r.text("result.txt"))
    return r, res, f"{res}\n{r.describe()}\n{r.text('reclaim.err')}"


def test_the_compiled_parameters_start_damon_reclaim(run):
    r, res, ctx = run
    assert res["apply_rc"] == "0", ctx
    assert res["kdamond_pid_before"] == "-1", ctx
    assert res["enabled"] == "Y" and int(res["kdamond_pid"]) > 0, ctx
    got = dict(line.split("=", 1) for line in r.text("reclaim-params.txt").splitlines())
    for k, v in reclaim_params(unit_from_text(r.text("reclaim.damos"))):
        if k != "enabled":
            assert got[k] == v, (k, got[k], v)
    assert res["enabled_after"] == "N", ctx


def test_damon_reclaim_stats_move_and_the_idle_part_is_paged_out(run):
    r, res, ctx = run
    tried1, tried2 = int(res["nr_reclaim_tried_regions_1"]), int(res["nr_reclaim_tried_regions_2"])
    assert 0 < tried1 < tried2, ctx
    assert int(res["bytes_reclaim_tried_regions_1"]) < int(res["bytes_reclaim_tried_regions_2"]), ctx
    assert int(res["bytes_reclaimed_regions"]) > 0 and int(res["nr_reclaimed_regions"]) > 0, ctx
    # the workload's idle anonymous pages went to zram; its hot 8 MiB stayed
    assert int(res["swap_after_kb"]) > 0, ctx
    assert int(res["rss_after_kb"]) >= 6 * 1024, ctx
