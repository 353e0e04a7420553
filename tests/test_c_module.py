"""The c-module target: every example and generated programs become modules
that compile without warnings (-Werror, the kernel's own flags, object only)
against Debian's linux-headers-6.12 and, for the 6.1 family, 6.1; and that
scripts/checkpatch.pl --strict (Debian's linux-source-6.12) passes with no
errors, warnings or checks.  Plus the family choice, the feature errors, the
API detection from a tree's damon.h, and --install on fake trees.

The headers and checkpatch.pl come from .ci/c-module-setup.sh (run by
./dev test as root).  Without them these tests skip, except under CI=true,
where they fail.
"""
from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from damos_lang import catalog, pipeline
from damos_lang.errors import DamosError
from damos_lang.fmt import format_program
from damos_lang.source import Source
from damos_lang.targets import Options
from damos_lang.targets import c_module
from damos_lang.targets.c_module import base
from damos_lang.targets.c_module.detect import detect

import strategies

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.damos"))
CACHE = Path(os.environ.get("DAMOS_RIG_CACHE") or Path.home() / ".cache" / "damos-lang")
# Debian's 6.1 kernel is built without DAMON: declare what an in-tree build has
DAMON_ON = "-DCONFIG_DAMON=1 -DCONFIG_DAMON_VADDR=1 -DCONFIG_DAMON_PADDR=1"
VERSIONS = [(5, 16), (5, 18), (6, 1), (6, 7), (6, 12), (6, 14), (6, 17), (6, 18), (7, 0), (7, 1),
            (7, 2), (7, 3)]


def _missing(what: str):
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(f"{what} (CI=true: .ci/c-module-setup.sh should have installed it)",
                    pytrace=False)
    pytest.skip(f"{what}; as root: sh .ci/c-module-setup.sh")


def _headers(pattern: str, series: str) -> str:
    found = sorted(glob.glob(f"/usr/src/{pattern}"))
    if not found or shutil.which("make") is None:
        _missing(f"no Debian linux-headers-{series} in /usr/src")
    return found[-1]


@pytest.fixture(scope="session")
def headers_612():
    return _headers("linux-headers-6.12*-amd64", "6.12")


@pytest.fixture(scope="session")
def headers_61():
    return _headers("linux-headers-6.1.0-*-amd64", "6.1")


@pytest.fixture(scope="session")
def headers_73():
    """Debian's linux-headers of the rig's stock 7.3 kernel, unpacked under the
    cache by .ci/c-module-setup.sh (keyed by ABI and package version)."""
    found = sorted(CACHE.glob("headers/7.3.*/root/usr/src/linux-headers-7.3.*-amd64"))
    found = [f for f in found if (f.parent.parent.parent.parent / ".complete").is_file()]
    if not found or shutil.which("make") is None:
        _missing(f"no Debian linux-headers-7.3 under {CACHE}/headers")
    return str(found[-1])


# The 7.3 headers are Debian 13's, built by gcc 14 with an objtool linked
# against glibc 2.38+; this host (Debian 12) has gcc 12 and glibc 2.36.  So the
# object build maps gcc 14's -fmin-function-alignment=N to the older
# -falign-functions=N (what gcc < 14 used for the same alignment), skips objtool
# (it validates the object, it does not compile it) and names the kernel's
# pahole version (pahole runs only when linking BTF into a .ko, which an
# object-only build never does): the C is compiled with every other flag of
# the 7.3 kernel and -Werror.
GCC14_WRAPPER = """#!/bin/sh
for a; do
  shift
  case $a in
    -fmin-function-alignment=*) set -- "$@" "-falign-functions=${a#*=}" ;;
    *) set -- "$@" "$a" ;;
  esac
done
exec gcc "$@"
"""


def build_objects_73(kdir: str, modules: list[dict[str, str]]) -> None:
    config = Path(kdir, "include", "config", "auto.conf").read_text()
    pahole = re.search(r"^CONFIG_PAHOLE_VERSION=(\d+)$", config, re.M)
    with tempfile.TemporaryDirectory(prefix="damos-cc14-") as d:
        cc = Path(d, "gcc")
        cc.write_text(GCC14_WRAPPER)
        cc.chmod(0o755)
        args = (f"CC={cc}", "HOSTCC=gcc") + ((f"PAHOLE_VERSION={pahole.group(1)}",) if pahole else ())
        build_objects(kdir, modules, make_args=args, kbuild_head="OBJECT_FILES_NON_STANDARD := y\n")


@pytest.fixture(scope="session")
def checkpatch():
    found = sorted(CACHE.glob("checkpatch/*/scripts/checkpatch.pl"))
    if not found or shutil.which("perl") is None:
        _missing("no checkpatch.pl from linux-source-6.12 in the cache")
    return str(found[-1])


def emit(text: str, name: str = "prcl.damos", kernel=(6, 12), **kw) -> dict[str, str]:
    unit = pipeline.unit_from_text(text, name, interface=catalog.C_API, kernel=kernel)
    return c_module.compile(unit, Options(kernel=kernel, **kw))


def emit_path(path: Path, kernel) -> dict[str, str]:
    return emit(path.read_text(), path.name, kernel)


def c_file(files: dict[str, str]) -> tuple[str, str]:
    [(path, text)] = [(p, t) for p, t in files.items() if p.endswith(".c")]
    return path, text


def build_objects(kdir: str, modules: list[dict[str, str]], extra_cflags: str = "",
                  make_args: tuple[str, ...] = (), kbuild_head: str = "") -> None:
    """Compile every module's .c as an external-module object (no modpost: nothing
    in DAMON is exported) with the kernel's flags plus -Werror."""
    with tempfile.TemporaryDirectory(prefix="damos-cmod-") as d:
        objs = []
        for i, files in enumerate(modules):
            path, text = c_file(files)
            name = f"m{i}_{os.path.basename(path)[:-2]}"
            Path(d, name + ".c").write_text(text)
            objs.append(name + ".o")
        Path(d, "Kbuild").write_text(kbuild_head + "".join(f"obj-m += {o}\n" for o in objs))
        p = subprocess.run(["make", "-s", "-C", kdir, f"M={d}", "-j2",
                            f"KCFLAGS=-Werror {extra_cflags}".strip(), *make_args, *objs],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           stdin=subprocess.DEVNULL)
        out = "\n".join(line for line in p.stdout.splitlines()
                        if not re.match(r"make(\[\d+\])?: (Entering|Leaving) directory", line))
        if p.returncode != 0 or out.strip():
            first = re.search(r"/(m\d+)_", out)
            which = int(first.group(1)[1:]) if first else 0
            pytest.fail(f"compiling against {kdir} failed ({p.returncode}):\n{out[-5000:]}\n"
                        f"--- module {which}:\n{c_file(modules[which])[1]}", pytrace=False)
        for o in objs:
            assert Path(d, o).is_file(), o


def run_checkpatch(checkpatch: str, modules: list[dict[str, str]], only_c=False) -> None:
    """checkpatch.pl --strict -f over the emitted files, two processes at a time."""
    with tempfile.TemporaryDirectory(prefix="damos-cpatch-") as d:
        paths = []
        for i, files in enumerate(modules):
            for rel, text in files.items():
                if only_c and not rel.endswith(".c"):
                    continue
                p = Path(d, str(i), rel)
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_text(text)
                paths.append(str(p))
        procs = [subprocess.Popen(["perl", checkpatch, "--strict", "--no-tree", "--show-types",
                                   "--no-summary", "-q", "-f", *paths[k::2]],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                  stdin=subprocess.DEVNULL) for k in range(2) if paths[k::2]]
        for p in procs:
            out, _ = p.communicate()
            assert p.returncode == 0 and not out.strip(), out[-6000:]


def expressible(kernel) -> list[Path]:
    out = []
    for path in EXAMPLES:
        try:
            emit_path(path, kernel)
        except DamosError:
            continue
        out.append(path)
    return out


# -- every example -------------------------------------------------------------

def test_examples_compile_against_debian_612_headers(headers_612):
    paths = expressible((6, 12))
    assert {p.name for p in paths} >= {"prcl.damos", "ethp.damos", "reclaim.damos"}
    build_objects(headers_612, [emit_path(p, (6, 12)) for p in paths])


def test_examples_compile_against_debian_73_headers(headers_73):
    paths = expressible((7, 3))
    assert {p.name for p in paths} >= {"prcl.damos", "ethp.damos", "reclaim.damos", "probes.damos"}
    # the headers are the API this family emits for
    assert c_module.detect(str(Path(headers_73).with_name(
        Path(headers_73).name.replace("-amd64", "-common")))) == (7, 3)
    build_objects_73(headers_73, [emit_path(p, (7, 3)) for p in paths])


def test_every_feature_compiles_against_debian_73_headers(headers_73):
    # the 7.2 family's probes too: 7.3 kept every call and member they use
    # (Debian's linux-headers-7.2.13 declare the same four probe functions)
    build_objects_73(headers_73, [emit(ALL_FEATURES, "all.damos", (7, 3)), _paddr_default((7, 3)),
                                  _with_context_settings((7, 3), addr_unit=4096, pause=True),
                                  emit(PROBES, "probes.damos", (7, 3)),
                                  emit(PROBES_72, "probes.damos", (7, 2))])


def test_generated_programs_compile_against_73(headers_73):
    build_objects_73(headers_73, _generated((7, 3), 30))


def test_examples_compile_against_debian_61_headers(headers_61):
    paths = expressible((6, 1))
    assert {p.name for p in paths} >= {"prcl.damos", "ethp.damos"}
    build_objects(headers_61, [emit_path(p, (6, 1)) for p in paths], DAMON_ON)


def test_examples_pass_checkpatch_strict_for_every_family(checkpatch):
    modules = []
    for v in VERSIONS:
        paths = expressible(v)
        assert paths, v
        modules += [emit_path(p, v) for p in paths]
    # every example is expressible for some API but everything.damos (memcg paths of
    # scheme filters and goals: see below); probes.damos from 7.3 on
    names = {c_file(m)[0] for m in modules}
    assert len(names) >= len(EXAMPLES) - 1, names
    assert "samples/damon/damos_probes.c" in names
    # the Kconfig and Makefile fragments differ by example, not by API
    fragments = {c_file(m)[0]: {k: t for k, t in m.items() if not k.endswith(".c")}
                 for m in modules}
    run_checkpatch(checkpatch, modules, only_c=True)
    run_checkpatch(checkpatch, list(fragments.values()))


# -- generated programs ----------------------------------------------------------

def _fit(program, v):
    """``program`` without what the C API of Linux ``v`` lacks (so most generated
    programs stay expressible): one target, no newer actions, filters, goals..."""
    from dataclasses import replace
    since = base.SINCE
    m = program.monitor
    if m is not None and m.intervals_goal is not None and v < since["intervals_goal (interval auto-tuning)"]:
        m = replace(m, intervals_goal=None)
    if m is not None and m.ops == "fvaddr" and v < since["fvaddr"]:
        m = replace(m, ops="vaddr")
    vaddr = m is None or m.ops in (None, "vaddr", "fvaddr")
    schemes = []
    for s in program.schemes:
        a = catalog.ACTIONS[s.action]
        if v < a.since or (vaddr and s.action.startswith("migrate") and v < (6, 17)):
            s = replace(s, action="stat", target_nid=None, dests=())
        filters = tuple(f for f in s.filters
                        if v >= catalog.FILTER_TYPES[f.type].since and f.type != "memcg"
                        and (not f.allow or v >= since["allow filters"]))
        q = s.quota
        if q is not None:
            goals = tuple(g for g in q.goals if v >= catalog.GOAL_METRICS[g.metric].since
                          and g.path is None and (g.nid is None or v >= since["goal nid"]))
            q = replace(q, goals=goals,
                        tuner=q.tuner if v >= (7, 1) else None,
                        fail_charge=q.fail_charge if v >= since["fail_charge"] else None)
        schemes.append(replace(
            s, filters=filters, quota=q,
            apply_interval=s.apply_interval if v >= since["apply_interval"] else None,
            target_nid=s.target_nid if v >= since["target_nid"] else None,
            dests=s.dests if v >= since["dests"] else (),
            max_snapshots=s.max_snapshots if v >= since["max_snapshots"] else None))
    return replace(program, monitor=m, targets=program.targets[:1], schemes=tuple(schemes))


def _generated(kernel, n=40) -> list[dict[str, str]]:
    emitted = []

    @settings(max_examples=n, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(strategies.programs().filter(lambda p: p.schemes))
    def collect(program):
        program = _fit(program, kernel)
        text = format_program(program)
        try:
            unit = pipeline.unit_of(program, Options(kernel=kernel), interface=catalog.C_API,
                                    source=Source("gen.damos", text, "damos"))
            emitted.append(c_module.compile(unit, Options(kernel=kernel)))
        except DamosError:
            pass     # _fit leaves nothing the API lacks: every error here is counted
    collect()
    assert len(emitted) >= n * 9 // 10, f"only {len(emitted)} generated programs were expressible"
    return emitted


def test_generated_programs_compile_against_612_and_pass_checkpatch(headers_612, checkpatch):
    modules = _generated((6, 12), 30)
    build_objects(headers_612, modules)
    run_checkpatch(checkpatch, modules, only_c=True)


def test_generated_programs_compile_against_61(headers_61):
    build_objects(headers_61, _generated((6, 1), 30), DAMON_ON)


# -- the emitted module ------------------------------------------------------------

def _paddr_default(v) -> dict[str, str]:
    """A paddr module without regions: the C API's default region (the biggest
    System RAM, all System RAM from 7.2; tests/test_default_region.py)."""
    unit = pipeline.unit_from_text("monitor { ops paddr }\n4K max 0 0 5s max pageout\n",
                                   "paddr_default.damos")
    return c_module.compile(unit, Options(kernel=v))


PRCL = (ROOT / "examples" / "prcl.damos").read_text()


def test_files_and_names():
    files = emit(PRCL)
    assert sorted(files) == ["samples/damon/Kconfig.damos_prcl",
                             "samples/damon/Makefile.damos_prcl",
                             "samples/damon/damos_prcl.c"]
    c = files["samples/damon/damos_prcl.c"]
    assert c.startswith("// SPDX-License-Identifier: GPL-2.0\n")
    assert '#define MODULE_PARAM_PREFIX "damon_sample_damos_prcl."' in c
    assert base.module_name("dir/My Scheme-2.damos") == "damos_my_scheme_2"
    assert "config SAMPLE_DAMON_DAMOS_PRCL\n\tbool" in files["samples/damon/Kconfig.damos_prcl"]
    assert "depends on DAMON && DAMON_VADDR" in files["samples/damon/Kconfig.damos_prcl"]
    assert files["samples/damon/Makefile.damos_prcl"].endswith(
        "obj-$(CONFIG_SAMPLE_DAMON_DAMOS_PRCL) += damos_prcl.o\n")


def test_prcl_module_content():
    c = emit(PRCL)["samples/damon/damos_prcl.c"]
    # the scheme text, the pattern in designated initialisers, enum names
    assert " *\t4K  max  0  0  5s  max  pageout\n" in c
    for line in (".min_sz_region = SZ_4K,", ".max_sz_region = ULONG_MAX,",
                 ".min_nr_accesses = 0,", ".max_nr_accesses = 0,",
                 ".min_age_region = 50,", ".max_age_region = UINT_MAX,",
                 "damon_new_scheme(&pattern, DAMOS_PAGEOUT, 0, &quota, &wmarks, NUMA_NO_NODE);",
                 "damon_select_ops(ctx, DAMON_OPS_VADDR)",
                 "module_param_cb(enabled, &enabled_param_ops, &enabled, 0600);",
                 "module_param(target_pid, int, 0600);",
                 "module_param_array(sz_applied, ulong, NULL, 0400);",
                 "module_param_array(min_age_us, ulong, NULL, 0600);",
                 "ctx->callback.after_aggregation = damos_prcl_after_aggregation;",
                 "damon_start(&ctx, 1, false)"):
        assert line in c, line
    assert "5000000," in c          # min_age_us of the scheme: 50 x 100 ms
    # DAMON_STAT (on at boot in Debian 7.x) holds DAMON exclusively: the start
    # fails with -EBUSY, says why in the log, and enabled stays N
    busy = c.index("if (err == -EBUSY)\n\t\tpr_err(\"DAMON is held exclusively (DAMON_STAT")
    assert c.index("damon_start(&ctx, 1, false)") < busy
    assert "\tif (err)\n\t\tenabled = false;" in c
    for stat in ("nr_tried", "sz_tried", "nr_applied", "sz_applied", "qt_exceeds"):
        assert f"WRITE_ONCE({stat}[i], s->stat.{stat});" in c


ALL_FEATURES = """
monitor { ops vaddr; intervals_goal { access 4%; aggrs 3; min_sample 5ms; max_sample 10s } }
target pid 42
scheme s {
    action migrate_cold
    access 0%..0%
    apply_interval 1s
    quota { time 10ms; size 1G; reset 1s; weights size 1 access 2 age 3
            goal node_mem_free_bp 20% nid 0; goal user_input 300 current 100
            tuner temporal; fail_charge num 1 denom 4 }
    watermarks { metric free_mem_rate; interval 5s; high 50%; mid 40%; low 20% }
    filter allow not anon
    filter reject addr 0x1000..0x2000
    filter reject target 0
    filter allow hugepage_size 2M..2M
    target_nid 1
    dest 0 weight 70
    dest 1 weight 30
    max_snapshots 1000
}
"""


def test_every_feature_in_the_newest_api():
    c = emit(ALL_FEATURES, "all.damos", (7, 3))["samples/damon/damos_all.c"]
    for line in (".intervals_goal = {", ".access_bp = 400,", ".goal_tuner = DAMOS_QUOTA_GOAL_TUNER_TEMPORAL,",
                 ".fail_charge_num = 1,", ".metric = DAMOS_WMARK_FREE_MEM_RATE,",
                 "damos_new_filter(DAMOS_FILTER_TYPE_ANON, false, true)",
                 "filter->addr_range = (struct damon_addr_range){", "filter->target_idx = 0;",
                 "filter->sz_range = (struct damon_size_range){",
                 "goal = damos_new_quota_goal(DAMOS_QUOTA_NODE_MEM_FREE_BP, 2000);",
                 "goal->nid = 0;", "goal->current_value = 100;",
                 "DAMOS_MIGRATE_COLD, USEC_PER_SEC, &quota, &wmarks, 1);",
                 "dests->weight_arr[1] = 30;", "scheme->max_nr_snapshots = 1000;",
                 ".repeat = true,", "err = damon_call(ctx, &damos_all_call);",
                 "static int target_pid __read_mostly = 42;"):
        assert line in c, line
    assert "callback" not in c and "put_pid" not in c


def test_every_feature_passes_checkpatch(checkpatch):
    run_checkpatch(checkpatch, [emit(ALL_FEATURES, "all.damos", (7, 3)),
                                emit(PROBES, "probes.damos", (7, 3)),
                                emit(PROBES_72, "probes.damos", (7, 2)),
                                _with_context_settings((7, 3), addr_unit=4096, pause=True),
                                _with_context_settings((6, 18), addr_unit=4096)])


def test_api_families_emit_their_own_calls():
    c = {v: c_file(emit(PRCL, kernel=v))[1] for v in VERSIONS}
    assert "damon_new_scheme(SZ_4K, ULONG_MAX, 0, 0, 50, UINT_MAX, DAMOS_PAGEOUT," in c[(5, 18)]
    assert "damon_set_attrs(ctx, 5 * USEC_PER_MSEC" in c[(5, 18)]
    assert "damon_va_set_primitives(ctx)" in c[(5, 16)] and "damon_start(&ctx, 1)" in c[(5, 16)]
    assert "damon_new_scheme(&pattern, DAMOS_PAGEOUT, &quota, &wmarks);" in c[(6, 1)]
    assert "damon_new_scheme(&pattern, DAMOS_PAGEOUT, 0, &quota, &wmarks);" in c[(6, 7)]
    assert "NUMA_NO_NODE" in c[(6, 12)] and "callback.after_aggregation" in c[(6, 14)]
    assert "damon_call(" in c[(6, 17)] and "callback" not in c[(6, 17)]

    def paddr(v):
        return c_file(_paddr_default(v))[1]
    assert "damon_set_region_biggest_system_ram_default(target, &start, &end);" in paddr((6, 12))
    assert "damon_set_region_biggest_system_ram_default(target, &start, &end);" in paddr((6, 17))
    assert ("damon_set_region_biggest_system_ram_default(target, &start, &end, "
            "ctx->min_sz_region);") in paddr((6, 19))
    assert ("damon_set_region_biggest_system_ram_default(target, &start, &end, "
            "ctx->min_region_sz);") in paddr((7, 0))
    assert ("damon_set_region_biggest_system_ram_default(target, &start, &end, ctx->addr_unit,\n"
            "\t\t\t\t\t\t\t  ctx->min_region_sz);") in paddr((7, 1))
    for v in ((7, 2), (7, 3)):
        assert ("damon_set_region_system_rams_default(target, &start, &end, ctx->addr_unit,\n"
                "\t\t\t\t\t\t   ctx->min_region_sz);") in paddr(v)
        assert "biggest" not in paddr(v)
    with pytest.raises(DamosError, match="needs Linux 6.1"):
        paddr((6, 0))
    fv = "monitor { ops fvaddr }\ntarget pid 1 region 0x1000..0x2000\n4K max 0 0 5s max stat\n"
    regions = {v: c_file(emit(fv, "f.damos", v))[1] for v in ((6, 17), (6, 18), (6, 19), (7, 0), (7, 3))}
    assert "damon_set_regions(target, ranges, ARRAY_SIZE(ranges));" in regions[(6, 17)]
    for v in ((6, 18), (6, 19)):
        assert "damon_set_regions(target, ranges, ARRAY_SIZE(ranges), ctx->min_sz_region);" in regions[v]
    for v in ((7, 0), (7, 3)):
        assert "damon_set_regions(target, ranges, ARRAY_SIZE(ranges), ctx->min_region_sz);" in regions[v]
    assert "damon_set_regions(target, ranges, ARRAY_SIZE(ranges));" in c_file(emit(fv, "f.damos"))[1]


def test_families_cover_each_api_change():
    # one family per API change; 7.3's only change the module uses is the probe weight
    firsts = {v: c_module.emitter_for(v).first for v in
              ((6, 17), (6, 18), (6, 19), (7, 0), (7, 1), (7, 2), (7, 3), (9, 9))}
    assert firsts == {(6, 17): (6, 17), (6, 18): (6, 18), (6, 19): (6, 18), (7, 0): (7, 0),
                      (7, 1): (7, 1), (7, 2): (7, 2), (7, 3): (7, 3), (9, 9): (7, 3)}
    c = c_file(emit(PRCL, kernel=(7, 3)))[1]
    assert " * Generated by damos-lang for the Linux 7.3+ C API (--kernel 7.3).\n" in c
    assert (" * Generated by damos-lang for the Linux 7.2 C API (--kernel 7.2).\n"
            in c_file(emit(PRCL, kernel=(7, 2)))[1])
    # 7.3 differs from 7.2 by the probe weight alone
    assert c == c_file(emit(PRCL, kernel=(7, 2)))[1].replace("Linux 7.2 C API (--kernel 7.2)",
                                                             "Linux 7.3+ C API (--kernel 7.3)")
    assert (" * Generated by damos-lang for the Linux 7.0 C API (--kernel 7.0).\n"
            in c_file(emit(PRCL, kernel=(7, 0)))[1])
    # damon_stop() is void from 7.3: the module calls it as a statement on every API
    assert "= damon_stop(" not in c and "\tdamon_stop(&ctx, 1);\n" in c


def _with_context_settings(v, **settings) -> dict[str, str]:
    """prcl for Linux ``v`` from a context with ``addr_unit``/``pause`` set
    (straight into the model: the language keeps addr_unit to paddr)."""
    from dataclasses import replace

    unit = pipeline.unit_from_text(PRCL, "prcl.damos", interface=catalog.C_API, kernel=(7, 3))
    return c_module.compile(replace(unit, context=replace(unit.context, **settings)),
                            Options(kernel=v))


def test_pause_and_addr_unit_from_the_language():
    """A paddr file's ``addr_unit`` and ``pause`` reach the module; ``refresh``
    (a sysfs kdamond file, no C API) is refused for it."""
    src = ("monitor {\n    ops paddr\n    addr_unit 4K\n    pause yes\n}\n"
           "target region 4G..8G\nscheme { action pageout; age 5s..max }\n")
    unit = pipeline.unit_from_text(src, "paddr.damos", interface=catalog.C_API, kernel=(7, 3))
    c = c_file(c_module.compile(unit, Options(kernel=(7, 3))))[1]
    assert "\tctx->addr_unit = 4096;\n" in c and "\tctx->pause = true;\n" in c
    with pytest.raises(DamosError, match="refresh"):
        pipeline.unit_from_text(src.replace("pause yes", "refresh 1s"), "r.damos",
                                interface=catalog.C_API, kernel=(7, 3))


def test_context_settings_hook():
    """addr_unit (6.18) and pause (7.2): the families store them in the
    template's context_settings block, and refuse them where the API lacks them."""
    def with_(**kw):
        return c_file(_with_context_settings(v, **kw))[1]

    v = (7, 3)
    c = with_(addr_unit=4096, pause=True)
    tail = "\terr = damon_set_attrs(ctx, &attrs);\n\tif (err)\n\t\tgoto out;\n"
    assert (tail + "\tctx->addr_unit = 4096;\n"
            "\tctx->min_region_sz = max(DAMON_MIN_REGION_SZ / 4096, 1UL);\n"
            "\tctx->pause = true;\n") in c
    assert "ctx->addr_unit =" not in with_(addr_unit=1) and "pause" not in with_()
    v = (6, 18)
    assert "\tctx->min_sz_region = max(DAMON_MIN_REGION / 4096, 1UL);\n" in with_(addr_unit=4096)
    with pytest.raises(DamosError, match="pause needs Linux 7.2"):
        with_(pause=True)
    v = (6, 17)
    with pytest.raises(DamosError, match="addr_unit needs Linux 6.18"):
        with_(addr_unit=2)


@pytest.mark.parametrize("text,kernel,words", [
    ("scheme { action pageout; filter allow anon }", (6, 12), "allow filters needs Linux 6.14"),
    ("scheme { action pageout; filter reject anon }", (6, 1), "filter type 'anon' needs Linux 6.3"),
    ("scheme { action pageout; apply_interval 1s }", (6, 6), "apply_interval needs Linux 6.7"),
    ("monitor { ops fvaddr }\ntarget pid 1 region 0x1000..0x2000\nscheme { action stat }",
     (5, 17), "fvaddr operations needs Linux 5.18"),
    ("monitor { ops paddr }\nscheme { action pageout }\ntarget region 4G..8G", (5, 15),
     "Linux 5.15 has no DAMOS C API"),
    ("scheme { action migrate_hot; target_nid 1 }", (6, 12),
     "action 'migrate_hot' on vaddr needs Linux 6.17"),
    ("scheme { action pageout; quota { size 1G; goal user_input 300 nid 1 } }", (6, 12),
     "a quota goal's nid needs Linux 6.16"),
    ("scheme { action pageout; filter reject memcg /a }", (6, 12), "cgroup path"),
    ("scheme { action pageout; quota { size 1G; goal node_memcg_used_bp 50% nid 0 path /a } }",
     (6, 19), "cgroup path"),
    ("monitor { ops paddr; probe { filter allow anon } }\ntarget region 4G..8G\n"
     "scheme { action stat }", (7, 1), "probes needs Linux 7.2"),
    ("monitor { ops paddr; probe { weight 2; filter allow anon } }\ntarget region 4G..8G\n"
     "scheme { action stat }", (7, 2), "probe weight needs Linux 7.3"),
])
def test_features_the_api_lacks_are_errors_naming_the_first_version(text, kernel, words):
    # the target's own check, without the pipeline's generic gate in front of it
    unit = pipeline.unit_from_text(text, "x.damos")
    with pytest.raises(DamosError) as e:
        c_module.compile(unit, Options(kernel=kernel))
    assert words in str(e.value)
    assert e.value.diagnostic.loc is not None or "has no DAMOS C API" in words


# probes.damos (an anon probe with a weight, a memcg one), plus a probe of two
# filters and one without any; PROBES_72: the same without the weight (7.3)
PROBES = ((ROOT / "examples" / "probes.damos").read_text()
          .replace('"/workloads/batch job"\n    }\n',
                   '"/workloads/batch job"\n    }\n'
                   "    probe file { filter reject anon; filter allow not anon }\n"
                   "    probe all { }\n"))
PROBES_72 = PROBES.replace("        weight 1\n", "")


def test_probes_are_built_as_sysfs_builds_them():
    """7.2+: each probe is added to the context as soon as it exists and each
    filter to its probe (mm/damon/sysfs.c's damon_sysfs_set_probes()), so
    damon_destroy_ctx() frees a half-built set; the weight is a 7.3 store."""
    assert "weight 1" in PROBES and PROBES.count("\n    probe ") == 4
    body = ("\t/* probe 0 \"anon\" (line 10) */\n"
            "\tprobe = damon_new_probe();\n\tif (!probe)\n\t\treturn -ENOMEM;\n"
            "\tdamon_add_probe(c, probe);\n"
            "{weight}"
            "\tfilter = damon_new_filter(DAMON_FILTER_TYPE_ANON, true, true);\n"
            "\tif (!filter)\n\t\treturn -ENOMEM;\n\tdamon_add_filter(probe, filter);\n\n"
            "\t/* probe 1 \"batch\" (line 16) */\n")
    files73 = emit(PROBES, "probes.damos", (7, 3))
    c73 = c_file(files73)[1]
    c72 = c_file(emit(PROBES_72, "probes.damos", (7, 2)))[1]
    assert body.format(weight="\tprobe->weight = 1;\n") in c73
    assert body.format(weight="").replace("line 16", "line 15") in c72
    for c in (c73, c72):
        assert "static int damos_probes_add_probes(struct damon_ctx *c)\n{\n" in c
        assert "\tstruct damon_filter *filter;\n\tstruct damon_probe *probe;\n\tint err;\n" in c
        # a memcg filter gets the id sysfs would find for the path, or the start fails
        assert ("\tfilter = damon_new_filter(DAMON_FILTER_TYPE_MEMCG, true, true);\n"
                "\tif (!filter)\n\t\treturn -ENOMEM;\n"
                "\terr = damos_probes_memcg_id(\"/workloads/batch job\", &filter->memcg_id);\n"
                "\tif (err) {\n\t\tdamon_destroy_filter(filter);\n\t\treturn err;\n\t}\n"
                "\tdamon_add_filter(probe, filter);\n") in c
        lookup = c[c.index("static int damos_probes_memcg_id(const char *path, u64 *id)"):]
        lookup = lookup[:lookup.index("\n}\n")]
        for line in ("for (memcg = mem_cgroup_iter(NULL, NULL, NULL); memcg;",
                     "if (!mem_cgroup_online(memcg))", "cgroup_path(memcg->css.cgroup, buf, PATH_MAX);",
                     "if (!strcmp(buf, path)) {", "*id = mem_cgroup_id(memcg);",
                     "mem_cgroup_iter_break(NULL, memcg);", "kfree(buf);",
                     'pr_err("no memcg at cgroup path %s\\n", path);'):
            assert line in lookup, line
        assert "#include <linux/memcontrol.h>\n" in c and "#include <linux/slab.h>\n" in c
        assert (" * Each memcg probe filter's cgroup path is resolved to its memcg at every\n"
                " * start: the cgroup must exist then, or the start fails with -EINVAL.\n") in c
        assert ("damon_new_filter(DAMON_FILTER_TYPE_ANON, true, false);\n"
                "\tif (!filter)\n\t\treturn -ENOMEM;\n\tdamon_add_filter(probe, filter);\n"
                "\tfilter = damon_new_filter(DAMON_FILTER_TYPE_ANON, false, true);\n") in c
        assert c.count("damon_new_probe()") == 4 and c.count("damon_new_filter(") == 4
        # the last probe has no filter: every sample is a hit
        assert "\tdamon_add_probe(c, probe);\n\treturn 0;\n}\n" in c
        # added before the schemes and damon_start(); a failure destroys the context
        start = c[c.index("static int damos_probes_start(void)"):]
        assert "\terr = damos_probes_add_probes(ctx);\n\tif (err)\n\t\tgoto out;\n" in start
        assert start.index("damos_probes_add_probes(ctx)") < start.index("damon_start(")
    assert "weight" not in c72.split(" */", 1)[1]
    # a weight of 0 is damon_new_probe()'s own: no store
    c0 = c_file(emit(PROBES.replace("weight 1", "weight 0"), "probes.damos", (7, 3)))[1]
    assert "probe->weight" not in c0
    assert "\tdepends on DAMON && DAMON_PADDR && MEMCG\n" in files73["samples/damon/Kconfig.damos_probes"]
    # no memcg filter: no lookup, no err, no MEMCG dependency
    anon = emit(PROBES_72.replace('filter allow memcg "/workloads/batch job"', ""),
                "probes.damos", (7, 2))
    body = c_file(anon)[1].split(" */", 1)[1]
    add = body[body.index("static int damos_probes_add_probes("):]
    assert "memcg" not in body and "int err;" not in add[:add.index("\n}\n")]
    assert "\tdepends on DAMON && DAMON_PADDR\n" in anon["samples/damon/Kconfig.damos_probes"]
    # no probes: no function, no call, no filter variable
    prcl = c_file(emit(PRCL, kernel=(7, 3)))[1]
    assert "probe" not in prcl.split(" */", 1)[1]


def test_source_comment_is_safe_and_folded():
    text = ("# a */ b /* c\t\td \u00e9 " + "x" * 120 + "\n"
            "4K max 0 0 5s max pageout\n")
    c = c_file(emit(text, "odd.damos"))[1]
    head = c[:c.index("#define pr_fmt")]
    assert head.count("*/") == 1 and head.count("/*") == 1
    assert all(len(line.expandtabs(8)) <= 100 for line in c.splitlines())
    assert "\u00e9" not in c and " \\\n" in head


def test_pid_option_and_file_pid():
    assert "target_pid __read_mostly = 7;" in c_file(emit("target pid 7\n" + PRCL))[1]
    assert "target_pid __read_mostly;" in c_file(emit(PRCL))[1]


def test_no_schemes_is_an_error():
    with pytest.raises(DamosError, match="no schemes"):
        emit("monitor { ops vaddr }\n")


# -- --kernel-tree: the API from damon.h ---------------------------------------------

def test_detect_from_debian_headers(headers_612, headers_61):
    common = headers_612.replace("-amd64", "-common")
    assert detect(common) >= (6, 11)
    assert c_module.emitter_for(detect(common)).first == (6, 11)
    assert (6, 1) <= detect(headers_61.replace("-amd64", "-common")) < (6, 7)


def test_detect_markers(tmp_path):
    h = tmp_path / "include" / "linux"
    h.mkdir(parents=True)
    body = ("struct damos_quota {\n};\nint damon_select_ops(struct damon_ctx *ctx);\n"
            "struct damos_filter *damos_new_filter(enum damos_filter_type type,\n"
            "\t\tbool matching, bool allow);\nstruct damon_callback {\n};\n"
            "struct damos_migrate_dests {\n};\n")
    (h / "damon.h").write_text(body)
    assert detect(str(tmp_path)) == (6, 16)          # callbacks still there
    (h / "damon.h").write_text(body.replace("struct damon_callback {\n};\n", ""))
    assert detect(str(tmp_path)) == (6, 17)
    (h / "damon.h").write_text("/* nothing */\n")
    with pytest.raises(DamosError, match="no DAMOS API"):
        detect(str(tmp_path))
    with pytest.raises(DamosError, match="cannot read"):
        detect(str(tmp_path / "nope"))
    (h / "damon.h").write_text(body)
    files = c_module.compile(pipeline.unit_from_text(PRCL, "prcl.damos"),
                             Options(kernel=(5, 16), kernel_tree=str(tmp_path)))
    c = c_file(files)[1]
    assert " * Generated by damos-lang for the Linux 6.14-6.16 C API (detected in\n" in c
    assert "after_aggregation" in c


# Declarations as include/linux/damon.h has them (layout kept: the detector
# collapses whitespace and drops comments).  6.17 and 6.18 from upstream
# (the 6.18 lines from the min_sz_region patch), 7.2 and 7.3 from Debian's
# linux-headers-7.2.13+deb14-common and 7.3.4+deb13-common.
H_617 = """struct damos_quota {
};
struct damos_filter *damos_new_filter(enum damos_filter_type type,
		bool matching, bool allow);
struct damos_migrate_dests {
};
int damon_set_regions(struct damon_target *t, struct damon_addr_range *ranges,
		unsigned int nr_ranges);
int damon_stop(struct damon_ctx **ctxs, int nr_ctxs);
"""
H_618 = H_617.replace("\t\tunsigned int nr_ranges);", "\t\tunsigned int nr_ranges, unsigned long min_sz_region);") + """
struct damon_ctx {
	struct damon_operations ops;
	unsigned long addr_unit;
	unsigned long min_sz_region;
};
"""
H_70 = (H_618.replace("min_sz_region", "min_region_sz")
        + "struct damos {\n\tunsigned long max_nr_snapshots;\n};\n")
H_71 = H_70 + "enum damos_quota_goal_tuner {\n\tDAMOS_QUOTA_GOAL_TUNER_CONSIST,\n};\n"
H_72 = (H_71.replace("\tunsigned long min_region_sz;\n", "\tunsigned long min_region_sz;\n\tbool pause;\n")
        + "struct damos_quota {\n\tunsigned int fail_charge_num;\n};\n"
        "int damon_set_region_system_rams_default(struct damon_target *t,\n"
        "\t\t\t\tunsigned long *start, unsigned long *end,\n"
        "\t\t\t\tunsigned long addr_unit, unsigned long min_region_sz);\n")
# 7.3 made ops private (it moved below addr_unit) and damon_stop() void
H_73 = (H_72.replace("int damon_stop(", "void damon_stop(")
        .replace("\tstruct damon_operations ops;\n", "")
        .replace("\tbool pause;\n", "\tbool pause;\n/* private: */\n\t/* ops */\n"
                 "\tstruct damon_operations ops;\n"))


# the probe API as Debian's 7.2.13 and 7.3.4 declare it: a weight is 7.3's
H_PROBES = ("struct damon_probe {\n\tstruct list_head filters;\n\tstruct list_head list;\n};\n"
            "struct damon_probe *damon_new_probe(void);\n")
H_WEIGHT = H_PROBES.replace("{\n", "{\n\tunsigned int weight;\n/* private: */\n", 1)


@pytest.mark.parametrize("body,version", [
    (H_617, (6, 17)), (H_618, (6, 18)), (H_70, (7, 0)), (H_71, (7, 1)), (H_72, (7, 2)), (H_73, (7, 3)),
    # the probe calls mark 7.2 (alone too); a probe weight marks 7.3 (a 7.2 tree
    # that took it emits the weight store, which it then has)
    (H_71 + H_PROBES, (7, 2)), (H_72 + H_WEIGHT, (7, 3)),
    # 6.19.y took the 7.0 rename (a dependency of a 7.0 fix): its region calls are 7.0's
    (H_618.replace("min_sz_region", "min_region_sz"), (7, 0)),
], ids=["6.17", "6.18", "7.0", "7.1", "7.2", "7.3", "7.2-probes", "7.2+weight",
        "6.19.y-rename"])
def test_detect_markers_past_617(tmp_path, body, version):
    h = tmp_path / "include" / "linux"
    h.mkdir(parents=True)
    (h / "damon.h").write_text(body)
    assert detect(str(tmp_path)) == version
    # --kernel-tree picks the family of the detected version
    files = c_module.compile(pipeline.unit_from_text(PRCL, "prcl.damos"),
                             Options(kernel_tree=str(tmp_path)))
    fam = c_module.emitter_for(version)
    assert f"Linux {base.vstr(fam.first)}" in c_file(files)[1]


# -- --install -------------------------------------------------------------------------

def _fake_tree(root: Path, with_damon_samples: bool) -> Path:
    (root / "include" / "linux").mkdir(parents=True)
    (root / "include" / "linux" / "damon.h").write_text("struct damos_quota {\n};\n")
    (root / "samples").mkdir()
    damon = 'source "samples/damon/Kconfig"\n\n' if with_damon_samples else ""
    (root / "samples" / "Kconfig").write_text(
        'menuconfig SAMPLES\n\tbool "Sample kernel code"\n\nif SAMPLES\n\n'
        f'source "samples/rust/Kconfig"\n\n{damon}endif # SAMPLES\n')
    (root / "samples" / "Makefile").write_text("# SPDX-License-Identifier: GPL-2.0\n"
                                               "obj-$(CONFIG_SAMPLE_KOBJECT)\t\t+= kobject/\n")
    if with_damon_samples:
        (root / "samples" / "damon").mkdir()
        (root / "samples" / "damon" / "Kconfig").write_text(
            '# SPDX-License-Identifier: GPL-2.0-only\n\nmenu "DAMON Samples"\n\n'
            'config SAMPLE_DAMON_WSSE\n\tbool "wsse"\n\nendmenu\n')
        (root / "samples" / "damon" / "Makefile").write_text(
            "# SPDX-License-Identifier: GPL-2.0-only\n\n"
            "obj-$(CONFIG_SAMPLE_DAMON_WSSE) += wsse.o\n")
    return root


@pytest.mark.parametrize("with_damon_samples", [False, True], ids=["6.12-tree", "6.14-tree"])
def test_install_is_idempotent_and_hooks_up(tmp_path, with_damon_samples):
    tree = _fake_tree(tmp_path / "linux", with_damon_samples)
    files = emit(PRCL)
    changed = c_module.install(files, str(tree))
    assert changed
    d = tree / "samples" / "damon"
    assert (d / "damos_prcl.c").read_text() == files["samples/damon/damos_prcl.c"]
    k = (d / "Kconfig").read_text()
    assert k.index('source "samples/damon/Kconfig.damos_prcl"') < k.rindex("endmenu")
    assert "obj-$(CONFIG_SAMPLE_DAMON_DAMOS_PRCL) += damos_prcl.o" in (d / "Makefile").read_text()
    sm = (tree / "samples" / "Makefile").read_text()
    assert "obj-$(CONFIG_SAMPLE_DAMON_DAMOS_PRCL)\t+= damon/" in sm
    sk = (tree / "samples" / "Kconfig").read_text()
    assert sk.count('source "samples/damon/Kconfig"') == 1
    assert sk.index('source "samples/damon/Kconfig"') < sk.index("endif # SAMPLES")
    snapshot = {p: p.read_text() for p in tree.rglob("*") if p.is_file()}
    assert c_module.install(files, str(tree)) == []                       # idempotent
    assert {p: p.read_text() for p in tree.rglob("*") if p.is_file()} == snapshot
    # a changed scheme replaces the module's own file, and only that
    files2 = emit(PRCL.replace("5s", "2s"))
    assert c_module.install(files2, str(tree)) == [f"install: wrote {d / 'damos_prcl.c'}"]


def test_install_refuses_foreign_files(tmp_path):
    tree = _fake_tree(tmp_path / "linux", True)
    (tree / "samples" / "damon" / "damos_prcl.c").write_text("// SPDX...\n/* mine */\n")
    with pytest.raises(DamosError, match="not written by damos-lang"):
        c_module.install(emit(PRCL), str(tree))
    assert (tree / "samples" / "damon" / "damos_prcl.c").read_text() == "// SPDX...\n/* mine */\n"
    with pytest.raises(DamosError, match="not a Linux source tree"):
        c_module.install(emit(PRCL), str(tmp_path))
