"""The 7.x parameters of DAMON_RECLAIM and DAMON_LRU_SORT (mm/damon/reclaim.c,
lru_sort.c; present in Debian's 7.2 and 7.3, tests/kernel's stock73 proof):
autotune_monitoring_intervals (reclaim 7.2, lru_sort 7.0), active_mem_bp
and filter_young_pages (lru_sort 7.0).  A file says what the module does;
the target gives the parameter only when the file is exactly what the
module builds, and --kernel older than the parameter is a located error."""
from __future__ import annotations

import pytest
from typer.testing import CliRunner

from damos_lang.cli import app
from damos_lang.errors import DamosError
from damos_lang.pipeline import unit_from_text
from damos_lang.targets import Options
from damos_lang.targets.lru_sort import params as lru_sort_params
from damos_lang.targets.reclaim import params as reclaim_params

from .test_modules import LRU, RECLAIM

AUTOTUNE = """    intervals_goal {
        access 0.4%
        aggrs 3
        min_sample 5ms
        max_sample 10s
    }
"""


def with_autotune(src: str) -> str:
    return src.replace("    aggr 100ms\n", "    aggr 100ms\n" + AUTOTUNE, 1)


def kernel(v):
    return Options(kernel=v)


def test_reclaim_autotune_is_the_modules_own_goal():
    p = reclaim_params(unit_from_text(with_autotune(RECLAIM)))
    assert ("autotune_monitoring_intervals", "Y") in p
    assert dict(p)["sample_interval"] == "5000" and dict(p)["aggr_interval"] == "100000"
    # without a goal, the parameter is left alone (older kernels lack it)
    assert "autotune_monitoring_intervals" not in dict(reclaim_params(unit_from_text(RECLAIM)))


@pytest.mark.parametrize("change", [
    ("access 0.4%", "access 4%"), ("aggrs 3", "aggrs 5"), ("max_sample 10s", "max_sample 1s"),
    ("min_sample 5ms", "min_sample 1ms"), ("sample 5ms\n", "sample 10ms\n"),
])
def test_another_goal_cannot_be_expressed(change):
    src = with_autotune(RECLAIM).replace(*change, 1)
    with pytest.raises(DamosError, match="cannot express that intervals_goal: it auto-tunes only"):
        reclaim_params(unit_from_text(src))


@pytest.mark.parametrize("fn, src, first", [
    (reclaim_params, with_autotune(RECLAIM), (7, 2)),
    (lru_sort_params, with_autotune(LRU), (7, 0)),
])
def test_kernel_older_than_autotune_is_refused(fn, src, first):
    older = (first[0], first[1] - 1) if first[1] else (6, 19)
    with pytest.raises(DamosError, match=rf"autotune_monitoring_intervals parameter is first in "
                                         rf"Linux {first[0]}\.{first[1]}"):
        fn(unit_from_text(src), kernel(older))
    assert ("autotune_monitoring_intervals", "Y") in fn(unit_from_text(src), kernel(first))


ACTIVE = LRU.replace("    quota {\n        time 5ms\n        reset 1s\n    }\n    watermarks",
                     "    quota {\n        time 5ms\n        reset 1s\n        goal active_mem_bp 50%\n"
                     "    }\n    watermarks", 1)
ACTIVE = ACTIVE.replace("    age 120s..max\n    quota {\n        time 5ms\n        reset 1s\n",
                        "    age 120s..max\n    quota {\n        time 5ms\n        reset 1s\n"
                        "        goal inactive_mem_bp 5002bp\n", 1)
YOUNG = LRU.replace("    access 10..max samples\n", "    access 10..max samples\n"
                    "    filter reject not young\n", 1).replace(
    "    age 120s..max\n", "    age 120s..max\n    filter reject young\n", 1)


def test_active_mem_bp_is_the_two_goals():
    assert ACTIVE.count("goal ") == 2
    p = dict(lru_sort_params(unit_from_text(ACTIVE)))
    assert p["active_mem_bp"] == "5000"
    assert "active_mem_bp" not in dict(lru_sort_params(unit_from_text(LRU)))


def test_active_mem_bp_needs_the_modules_cold_goal():
    src = ACTIVE.replace("inactive_mem_bp 5002bp", "inactive_mem_bp 5000bp")
    with pytest.raises(DamosError, match="scheme 1 then needs 'goal inactive_mem_bp 5002'"):
        lru_sort_params(unit_from_text(src))
    with pytest.raises(DamosError, match="first in Linux 7.0"):
        lru_sort_params(unit_from_text(ACTIVE), kernel((6, 19)))


def test_filter_young_pages_is_the_two_filters():
    assert YOUNG.count("filter ") == 2
    p = dict(lru_sort_params(unit_from_text(YOUNG)))
    assert p["filter_young_pages"] == "Y"
    assert "filter_young_pages" not in dict(lru_sort_params(unit_from_text(LRU)))
    for bad in (YOUNG.replace("filter reject young", "filter reject anon"),
                YOUNG.replace("filter reject not young", "filter allow young"),
                YOUNG.replace("    filter reject young\n", "")):
        with pytest.raises(DamosError, match="filters"):
            lru_sort_params(unit_from_text(bad))
    with pytest.raises(DamosError, match="filter_young_pages parameter is first in Linux 7.0"):
        lru_sort_params(unit_from_text(YOUNG), kernel((6, 12)))


def test_cli_error_is_located_and_exit_2(tmp_path):
    f = tmp_path / "lru.damos"
    f.write_text(with_autotune(YOUNG))
    r = CliRunner().invoke(app, ["compile", str(f), "--target", "lru-sort", "--kernel", "6.12"])
    assert r.exit_code == 2, r.output
    assert r.output.startswith(f"{f}:"), r.output
    assert "Traceback" not in r.output
    r = CliRunner().invoke(app, ["compile", str(f), "--target", "lru-sort", "--kernel", "7.3"])
    assert r.exit_code == 0, r.output
    assert "damon_lru_sort.autotune_monitoring_intervals=Y" in r.output
    assert "damon_lru_sort.filter_young_pages=Y" in r.output
