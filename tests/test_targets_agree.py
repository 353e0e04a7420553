"""The sysfs plan, the debugfs line and the damo JSON carry the same kernel
numbers for the same program: each output is read back on its own terms
(file paths, field positions, JSON keys), never through to_kernel."""
from __future__ import annotations

import json

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from damos_lang.errors import DamosError
from damos_lang.pipeline import unit_of
from damos_lang.targets import run_target
from damos_lang.ir import Monitor, Program
from damos_lang.sysfs.plan import plan_for
from damos_lang.targets import Options, damo_json, debugfs
from strategies import legacy_schemes, monitors

ACTION_CODES = {"willneed": 0, "cold": 1, "pageout": 2, "hugepage": 3, "nohugepage": 4, "stat": 5}
FIELDS = ("sz_min", "sz_max", "nr_min", "nr_max", "age_min", "age_max", "action",
          "quota_ms", "quota_bytes", "quota_reset_ms", "w_sz", "w_nr", "w_age",
          "wmark_metric", "wmark_interval", "wmark_high", "wmark_mid", "wmark_low")


def from_plan(program, opts) -> list[dict]:
    files = {w.path: w.value for w in plan_for(unit_of(program, opts), opts)}
    n = int(files["kdamonds/0/contexts/0/schemes/nr_schemes"])
    out = []
    for i in range(n):
        b = f"kdamonds/0/contexts/0/schemes/{i}/"
        g = lambda p, d="0": files.get(b + p, d)
        out.append({
            "sz_min": int(g("access_pattern/sz/min")), "sz_max": int(g("access_pattern/sz/max")),
            "nr_min": int(g("access_pattern/nr_accesses/min")),
            "nr_max": int(g("access_pattern/nr_accesses/max")),
            "age_min": int(g("access_pattern/age/min")), "age_max": int(g("access_pattern/age/max")),
            "action": ACTION_CODES[g("action")],
            "quota_ms": int(g("quotas/ms")), "quota_bytes": int(g("quotas/bytes")),
            "quota_reset_ms": int(g("quotas/reset_interval_ms")),
            "w_sz": int(g("quotas/weights/sz_permil")),
            "w_nr": int(g("quotas/weights/nr_accesses_permil")),
            "w_age": int(g("quotas/weights/age_permil")),
            "wmark_metric": {"none": 0, "free_mem_rate": 1}[g("watermarks/metric", "none")],
            "wmark_interval": int(g("watermarks/interval_us")),
            "wmark_high": int(g("watermarks/high")), "wmark_mid": int(g("watermarks/mid")),
            "wmark_low": int(g("watermarks/low"))})
    return out


def from_debugfs(program, opts) -> list[dict]:
    lines = run_target(debugfs, program, opts).splitlines()
    return [dict(zip(FIELDS, map(int, line.split("\t")))) for line in lines if line]


def _unit(text, unit):
    number, got = str(text).split()
    assert got == unit
    return int(number)


def from_damo_json(program, opts) -> list[dict]:
    doc = json.loads(run_target(damo_json, program, opts))
    out = []
    for s in doc["kdamonds"][0]["contexts"][0]["schemes"]:
        ap, q, w = s["access_pattern"], s["quotas"], s["watermarks"]
        out.append({
            "sz_min": int(ap["sz_bytes"]["min"]), "sz_max": int(ap["sz_bytes"]["max"]),
            "nr_min": _unit(ap["nr_accesses"]["min"], "samples"),
            "nr_max": _unit(ap["nr_accesses"]["max"], "samples"),
            "age_min": _unit(ap["age"]["min"], "aggr_intervals"),
            "age_max": _unit(ap["age"]["max"], "aggr_intervals"),
            "action": ACTION_CODES[s["action"]],
            "quota_ms": int(q["time_ms"]), "quota_bytes": int(q["sz_bytes"]),
            "quota_reset_ms": int(q["reset_interval_ms"]),
            "w_sz": int(q["weights"]["sz_permil"]), "w_nr": int(q["weights"]["nr_accesses_permil"]),
            "w_age": int(q["weights"]["age_permil"]),
            "wmark_metric": {"none": 0, "free_mem_rate": 1}[w["metric"]],
            "wmark_interval": int(w["interval_us"]), "wmark_high": int(w["high_permil"]),
            "wmark_mid": int(w["mid_permil"]), "wmark_low": int(w["low_permil"])})
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(legacy_schemes(), min_size=1, max_size=4), monitors)
def test_sysfs_debugfs_and_damo_json_numbers_agree(schemes, monitor):
    monitor = Monitor(None, monitor.sample, monitor.aggr, monitor.update)
    program = Program(monitor, (), tuple(schemes))
    opts = Options(pid=42)
    try:
        # the schemes file alone: the monitor block goes to debugfs's attrs file
        dbg = from_debugfs(program, Options(debugfs_file="schemes"))
    except DamosError:
        assume(False)   # e.g. collapse, lru_*: debugfs cannot say it; sample > aggr
    plan = from_plan(program, opts)
    js = from_damo_json(program, opts)
    # the plan leaves unset quota files at their default 0; debugfs must write
    # every field, so compare the quota reset only where a quota is set
    for p, d, j in zip(plan, dbg, js):
        if not (p["quota_ms"] or p["quota_bytes"]):
            for r in (p, d, j):
                r.pop("quota_reset_ms")
    assert plan == dbg == js
