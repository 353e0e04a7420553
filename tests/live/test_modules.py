"""--target reclaim / lru-sort: module parameters when the scheme fits, an
error naming the part that does not, and writing them all or nothing."""
from __future__ import annotations

import os

import pytest
from typer.testing import CliRunner

from damos_lang.cli import app
from damos_lang.errors import DamosError
from damos_lang.live.modules import write_params
from damos_lang.targets.lru_sort import params as lru_sort_params
from damos_lang.targets.reclaim import params as reclaim_params
from damos_lang.pipeline import unit_from_text
from damos_lang.targets import run_target
from damos_lang.targets import get
from damos_lang.lower import parse

RECLAIM = """\
monitor {
    ops paddr
    sample 5ms
    aggr 100ms
    nr_regions 10..1000
}
target region 0x100000..0x40000000
scheme {
    action pageout
    size 4K..max
    access 0..0 samples
    age 30s..max
    quota {
        time 10ms
        size 128M
        reset 1s
        weights size 0 access 0 age 1
        goal some_mem_psi_us 1ms
    }
    watermarks {
        metric free_mem_rate
        interval 5s
        high 50%
        mid 40%
        low 20%
    }
    filter reject anon
}
"""
RECLAIM_PARAMS = [
    ("sample_interval", "5000"), ("aggr_interval", "100000"), ("min_nr_regions", "10"),
    ("max_nr_regions", "1000"), ("monitor_region_start", str(0x100000)),
    ("monitor_region_end", str(0x40000000)), ("min_age", "30000000"), ("quota_ms", "10"),
    ("quota_sz", str(128 << 20)), ("quota_reset_interval_ms", "1000"),
    ("quota_mem_pressure_us", "1000"), ("quota_autotune_feedback", "0"),
    ("wmarks_interval", "5000000"), ("wmarks_high", "500"), ("wmarks_mid", "400"),
    ("wmarks_low", "200"), ("skip_anon", "Y")]

LRU = """\
monitor {
    ops paddr
    sample 5ms
    aggr 100ms
}
target region 0x100000..0x40000000
scheme hot {
    action lru_prio
    size 4K..max
    access 10..max samples
    quota {
        time 5ms
        reset 1s
    }
    watermarks {
        metric free_mem_rate
        interval 5s
        high 20%
        mid 15%
        low 5%
    }
}
scheme cold {
    action lru_deprio
    size 4K..max
    access 0..0 samples
    age 120s..max
    quota {
        time 5ms
        reset 1s
    }
    watermarks {
        metric free_mem_rate
        interval 5s
        high 20%
        mid 15%
        low 5%
    }
}
"""


def test_reclaim_parameters():
    assert reclaim_params(unit_from_text(RECLAIM)) == RECLAIM_PARAMS
    out = run_target(get("reclaim"), parse(RECLAIM))
    lines = [x for x in out.splitlines() if not x.startswith("#")]
    assert lines == [f"damon_reclaim.{k}={v}" for k, v in RECLAIM_PARAMS] + \
        ["damon_reclaim.enabled=Y"]


def test_lru_sort_parameters():
    p = dict(lru_sort_params(unit_from_text(LRU)))
    assert p["hot_thres_access_freq"] == "500"          # 10 of 20 samples
    assert p["cold_min_age"] == "120000000"
    assert p["quota_ms"] == "10"                        # split in half between the two
    assert (p["wmarks_high"], p["wmarks_mid"], p["wmarks_low"]) == ("200", "150", "50")
    assert "damon_lru_sort.enabled=Y" in run_target(get("lru-sort"), parse(LRU))


@pytest.mark.parametrize("change, named", [
    (("ops paddr", "ops vaddr"), "ops vaddr"),
    (("action pageout", "action cold"), "action cold"),
    (("filter reject anon", "filter allow young"), "filter allow young"),
    (("age 30s..max", "age 30s..60s"), "a maximum age"),
    (("access 0..0 samples", "access 0..1 samples"), "access range"),
    (("size 4K..max", "size 2M..max"), "size range"),
    (("goal some_mem_psi_us 1ms", "goal node_mem_used_bp 50%"), "goal node_mem_used_bp"),
    (("weights size 0 access 0 age 1", "weights size 0 access 1 age 1"), "quota weights"),
    (("metric free_mem_rate", "metric none"), "without free_mem_rate watermarks"),
    (("sample 5ms", "sample 5ms\n    update 1s"), "an update interval"),
])
def test_what_reclaim_cannot_express_is_named(change, named):
    text = RECLAIM.replace(*change)
    with pytest.raises(DamosError) as e:
        reclaim_params(unit_from_text(text, pid=1 if "vaddr" in text else None))
    assert e.value.message.startswith("DAMON_RECLAIM cannot express") and named in e.value.message
    assert e.value.loc is not None or "ops" in named


def test_what_lru_sort_cannot_express_is_named():
    with pytest.raises(DamosError, match="DAMON_LRU_SORT cannot express a hot threshold"):
        lru_sort_params(unit_from_text(LRU.replace("access 10..max", "access 7..max")
                                       .replace("sample 5ms", "sample 1us")))
    with pytest.raises(DamosError, match="DAMON_LRU_SORT cannot express those schemes"):
        lru_sort_params(unit_from_text(RECLAIM))


def _module(tmp_path, name="damon_reclaim", enabled="N"):
    base = tmp_path / "module" / name / "parameters"
    base.mkdir(parents=True)
    for k, _ in RECLAIM_PARAMS:
        (base / k).write_text("0\n" if k != "skip_anon" else "N\n")
    for k in ("enabled", "commit_inputs"):
        (base / k).write_text(enabled + "\n" if k == "enabled" else "N\n")
    (base / "kdamond_pid").write_text("77\n")
    return base


def _files(base):
    return {p: open(os.path.join(base, p)).read() for p in sorted(os.listdir(base))
            if os.path.isfile(os.path.join(base, p))}


def test_write_params_and_enable(tmp_path):
    base = _module(tmp_path)
    res = write_params(str(tmp_path / "module"), "damon_reclaim", RECLAIM_PARAMS,
                       sleep=lambda s: None)
    assert res == {"module": "damon_reclaim", "enabled": "Y", "kdamond_pid": "77"}
    for k, v in RECLAIM_PARAMS:
        assert (base / k).read_text() == v + "\n"


def test_an_enabled_module_gets_commit_inputs(tmp_path):
    base = _module(tmp_path, enabled="Y")
    write_params(str(tmp_path / "module"), "damon_reclaim", RECLAIM_PARAMS, sleep=lambda s: None)
    assert (base / "commit_inputs").read_text() == "Y\n"


@pytest.mark.parametrize("i", range(len(RECLAIM_PARAMS) + 1))
def test_a_failed_parameter_write_restores_every_other(tmp_path, i):
    base = _module(tmp_path)
    name = (RECLAIM_PARAMS + [("enabled", "Y")])[i][0]
    (base / name).unlink()
    (base / name).mkdir()                 # writing it fails (EISDIR)
    before = _files(base)
    with pytest.raises(DamosError) as e:
        write_params(str(tmp_path / "module"), "damon_reclaim", RECLAIM_PARAMS,
                     sleep=lambda s: None)
    assert str(base / name) in e.value.message and "nothing was changed" in e.value.message
    assert _files(base) == before


def test_apply_target_reclaim_through_the_cli(tmp_path):
    base = _module(tmp_path)
    f = tmp_path / "r.damos"
    f.write_text(RECLAIM)
    r = CliRunner().invoke(app, ["apply", str(f), "--target", "reclaim",
                                 "--module-root", str(tmp_path / "module")])
    assert r.exit_code == 0, r.output
    assert "damon_reclaim is enabled (kdamond pid 77)" in r.output
    assert (base / "min_age").read_text() == "30000000\n"
    r = CliRunner().invoke(app, ["apply", str(f), "--target", "lru_sort",
                                 "--module-root", str(tmp_path / "module")])
    assert r.exit_code == 1 and "DAMON_LRU_SORT cannot express those schemes" in r.output
    r = CliRunner().invoke(app, ["compile", str(f), "--target", "reclaim"])
    assert r.exit_code == 0 and "damon_reclaim.min_age=30000000" in r.output
