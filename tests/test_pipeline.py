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
from strategies import programs

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
    ("monitor { ops paddr }\nscheme { action pageout }\n", "target region"),
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
