"""Proof: DAMON_RECLAIM's and DAMON_LRU_SORT's 7.x parameters, as `damos
apply --target reclaim|lru-sort --stop-damon-stat` writes them, in Debian's
stock 7.3 (jobs/stock73-modules.sh, one boot): each module starts with
exactly the parameters the target gives (autotune_monitoring_intervals for
both, active_mem_bp and filter_young_pages for lru_sort), and with
autotune_monitoring_intervals its kdamond retunes the sampling interval
(damon_monitor_intervals_tune) within the module's own bounds."""
import re

import pytest

from damos_lang.pipeline import unit_from_text
from damos_lang.targets import Options
from damos_lang.targets.lru_sort import params as lru_sort_params
from damos_lang.targets.reclaim import params as reclaim_params

pytestmark = pytest.mark.kernel

GOAL = """    intervals_goal {
        access 0.4%
        aggrs 3
        min_sample 5ms
        max_sample 10s
    }
"""
WMARKS = """    watermarks {
        metric free_mem_rate
        interval 1s
        high 100%
        mid 100%
        low 0%
    }
"""
RECLAIM = f"""# DAMON_RECLAIM with the module's interval auto-tuning (7.2)
monitor {{
    ops paddr
    sample 5ms
    aggr 100ms
{GOAL}}}
target region @REGION@
scheme {{
    action pageout
    size 4K..max
    access 0..0 samples
    age 5s..max
{WMARKS}}}
"""
LRU_SORT = f"""# DAMON_LRU_SORT with auto-tuning, active_mem_bp 50 % and young filters (7.0)
monitor {{
    ops paddr
    sample 5ms
    aggr 100ms
{GOAL}}}
target region @REGION@
scheme hot {{
    action lru_prio
    size 4K..max
    access 10..max samples
    filter reject not young
    quota {{
        time 5ms
        reset 1s
        goal active_mem_bp 50%
    }}
{WMARKS}}}
scheme cold {{
    action lru_deprio
    size 4K..max
    access 0..0 samples
    age 5s..max
    filter reject young
    quota {{
        time 5ms
        reset 1s
        goal inactive_mem_bp 5002bp
    }}
{WMARKS}}}
"""
FILES = {"reclaim": (RECLAIM, reclaim_params), "lru_sort": (LRU_SORT, lru_sort_params)}


@pytest.fixture(scope="module")
def run(kernel_rig, stock73_kernel, tmp_path_factory):
    out = tmp_path_factory.mktemp("stock73-modules-vm")
    r = kernel_rig.run_vm(stock73_kernel, kernel_rig.job("stock73-modules.sh"), timeout=180,
                          out=out, env={"SECS": "6",
                                        "HOSTRUN_ENV": f"PYTHONPATH={kernel_rig.PROJECT_ROOT}"},
                          files={"reclaim.damos.in": RECLAIM, "lru_sort.damos.in": LRU_SORT})
    assert r.rc == 0, r.describe()
    return r, kernel_rig.parse_kv(r.text("result.txt"))


@pytest.mark.parametrize("module", sorted(FILES))
def test_the_module_runs_with_exactly_our_parameters(run, module):
    r, kv = run
    ctx = f"{kv}\n{r.text(module + '.out')}\n{r.text(module + '.err')}"
    assert kv[f"{module}_rc"] == "0" and kv[f"{module}_enabled"] == "Y", ctx
    assert int(kv[f"{module}_kdamond_pid"]) > 0, ctx
    src, params = FILES[module]
    text = src.replace("@REGION@", kv["region"])
    want = dict(params(unit_from_text(text), Options(kernel=(7, 3))))
    got = dict(line.split("=", 1) for line in r.text(f"{module}-params.txt").splitlines())
    assert want["autotune_monitoring_intervals"] == "Y"
    if module == "lru_sort":
        assert (want["active_mem_bp"], want["filter_young_pages"]) == ("5000", "Y")
    for k, v in want.items():
        assert got[k] == v, (k, v, got[k])
    assert kv[f"{module}_enabled_after"] == "N", kv


@pytest.mark.parametrize("module", sorted(FILES))
def test_autotune_retunes_the_sampling_interval(run, module):
    r, kv = run
    # the module's own kdamond (DAMON_STAT, stopped by the apply, tunes too)
    pid = kv[f"{module}_kdamond_pid"]
    tuned = [int(x) for x in re.findall(rf"-{pid}\s.*damon_monitor_intervals_tune: sample_us=(\d+)",
                                        r.text(f"{module}-trace.txt"))]
    # every goal.aggrs (3) aggregations of 100 ms or more, within 5 ms..10 s
    assert len(tuned) >= 3, tuned
    assert all(5000 <= s <= 10_000_000 for s in tuned), tuned
