"""bench/results/eval.json, written by ``./dev eval`` (bench/eval_vm.py, the
fuller eval in the rig's stock 7.3 VM; not run by CI): its shape, and that
its figures hang together."""
import json
from pathlib import Path

from damos_lang.eval.runner import METRICS

ROOT = Path(__file__).resolve().parents[2]
RESULT = ROOT / "bench" / "results" / "eval.json"
ARMS = ("baseline", "monitor", "scheme")


def test_the_results_file_has_every_arm_metric_and_change():
    doc = json.loads(RESULT.read_text())
    n = doc["repeat"]
    assert n >= 3 and doc["via"] == "kernel" and doc["stopped"] is None
    assert doc["produced_by"]["command"] == "./dev eval"
    assert doc["machine"]["kernel"].startswith("7.3")
    assert doc["dilation"]["factor"] >= 1 and doc["dilation"]["why"]
    assert set(doc["metrics"]) == set(METRICS)
    assert doc["order"] == [f"{a}#{i + 1}" for i in range(n) for a in ARMS]
    assert len(doc["runs"]) == 3 * n
    for r in doc["runs"]:
        assert set(METRICS) <= set(r) and r["rss_series"]
    for a in ARMS:
        assert set(doc["arms"][a]) == set(METRICS)
        for m in METRICS:
            s = doc["arms"][a][m]
            assert s["n"] == n and s["spread"] >= 0
            vals = [r[m] for r in doc["runs"] if r["arm"] == a]
            assert abs(s["mean"] - sum(vals) / n) < 1e-6 * max(1, abs(s["mean"]))
    for k in ("scheme_vs_baseline", "scheme_vs_monitor", "monitor_vs_baseline"):
        for m in METRICS:
            c = doc["changes"][k][m]
            assert set(c) == {"delta", "percent", "inside_spread"}
    # what the VM proof asserts holds in the fuller run too
    assert doc["arms"]["baseline"]["damon_cpu_s"]["mean"] == 0
    assert all(r["damon_cpu_s"] > 0 for r in doc["runs"] if r["arm"] != "baseline")
    assert doc["changes"]["scheme_vs_baseline"]["rss_mean_mib"]["percent"] < 0
    after = doc["produced_by"]["after"]
    assert after["nr_kdamonds"] == "0" and after["stat_after"] == "Y"
