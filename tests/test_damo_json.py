"""The damo-json target, damo JSON input, and damo 3.4.3 as the oracle.

The oracle (tests/damo_oracle.py) runs damo's own code in a separate,
sandboxed process: its ``--kdamonds`` JSON reader plus its sysfs writer into
a fake tree, and its deprecated legacy-line parser plus its debugfs writer.
Nothing here touches the host's DAMON."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from damos_lang import catalog
from damos_lang.catalog import GOAL_METRICS
from damos_lang.damo_input import parse_damo_json
from damos_lang.pipeline import unit_of
from damos_lang.targets import run_target
from damos_lang.errors import DamosError
from damos_lang.fmt import format_program
from damos_lang.ir import Program, Value
from model_view import KContext, to_kernel
from damos_lang.lower import parse
from damos_lang.sysfs.plan import plan_for
from damos_lang.targets import Options, damo_json, debugfs, registry

import damo_oracle
from strategies import legacy_lines, programs

ROOT = Path(__file__).resolve().parent.parent
# damo 3.4.3's JSON has no max_nr_snapshots: that example is refused (tested below)
NOT_DAMO = {"snapshots.damos"}
EXAMPLES = sorted(p for p in (ROOT / "examples").glob("*.damos") if p.name not in NOT_DAMO)


def damo_programs():
    """Generated programs without what damo 3.4.3's JSON cannot carry."""
    from dataclasses import replace as _replace
    return programs().map(lambda p: _replace(
        p, schemes=tuple(_replace(s, max_snapshots=None) for s in p.schemes)))


def test_what_damo_json_cannot_express_is_refused():
    for name in NOT_DAMO:
        with pytest.raises(DamosError, match="cannot express max_snapshots") as e:
            run_target(damo_json, parse((ROOT / "examples" / name).read_text()), Options())
        assert e.value.loc is not None
ULONG_MAX = 2**64 - 1
UINT_MAX = 2**32 - 1
POLICIES = ("unbounded", "damo")
FEW = settings(max_examples=25, deadline=None,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def example(name: str):
    return parse((ROOT / "examples" / name).read_text())


def compile_json(program, policy="unbounded", **kw) -> str:
    return run_target(damo_json, program, Options(max_policy=policy, **kw))


def ctx_of(text: str) -> dict:
    return json.loads(text)["kdamonds"][0]["contexts"][0]


def test_registered():
    assert registry()["damo-json"] is damo_json


# -- the JSON holds to_kernel's numbers ----------------------------------------

def _n(text: str, unit: str) -> int:
    number, word = text.split(" ")
    assert word == unit
    return int(number)


def assert_json_is_kernel(text: str, kctx: KContext) -> None:
    """Every number of the JSON is to_kernel's, in kernel units."""
    c = ctx_of(text)
    assert c["ops"] == kctx.ops
    iv = c["intervals"]
    assert (iv["sample_us"], iv["aggr_us"], iv["ops_update_us"]) == (
        kctx.intervals.sample_us, kctx.intervals.aggr_us, kctx.intervals.update_us)
    assert (c["nr_regions"]["min"], c["nr_regions"]["max"]) == (kctx.nr_regions_min,
                                                                kctx.nr_regions_max)
    g = kctx.intervals_goal
    if g is None or (g.access_bp, g.aggrs, g.min_sample_us, g.max_sample_us) == (0,) * 4:
        assert "intervals_goal" not in iv
    else:
        assert iv["intervals_goal"] == {"access_bp": g.access_bp, "aggrs": g.aggrs,
                                        "min_sample_us": g.min_sample_us,
                                        "max_sample_us": g.max_sample_us}
    assert len(c.get("probes", [])) == len(kctx.probes)
    for jp, kp in zip(c.get("probes", []), kctx.probes):
        assert jp["weight"] == kp.weight
        assert [(f["filter_type"], f["matching"], f["allow"], f["path"]) for f in jp["filters"]
                ] == [(f.type, f.matching, f.allow, f.memcg_path) for f in kp.filters]
    assert len(c["targets"]) == len(kctx.targets)
    for jt, kt in zip(c["targets"], kctx.targets):
        assert jt["pid"] == (None if kctx.ops == "paddr" else kt.pid)
        assert [(r["start"], r["end"]) for r in jt["regions"]] == sorted(kt.regions)
    assert len(c["schemes"]) == len(kctx.schemes)
    for js, k in zip(c["schemes"], kctx.schemes):
        ap = js["access_pattern"]
        assert type(ap["sz_bytes"]["min"]) is int and type(ap["sz_bytes"]["max"]) is int
        assert (ap["sz_bytes"]["min"], ap["sz_bytes"]["max"]) == (k.sz_min, k.sz_max)
        assert (_n(ap["nr_accesses"]["min"], "samples"), _n(ap["nr_accesses"]["max"], "samples")
                ) == (k.nr_accesses_min, k.nr_accesses_max)
        assert (_n(ap["age"]["min"], "aggr_intervals"), _n(ap["age"]["max"], "aggr_intervals")
                ) == (k.age_min, k.age_max)
        assert js["action"] == k.action
        assert js["apply_interval_us"] == k.apply_interval_us
        assert js.get("target_nid") == k.target_nid
        assert [(d["id"], d["weight"]) for d in js["dests"]] == list(k.dests)
        q = js["quotas"]
        assert (q["time_ms"], q["sz_bytes"], q["reset_interval_ms"]) == (
            k.quota_ms, k.quota_bytes, k.quota_reset_ms)
        assert q["weights"] == {"sz_permil": k.weight_sz,
                                "nr_accesses_permil": k.weight_nr_accesses,
                                "age_permil": k.weight_age}
        assert q.get("goal_tuner") == k.goal_tuner
        assert len(q["goals"]) == len(k.goals)
        for jg, kg in zip(q["goals"], k.goals):
            assert (jg["metric"], jg["target_value"], jg["current_value"]) == (
                kg.metric, kg.target_value, kg.current_value)
            if kg.nid is not None:
                assert jg["nid"] == kg.nid
            if kg.path is not None:
                assert jg["memcg_path"] == kg.path
        w = js["watermarks"]
        assert (w["metric"], w["interval_us"], w["high_permil"], w["mid_permil"],
                w["low_permil"]) == (k.wmark_metric, k.wmark_interval_us, k.wmark_high,
                                     k.wmark_mid, k.wmark_low)
        assert len(js["filters"]) == len(k.filters)
        for jf, kf in zip(js["filters"], k.filters):
            assert (jf["filter_type"], jf["matching"], jf["allow"]) == (kf.type, kf.matching,
                                                                         kf.allow)
            if kf.type == "memcg":
                assert jf["memcg_path"] == kf.memcg_path
            elif kf.type == "addr":
                assert jf["address_range"] == {"start": kf.addr_start, "end": kf.addr_end}
            elif kf.type == "target":
                assert jf["damon_target_idx"] == kf.target_idx
            elif kf.type == "hugepage_size":
                assert jf["hugepage_size"] == [kf.sz_min, kf.sz_max]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
@pytest.mark.parametrize("policy", POLICIES)
def test_examples_json_is_kernel_numbers(path, policy):
    program = parse(path.read_text())
    assert_json_is_kernel(compile_json(program, policy), to_kernel(program, policy))


@FEW
@given(damo_programs(), st.sampled_from(POLICIES))
def test_generated_json_is_kernel_numbers(program, policy):
    assume(convertible(program))
    assert_json_is_kernel(compile_json(program, policy), to_kernel(program, policy))


def test_pid_option_replaces_the_target():
    text = compile_json(example("prcl.damos"), pid=4242)
    assert ctx_of(text)["targets"] == [{"pid": 4242, "regions": []}]
    with pytest.raises(DamosError, match="targets"):
        compile_json(parse("target pid 1\ntarget pid 2\n4K max 0 0 5s max pageout\n"), pid=3)


def test_kernel_option_checks_features():
    with pytest.raises(DamosError, match="lacks"):
        compile_json(example("everything.damos"), kernel=(6, 1))


# -- round trip ----------------------------------------------------------------

def _numbers(kctx: KContext) -> KContext:
    """to_kernel's numbers.  The has_* flags only say whether the sysfs plan
    writes a value explicitly or leaves the kernel's equal default; an
    all-zero intervals_goal is the kernel's default (no tuning); a paddr
    target has no pid (the JSON says null)."""
    g = kctx.intervals_goal
    if g is not None and (g.access_bp, g.aggrs, g.min_sample_us, g.max_sample_us) == (0,) * 4:
        kctx = replace(kctx, intervals_goal=None)
    if kctx.ops == "paddr":
        kctx = replace(kctx, targets=tuple(replace(t, pid=None) for t in kctx.targets))
    # regions are written in address order
    kctx = replace(kctx, targets=tuple(replace(t, regions=tuple(sorted(t.regions)))
                                       for t in kctx.targets))
    def goal(g):
        # a node metric's nid defaults to 0 (the JSON says 0: damo needs one)
        if g.metric in NID_METRICS and g.nid is None:
            g = replace(g, nid=0)
        if g.metric in PATH_METRICS and g.path is None:
            g = replace(g, path="")
        return g
    return replace(kctx, schemes=tuple(replace(k, has_quota=False, has_weights=False,
                                               has_watermarks=False,
                                               goals=tuple(goal(g) for g in k.goals))
                                       for k in kctx.schemes))


def convertible(program) -> bool:
    """kernel.py divides by the sampling interval; a 0 one is its bug to
    report, not this target's (see the report)."""
    iv = to_kernel(Program(program.monitor)).intervals
    return iv.sample_us > 0 and iv.aggr_us > 0


def assert_round_trip(program, policy):
    text = compile_json(program, policy)
    again = parse_damo_json(text)
    assert compile_json(again, policy) == text
    assert _numbers(to_kernel(again, policy)) == _numbers(to_kernel(program, policy))
    # what parse_damo_json gives is also valid DAMOS source (but a paddr
    # target that had only a pid, which fmt cannot write)
    if all(t.pid is not None or t.regions for t in again.targets):
        assert parse(format_program(again)) == again


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
@pytest.mark.parametrize("policy", POLICIES)
def test_examples_round_trip(path, policy):
    assert_round_trip(parse(path.read_text()), policy)


@FEW
@given(damo_programs(), st.sampled_from(POLICIES))
def test_generated_round_trip(program, policy):
    assume(convertible(program))
    assert_round_trip(program, policy)


# -- damo JSON input -------------------------------------------------------------

def kd(schemes=None, **ctx) -> str:
    c = {"ops": "vaddr", "targets": [{"pid": 1, "regions": []}]}
    c.update(ctx)
    if schemes is not None:
        c["schemes"] = schemes
    return json.dumps({"kdamonds": [{"state": None, "pid": None, "contexts": [c]}]})


def pattern(sz=("min", "max"), nr=("min", "max"), age=("min", "max")):
    return {"sz_bytes": {"min": sz[0], "max": sz[1]},
            "nr_accesses": {"min": nr[0], "max": nr[1]}, "age": {"min": age[0], "max": age[1]}}


def k1(scheme: dict, policy="unbounded", **ctx):
    return to_kernel(parse_damo_json(kd([scheme], **ctx)), policy).schemes[0]


def test_human_strings():
    k = k1({"action": "pageout",
            "access_pattern": pattern(("4K", "1.5 G"), ("10 %", "50"), ("5 s", "1 m 30 s")),
            "quotas": {"time_ms": "10 ms", "sz_bytes": "128 MiB", "reset_interval_ms": "1 s",
                       "weights": {"sz_permil": "0.3 %", "nr_accesses_permil": 3,
                                   "age_permil": "50 %"}},
            "watermarks": {"metric": "free_mem_rate", "interval_us": "5 s",
                           "high_permil": "50 %", "mid_permil": 400, "low_permil": "20 %"}})
    assert (k.sz_min, k.sz_max) == (4096, 1610612736)
    assert (k.nr_accesses_min, k.nr_accesses_max) == (2, 10)      # of 20 samples
    assert (k.age_min, k.age_max) == (50, 900)                    # of 100 ms
    assert (k.quota_ms, k.quota_bytes, k.quota_reset_ms) == (10, 128 << 20, 1000)
    assert (k.weight_sz, k.weight_nr_accesses, k.weight_age) == (3, 3, 500)
    assert (k.wmark_metric, k.wmark_interval_us, k.wmark_high, k.wmark_mid, k.wmark_low) == (
        "free_mem_rate", 5_000_000, 500, 400, 200)


def test_kernel_unit_strings_are_taken_as_they_are():
    k = k1({"action": "stat", "access_pattern": pattern(
        (0, 4096), ("3 samples", "7 samples"), ("2 aggr_intervals", "9 aggr_intervals"))})
    assert (k.nr_accesses_min, k.nr_accesses_max, k.age_min, k.age_max) == (3, 7, 2, 9)


def test_intervals_change_the_conversion():
    k = k1({"action": "stat", "access_pattern": pattern(nr=("50 %", "max"), age=("1 s", "max"))},
           intervals={"sample_us": 1000, "aggr_us": "200 ms", "ops_update_us": "1 s"})
    assert (k.nr_accesses_min, k.age_min) == (100, 5)


def test_max_is_the_policy_s_max():
    s = {"action": "stat", "access_pattern": pattern(nr=(0, "max"), age=(0, "max"))}
    k = k1(s)
    assert (k.nr_accesses_max, k.age_max) == (UINT_MAX, UINT_MAX)
    k = k1(s, "damo")
    assert (k.nr_accesses_max, k.age_max) == (int(ULONG_MAX * 20.0 / 100),
                                              int(ULONG_MAX / 100000))


def test_defaults_like_damo():
    p = parse_damo_json(kd([{}]))
    s = p.schemes[0]
    assert s.action == "stat" and s.quota is None and s.watermarks is None and not s.filters
    k = to_kernel(p).schemes[0]
    assert (k.sz_min, k.sz_max, k.nr_accesses_min, k.age_min) == (0, ULONG_MAX, 0, 0)
    assert to_kernel(p).intervals == to_kernel(parse("4K max 0 0 5s max pageout")).intervals


def test_plain_list_of_schemes_and_unknown_keys():
    p = parse_damo_json(json.dumps([{"action": "pageout", "whatever": 1, "stats": {"x": 1},
                                     "access_pattern": pattern((4096, "max"), (0, 0),
                                                               ("5s", "max"))}]))
    assert p.monitor is None and p.targets == ()
    assert to_kernel(p).schemes == to_kernel(example("prcl.damos")).schemes


def test_filters_goals_dests_and_legacy_keys():
    k = k1({"action": "migrate_cold", "target_nid": 1, "dests": [{"id": 0, "weight": 30}],
            "quotas": {"time_ms": 0, "sz_bytes": "1G", "reset_interval_ms": "1s",
                       "weights": {"sz_permil": 0, "nr_accesses_permil": 0, "age_permil": 0},
                       "goals": [{"metric": "node_mem_free_bp", "target_value": "20 %",
                                  "current_value": 0, "nid": 0},
                                 {"target_value_bp": 300, "current_value_bp": 100}],
                       "goal_tuner": "temporal"},
            "filters": [{"filter_type": "anon", "matching": False, "filter_pass": True},
                        {"filter_type": "memcg", "matching": True, "memcg_path": "/a b"},
                        {"filter_type": "addr", "matching": True,
                         "address_range": {"start": 4096, "end": "8K"}},
                        {"filter_type": "hugepage_size", "matching": True,
                         "hugepage_size": ["2M", "2M"]}]})
    assert k.target_nid == 1 and k.dests == ((0, 30),)
    assert [(g.metric, g.target_value, g.current_value, g.nid) for g in k.goals] == [
        ("node_mem_free_bp", 2000, 0, 0), ("user_input", 300, 100, None)]
    assert k.goal_tuner == "temporal"
    f = k.filters
    assert (f[0].type, f[0].matching, f[0].allow) == ("anon", False, True)
    assert f[1].memcg_path == "/a b" and not f[1].allow
    assert (f[2].addr_start, f[2].addr_end) == (4096, 8192)
    assert (f[3].sz_min, f[3].sz_max) == (2 << 20, 2 << 20)


@pytest.mark.parametrize("text, path, message", [
    (kd([{}, {"action": "pagout"}]), "kdamonds[0].contexts[0].schemes[1].action",
     "unknown action 'pagout'; did you mean 'pageout'?"),
    (kd([{"access_pattern": pattern(sz=("4k", "max"))}]),
     "kdamonds[0].contexts[0].schemes[0].access_pattern.sz_bytes.min", "unknown size unit 'k'"),
    (kd([{"access_pattern": pattern(nr=("1 samples", "max"))}]),
     "kdamonds[0].contexts[0].schemes[0].access_pattern.nr_accesses", "same unit"),
    (kd([{"access_pattern": {"sz_bytes": {"min": 0, "max": 1}}}]),
     "kdamonds[0].contexts[0].schemes[0].access_pattern", "missing key 'nr_accesses'"),
    (kd([{"quotas": {"time_ms": 0}}]), "kdamonds[0].contexts[0].schemes[0].quotas",
     "missing key 'sz_bytes'"),
    (kd([{"watermarks": {"metric": "free_mem", "interval_us": 0, "high_permil": 0,
                         "mid_permil": 0, "low_permil": 0}}]),
     "kdamonds[0].contexts[0].schemes[0].watermarks.metric", "did you mean 'free_mem_rate'"),
    (kd([{"filters": [{"filter_type": "anon"}]}]),
     "kdamonds[0].contexts[0].schemes[0].filters[0]", "missing key 'matching'"),
    (kd([{"age": 1, "access_pattern": pattern(age=("5 parsecs", "max"))}]),
     "kdamonds[0].contexts[0].schemes[0].access_pattern.age.min", "unknown time unit"),
    (kd(ops="vadr"), "kdamonds[0].contexts[0].ops", "did you mean 'vaddr'"),
    (kd(targets=[{"pid": 1}]), "kdamonds[0].contexts[0].targets[0]", "missing key 'regions'"),
    (json.dumps([{"action": 3}]), "[0].action", "expected a string"),
    (json.dumps({"kdamonds": []}), "kdamonds", "expected one kdamond"),
    (json.dumps({"contexts": []}), "(top)", "missing key 'kdamonds'"),
])
def test_errors_name_the_json_path(text, path, message):
    with pytest.raises(DamosError) as e:
        parse_damo_json(text)
    d = e.value.diagnostic
    assert d.path == path and d.loc is None
    assert message in d.message
    assert d.render("in.json").startswith(f"in.json:{path}: error: ")


def test_brief_example_error_rendering():
    with pytest.raises(DamosError) as e:
        parse_damo_json(kd([{}, {"action": "pagout"}]))
    assert e.value.diagnostic.render("x.json") == (
        "x.json:kdamonds[0].contexts[0].schemes[1].action: error: "
        "unknown action 'pagout'; did you mean 'pageout'?")


def test_invalid_json_gives_line_and_column():
    with pytest.raises(DamosError) as e:
        parse_damo_json('{\n  "kdamonds": [\n    }\n')
    assert (e.value.loc.line, e.value.loc.col) == (3, 5)
    assert "invalid JSON" in e.value.message


# -- the language's rules hold for damo JSON (read time, with the JSON path) ------

CTX = "kdamonds[0].contexts[0]"
S0 = f"{CTX}.schemes[0]"
HUGE = "9" * 5000     # more digits than int() converts (4,300)


def _iv(sample=5000, aggr=100000, update=1000000):
    return {"sample_us": sample, "aggr_us": aggr, "ops_update_us": update}


@pytest.mark.parametrize("text, path, message", [
    # lower._interval: sampling and aggregation intervals are at least 1 us
    (kd([{}], intervals=_iv(sample=0)), f"{CTX}.intervals.sample_us", "at least 1us"),
    (kd([{}], intervals=_iv(aggr=0)), f"{CTX}.intervals.aggr_us", "at least 1us"),
    (kd([{}], intervals=_iv(sample="0.5 us")), f"{CTX}.intervals.sample_us", "at least 1us"),
    (kd([{"access_pattern": pattern(nr=("0 samples", "3 samples"))}],
        intervals=_iv(sample=0)), f"{CTX}.intervals.sample_us", "at least 1us"),
    # values.MAX_NUMBER, and integers too long for int()
    (kd([{"access_pattern": pattern(sz=(10**22, "max"))}]), f"{S0}.access_pattern.sz_bytes.min",
     "too large"),
    (kd([{"access_pattern": pattern(sz=(1e30, "max"))}]), f"{S0}.access_pattern.sz_bytes.min",
     "too large"),
    (kd([{"access_pattern": pattern(sz=(f"{HUGE} K", "max"))}]),
     f"{S0}.access_pattern.sz_bytes.min", "too large"),
    (kd([{"access_pattern": pattern(sz=(0, "HUGE"))}]).replace('"HUGE"', HUGE),
     f"{S0}.access_pattern.sz_bytes.max", "too large"),
    (kd([{}], targets=[{"pid": "PID", "regions": []}]).replace('"PID"', "-" + HUGE),
     f"{CTX}.targets[0].pid", "too large"),
    (kd([{}], intervals=_iv(update=1e999)), f"{CTX}.intervals.ops_update_us", "too large"),
    # no negative numbers in the language
    (kd([{"access_pattern": pattern(age=(-1, "max"))}]), f"{S0}.access_pattern.age.min",
     "negative"),
    (kd([{"quotas": {"time_ms": 0, "sz_bytes": -4096, "reset_interval_ms": 0,
                     "weights": {"sz_permil": 0, "nr_accesses_permil": 0, "age_permil": 0}}}]),
     f"{S0}.quotas.sz_bytes", "negative"),
    # values.read_percent: an access frequency, a bp goal or the access goal above 100%
    (kd([{"access_pattern": pattern(nr=(150, "max"))}]), f"{S0}.access_pattern.nr_accesses.min",
     "above 100%"),
    (kd([{"access_pattern": pattern(nr=(0, "101 %"))}]), f"{S0}.access_pattern.nr_accesses.max",
     "above 100%"),
    (kd([{"access_pattern": pattern(nr=("0 percent", "200 percent"))}]),
     f"{S0}.access_pattern.nr_accesses.max", "above 100%"),
    (kd([{"quotas": {"time_ms": 0, "sz_bytes": 0, "reset_interval_ms": 1000,
                     "weights": {"sz_permil": 0, "nr_accesses_permil": 0, "age_permil": 0},
                     "goals": [{"metric": "node_mem_used_bp", "target_value": "150 %",
                                "current_value": 0}]}}]),
     f"{S0}.quotas.goals[0].target_value", "above 100%"),
    (kd([{}], intervals=dict(_iv(), intervals_goal={"access_bp": "101 %", "aggrs": 3,
                                                    "min_sample_us": 5000,
                                                    "max_sample_us": 10000000})),
     f"{CTX}.intervals.intervals_goal.access_bp", "above 100%"),
    # DAMOS source has no empty target (a lone one means "no target", below)
    (kd([{}], targets=[{"pid": 1, "regions": []}, {"pid": None, "regions": []}]),
     f"{CTX}.targets[1]", "needs a pid or regions"),
])
def test_language_rules_hold_for_damo_json(text, path, message):
    with pytest.raises(DamosError) as e:
        parse_damo_json(text)
    d = e.value.diagnostic
    assert d.path == path and d.loc is None, (d.path, d.message)
    assert message in d.message
    assert len(d.message) < 200        # a 5,000-digit number is not repeated


def test_the_limits_are_the_front_end_s():
    from damos_lang import damo_input, values
    assert damo_input.MAX_NUMBER == values.MAX_NUMBER
    assert 10**damo_input.MAX_DIGITS > values.MAX_NUMBER
    # the same number in DAMOS source is "too large" too
    with pytest.raises(DamosError, match="too large"):
        parse(f"{HUGE} max 0 0 5s max stat\n")


def test_what_the_language_writes_as_a_number_is_read_as_one():
    """damo reads min/max as 0/ULONG_MAX where the language takes only a
    number (quota size, addresses), and 'max' as ULONG_MAX us where it takes
    a time (with a unit); a lone empty target is no target."""
    p = parse_damo_json(kd([{
        "apply_interval_us": "max",
        "quotas": {"time_ms": 0, "sz_bytes": "min", "reset_interval_ms": 1000,
                   "weights": {"sz_permil": 0, "nr_accesses_permil": 0, "age_permil": 0}},
        "filters": [{"filter_type": "addr", "matching": True,
                     "address_range": {"start": "min", "end": "max"}}]}],
        intervals=_iv(update="max"), targets=[{"pid": None, "regions": []}]))
    s = p.schemes[0]
    assert s.quota.size == Value("0")
    assert (s.filters[0].addr.lo, s.filters[0].addr.hi) == (Value("0"), Value(str(ULONG_MAX)))
    assert s.apply_interval.unit == "us" and p.monitor.update.unit == "us"
    assert p.targets == ()
    k = to_kernel(p)
    assert (k.schemes[0].apply_interval_us, k.intervals.update_us) == (ULONG_MAX, ULONG_MAX)
    again = parse(format_program(p))      # DAMOS source that the front end accepts
    assert to_kernel(again) == k


# -- damo 3.4.3 itself (separate, sandboxed process) -----------------------------

C = "kdamonds/0/contexts/0"
NID_METRICS = [m for m, g in GOAL_METRICS.items() if "nid" in g.damo_keys]
PATH_METRICS = [m for m, g in GOAL_METRICS.items() if "memcg_path" in g.damo_keys]


def yn(b):
    return "Y" if b else "N"


def expected_files(kctx: KContext) -> dict:
    """The files damo must write (relative to the admin root) for kctx."""
    e = {f"{C}/operations": kctx.ops}
    ma = f"{C}/monitoring_attrs"
    iv = kctx.intervals
    e.update({f"{ma}/intervals/sample_us": iv.sample_us, f"{ma}/intervals/aggr_us": iv.aggr_us,
              f"{ma}/intervals/update_us": iv.update_us,
              f"{ma}/nr_regions/min": kctx.nr_regions_min,
              f"{ma}/nr_regions/max": kctx.nr_regions_max})
    g = kctx.intervals_goal
    if g and (g.access_bp, g.aggrs, g.min_sample_us, g.max_sample_us) != (0,) * 4:
        for name in ("access_bp", "aggrs", "min_sample_us", "max_sample_us"):
            e[f"{ma}/intervals/intervals_goal/{name}"] = getattr(g, name)
    for i, p in enumerate(kctx.probes):
        pb = f"{ma}/probes/{i}"
        e[f"{pb}/weight"] = p.weight
        for j, f in enumerate(p.filters):
            fb = f"{pb}/filters/{j}"
            e.update({f"{fb}/type": f.type, f"{fb}/matching": yn(f.matching),
                      f"{fb}/allow": yn(f.allow)})
            if f.type == "memcg":
                e[f"{fb}/path"] = f.memcg_path
    for i, t in enumerate(kctx.targets):
        if kctx.ops != "paddr" and t.pid is not None:
            e[f"{C}/targets/{i}/pid_target"] = t.pid
        for r, (start, end) in enumerate(sorted(t.regions)):
            e[f"{C}/targets/{i}/regions/{r}/start"] = start
            e[f"{C}/targets/{i}/regions/{r}/end"] = end
    for i, k in enumerate(kctx.schemes):
        s = f"{C}/schemes/{i}"
        ap = f"{s}/access_pattern"
        e.update({f"{s}/action": k.action, f"{s}/apply_interval_us": k.apply_interval_us,
                  f"{ap}/sz/min": k.sz_min, f"{ap}/sz/max": k.sz_max,
                  f"{ap}/nr_accesses/min": k.nr_accesses_min,
                  f"{ap}/nr_accesses/max": k.nr_accesses_max,
                  f"{ap}/age/min": k.age_min, f"{ap}/age/max": k.age_max,
                  f"{s}/quotas/ms": k.quota_ms, f"{s}/quotas/bytes": k.quota_bytes,
                  f"{s}/quotas/reset_interval_ms": k.quota_reset_ms,
                  f"{s}/quotas/weights/sz_permil": k.weight_sz,
                  f"{s}/quotas/weights/nr_accesses_permil": k.weight_nr_accesses,
                  f"{s}/quotas/weights/age_permil": k.weight_age,
                  f"{s}/quotas/goal_tuner": k.goal_tuner or "consist",
                  f"{s}/watermarks/metric": k.wmark_metric,
                  f"{s}/watermarks/interval_us": k.wmark_interval_us,
                  f"{s}/watermarks/high": k.wmark_high, f"{s}/watermarks/mid": k.wmark_mid,
                  f"{s}/watermarks/low": k.wmark_low})
        if k.target_nid is not None:
            e[f"{s}/target_nid"] = k.target_nid
        for d, (nid, weight) in enumerate(k.dests):
            e[f"{s}/dests/{d}/id"] = nid
            e[f"{s}/dests/{d}/weight"] = weight
        for g, goal in enumerate(k.goals):
            gb = f"{s}/quotas/goals/{g}"
            e.update({f"{gb}/target_metric": goal.metric, f"{gb}/target_value": goal.target_value,
                      f"{gb}/current_value": goal.current_value, f"{gb}/complement": "N"})
            if goal.metric in NID_METRICS:
                e[f"{gb}/nid"] = goal.nid or 0
            if goal.metric in PATH_METRICS:
                e[f"{gb}/path"] = goal.path or ""
        for j, f in enumerate(k.filters):
            fb = f"{s}/filters/{j}"
            e.update({f"{fb}/type": f.type, f"{fb}/matching": yn(f.matching),
                      f"{fb}/allow": yn(f.allow)})
            if f.type == "memcg":
                e[f"{fb}/memcg_path"] = f.memcg_path
            elif f.type == "addr":
                e[f"{fb}/addr_start"], e[f"{fb}/addr_end"] = f.addr_start, f.addr_end
            elif f.type == "target":
                e[f"{fb}/damon_target_idx"] = f.target_idx
            elif f.type == "hugepage_size":
                e[f"{fb}/min"], e[f"{fb}/max"] = f.sz_min, f.sz_max
    return {p: str(v) for p, v in e.items()}


def assert_damo_agrees(programs_and_policies):
    texts = [compile_json(p, pol) for p, pol in programs_and_policies]
    answers = damo_oracle.damo_writes(texts)
    for (program, policy), text, got in zip(programs_and_policies, texts, answers):
        assert "error" not in got, (got, text)
        files = got["files"]
        kctx = to_kernel(program, policy)
        want = expected_files(kctx)
        diff = {p: (files.get(p), v) for p, v in want.items() if files.get(p) != v}
        assert not diff, diff
        # and damo writes what our sysfs plan writes, wherever both write
        try:
            writes = plan_for(unit_of(program), Options(max_policy=policy))
        except DamosError:
            writes = []
        if kctx.ops == "paddr" and len(kctx.targets) != 1:
            writes = []   # the plan merges paddr targets; the JSON keeps them
        for w in writes:
            if w.path in files and not w.path.endswith("/state"):
                assert files[w.path] == w.value, (w, files[w.path])
        # damo's debugfs line of our JSON is our debugfs target's line
        ours = None
        try:
            ours = run_target(debugfs, program, Options(max_policy=policy)).rstrip("\n").split("\n")
        except DamosError:
            pass
        if ours is not None and program.schemes:
            assert got["debugfs"] == ours


@pytest.mark.parametrize("policy", POLICIES)
def test_damo_reads_our_json_of_the_examples(policy):
    assert_damo_agrees([(parse(p.read_text()), policy) for p in EXAMPLES])


@settings(max_examples=4, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(st.tuples(damo_programs(), st.sampled_from(POLICIES)), min_size=6, max_size=6))
def test_damo_reads_our_json_of_generated_programs(batch):
    batch = [(p, pol) for p, pol in batch if convertible(p)]
    assert_damo_agrees(batch)


def test_damo_and_we_read_human_string_json_alike():
    texts = [
        kd([{"action": "pageout",
             "access_pattern": pattern(("4K", "1.5 G"), ("7 %", "max"), ("5 s", "1 m 30 s")),
             "quotas": {"time_ms": "10 ms", "sz_bytes": "128 MiB", "reset_interval_ms": "1 s",
                        "weights": {"sz_permil": "0.3 %", "nr_accesses_permil": 3,
                                    "age_permil": "50 %"}},
             "watermarks": {"metric": "free_mem_rate", "interval_us": "5 s",
                            "high_permil": "50 %", "mid_permil": 400, "low_permil": "20 %"}},
            {"action": "stat", "access_pattern": pattern((0, "max"), (29, 57), ("150ms", "max"))},
            {"action": "cold", "access_pattern": pattern(
                ("2M", "max"), ("1 samples", "3 samples"), ("4 aggr_intervals", "10 aggr_intervals")),
             "quotas": {"time_ms": 0, "sz_bytes": "1G", "reset_interval_ms": 1000,
                        "weights": {"sz_permil": 0, "nr_accesses_permil": 0, "age_permil": 0},
                        "goals": [{"metric": "some_mem_psi_us", "target_value": "1.5 ms",
                                   "current_value": 0},
                                  {"metric": "node_mem_used_bp", "target_value": "99.7 %",
                                   "current_value": 10, "nid": 1}]}}],
           intervals={"sample_us": "1 ms", "aggr_us": 200000, "ops_update_us": "2 s"},
           nr_regions={"min": 20, "max": "1,000"}),
    ]
    answers = damo_oracle.damo_writes(texts)
    for text, got in zip(texts, answers):
        assert "error" not in got, got
        for policy in POLICIES:
            kctx = to_kernel(parse_damo_json(text), policy)
            want = expected_files(kctx)
            files = got["files"]
            for i, sc in enumerate(ctx_of_input(text)["schemes"]):
                if "quotas" not in sc:
                    # no quota: damo's default reset interval is `max`, the
                    # kernel's (and ours) 0; either way nothing is limited
                    want.pop(f"{C}/schemes/{i}/quotas/reset_interval_ms")
            if policy == "unbounded":
                # damo's `max` is ULONG_MAX percent / usec; ours is the u32 max
                want = {p: v for p, v in want.items() if not p.endswith(("nr_accesses/max",
                                                                          "age/max"))}
            diff = {p: (files.get(p), v) for p, v in want.items() if files.get(p) != v}
            assert not diff, (policy, diff)


def ctx_of_input(text):
    return json.loads(text)["kdamonds"][0]["contexts"][0]


def test_damo_rejects_what_we_reject():
    bad = kd([{"action": "pagout"}])
    assert "error" in damo_oracle.damo_writes([bad])[0]
    with pytest.raises(DamosError):
        parse_damo_json(bad)


# legacy-format.md §3 lines (and the examples): damo's deprecated parser and
# debugfs writer against our max_policy="damo" debugfs target
VECTOR_LINES = [
    "4K max min min 5s max pageout",
    "4K max 0 0 10s max pageout",
    "4K max min min 5s max pageout 500M 1s",
    "4K max min min 5s max pageout 500M 1s 0 3 7",
    "min max 5 max min max hugepage",
    "2M max min min 7s max nohugepage",
    "2M max 90 100 100ms max hugepage 10ms 1G 1s 0 3 7 free_mem_rate 5s 500 400 200",
    "min max 7% max 30s max stat",
    "min max 50% 100% min 5s stat",
    "min max 15 100 150ms 1m stat",
    "min max 0 0 5s 190s stat",
    "2M max 90 100 100ms max hugepage 1G 1s 0 3 7 free_mem_rate 5s 500 400 200",
]


def legacy_agree(texts, sample_us=5000, aggr_us=100000):
    answers = damo_oracle.damo_legacy_lines(texts, sample_us, aggr_us)
    monitor = f"monitor {{ sample {sample_us}us; aggr {aggr_us}us }}\n"
    for text, got in zip(texts, answers):
        assert "error" not in got, (text, got)
        program = parse(monitor + text + "\n")
        # damo's debugfs writer prints numbers past ULONG_MAX as they are: so do we
        opts = Options(max_policy="damo", debugfs_file="schemes")
        assert run_target(debugfs, program, opts) == "".join(
            line + "\n" for line in got["v4"]), text
        if all(s.quota is None and s.watermarks is None for s in program.schemes):
            assert run_target(debugfs, program, replace(opts, debugfs_fields=7)) == "".join(
                line + "\n" for line in got["v0"]), text


@pytest.mark.parametrize("sample_us, aggr_us", [(5000, 100000), (1000, 200000)])
def test_damo_legacy_vectors(sample_us, aggr_us):
    texts = VECTOR_LINES + [p.read_text() for p in EXAMPLES if p.name in ("ethp.damos",
                                                                            "prcl.damos")]
    legacy_agree(texts, sample_us, aggr_us)


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(legacy_lines(), min_size=10, max_size=10),
       st.sampled_from([(5000, 100000), (1000, 200000), (20000, 100000)]))
def test_damo_legacy_generated(lines, intervals):
    # fields damo reads with int(): weights and watermarks (no commas, no dots)
    int_fields = {12: (9, 10, 11), 17: (9, 10, 11, 14, 15, 16), 18: (10, 11, 12, 15, 16, 17)}
    texts = []
    for text, _ in lines:
        s = parse(text).schemes[0]
        fields, n = text.split(), s.legacy_fields
        if catalog.ACTIONS[s.action].debugfs_code is None or "0x" in text.lower() or any(
                not fields[i].isdigit() for i in int_fields.get(n, ())):
            continue     # debugfs has six actions; damo reads no hex, int() fields
        texts.append(text)
    assume(texts)
    legacy_agree(texts, *intervals)


def test_damos_target_writes_damo_json_as_a_user_writes_the_language():
    from damos_lang.pipeline import unit_from_text
    from damos_lang.targets import damos as damos_target
    ethp = unit_from_text((Path(__file__).parent.parent / "examples" / "ethp.damos").read_text(),
                          "ethp.damos")
    text = damo_json.compile(ethp, Options())
    from damos_lang.pipeline import build
    from damos_lang.source import Source, load
    src = Source("ethp.json", text, "damo-json")
    back = damos_target.compile(build(src, load(src)), Options())
    # no kernel maxima, no microsecond counts, no 'any' range spelt out
    assert "18446744073709551615" not in back and "4294967295" not in back
    assert "sample 5ms" in back and "size 2M..max" in back and "age 70..max aggr_intervals" in back
    assert "0B..max" not in back and "access 1..max samples" in back
    # and it means the same
    assert unit_from_text(back, "back.damos").context.schemes == ethp.context.schemes
