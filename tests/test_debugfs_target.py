"""The debugfs target: the legacy `schemes` file input.

The conversion vectors are those of legacy-format.md §3 (damo 3.4.3's
numbers, reproduced with ``max_policy="damo"``); the default policy's
lines are checked against the examples and as properties.  The damo-based
oracle (damo's own legacy-line parser and debugfs writer, run as a
separate process) is in tests/test_damo_json.py."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings

from damos_lang import catalog
from damos_lang.errors import DamosError
from damos_lang.targets import run_target
from damos_lang.ir import Value
from model_view import to_kernel
from damos_lang.lower import parse
from damos_lang.targets import Options, registry
from damos_lang.targets import debugfs

from strategies import legacy_lines

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
ULONG_MAX = 2**64 - 1
UINT_MAX = 2**32 - 1
DAMO = Options(max_policy="damo")
# the fields the kernel parses with %u (sysfs.md §8): bounds, action, weights, metric
U32_FIELDS = (2, 3, 4, 5, 6, 10, 11, 12, 13)
# the schemes file alone, for files that also set DAMON's attrs
DAMO_SCHEMES = Options(max_policy="damo", debugfs_file="schemes")


def fields_of(out: str) -> list[list[str]]:
    assert out.endswith("\n")
    lines = out[:-1].split("\n")
    for line in lines:
        assert " " not in line   # damo and the kernel: tab-separated fields
    return [line.split("\t") for line in lines]


def compile_damo(text: str, fields: int = 18) -> list[str]:
    out = fields_of(run_target(debugfs, parse(text), Options(max_policy="damo",
                                                         debugfs_fields=fields)))
    assert len(out) == 1
    return out[0]


def test_registered():
    assert registry()["debugfs"] is debugfs


# -- the examples, default policy ------------------------------------------

def test_ethp_default_policy():
    lines = fields_of(run_target(debugfs, parse((EXAMPLES / "ethp.damos").read_text()), Options()))
    assert lines == [
        ["0", str(ULONG_MAX), "1", str(UINT_MAX), "0", str(UINT_MAX), "3"] + ["0"] * 11,
        ["2097152", str(ULONG_MAX), "0", "0", "70", str(UINT_MAX), "4"] + ["0"] * 11,
    ]


def test_prcl_default_policy():
    lines = fields_of(run_target(debugfs, parse((EXAMPLES / "prcl.damos").read_text()), Options()))
    assert lines == [["4096", str(ULONG_MAX), "0", "0", "50", str(UINT_MAX), "2"] + ["0"] * 11]


def test_seven_fields_option():
    out = run_target(debugfs, parse((EXAMPLES / "prcl.damos").read_text()),
                          Options(debugfs_fields=7))
    assert out == f"4096\t{ULONG_MAX}\t0\t0\t50\t{UINT_MAX}\t2\n"


# -- legacy-format.md §3 vectors (max_policy="damo") ------------------------

V0 = "4096 18446744073709551615 0 0 50 184467440737095 2"


@pytest.mark.parametrize("line, fields, expected", [
    ("4K max min min 5s max pageout", 7, V0),
    ("4K max min min 5s max pageout", 18,
     V0 + " 0 0 18446744073709551615 0 0 0 0 0 0 0 0"),
    ("4K max 0 0 10s max pageout", 18,
     "4096 18446744073709551615 0 0 100 184467440737095 2 0 0 18446744073709551615 0 0 0 0 0 0 0 0"),
    ("4K max min min 5s max pageout 500M 1s", 18,
     "4096 18446744073709551615 0 0 50 184467440737095 2 0 524288000 1000 0 0 0 0 0 0 0 0"),
    ("min max 5 max min max hugepage", 7,
     "0 18446744073709551615 1 3689348814741910528 0 184467440737095 3"),
    ("2M max min min 7s max nohugepage", 7,
     "2097152 18446744073709551615 0 0 70 184467440737095 4"),
    ("2M max 90 100 100ms max hugepage 10ms 1G 1s 0 3 7 free_mem_rate 5s 500 400 200", 18,
     "2097152 18446744073709551615 18 20 1 184467440737095 3 10 1073741824 1000 0 3 7 1 "
     "5000000 500 400 200"),
])
def test_legacy_format_vectors(line, fields, expected):
    assert compile_damo(line, fields) == expected.split()


def test_v1_vector_quota_fields():
    # §3: v1 `… 2 524288000 1000`: the quota size and reset land in fields 9 and 10
    got = compile_damo("4K max min min 5s max pageout 500M 1s")
    assert got[:7] == V0.split() and got[8:10] == ["524288000", "1000"]


def test_v2_vector_quota_and_weight_fields():
    # §3: v2 `4096 … 2 524288000 1000 0 3 7`; in 18 fields: quota ms 0 first,
    # then size, reset and the three weights, then no watermarks
    got = compile_damo("4K max min min 5s max pageout 500M 1s 0 3 7")
    v2 = "4096 18446744073709551615 0 0 50 184467440737095 2 524288000 1000 0 3 7".split()
    assert got[:7] == v2[:7]
    assert got[7] == "0" and got[8:13] == v2[7:12]
    assert got[13:] == ["0"] * 5


def test_vectors_at_1ms_200ms():
    # §3: 1 ms / 200 ms: freq 10% max -> nr [20, ULONG_MAX * 200 / 100], which
    # damo writes as it is (above ULONG_MAX); age 1s max -> [5, 92233720368547]
    text = "monitor { sample 1ms; aggr 200ms }\nmin max 10% max 1s max stat\n"
    got = fields_of(run_target(debugfs, parse(text), DAMO_SCHEMES))[0]
    assert got[2:6] == ["20", "36893488147419103232", "5", "92233720368547"]


@pytest.mark.parametrize("freq, nr", [
    ("0 0", ["0", "0"]), ("7% max", ["1", "3689348814741910528"]),
    ("50% 100%", ["10", "20"]),
])
def test_freq_vectors(freq, nr):
    assert compile_damo(f"min max {freq} min max stat")[2:4] == nr


def test_freq_vector_above_100_percent():
    # §3: freq `15` `10000` -> nr [3, 2000].  lower.py refuses a frequency
    # above 100 (damo takes it), so the IR is built directly here.
    p = parse("min max 15 100 min max stat\n")
    s = p.schemes[0]
    access = replace(s.pattern.access, hi=Value("10000"))
    p = replace(p, schemes=(replace(s, pattern=replace(s.pattern, access=access)),))
    got = fields_of(run_target(debugfs, p, DAMO))[0]
    assert got[2:4] == ["3", "2000"]


@pytest.mark.parametrize("age, k", [
    ("30s max", ["300", "184467440737095"]), ("min 5s", ["0", "50"]),
    ("150ms 1m", ["1", "600"]), ("5s 190s", ["50", "1900"]),
])
def test_age_vectors(age, k):
    assert compile_damo(f"min max min max {age} stat")[4:6] == k


# -- errors ----------------------------------------------------------------

@pytest.mark.parametrize("body, where", [
    ("action lru_prio", "action"),
    ("action collapse", "action"),
    ("action migrate_cold\n target_nid 1", "action"),
    ("action pageout\n filter reject anon", "filter"),
    ("action pageout\n apply_interval 1s", "apply_interval"),
    ("action stat\n target_nid 1", "scheme"),
    ("action stat\n dest 0 weight 1", "scheme"),
    ("action pageout\n quota { size 1G; reset 1s; goal some_mem_psi_us 1ms }", "goal"),
    ("action pageout\n quota { size 1G; reset 1s; tuner consist }", "quota"),
])
def test_what_debugfs_cannot_express(body, where):
    text = f"scheme s {{\n {body}\n}}\n"
    with pytest.raises(DamosError) as e:
        run_target(debugfs, parse(text), Options())
    assert e.value.loc is not None
    line = text.split("\n")[e.value.loc.line - 1]
    assert where in line or where == "scheme" and line.startswith("scheme")
    assert "debugfs" in e.value.message


def test_intervals_goal_is_refused():
    text = ("monitor { intervals_goal { access 4%; aggrs 3; min_sample 5ms; max_sample 10s } }\n"
            "4K max 0 0 5s max pageout\n")
    with pytest.raises(DamosError, match="intervals_goal") as e:
        run_target(debugfs, parse(text), Options())
    assert e.value.loc is not None and e.value.loc.line == 1


def test_at_most_256_schemes():
    line = "4K max 0 0 5s max pageout\n"
    assert len(fields_of(run_target(debugfs, parse(line * 256), Options()))) == 256
    with pytest.raises(DamosError, match="256") as e:
        run_target(debugfs, parse(line * 257), Options())
    assert e.value.loc.line == 257


def test_seven_fields_cannot_carry_a_quota():
    with pytest.raises(DamosError, match="7-field"):
        run_target(debugfs, parse("4K max min min 5s max pageout 500M 1s\n"),
                        Options(debugfs_fields=7))


def test_bad_field_count_option():
    with pytest.raises(DamosError, match="18 fields"):
        run_target(debugfs, parse("4K max 0 0 5s max pageout\n"), Options(debugfs_fields=9))


@pytest.mark.parametrize("kernel, ok", [((5, 15), False), ((5, 16), True), ((6, 12), True),
                                        ((6, 13), False), ((6, 14), False)])
def test_kernel_versions(kernel, ok):
    p = parse("4K max 0 0 5s max pageout\n")
    if ok:
        assert run_target(debugfs, p, Options(kernel=kernel))
    else:
        with pytest.raises(DamosError, match="debugfs"):
            run_target(debugfs, p, Options(kernel=kernel))


def test_empty_program_is_one_newline_like_damo():
    assert run_target(debugfs, parse("monitor { sample 5ms }\n"),
                      Options(debugfs_file="schemes")) == "\n"


# -- properties ----------------------------------------------------------------

@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(legacy_lines())
def test_lines_are_kernel_numbers_and_u32_fields_fit(item):
    text, _ = item
    program = parse(text)
    assume(catalog.ACTIONS[program.schemes[0].action].debugfs_code is not None)
    for policy in ("unbounded", "damo"):
        got = fields_of(run_target(debugfs, program, Options(max_policy=policy)))[0]
        assert len(got) == 18
        k = to_kernel(program, policy).schemes[0]
        assert [int(x) for x in got[:6]] == [k.sz_min, k.sz_max, k.nr_accesses_min,
                                             k.nr_accesses_max, k.age_min, k.age_max]
        assert got[6] == str(catalog.ACTIONS[k.action].debugfs_code)
        assert [int(x) for x in got[7:13]] == [k.quota_ms, k.quota_bytes, k.quota_reset_ms,
                                               k.weight_sz, k.weight_nr_accesses, k.weight_age]
        assert int(got[13]) == catalog.WMARK_METRICS[k.wmark_metric].debugfs_code
        assert [int(x) for x in got[14:]] == [k.wmark_interval_us, k.wmark_high, k.wmark_mid,
                                              k.wmark_low]
        for x in got:
            assert x.isdigit() and (x == "0" or not x.startswith("0"))
        if policy == "unbounded":   # damo's numbers may exceed them; damo writes them so
            for x in got:
                assert int(x) <= ULONG_MAX
            for i in U32_FIELDS:
                assert int(got[i]) <= UINT_MAX
