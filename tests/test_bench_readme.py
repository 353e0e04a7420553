"""The README's results table is what `./dev bench --readme` wrote from
bench/results.json (a hand edit of either shows here), and that run holds
every comparison issue 10 asks for."""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import run as bench_run  # noqa: E402
from damos_lang.targets import names  # noqa: E402


def results() -> dict:
    return json.loads((ROOT / "bench" / "results.json").read_text())


def test_the_readme_table_is_the_bench_command_output():
    text = (ROOT / "README.md").read_text()
    assert text.count(bench_run.README_BEGIN) == 1 and text.count(bench_run.README_END) == 1
    block = text[text.index(bench_run.README_BEGIN):
                 text.index(bench_run.README_END) + len(bench_run.README_END)]
    assert block == bench_run.markdown(results())


def test_the_table_has_every_comparison():
    data = results()
    assert data["quick"] is False and data["machine"] and data["date"]
    rows = {r["name"]: r for r in data["rows"]}
    assert len(rows) == len(data["rows"]), "duplicate row names"
    for target in names():
        assert f"compile 1000 schemes -t {target}" in rows, target
    assert any(n.startswith("CLI start-up: compile ethp.damos") for n in rows)
    assert any(n.startswith("vs damo 3.4.3") and rows[n]["value"] != "n/a" for n in rows)
    assert "run.peak_rss.sim.1000_regions" in rows
    for w in ("stairs", "zigzag"):
        for m in ("kernel", "damos"):
            r = rows[f"vm.accuracy.{w}.{m}.median_wss"]
            assert isinstance(r["value"], float) and r["baseline"] > 0
        assert isinstance(rows[f"vm.accuracy.{w}.agreement"]["value"], float)
    assert any(n.startswith("vm.full_scan") and rows[n]["ratio"] for n in rows), sorted(rows)


def test_refreshing_one_module_keeps_the_others_rows_and_says_when():
    old = {"machine": "m", "date": "D1", "quick": False,
           "rows": [{"bench": "bench_a", "name": "a1", "value": 1},
                    {"bench": "bench_p", "name": "p1", "value": 2},
                    {"bench": "bench_p", "name": "p2", "value": 3},
                    {"bench": "bench_z", "name": "z1", "value": 4}]}
    new = {"machine": "m", "date": "D2", "quick": False,
           "rows": [{"bench": "bench_p", "name": "p1", "value": 20}]}
    merged = bench_run.merge_rows(old, new, ["bench_p"])
    assert [(r["name"], r["value"]) for r in merged["rows"]] == [("a1", 1), ("p1", 20), ("z1", 4)]
    assert merged["date"] == "D1" and merged["refreshed"] == {"bench_p": {"date": "D2",
                                                                          "machine": "m"}}
    assert "`bench_p` rows re-measured D2 on m" in bench_run.markdown(merged)
    assert "re-measured" not in bench_run.markdown(old)
