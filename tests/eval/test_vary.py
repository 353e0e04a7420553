"""--vary: values lowered by the language's parser into every scheme, one or
two settings at a time; the trade-off against baseline with its Pareto
front; the picture; bad specs refused."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from damos_lang.errors import DamosError
from damos_lang.eval import stats, vary
from damos_lang.pipeline import unit_from_text
from damos_lang.sysfs.standin import StandIn

ROOT = Path(__file__).resolve().parents[2]
TWO = """\
monitor {
    ops vaddr
    sample 5ms
    aggr 200ms
}
scheme a {
    action pageout
    size 4K..max
    access 0..0 samples
    age 2s..max
}
scheme b {
    action cold
    size 8K..max
    access 0..0 samples
    age 10s..max
    quota {
        time 5ms
        size 8M
        reset 500ms
    }
}
"""


def test_a_value_is_lowered_with_the_files_intervals_into_every_scheme():
    u = unit_from_text(TWO)
    [(name, v)] = vary.variants(u, vary.parse_vary(["age=5s"]))
    assert name == "age=5s"
    # 5 s at a 200 ms aggregation interval: 25 aggregations, in both schemes
    assert [s.pattern.age_min for s in v.context.schemes] == [25, 25]
    assert [s.pattern.sz_min for s in v.context.schemes] == [4096, 8192]   # untouched
    assert [s.action for s in v.context.schemes] == ["pageout", "cold"]


def test_two_settings_at_a_time_make_every_combination():
    u = unit_from_text(TWO)
    vs = vary.variants(u, vary.parse_vary(["age=1s,3s", "quota.size=64M,1G"]))
    assert [n for n, _ in vs] == ["age=1s,quota.size=64M", "age=1s,quota.size=1G",
                                  "age=3s,quota.size=64M", "age=3s,quota.size=1G"]
    v = dict(vs)["age=3s,quota.size=1G"].context.schemes
    assert [s.pattern.age_min for s in v] == [15, 15]
    assert [s.quota.sz for s in v] == [1 << 30, 1 << 30]
    # a scheme with a quota keeps its other quota settings
    assert v[1].quota.ms == 5 and v[1].quota.reset_interval_ms == 500


@pytest.mark.parametrize("specs, words", [
    (["age"], "SETTING=V1"),
    (["age="], "SETTING=V1"),
    (["colour=red"], "not a setting"),
    (["age=1s", "age=2s"], "twice"),
    (["age=1s", "size=4K", "quota.size=1M"], "one or two"),
])
def test_bad_specs(specs, words):
    with pytest.raises(DamosError, match=words):
        vary.parse_vary(specs)


def test_a_bad_value_names_the_variant():
    u = unit_from_text(TWO)
    with pytest.raises(DamosError, match=r"--vary age=soon"):
        vary.variants(u, vary.parse_vary(["age=soon"]))


def test_tradeoff_and_pareto_front():
    s = stats.summarize
    summ = {"baseline": {"rss_mean_mib": s([100, 100]), "wall_s": s([10, 10])}}
    for arm, rss, wall in (("a", 50, 12), ("b", 70, 11), ("c", 40, 15), ("d", 60, 13)):
        summ[arm] = {"rss_mean_mib": s([rss, rss]), "wall_s": s([wall, wall])}
    rows = vary.tradeoff(summ, ["a", "b", "c", "d"])
    got = {r["arm"]: (round(r["memory_saved_percent"]), round(r["runtime_lost_percent"]),
                      r["pareto"]) for r in rows}
    # d saves less than a for more lost: dominated
    assert got == {"a": (50, 20, True), "b": (30, 10, True), "c": (60, 50, True),
                   "d": (40, 30, False)}
    text = vary.text(rows)
    assert "Pareto" in text and text.count("*") == 3 + 1     # three marks + the legend


def test_the_command_runs_each_variant_and_draws_the_tradeoff(tmp_path):
    root = str(tmp_path / "admin")
    StandIn.create(root, (6, 12), pids={os.getpid()})
    out, png = tmp_path / "e.json", tmp_path / "t.png"
    env = dict(os.environ, PYTHONPATH=str(ROOT), DAMOS_LIVE_NO_KERNEL_TREE="1")
    r = subprocess.run([sys.executable, "-m", "damos_lang", "eval", str(ROOT / "examples/prcl.damos"),
                        "--sysfs-root", root, "--repeat", "2", "--vary", "age=1s,30s",
                        "--json", str(out), "-o", str(png), "--", "sleep", "0.05"],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    doc = json.loads(out.read_text())
    assert doc["order"][:4] == ["baseline#1", "monitor#1", "age=1s#1", "age=30s#1"]
    assert len(doc["order"]) == 8
    assert [t["arm"] for t in doc["tradeoff"]] == ["age=1s", "age=30s"]
    assert any(t["pareto"] for t in doc["tradeoff"])
    assert "memory saved" in r.stdout and "age=30s" in r.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_vary_is_refused_with_reclaim(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), DAMOS_LIVE_NO_KERNEL_TREE="1")
    r = subprocess.run([sys.executable, "-m", "damos_lang", "eval", str(ROOT / "examples/prcl.damos"),
                        "--via", "reclaim", "--vary", "age=1s", "--", "true"],
                       capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 2 and "--vary applies to --via kernel and run" in r.stderr

