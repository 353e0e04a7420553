"""The core seam: one catalog, one kernel-unit model, one pipeline.

Each test here was written against a defect or a rule of the issue that
introduced the seam (catalog completeness, field widths, one version gate
per interface, check refusing what compile refuses)."""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from damos_lang import catalog, model
from damos_lang.convert import to_context
from damos_lang.errors import DamosError
from damos_lang.features import interfaces_at, require
from damos_lang.lower import parse
from damos_lang.pipeline import unit_from_text
from damos_lang.targets import run_target
from damos_lang.targets import Options, debugfs, names
from strategies import legacy_lines, programs

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.damos"))
DAMOS = [str(Path(sys.executable).parent / "damos")]


def damos(*args):
    return subprocess.run(DAMOS + list(args), cwd=ROOT, capture_output=True, text=True)


def test_examples_exist():
    assert len(EXAMPLES) >= 6


# -- the catalog ------------------------------------------------------------------

def test_every_action_record_is_complete():
    for name, a in catalog.ACTIONS.items():
        assert a.name == name and a.words and a.c_enum == f"DAMOS_{name.upper()}"
        assert a.since >= (5, 16) and a.ops <= catalog.ALL_OPS and a.ops
        # user space either applies it with an advice or says why not
        assert (a.userspace_since is None) == (a.userspace_why_not is not None), name
        if a.madvise is not None:
            assert a.madvise_value is not None and a.madvise.startswith("MADV_")


def test_every_filter_goal_tuner_and_ops_record_is_complete():
    for name, f in catalog.FILTER_TYPES.items():
        assert f.c_enum == f"DAMOS_FILTER_TYPE_{name.upper()}" and f.since >= (6, 3)
        fields = {x.name for x in dataclasses.fields(model.Filter)}
        assert set(f.args) <= fields
        assert "{" not in f.words or f.args   # explain formats the words with the args
    for name, g in catalog.GOAL_METRICS.items():
        assert g.c_enum.startswith("DAMOS_QUOTA_") and g.unit in ("number", "time", "bp")
    for name, t in catalog.GOAL_TUNERS.items():
        assert t.c_enum.endswith(name.upper())
    for name, o in catalog.OPS.items():
        assert o.c_enum == f"DAMON_OPS_{name.upper()}"
        assert o.takes_pid or o.needs_regions


def test_the_language_vocabulary_is_the_catalog():
    from damos_lang import ir
    assert ir.ACTIONS == tuple(catalog.ACTIONS)
    assert ir.FILTER_TYPES == tuple(catalog.FILTER_TYPES)
    assert ir.GOAL_METRICS == tuple(catalog.GOAL_METRICS)
    assert ir.OPS == tuple(catalog.OPS)


def test_no_module_keeps_its_own_table_of_action_names():
    """An action name list anywhere but the catalog would drift from it."""
    pkg = ROOT / "damos_lang"
    for path in pkg.rglob("*.py"):
        if path.name == "catalog.py":
            continue
        text = path.read_text()
        assert '"lru_deprio"' not in text and "'lru_deprio'" not in text, path


# -- the model --------------------------------------------------------------------

def _records(obj):
    if dataclasses.is_dataclass(obj):
        yield obj
        for f in dataclasses.fields(obj):
            yield from _records(getattr(obj, f.name))
    elif isinstance(obj, tuple):
        for x in obj:
            yield from _records(x)


def _assert_fits(ctx):
    for record in _records(ctx):
        assert model.out_of_range(record) == [], record


def test_every_example_fits_its_c_types():
    for path in EXAMPLES:
        _assert_fits(to_context(parse(path.read_text())))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_generated_programs_fit_their_c_types(program):
    _assert_fits(to_context(program))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_generated_programs_are_valid(program):
    # what pipeline.validate refuses, the strategies never generate
    from damos_lang.pipeline import unit_of
    unit_of(program)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(legacy_lines())
def test_generated_legacy_lines_are_valid(item):
    unit_from_text(item[0])


def test_huge_values_are_clamped_to_their_field_not_wrapped():
    ctx = to_context(parse("scheme { action stat; age 1000000d..max; access 1..99999999999 samples }"))
    p = ctx.schemes[0].pattern
    assert p.age_min == p.age_max == model.UINT_MAX
    assert p.nr_accesses_max == model.UINT_MAX
    assert model.ctype_of(p, "age_min") == "unsigned int"
    assert model.ctype_of(p, "sz_max") == "unsigned long"


def test_the_model_carries_locations_without_comparing_them():
    a = to_context(parse("4K max 0 0 5s max pageout\n"))
    b = to_context(parse("\n\n4K   max 0 0 5s max pageout\n"))
    assert a == b
    assert (a.schemes[0].loc.line, b.schemes[0].loc.line) == (1, 3)


# -- one pipeline: check refuses what compile refuses ------------------------------

@pytest.mark.parametrize("text, words", [
    ("monitor { ops fvaddr }\ntarget pid 3\nscheme { action pageout }\n", "region"),
    ("monitor { sample 200ms; aggr 100ms }\n4K max 0 0 5s max pageout\n", "sampling interval"),
    # stock 7.3: a paddr scheme with dests migrated 0 bytes (damon_pa_migrate uses target_nid)
    ("monitor { ops paddr }\ntarget region 4G..8G\nscheme { action migrate_cold\n"
     "  dest 0 weight 30; dest 1 weight 70 }\n", "dests on paddr"),
    # stock 7.3 refuses it at 'on' on vaddr (EINVAL)
    ("target pid 1\nscheme { action pageout; quota { size 1G; "
     "goal node_eligible_mem_bp 20% nid 0 } }\n", "paddr only"),
    # the kernel drops one trailing newline: the path written is not the path read back
    ('target pid 1\nscheme { action pageout; filter allow memcg "/a\\n" }\n', "newline"),
])
def test_check_and_compile_refuse_alike(tmp_path, text, words):
    f = tmp_path / "bad.damos"
    f.write_text(text)
    for args in (("check", str(f)), ("compile", str(f), "-t", "sysfs"),
                 ("compile", str(f), "-t", "damo-json"), ("explain", str(f))):
        r = damos(*args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert r.stderr.startswith(f"{f}:") and words in r.stderr, r.stderr
        assert "Traceback" not in r.stderr
    # the error has a line and column, and a caret
    r = damos("check", str(f))
    assert r.stderr.split(":")[1].isdigit() and "^" in r.stderr


def test_paddr_without_a_region_is_refused_by_the_sysfs_targets_only(tmp_path):
    """paddr with no 'target region' is the kernel's default region: check and
    explain take it (tests/test_default_region.py); every sysfs target refuses it
    as before, at the monitor block, with a caret."""
    f = tmp_path / "bad.damos"
    f.write_text("monitor { ops paddr }\nscheme { action pageout }\n")
    for target in ("sysfs", "sysfs-plan", "damo-json", "debugfs"):
        r = damos("compile", str(f), "-t", target)
        assert r.returncode == 2, (target, r.stdout, r.stderr)
        assert r.stderr.startswith(f"{f}:1:1: error: paddr needs the physical address range "
                                   "to monitor: write 'target region START..END' (e.g. the "
                                   "largest 'System RAM' range of /proc/iomem)\n"), r.stderr
        assert "\n  ^~~~" in r.stderr and "Traceback" not in r.stderr
        assert not r.stdout
    for args in (("check", str(f)), ("explain", str(f))):
        r = damos(*args)
        assert r.returncode == 0, (args, r.stdout, r.stderr)


# -- what the kernel refuses at 'on' is an error, at the offending setting -------------

STAT = "4K max 0 0 5s max stat\n"
# name (as in tests/kernel/test_kernel_refusals.py, where stock 7.3 refuses each
# raw at 'on') -> (the DAMOS file, words of the error, its line and column)
REFUSED_AT_ON = {
    "nr_regions_min_below_3": ("monitor {\n    nr_regions 2..1000\n}\n" + STAT,
                               "minimum below 3", (2, 5)),
    "nr_regions_min_above_max": ("monitor { nr_regions 100..50 }\n" + STAT,
                                 "minimum is above the maximum", (1, 11)),
    "sample_above_aggr": ("monitor { sample 200ms; aggr 100ms }\n" + STAT,
                          "longer than the aggregation interval", (1, 18)),
    "intervals_goal_min_above_max": (
        "monitor {\n  intervals_goal {\n    access 4%\n    aggrs 3\n    min_sample 10ms\n"
        "    max_sample 2ms\n  }\n}\n" + STAT, "min_sample (10000 us) is above max_sample",
        (5, 16)),
    "intervals_goal_sample_outside": (
        "monitor {\n  sample 5ms\n  intervals_goal {\n    access 4%\n    aggrs 3\n"
        "    min_sample 10ms\n    max_sample 1s\n  }\n}\n" + STAT,
        "(5000 us) is outside intervals_goal's min_sample..max_sample", (6, 16)),
    "addr_filter_reversed": ("target pid 1\nscheme {\n  action stat\n"
                             "  filter allow addr 8K..4K\n}\n", "ends before it starts", (4, 3)),
    "hugepage_size_reversed": ("scheme {\n  action stat\n  filter reject hugepage_size 2M..4K\n"
                               "}\n", "minimum above its maximum", (3, 3)),
    "paddr_regions_overlap": ("monitor { ops paddr }\ntarget region 1M..64M\n"
                              "target region 32M..96M\n" + STAT,
                              "0x100000..0x4000000 and 0x2000000..0x6000000 overlap", (3, 1)),
    "fvaddr_regions_overlap": ("monitor { ops fvaddr }\n"
                               "target pid 1 region 256M..512M region 384M..640M\n" + STAT,
                               "overlap", (2, 1)),
    "paddr_regions_share_a_page": ("monitor { ops paddr }\ntarget region 0x100000..0x100800\n"
                                   "target region 0x100800..64M\n" + STAT,
                                   "share a 4 KiB page", (3, 1)),
    "goal_node_eligible_on_vaddr": ("target pid 1\nscheme {\n  action stat\n"
                                    "  quota { size 1G; goal node_eligible_mem_bp 20% nid 0 }\n"
                                    "}\n", "paddr only", (4, 20)),
}
# what the kernel takes (tests/kernel/test_kernel_refusals.py) but makes meaningless
WMARKS = "scheme {{\n  action pageout\n  watermarks {{\n    metric free_mem_rate\n" \
    "    interval 5s\n    high {}\n    mid {}\n    low {}\n  }}\n}}\n"
MEANINGLESS = {
    "high_below_low": (WMARKS.format("10%", "5%", "20%"), "high is below low", "never runs",
                       (6, 10)),
    "mid_above_high": (WMARKS.format("20%", "40%", "10%"), "mid is above high",
                       "mid has no effect", (7, 9)),
    "mid_below_low": (WMARKS.format("50%", "10%", "20%"), "mid is below low",
                      "never runs again", (7, 9)),
    "low_above_1000": (WMARKS.format("1500permil", "1200permil", "1100permil"),
                       "low is above 1000 permil", "never runs", (8, 9)),
    "high_above_1000": (WMARKS.format("150%", "40%", "20%"), "high is above 1000 permil",
                        "never deactivates", (6, 10)),
    "mid_above_1000": (WMARKS.format("1500permil", "1200permil", "100permil"),
                       "mid is above 1000 permil", "mid has no effect", (7, 9)),
    "reset_0_with_size": ("scheme {\n  action pageout\n  quota {\n    size 1G\n"
                          "    reset 0ms\n  }\n}\n", "reset interval is 0",
                          "size 1073741824 bytes limit is per apply", (5, 11)),
    "reset_0_with_goal": ("scheme {\n  action pageout\n  apply_interval 1s\n  quota {\n"
                          "    reset 0s\n    goal some_mem_psi_us 1ms\n  }\n}\n",
                          "(each 1000 ms)", "goal-tuned size limit", (5, 11)),
    # a legacy line: the watermark fields (metric to low), and the reset field
    "legacy_wmarks": ("4K max 0 0 5s max pageout 1G 1s 0 3 7 free_mem_rate 5s 200 400 100\n",
                      "mid is above high", "accepts them", (1, 60)),
    "legacy_reset_0": ("4K max 0 0 5s max pageout 1G min\n", "reset interval is 0",
                       "per apply", (1, 30)),
}


def _error_of(text):
    with pytest.raises(DamosError) as e:
        unit_from_text(text)
    return e.value


@pytest.mark.parametrize("name", sorted(REFUSED_AT_ON))
def test_what_the_kernel_refuses_at_on_is_an_error_at_its_setting(name):
    text, words, at = REFUSED_AT_ON[name]
    e = _error_of(text)
    assert words in e.message and (e.loc.line, e.loc.col) == at, (e.message, e.loc)
    assert "kernel refuses" in e.message or "paddr only" in e.message


@pytest.mark.parametrize("name", sorted(MEANINGLESS))
def test_what_the_kernel_takes_but_makes_meaningless_is_an_error_saying_what_it_does(name):
    text, problem, does, at = MEANINGLESS[name]
    e = _error_of(text)
    assert problem in e.message and does in e.message, e.message
    assert "the kernel accepts" in e.message and (e.loc.line, e.loc.col) == at, (e.message,
                                                                                 e.loc)


@pytest.mark.parametrize("text", [
    # the kernel's bounds themselves
    "monitor { nr_regions 3..3 }\n" + STAT,
    "monitor {\n  intervals_goal {\n    access 4%\n    aggrs 3\n    min_sample 5ms\n"
    "    max_sample 5ms\n  }\n}\n" + STAT,
    # aggrs 0: no tuning, and the kernel checks no bound
    "monitor {\n  intervals_goal {\n    access 4%\n    aggrs 0\n    min_sample 10ms\n"
    "    max_sample 2ms\n  }\n}\n" + STAT,
    "target pid 1\nscheme { action stat; filter allow addr 4K..4K }\n",
    "scheme { action stat; filter allow hugepage_size 2M..2M }\n",
    # touching regions, and regions a page apart
    "monitor { ops paddr }\ntarget region 1M..32M\ntarget region 32M..64M\n" + STAT,
    "monitor { ops paddr }\ntarget region 0x100000..0x100800\ntarget region 0x101000..64M\n"
    + STAT,
    # vaddr's regions are not written: the kernel never sees them overlap
    "target pid 1 region 1M..64M region 32M..96M\n" + STAT,
    WMARKS.format("100%", "100%", "0%"), WMARKS.format("50%", "50%", "50%"),
    # metric none: the kernel never looks at them
    WMARKS.format("10%", "20%", "300%").replace("free_mem_rate", "none"),
    "scheme { action pageout; quota { reset 0s; weights size 1 access 1 age 1 } }\n",
    "4K max 0 0 5s max pageout min min\n",
])
def test_the_edges_the_kernel_takes_stay_valid(text):
    unit_from_text(text)


def test_every_command_refuses_them_with_file_line_col(tmp_path):
    for name, (text, words, at) in [*((n, (t, w, a)) for n, (t, w, a) in REFUSED_AT_ON.items()),
                                    *((n, (t, p, a)) for n, (t, p, _, a) in
                                      MEANINGLESS.items())][::4]:
        f = tmp_path / f"{name}.damos"
        f.write_text(text)
        for args in (("check", str(f)), ("compile", str(f), "-t", "sysfs"),
                     ("apply", str(f), "--pid", "1", "--sysfs-root", str(tmp_path / "none"))):
            r = damos(*args)
            assert r.returncode == 2 and "Traceback" not in r.stderr, (args, r.stderr)
            assert r.stderr.startswith(f"{f}:{at[0]}:{at[1]}: error: ") and words in r.stderr, \
                (args, r.stderr)


def test_a_damo_json_refusal_names_its_json_path(tmp_path):
    import json
    f = tmp_path / "k.json"
    ctx = {"ops": "vaddr", "targets": [{"pid": 1, "regions": []}],
           "nr_regions": {"min": 2, "max": 1000},
           "schemes": [{"action": "stat", "watermarks": {
               "metric": "free_mem_rate", "interval_us": 1000000, "high_permil": 200,
               "mid_permil": 400, "low_permil": 100}}]}
    f.write_text(json.dumps({"kdamonds": [{"contexts": [ctx]}]}))
    r = damos("check", str(f))
    assert r.returncode == 2 and f"{f}:kdamonds[0].contexts[0].nr_regions.min: error:" in \
        r.stderr, r.stderr
    ctx["nr_regions"]["min"] = 3
    f.write_text(json.dumps({"kdamonds": [{"contexts": [ctx]}]}))
    r = damos("check", str(f))
    assert f"{f}:kdamonds[0].contexts[0].schemes[0].watermarks.mid_permil: error:" in \
        r.stderr, r.stderr
    f.write_text(json.dumps(ctx["schemes"]))
    r = damos("check", str(f))
    assert f"{f}:[0].watermarks.mid_permil: error:" in r.stderr, r.stderr


def test_one_version_gate_per_interface():
    prcl = to_context(parse((ROOT / "examples/prcl.damos").read_text()))
    at = dict(interfaces_at(prcl, (5, 16)))
    assert at["debugfs"] is None and at["sysfs"] is not None
    assert "first in Linux 5.18" in at["sysfs"].message
    # check and compile agree at every version, through every interface
    for version in ((5, 15), (5, 16), (5, 18), (6, 12), (6, 13), (6, 14)):
        ok = dict(interfaces_at(prcl, version))
        for target in ("sysfs", "debugfs"):
            opts = Options(kernel=version, pid=1, debugfs_file="schemes")
            mod = __import__(f"damos_lang.targets.{target}", fromlist=["x"])
            try:
                run_target(mod, parse("4K max 0 0 5s max pageout\n"), opts)
                compiled = True
            except DamosError:
                compiled = False
            assert compiled == (ok[target] is None), (target, version)
    r = damos("check", "examples/prcl.damos", "--kernel", "5.16")
    assert r.returncode == 0 and "sysfs no" in r.stdout and "debugfs yes" in r.stdout
    r = damos("compile", "examples/prcl.damos", "-t", "debugfs", "--kernel", "6.13")
    assert r.returncode == 2 and "6.12" in r.stderr


def test_check_kernel_fails_when_no_kernel_interface_can_run_it():
    r = damos("check", "examples/reclaim.damos", "--kernel", "6.8")
    assert r.returncode == 2 and "some_mem_psi_us" in r.stderr and "6.9" in r.stderr


def test_userspace_refusal_names_the_reason(tmp_path):
    ctx = unit_from_text("min max 5 max min max hugepage\n").context
    with pytest.raises(DamosError, match="VMA flags"):
        require(ctx, catalog.USERSPACE)
    r = damos("check", "--userspace", "examples/ethp.damos")
    assert r.returncode == 2 and "hugepage" in r.stderr and "VMA flags" in r.stderr


# -- debugfs no longer drops the monitor block or the pid -------------------------

def test_debugfs_refuses_to_drop_attrs_and_prints_each_file():
    text = "monitor { sample 10ms; aggr 200ms }\ntarget pid 42\n4K max 0 0 5s max pageout\n"
    p = parse(text)
    with pytest.raises(DamosError) as e:
        run_target(debugfs, p, Options())
    assert "attrs" in e.value.message and "target_ids" in e.value.message
    assert run_target(debugfs, p, Options(debugfs_file="attrs")) == "10000 200000 1000000 10 1000\n"
    assert run_target(debugfs, p, Options(debugfs_file="target_ids")) == "42\n"
    # ages at the file's 200 ms aggregation: 5 s is 25 intervals
    assert run_target(debugfs, p, Options(debugfs_file="schemes")).split("\t")[4] == "25"


def test_debugfs_pid_option_is_not_ignored():
    p = parse("4K max 0 0 5s max pageout\n")
    with pytest.raises(DamosError, match="target_ids"):
        run_target(debugfs, p, Options(pid=7))
    assert run_target(debugfs, p, Options(pid=7, debugfs_file="target_ids")) == "7\n"


# -- small promises ----------------------------------------------------------------

def test_explain_counts_intervals_in_words():
    out = damos("explain", "examples/prcl.damos").stdout
    text = unit_from_text("scheme { action stat; age 1..1 aggr_intervals }\n")
    from damos_lang.explain import explain
    assert "exactly 1 aggregation interval (" in explain(text)
    assert "50 aggregation intervals" in out


def test_help_shows_plain_metavars():
    r = damos("compile", "--help")
    assert r.returncode == 0
    assert "{FILE}" not in r.stdout and "<str>" not in r.stdout and "FILE" in r.stdout


def test_targets_are_found_by_file_name_and_imported_lazily():
    assert {"sysfs", "sysfs-plan", "debugfs", "damo-json", "damos"} <= set(names())
    code = ("import sys; from damos_lang import targets; targets.get('sysfs'); "
            "print(sorted(m for m in sys.modules if m.startswith('damos_lang.targets.')))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.stdout.strip() == "['damos_lang.targets.sysfs']", r.stdout + r.stderr


def test_every_package_is_in_the_wheel_list():
    """A package missing from pyproject's list is silently left out of a wheel."""
    import tomllib
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
                 ["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts)
             for p in (ROOT / "damos_lang").rglob("__init__.py")}
    assert found and found <= listed, found - listed


def test_target_names_take_underscores_too():
    from damos_lang.targets import get
    assert get("lru_sort") is get("lru-sort") and get("damo_json") is get("damo-json")
