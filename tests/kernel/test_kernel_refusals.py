"""What stock 7.3 refuses at 'on', written raw (jobs/stock73-refusals.sh, one boot).

Each case is a valid base context (vaddr on the workload, one stat scheme)
with a few raw sysfs writes on top; the kernel answers the 'on' write.  The
refused cases are the ones the language makes errors of (pipeline.validate):
tests/test_pipeline.py has a DAMOS file for each, under the same name, and
asserts the error and its line:col.  The accepted cases are the controls:
the base itself, settings next to a refused one that the kernel takes
(touching regions, an empty addr range, equal hugepage bounds), and the
settings the language refuses although the kernel takes them, because the
scheme would not do what it says (unordered watermarks, watermarks above
1000 permil, a quota reset interval of 0): those messages say "the kernel
accepts".
"""
from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.kernel

IG = "C/monitoring_attrs/intervals/intervals_goal/"
NR = "C/monitoring_attrs/nr_regions/"
MIB = 1 << 20


def _goal(min_us, max_us, access_bp=400, aggrs=3):
    return [(IG + "access_bp", access_bp), (IG + "aggrs", aggrs),
            (IG + "min_sample_us", min_us), (IG + "max_sample_us", max_us)]


def _filter(kind, ftype, **args):
    d = f"S/{kind}_filters/"
    return [(d + "nr_filters", 1), (d + "0/type", ftype)] + [(d + f"0/{k}", v)
                                                           for k, v in args.items()]


def _regions(ops, *ranges):
    r = "C/targets/0/regions/"
    out = [("C/operations", ops), (r + "nr_regions", len(ranges))]
    for i, (start, end) in enumerate(ranges):
        out += [(r + f"{i}/start", start), (r + f"{i}/end", end)]
    return out


def _wmarks(high, mid, low):
    w = "S/watermarks/"
    return [(w + "metric", "free_mem_rate"), (w + "interval_us", 1000000),
            (w + "high", high), (w + "mid", mid), (w + "low", low)]


# name -> (raw writes over the base, the 'on' write's result on stock 7.3.4)
REFUSED = {
    "nr_regions_min_below_3": ([(NR + "min", 2)], "EINVAL"),
    "nr_regions_min_above_max": ([(NR + "min", 100), (NR + "max", 50)], "EINVAL"),
    "sample_above_aggr": ([("C/monitoring_attrs/intervals/sample_us", 200000)], "EINVAL"),
    "intervals_goal_min_above_max": (_goal(10000, 2000), "EINVAL"),
    "intervals_goal_sample_outside": (_goal(10000, 1000000), "EINVAL"),
    # building a scheme fails: the whole 'on' is ENOMEM (sysfs.md §7 trap 7)
    "addr_filter_reversed": (_filter("core", "addr", addr_start=8192, addr_end=4096),
                             "ENOMEM"),
    "hugepage_size_reversed": (_filter("ops", "hugepage_size", min=2 * MIB, max=4096),
                               "ENOMEM"),
    "paddr_regions_overlap": (_regions("paddr", (MIB, 64 * MIB), (32 * MIB, 96 * MIB)),
                              "EINVAL"),
    "fvaddr_regions_overlap": (_regions("fvaddr", (256 * MIB, 512 * MIB),
                                        (384 * MIB, 640 * MIB)), "EINVAL"),
    # not in the reference: they do not overlap, but both cover the page at 1 MiB
    # once the kernel widens them to whole pages
    "paddr_regions_share_a_page": (_regions("paddr", (MIB, MIB + 2048),
                                            (MIB + 2048, 64 * MIB)), "EINVAL"),
    "goal_node_eligible_on_vaddr": ([("S/quotas/bytes", 1 << 30),
                                     ("S/quotas/reset_interval_ms", 1000),
                                     ("S/quotas/goals/nr_goals", 1),
                                     ("S/quotas/goals/0/target_metric", "node_eligible_mem_bp"),
                                     ("S/quotas/goals/0/target_value", 2000)], "EINVAL"),
}
ACCEPTED = {
    "base": [],
    "paddr_regions_touching": _regions("paddr", (MIB, 32 * MIB), (32 * MIB, 64 * MIB)),
    "addr_filter_empty": _filter("core", "addr", addr_start=4096, addr_end=4096),
    "hugepage_size_equal": _filter("ops", "hugepage_size", min=2 * MIB, max=2 * MIB),
    "watermarks_unordered": _wmarks(200, 400, 100),
    "watermarks_above_1000": _wmarks(1500, 1200, 1100),
    "quota_reset_0": [("S/quotas/bytes", 1 << 30), ("S/quotas/reset_interval_ms", 0)],
}
# asked of the kernel, not of the reference: what it answers is what the test expects
OBSERVED = {
    "update_0": ([("C/monitoring_attrs/intervals/update_us", 0)], "ok"),
    "intervals_goal_access_above_10000": (_goal(1000, 1000000, access_bp=20000), "ok"),
    # a region within one page, and regions a page apart: widened, they do not overlap
    "paddr_region_within_a_page": (_regions("paddr", (MIB + 100, MIB + 2048)), "ok"),
    "paddr_regions_a_page_apart": (_regions("paddr", (MIB, MIB + 2048),
                                            (MIB + 4096, 64 * MIB)), "ok"),
}


def _cases():
    cases = {"base": []}
    cases.update({k: w for k, (w, _) in REFUSED.items()})
    cases.update(ACCEPTED)
    cases.update({k: w for k, (w, _) in OBSERVED.items()})
    return {k: [[p, str(v)] for p, v in w] for k, w in cases.items()}


@pytest.fixture(scope="module")
def refusals(kernel_rig, stock73_kernel, tmp_path_factory):
    out = tmp_path_factory.mktemp("stock73-refusals")
    r = kernel_rig.run_vm(stock73_kernel, kernel_rig.job("stock73-refusals.sh"), timeout=180,
                          files={"cases.json": json.dumps(_cases(), indent=1)}, out=out)
    assert r.rc == 0, r.describe()
    res = kernel_rig.parse_kv(r.text("result.txt"))
    assert res.get("damon_stat_enabled") == "N", (res, r.describe())
    return r, res


def _answer(refusals, name):
    r, res = refusals
    ctx = f"{name}: {res}\n{r.text('writes.log')}"
    assert f"{name}.setup" not in res, ctx      # every write before 'on' was taken
    return res[name], res[f"{name}.state"], ctx


def test_every_refusal_has_its_damos_error():
    from test_pipeline import REFUSED_AT_ON
    assert set(REFUSED) == set(REFUSED_AT_ON)


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_the_kernel_refuses_it_at_on(refusals, name):
    got, state, ctx = _answer(refusals, name)
    assert (got, state) == (REFUSED[name][1], "off"), ctx


@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_the_kernel_takes_it(refusals, name):
    got, state, ctx = _answer(refusals, name)
    assert (got, state) == ("ok", "on"), ctx


@pytest.mark.parametrize("name", sorted(OBSERVED))
def test_what_the_kernel_answers_where_the_reference_is_silent(refusals, name):
    got, _, ctx = _answer(refusals, name)
    assert got == OBSERVED[name][1], ctx
