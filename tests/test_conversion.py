"""Conversion vectors of legacy-format.md §3, exactly, and the documented
meaning of `max` in the default policy."""
from pathlib import Path

import pytest

from damos_lang.ir import Value
from damos_lang.convert import Converter, output_numbers, to_context
from damos_lang.lower import parse
from damos_lang.model import Intervals
from damos_lang.units import split_quantity

ULONG_MAX = 2**64 - 1
UINT_MAX = 2**32 - 1
IV = Intervals(5000, 100000)
IV_1_200 = Intervals(1000, 200000)


def val(token: str) -> Value:
    if token in ("min", "max"):
        return Value.kw(token)
    number, unit = split_quantity(token)
    return Value(number, unit)


@pytest.mark.parametrize("iv,lo,hi,expect", [
    (IV, "0", "0", (0, 0)),
    (IV, "7%", "max", (1, 3689348814741910528)),
    (IV, "50%", "100%", (10, 20)),
    (IV, "15", "10000", (3, 2000)),
    # above ULONG_MAX: damo writes it as it is (the kernel then refuses it)
    (IV_1_200, "10%", "max", (20, 36893488147419103232)),
])
def test_nr_accesses_vectors_damo_policy(iv, lo, hi, expect):
    conv = Converter(iv, "damo")
    assert (conv.nr_accesses(val(lo), ""), conv.nr_accesses(val(hi), "")) == expect


@pytest.mark.parametrize("iv,lo,hi,expect", [
    (IV, "30s", "max", (300, 184467440737095)),
    (IV, "min", "5s", (0, 50)),
    (IV, "150ms", "1m", (1, 600)),
    (IV, "5s", "190s", (50, 1900)),
    (IV_1_200, "1s", "max", (5, 92233720368547)),
])
def test_age_vectors_damo_policy(iv, lo, hi, expect):
    conv = Converter(iv, "damo")
    assert (conv.age(val(lo), ""), conv.age(val(hi), "")) == expect


@pytest.mark.parametrize("iv,lo,hi,expect", [
    (IV, "7%", "max", (1, UINT_MAX)),
    (IV, "15", "10000", (3, 2000)),
    (IV_1_200, "10%", "max", (20, UINT_MAX)),
])
def test_nr_accesses_unbounded_policy(iv, lo, hi, expect):
    conv = Converter(iv)
    assert (conv.nr_accesses(val(lo), ""), conv.nr_accesses(val(hi), "")) == expect


def test_age_max_is_uint_max_in_default_policy():
    conv = Converter(IV)
    assert conv.age(val("max"), "") == UINT_MAX
    # a huge finite age is clamped, never wrapped mod 2^32
    assert conv.age(val("1000000d"), "") == UINT_MAX


def test_sizes_are_powers_of_1024_and_floats_truncate():
    p = parse("1.5G 2MB 0 0 0 0 stat\n")
    k = to_context(p).schemes[0].pattern
    assert (k.sz_min, k.sz_max) == (1610612736, 2 << 20)


def test_kernel_units_keywords_samples_and_aggr_intervals():
    p = parse("scheme { action stat\n access 3..max samples\n age 7..max aggr_intervals }\n")
    k = to_context(p).schemes[0].pattern
    assert (k.nr_accesses_min, k.nr_accesses_max, k.age_min, k.age_max) == (3, UINT_MAX, 7, UINT_MAX)


def test_unwritten_ranges_match_everything():
    k = to_context(parse("scheme { action stat }\n")).schemes[0].pattern
    assert (k.sz_min, k.sz_max, k.nr_accesses_min, k.nr_accesses_max, k.age_min, k.age_max) == \
        (0, ULONG_MAX, 0, UINT_MAX, 0, UINT_MAX)


def test_examples_in_kernel_units():
    examples = Path(__file__).resolve().parent.parent / "examples"
    ethp = to_context(parse((examples / "ethp.damos").read_text())).schemes
    prcl = to_context(parse((examples / "prcl.damos").read_text())).schemes
    as_tuple = lambda k: (k.pattern.sz_min, k.pattern.sz_max, k.pattern.nr_accesses_min,
                          k.pattern.nr_accesses_max, k.pattern.age_min, k.pattern.age_max,
                          k.action)
    assert [as_tuple(k) for k in ethp] == [
        (0, ULONG_MAX, 1, UINT_MAX, 0, UINT_MAX, "hugepage"),
        (2097152, ULONG_MAX, 0, 0, 70, UINT_MAX, "nohugepage")]
    assert [as_tuple(k) for k in prcl] == [(4096, ULONG_MAX, 0, 0, 50, UINT_MAX, "pageout")]


def test_legacy_18_field_line_in_damo_policy():
    line = "2M max 90 100 100ms max hugepage 10ms 1G 1s 0 3 7 free_mem_rate 5s 500 400 200\n"
    p = parse(line)
    k = output_numbers(p, to_context(p), "damo")[0]
    got = (k.sz_min, k.sz_max, k.nr_accesses_min, k.nr_accesses_max, k.age_min, k.age_max,
           k.quota_ms, k.quota_bytes, k.quota_reset_ms, k.weight_sz, k.weight_nr_accesses,
           k.weight_age, k.wmark_metric, k.wmark_interval_us, k.wmark_high, k.wmark_mid,
           k.wmark_low)
    assert got == (2097152, ULONG_MAX, 18, 20, 1, 184467440737095, 10, 1073741824, 1000, 0, 3,
                   7, "free_mem_rate", 5000000, 500, 400, 200)


def test_monitor_intervals_drive_the_conversion():
    p = parse("monitor { sample 1ms; aggr 200ms }\n4K max 10% max 1s max pageout\n")
    k = to_context(p).schemes[0].pattern
    assert (k.nr_accesses_min, k.age_min) == (20, 5)


def test_quota_reset_default_is_one_second():
    q = to_context(parse("scheme { action pageout\n quota { size 1G } }\n")).schemes[0].quota
    assert (q.sz, q.reset_interval_ms) == (1 << 30, 1000)
