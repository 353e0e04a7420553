"""paddr without a 'target region': the kernel's default region, a fact of each
interface (catalog.PADDR_DEFAULT_REGION).  The C API (6.1+) and DAMON_RECLAIM /
DAMON_LRU_SORT pick it themselves (the biggest System RAM range; from 7.2 all
System RAM); DAMON's sysfs and debugfs interfaces have none, so every target and
command that drives them refuses the file as before (tests/test_pipeline.py has
the caret of each compile target)."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from damos_lang import catalog
from damos_lang.catalog import C_API, DEBUGFS, SYSFS, USERSPACE
from damos_lang.cli import app
from damos_lang.errors import DamosError
from damos_lang.features import blockers, features_of, interfaces_at, require
from damos_lang.pipeline import unit_from_text
from damos_lang.targets import Options, c_module
from damos_lang.targets.lru_sort import params as lru_sort_params
from damos_lang.targets.reclaim import params as reclaim_params

PADDR = "monitor { ops paddr }\nscheme { action pageout; age 5s..max }\n"
REFUSAL = ("paddr needs the physical address range to monitor: write 'target region "
           "START..END' (e.g. the largest 'System RAM' range of /proc/iomem)")
BIGGEST = "the biggest 'System RAM' range of /proc/iomem"
ALL_RAM = ("all System RAM: one region from the lowest 'System RAM' start of /proc/iomem to "
           "the highest end (holes between the ranges included)")
WATERMARKS = "watermarks { metric free_mem_rate; interval 5s; high 50%; mid 40%; low 20% }"
RECLAIM = ("monitor { ops paddr }\n"
           f"scheme {{ action pageout; size 4K..max; access 0..0 samples; age 2m..max; {WATERMARKS} }}\n")
LRU_SORT = ("monitor { ops paddr }\n"
            f"scheme {{ action lru_prio; size 4K..max; access 10..max samples; {WATERMARKS} }}\n"
            f"scheme {{ action lru_deprio; size 4K..max; access 0..0 samples; age 2m..max; "
            f"{WATERMARKS} }}\n")


def cli(*args):
    return CliRunner().invoke(app, list(args))


def write(tmp_path, text, name="dr.damos"):
    f = tmp_path / name
    f.write_text(text)
    return str(f)


# -- the per-interface fact ---------------------------------------------------------

def test_each_interface_has_its_own_verdict():
    ctx = unit_from_text(PADDR).context
    for interface in (SYSFS, DEBUGFS):
        [b] = [f for f in blockers(ctx, interface) if f.name == "the default paddr region"]
        assert b.message == REFUSAL and (b.loc.line, b.loc.col) == (1, 1)
        with pytest.raises(DamosError) as e:
            require(ctx, interface)
        assert e.value.message == REFUSAL and (e.value.loc.line, e.value.loc.col) == (1, 1)
        assert "c-module, reclaim and lru-sort targets" in e.value.diagnostic.hint
    # the C API has damon_set_region_biggest_system_ram_default() from 6.1
    assert not blockers(ctx, C_API)
    [f] = [f for f in features_of(ctx, C_API) if f.name == "the default paddr region"]
    assert f.since == (6, 1)
    require(ctx, C_API, (6, 1))
    with pytest.raises(DamosError, match=r"Linux 6\.0 lacks the default paddr region "
                                         r"\(first in Linux 6\.1\)"):
        require(ctx, C_API, (6, 0))
    # damos run has no paddr at all: that is its reason, not the region
    assert [f.name for f in blockers(ctx, USERSPACE)] == ["ops paddr"]


def test_a_region_or_another_ops_set_is_no_default_region():
    for text in ("monitor { ops paddr }\ntarget region 4G..8G\n4K max 0 0 5s max stat\n",
                 "4K max 0 0 5s max pageout\n"):
        ctx = unit_from_text(text).context
        assert all(f.name != "the default paddr region" for f in features_of(ctx, SYSFS))
        require(ctx, SYSFS)


def test_what_stays_refused_for_every_command(tmp_path):
    # fvaddr has no default; a paddr target without regions beside one with them is
    # not "no region" either: both are refused before any interface is asked
    for text, words in (
            ("monitor { ops fvaddr }\ntarget pid 3\nscheme { action pageout }\n",
             "fvaddr monitors fixed address ranges"),
            ("monitor { ops paddr }\ntarget region 4G..8G\ntarget pid 3\n"
             "scheme { action pageout }\n", REFUSAL)):
        f = write(tmp_path, text)
        for args in (("check", f), ("explain", f), ("compile", f, "-t", "c-module"),
                     ("compile", f, "-t", "reclaim")):
            r = cli(*args)
            assert r.exit_code == 2 and words in r.output, (args, r.output)


# -- damos check ----------------------------------------------------------------------

def test_check_accepts_it_and_names_the_interfaces_that_can_run_it(tmp_path):
    f = write(tmp_path, PADDR)
    r = cli("check", f)
    assert r.exit_code == 0, r.output
    assert r.output == (
        f"{f}: 1 scheme, no kernel can run it through sysfs: the default paddr region "
        "(DAMON's sysfs and debugfs interfaces have no default region; the c-module, reclaim "
        "and lru-sort targets leave it to the kernel)\n"
        f"{f}: interfaces: sysfs no (the default paddr region); debugfs no (the default "
        "paddr region); c-module >= 6.1; damos run no (ops paddr)\n")


def test_check_at_a_kernel_asks_the_c_api(tmp_path):
    f = write(tmp_path, PADDR)
    r = cli("check", "--kernel", "7.2", f)
    assert r.exit_code == 0, r.output
    line = r.output.splitlines()[1]
    assert line.startswith(f"{f}: interfaces at Linux 7.2: sysfs no ({REFUSAL}); debugfs no (")
    assert "c-module yes" in line
    assert "c-module yes" in cli("check", "--kernel", "6.1", f).output
    # 6.0: no kernel interface can run it (the C API's default region is 6.1)
    r = cli("check", "--kernel", "6.0", f)
    assert r.exit_code == 2 and f"{f}:1:1: error: {REFUSAL}" in r.output
    verdicts = dict(interfaces_at(unit_from_text(PADDR).context, (6, 0)))
    assert verdicts[C_API].message == "Linux 6.0 lacks the default paddr region (first in Linux 6.1)"


# -- damos explain --------------------------------------------------------------------

def test_explain_says_which_region_the_kernel_monitors(tmp_path):
    r = cli("explain", write(tmp_path, PADDR))
    assert r.exit_code == 0, r.output
    head = r.output.split("\n\n")[0].splitlines()
    assert head[1] == ("Target region: none given, so the kernel picks it: before Linux 7.2 "
                       f"{BIGGEST}; from Linux 7.2 {ALL_RAM}.")
    assert head[-1] == ("Interfaces: sysfs no (the default paddr region); debugfs no (the "
                        "default paddr region); c-module >= 6.1; damos run no (ops paddr).")
    # with a region, the region is what it says
    r = cli("explain", write(tmp_path, PADDR.replace("}\n", "}\ntarget region 4G..8G\n", 1)))
    assert "Target region: [0x100000000, 0x200000000) (4 GiB)." in r.output
    assert "kernel picks" not in r.output and "c-module >= 5.16" in r.output


def test_the_region_words_follow_the_catalog():
    d = catalog.PADDR_DEFAULT_REGION
    assert [v for v, _ in d.regions][1:] == [(7, 2)]
    assert catalog.default_region_words() == f"before Linux 7.2 {BIGGEST}; from Linux 7.2 {ALL_RAM}"


# -- reclaim and lru-sort: the module picks it ------------------------------------------

@pytest.mark.parametrize("target, text, module", [("reclaim", RECLAIM, "damon_reclaim"),
                                                  ("lru-sort", LRU_SORT, "damon_lru_sort")])
def test_the_modules_are_given_0_and_0_and_the_output_says_why(tmp_path, target, text, module):
    r = cli("compile", write(tmp_path, text), "-t", target)
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    # 0 and 0 are the module's own default; written, since the module stores the
    # range it picked in them, where a later commit_inputs would reuse it
    assert f"{module}.monitor_region_start=0" in lines and f"{module}.monitor_region_end=0" in lines
    comment = " ".join(ln[2:] for ln in lines if ln.startswith("# "))
    label = "DAMON_RECLAIM" if target == "reclaim" else "DAMON_LRU_SORT"
    assert (f"No 'target region': monitor_region_start and _end 0 let {label} pick its "
            f"default region: before Linux 7.2 {BIGGEST}; from Linux 7.2 {ALL_RAM}.") in comment
    params = (reclaim_params if target == "reclaim" else lru_sort_params)(unit_from_text(text))
    assert ("monitor_region_start", "0") in params and ("monitor_region_end", "0") in params
    # a region is written as it is, with no such comment
    r = cli("compile", write(tmp_path, text.replace("}\n", "}\ntarget region 4G..8G\n", 1)),
            "-t", target)
    assert r.exit_code == 0, r.output
    assert f"{module}.monitor_region_start={4 << 30}" in r.output
    assert f"{module}.monitor_region_end={8 << 30}" in r.output
    assert "No 'target region'" not in r.output


def test_apply_target_reclaim_resets_a_range_the_module_picked_before(tmp_path):
    base = tmp_path / "module" / "damon_reclaim" / "parameters"
    base.mkdir(parents=True)
    for k, v in reclaim_params(unit_from_text(RECLAIM)):
        (base / k).write_text("0\n")
    # what an earlier run left: the module wrote the range it picked back
    (base / "monitor_region_start").write_text("4294967296\n")
    (base / "monitor_region_end").write_text("8589934592\n")
    for k, v in (("enabled", "Y"), ("commit_inputs", "N"), ("kdamond_pid", "77")):
        (base / k).write_text(v + "\n")
    r = cli("apply", write(tmp_path, RECLAIM), "--target", "reclaim",
            "--module-root", str(tmp_path / "module"))
    assert r.exit_code == 0, r.output
    assert (base / "monitor_region_start").read_text() == "0\n"
    assert (base / "monitor_region_end").read_text() == "0\n"
    assert (base / "commit_inputs").read_text() == "Y\n"


# -- c-module: the default-region call of each C API family ------------------------------

@pytest.mark.parametrize("kernel, call", [
    ((6, 1), "damon_set_region_biggest_system_ram_default(target, &start, &end);"),
    ((6, 12), "damon_set_region_biggest_system_ram_default(target, &start, &end);"),
    ((6, 17), "damon_set_region_biggest_system_ram_default(target, &start, &end);"),
    ((6, 18), "damon_set_region_biggest_system_ram_default(target, &start, &end, "
              "ctx->min_sz_region);"),
    ((7, 0), "damon_set_region_biggest_system_ram_default(target, &start, &end, "
             "ctx->min_region_sz);"),
    ((7, 1), "damon_set_region_biggest_system_ram_default(target, &start, &end, ctx->addr_unit,"
             "\n\t\t\t\t\t\t\t  ctx->min_region_sz);"),
    ((7, 2), "damon_set_region_system_rams_default(target, &start, &end, ctx->addr_unit,"
             "\n\t\t\t\t\t\t   ctx->min_region_sz);"),
    ((7, 3), "damon_set_region_system_rams_default(target, &start, &end, ctx->addr_unit,"
             "\n\t\t\t\t\t\t   ctx->min_region_sz);"),
])
def test_c_module_emits_the_default_region_call_of_each_family(tmp_path, kernel, call):
    r = cli("compile", write(tmp_path, PADDR), "-t", "c-module", "--kernel",
            f"{kernel[0]}.{kernel[1]}", "-o", str(tmp_path / "out"))
    assert r.exit_code == 0, r.output
    c = (tmp_path / "out" / "samples" / "damon" / "damos_dr.c").read_text()
    assert f"\terr = {call}\n\tif (err)\n\t\tgoto out;" in c
    assert "unsigned long start = 0, end = 0;" in c and "ranges[]" not in c
    assert ("biggest" in c) == (kernel < (7, 2))


def test_c_module_before_6_1_has_no_default_region(tmp_path):
    f = write(tmp_path, PADDR)
    r = cli("compile", f, "-t", "c-module", "--kernel", "6.0", "-o", str(tmp_path / "out"))
    assert r.exit_code == 2
    assert r.output.startswith(f"{f}:1:1: error: Linux 6.0 lacks the default paddr region "
                               "(first in Linux 6.1)\n")
    assert not (tmp_path / "out").exists()
    # the emitter says the same when the version comes from a tree (no pipeline gate)
    unit = unit_from_text(PADDR)
    with pytest.raises(DamosError, match="needs Linux 6.1 or newer"):
        c_module.compile(unit, Options(kernel=(6, 0)))


# -- the sysfs side keeps refusing ----------------------------------------------------------

def _damo_json(tmp_path, targets):
    r = cli("compile", write(tmp_path, PADDR.replace("}\n", "}\ntarget region 4G..8G\n", 1)),
            "-t", "damo-json")
    d = json.loads(r.output)
    d["kdamonds"][0]["contexts"][0]["targets"] = targets
    f = tmp_path / "dr.json"
    f.write_text(json.dumps(d))
    return str(f)


@pytest.mark.parametrize("targets", [[], [{"pid": None, "regions": []}]])
def test_damo_json_input_without_regions(tmp_path, targets):
    f = _damo_json(tmp_path, targets)
    assert cli("check", f).exit_code == 0
    for target in ("sysfs", "damo-json", "debugfs"):
        r = cli("compile", f, "-t", target)
        assert r.exit_code == 2, r.output
        assert r.output.startswith(f"{f}:kdamonds[0].contexts[0]: error: {REFUSAL}\n"), r.output
    assert "Target region: none given, so the kernel picks it" in cli("explain", f).output


def test_apply_through_sysfs_refuses_it_and_writes_nothing(tmp_path):
    from damos_lang.sysfs.standin import StandIn
    root = str(tmp_path / "admin")
    StandIn.create(root, (7, 3))
    before = sorted(p.name for p in (tmp_path / "admin").rglob("*"))
    f = write(tmp_path, PADDR)
    for args in (("apply", f), ("update", f)):
        r = cli(*args, "--sysfs-root", root)
        assert r.exit_code == 2, (args, r.output)
        assert r.output.startswith(f"{f}:1:1: error: {REFUSAL}\n"), r.output
    assert sorted(p.name for p in (tmp_path / "admin").rglob("*")) == before


def test_the_damos_target_writes_it_and_gates_only_under_kernel(tmp_path):
    # source to source: the language holds paddr without a region (as damo JSON does)
    f = _damo_json(tmp_path, [])
    r = cli("compile", f, "-t", "damos")
    assert r.exit_code == 0, r.output
    assert "ops paddr" in r.output and "target" not in r.output
    g = write(tmp_path, r.output, "back.damos")
    assert cli("check", g).exit_code == 0
    # --kernel gates it like the sysfs interface, at the JSON path as the pipeline does
    r = cli("compile", f, "-t", "damos", "--kernel", "7.2")
    assert r.exit_code == 2
    assert r.output.startswith(f"{f}:kdamonds[0].contexts[0]: error: {REFUSAL}\n"), r.output


def test_the_fleet_targets_refuse_it_as_apply_does(tmp_path):
    f = write(tmp_path, PADDR)
    for target in ("systemd", "kubernetes"):
        r = cli("compile", f, "-t", target, "-o", str(tmp_path / target))
        assert r.exit_code == 2, (target, r.output)
        assert r.output.startswith(f"{f}:1:1: error: {REFUSAL}\n"), r.output
